"""The grafana role on the monitoring host.

Without a real Grafana (the mirror serves an offline stand-in unless
DA_REAL_ARTIFACTS supplies the upstream archive), these tests prove the
install, files, unit, handlers and idempotence; the stand-in answers only
/api/health and the provisioning reloads the handlers call. The tests of
Grafana's own behaviour (login, datasources, dashboards in folders) are
skipped with the reason unless the real program runs.
"""

from __future__ import annotations

import configparser
import json
import os
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml
from conftest import (
    handler_items, http_get, inventory_host, play_recap, require_real, run_playbook, served_as_standin, wait_until,
)

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
sys.path.insert(0, str(PROJECT / ".collections"))
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._dashboards import grafana_dashboards  # noqa: E402

MON = "mon-debian13-archive"
URL = "https://localhost:3001"
CA_FILE = "/etc/prometheus/scrape-ca.pem"
ADMIN = "admin"
ADMIN_PASSWORD = "molecule-grafana-admin"
SECRET_KEY = "molecule-grafana-secret-key"
DATASOURCE_PASSWORD = "molecule-grafana-datasource-password"
ROLE = PROJECT / "roles" / "grafana"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def mon():
    return inventory_host(MON)


def get(mon, path, user="", password=""):
    return http_get(mon, URL + path, user, password, CA_FILE)


def api(mon, path, user=ADMIN, password=ADMIN_PASSWORD):
    response = get(mon, path, user, password)
    assert response["status"] == 200, (path, response)
    return json.loads(response["body"])


def shipped_dashboards():
    specs = [yaml.safe_load((ROLE / "files" / entry["src"]).read_text()) for entry in DEFAULTS["grafana_dashboards"]]
    # The scenario's platform_environment, which the dashboards' environment variable starts on.
    return list(zip(DEFAULTS["grafana_dashboards"], grafana_dashboards(specs, environment="molecule")))


def reloads_logged(mon, kind):
    """Provisioning reloads the stand-in logged, with the admin user the role sent."""
    log = mon.check_output("journalctl -u grafana --no-pager -o cat")
    return log.count(f"stand-in: reload of {kind} provisioning requested by {ADMIN}")


# What every Grafana gives, real or stand-in.

def test_grafana_runs_the_pinned_release_from_the_mirror(mon):
    assert mon.service("grafana").is_running and mon.service("grafana").is_enabled
    assert mon.file("/opt/dataaggregator/grafana/13.2.1/.installed").exists
    assert mon.file("/usr/local/bin/grafana").linked_to == "/opt/dataaggregator/grafana/13.2.1/bin/grafana"
    unit = mon.check_output("systemctl show grafana -p ExecStart -p User -p WorkingDirectory")
    assert "server --config=/etc/grafana/grafana.ini --homepath=/opt/dataaggregator/grafana/13.2.1" in unit
    assert "User=grafana" in unit


def test_health_answers_over_tls_on_port_3001(mon):
    assert get(mon, "/api/health")["status"] == 200
    # TLS only: a plain HTTP request gets no HTTP answer.
    assert http_get(mon, "http://localhost:3001/api/health")["status"] != 200


def test_grafana_ini_is_data_with_the_seeds_port_and_no_secrets(mon):
    ini = mon.file("/etc/grafana/grafana.ini")
    assert (ini.user, ini.group, ini.mode) == ("root", "grafana", 0o640)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini.content_string)
    assert parser["server"]["http_port"] == "3001"
    assert parser["server"]["protocol"] == "https"
    assert parser["server"]["root_url"] == "%(protocol)s://%(domain)s:%(http_port)s/"
    assert parser["auth.anonymous"]["enabled"] == "false"
    assert parser["analytics"]["reporting_enabled"] == "false"
    assert parser["users"]["allow_sign_up"] == "false"
    assert parser["log"]["level"] == "debug"
    assert parser["security"]["admin_password"] == "$__file{/etc/grafana/secrets/admin-password}"
    assert parser["security"]["secret_key"] == "$__file{/etc/grafana/secrets/secret-key}"
    assert ADMIN_PASSWORD not in ini.content_string and SECRET_KEY not in ini.content_string


def test_secrets_are_readable_only_by_root_and_grafanas_group(mon):
    for name, value in (("admin-password", ADMIN_PASSWORD), ("secret-key", SECRET_KEY)):
        secret = mon.file(f"/etc/grafana/secrets/{name}")
        assert (secret.user, secret.group, secret.mode) == ("root", "grafana", 0o640)
        assert mon.check_output(f"cat /etc/grafana/secrets/{name}") == value
    key = mon.file("/etc/grafana/tls.key")
    assert (key.user, key.group, key.mode) == ("root", "grafana", 0o640)


