"""Alertmanager's gossip: mutual TLS, and what the preflight lets listen openly.

The role's variables are rendered for a member of a two-member cluster, as
ansible-playbook would; the molecule alerting scenario runs the same setting
with real members and a rogue one.
"""

from __future__ import annotations

import pytest

from conftest import render_role

CLUSTER = {"alertmanager": ["localhost", "am2"]}
TLS = {"alertmanager_cluster_tls_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
       "alertmanager_cluster_tls_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
       "alertmanager_cluster_tls_ca_cert": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"}
OPEN_GOSSIP = {"alertmanager_listen_address": "127.0.0.1:9093", "alertmanager_cluster_listen_address": "0.0.0.0:9094"}


def render(tmp_path, expression, extra):
    rc, output, value = render_role("alertmanager", expression, tmp_path, extra, CLUSTER)
    assert rc == 0, output
    return value


def test_without_tls_a_wildcard_gossip_address_is_refused(tmp_path):
    refused = render(tmp_path, "__alertmanager_listeners | dataaggregator.infrastructure.unauthenticated_listeners",
                     OPEN_GOSSIP)
    assert len(refused) == 1 and "gossip" in refused[0] and "alertmanager_cluster_tls_cert" in refused[0]


def test_with_mutual_tls_the_gossip_may_listen_on_any_address(tmp_path):
    assert render(tmp_path, "__alertmanager_listeners | dataaggregator.infrastructure.unauthenticated_listeners",
                  OPEN_GOSSIP | TLS) == []


@pytest.mark.parametrize("server_name", ["", "alertmanager-gossip"])
def test_the_cluster_tls_config_demands_a_client_certificate_from_the_clusters_ca(tmp_path, server_name):
    value = render(tmp_path, "{'args': __alertmanager_service.unit.args, 'config': __alertmanager_cluster_tls_config, "
                             "'files': __alertmanager_cluster_tls_files}",
                   TLS | {"alertmanager_cluster_tls_server_name": server_name})
    directory = "/etc/alertmanager/cluster-tls"
    assert f"--cluster.tls-config={directory}/cluster-tls.yml" in value["args"]
    server, client = value["config"]["tls_server_config"], value["config"]["tls_client_config"]
    assert server == {"cert_file": f"{directory}/tls.crt", "key_file": f"{directory}/tls.key",
                      "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": f"{directory}/ca.crt"}
    assert client["ca_file"] == f"{directory}/ca.crt" and client["cert_file"] == f"{directory}/tls.crt"
    assert client.get("server_name", "") == server_name
    modes = {entry["path"].rsplit("/", 1)[1]: (entry["mode"], entry.get("secret", False)) for entry in value["files"]}
    assert modes == {"tls.crt": ("0644", False), "tls.key": ("0640", True), "ca.crt": ("0644", False),
                     "cluster-tls.yml": ("0640", False)}


def test_a_single_member_has_no_gossip_and_writes_no_tls_files(tmp_path):
    rc, output, value = render_role("alertmanager", "{'args': __alertmanager_service.unit.args, "
                                    "'files': __alertmanager_cluster_tls_files}", tmp_path, TLS, {"alertmanager": ["localhost"]})
    assert rc == 0, output
    assert "--cluster.listen-address=" in value["args"] and value["files"] == []
    assert not [arg for arg in value["args"] if arg.startswith("--cluster.tls-config")]


def test_the_preflight_sees_members_that_disagree_on_gossip_tls(tmp_path):
    # Only localhost has a certificate (extra vars reach every host, so the value names it).
    only_localhost = {name: "{{ %r if inventory_hostname == 'localhost' else '' }}" % value for name, value in TLS.items()}
    assert render(tmp_path, "__alertmanager_members_tls", only_localhost) == {"localhost": True, "am2": False}
    assert render(tmp_path, "__alertmanager_members_tls", TLS) == {"localhost": True, "am2": True}