def test_datasources_come_from_the_inventory_with_credentials_and_ca(mon):
    provisioned = mon.file("/etc/grafana/provisioning/datasources/dataaggregator.yml")
    assert (provisioned.user, provisioned.group, provisioned.mode) == ("root", "grafana", 0o640)
    document = yaml.safe_load(mon.check_output("cat /etc/grafana/provisioning/datasources/dataaggregator.yml"))
    found = {d["uid"]: d for d in document["datasources"]}
    # No Loki runs in this scenario, so its datasource is left out.
    assert set(found) == {"da-prometheus", "da-alertmanager"}
    prometheus = found["da-prometheus"]
    assert prometheus["url"] == f"https://{MON}:9090" and prometheus["isDefault"] is True
    assert prometheus["jsonData"]["timeInterval"] == "5s"
    assert prometheus["basicAuthUser"] == "grafana"
    assert prometheus["secureJsonData"]["basicAuthPassword"] == DATASOURCE_PASSWORD
    assert "BEGIN CERTIFICATE" in prometheus["secureJsonData"]["tlsCACert"]
    assert found["da-alertmanager"]["url"] == f"http://{MON}:9093"
    # The same credentials and CA work against the Prometheus they name.
    answer = http_get(mon, "https://localhost:9090/api/v1/query?query=up", "grafana", DATASOURCE_PASSWORD, CA_FILE)
    assert answer["status"] == 200


def test_the_ten_dashboards_sit_in_their_folders_as_built_by_the_filter(mon):
    for entry, dashboard in shipped_dashboards():
        path = f"/etc/grafana/dashboards/{entry['folder']}/{dashboard['uid']}.json"
        written = mon.file(path)
        assert (written.user, written.group, written.mode) == ("root", "grafana", 0o640), path
        assert json.loads(mon.check_output(f"cat {path!r}")) == dashboard
    folders = mon.check_output("find /etc/grafana/dashboards -mindepth 1 -type d -printf '%f\\n'").split("\n")
    assert sorted(folders) == sorted({entry["folder"] for entry in DEFAULTS["grafana_dashboards"]})
    provider = yaml.safe_load(mon.check_output("cat /etc/grafana/provisioning/dashboards/dataaggregator.yml"))
    assert provider["providers"][0]["options"] == {"path": "/etc/grafana/dashboards", "foldersFromFilesStructure": True}


def test_a_dropped_dashboard_and_folder_leave_the_host_and_a_new_password_is_set(mon, tmp_path):
    entries = [e for e in DEFAULTS["grafana_dashboards"] if e["folder"] != "Data pipelines"]
    extra = tmp_path / "team.yml"
    extra.write_text(yaml.safe_dump({"uid": "team-board", "title": "Team", "rows": [
        {"title": "Up", "panels": [{"title": "Targets up", "type": "stat", "queries": ["sum(up)"]}]}]}))
    changed = {"grafana_dashboards": entries, "grafana_dashboards_extra": [{"src": str(extra), "folder": "Team"}],
               "grafana_admin_password": "molecule-grafana-admin-rotated"}
    before = reloads_logged(mon, "dashboards") if served_as_standin("grafana") else 0
    try:
        rc, output = run_playbook("--limit", MON, "--tags", "grafana", "-e", json.dumps(changed))
        assert rc == 0, output
        assert not mon.file("/etc/grafana/dashboards/Data pipelines").exists
        assert mon.file("/etc/grafana/dashboards/Team/team-board.json").exists
        assert "Set the admin password on the existing admin" in output
        assert "molecule-grafana-admin-rotated" not in output
        if served_as_standin("grafana"):
            # The password changed, so Grafana restarted and read the new files at start.
            assert reloads_logged(mon, "dashboards") == before
        else:
            assert api(mon, "/api/user", password="molecule-grafana-admin-rotated")["login"] == ADMIN
            titles = {d["title"] for d in api(mon, "/api/search?type=dash-db", password="molecule-grafana-admin-rotated")}
            assert "Team" in titles and "Pipeline" not in titles
    finally:
        rc, output = run_playbook("--limit", MON, "--tags", "grafana")
        assert rc == 0, output
    assert mon.file("/etc/grafana/dashboards/Data pipelines/da-pipeline.json").exists
    assert not mon.file("/etc/grafana/dashboards/Team").exists


def test_a_dashboard_change_reloads_without_restart(mon, tmp_path):
    pid = mon.check_output("systemctl show grafana -p MainPID --value")
    extra = tmp_path / "reload.yml"
    extra.write_text(yaml.safe_dump({"uid": "reload-board", "title": "Reload", "rows": [
        {"title": "Up", "panels": [{"title": "Targets up", "queries": ["sum(up)"]}]}]}))
    before = reloads_logged(mon, "dashboards") if served_as_standin("grafana") else 0
    try:
        rc, output = run_playbook("--limit", MON, "--tags", "grafana", "-e",
                                  json.dumps({"grafana_dashboards_extra": [{"src": str(extra), "folder": "Team"}]}))
        assert rc == 0, output
        assert handler_items(output, "Reload the services that reload through their API") == ["grafana"], output
        assert mon.check_output("systemctl show grafana -p MainPID --value") == pid, "Grafana restarted instead of reloading"
        if served_as_standin("grafana"):
            assert reloads_logged(mon, "dashboards") == before + 1
        else:
            assert wait_until(lambda: any(d["uid"] == "reload-board" for d in api(mon, "/api/search?type=dash-db")), timeout=30)
    finally:
        rc, output = run_playbook("--limit", MON, "--tags", "grafana")
        assert rc == 0, output


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ({"grafana_admin_password": "admin"}, "grafana_admin_password"),
        ({"grafana_admin_password": ""}, "grafana_admin_password"),
        ({"grafana_secret_key": "SW2YcwTIb9zpOOhoPsMm"}, "grafana_secret_key"),
        ({"grafana_log_level": "chatty"}, "grafana_log_level"),
        ({"grafana_dashboards_extra": [{"src": "dashboards/system.yml", "folder": "Again"}]}, "'da-system' is used by another dashboard"),
        ({"grafana_datasource_username": "viewer"}, "has no user 'viewer' for Grafana"),
    ],
    ids=["default-password", "no-password", "default-secret-key", "log-level", "duplicate-uid", "datasource-user"],
)
def test_bad_input_stops_the_play_before_any_change(extra_vars, named):
    rc, output = run_playbook("--limit", MON, "--tags", "grafana", "-e", json.dumps(extra_vars))
    assert rc != 0, output
    assert named in " ".join(output.split())
    assert play_recap(output)[MON]["changed"] == 0, output


def test_a_bad_dashboard_spec_fails_naming_the_panel_and_field(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"uid": "bad", "title": "Bad", "rows": [
        {"title": "R", "panels": [{"title": "Too wide", "width": 30, "queries": ["up"]}]}]}))
    rc, output = run_playbook("--limit", MON, "--tags", "grafana", "-e",
                              json.dumps({"grafana_dashboards_extra": [{"src": str(bad), "folder": "Team"}]}))
    assert rc != 0, output
    assert "panel 'Too wide': 'width' must be 1 to 24" in " ".join(output.split())
    assert play_recap(output)[MON]["changed"] == 0, output


def test_secrets_never_show_with_diff_and_verbose():
    rc, output = run_playbook("--limit", MON, "--tags", "grafana", "--diff", "-v", "-e",
                              json.dumps({"grafana_admin_password": "molecule-grafana-admin-diff",
                                          "grafana_secret_key": "molecule-grafana-secret-key-diff"}))
    try:
        assert rc == 0, output
        for secret in ("molecule-grafana-admin", SECRET_KEY, DATASOURCE_PASSWORD, "PRIVATE KEY"):
            assert secret not in output, secret
    finally:
        rc, restore = run_playbook("--limit", MON, "--tags", "grafana")
        assert rc == 0, restore


def test_check_mode_changes_nothing_on_a_converged_host():
    rc, output = run_playbook("--limit", MON, "--tags", "grafana", "--check", "--diff")
    assert rc == 0, output
    assert play_recap(output)[MON]["changed"] == 0, output


# Grafana's own behaviour: only against the real program.

def test_real_grafana_answers_health_with_its_version(mon):
    require_real("grafana")
    health = json.loads(get(mon, "/api/health")["body"])
    assert health["database"] == "ok" and health["version"].startswith("13.")


def test_real_grafana_accepts_the_vault_password_and_refuses_the_default(mon):
    require_real("grafana")
    assert api(mon, "/api/user")["login"] == ADMIN
    assert get(mon, "/api/user", ADMIN, "admin")["status"] == 401


def test_real_grafana_lists_the_datasources_and_each_is_healthy(mon):
    require_real("grafana")
    provisioned = yaml.safe_load(mon.check_output("cat /etc/grafana/provisioning/datasources/dataaggregator.yml"))
    listed = {d["uid"]: d for d in api(mon, "/api/datasources")}
    assert set(listed) == {d["uid"] for d in provisioned["datasources"]}
    for uid in listed:
        health = api(mon, f"/api/datasources/uid/{uid}/health")
        assert health["status"] == "OK", (uid, health)


def test_real_grafana_finds_the_ten_dashboards_in_their_folders(mon):
    require_real("grafana")
    expected = {(entry["folder"], dashboard["title"]) for entry, dashboard in shipped_dashboards()}

    def found():
        hits = api(mon, "/api/search?" + urllib.parse.urlencode({"type": "dash-db", "tag": "dataaggregator"}))
        return {(hit.get("folderTitle"), hit["title"]) for hit in hits} == expected

    assert wait_until(found, timeout=60, interval=2)
