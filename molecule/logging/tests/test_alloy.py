"""Grafana Alloy taking Promtail's place on a host (logs_shipper: alloy).

prepare.yml ran Promtail on alloy-debian13 first, with read positions; the
converge (playbooks/logs.yml) put Alloy there. Install mechanics, privileges,
the listen address, the take-over, config checks, reloads and the preflight
run against whatever the mirror serves; the rendered config.alloy is checked
against Alloy's grammar and component reference by the unit tests' checker.
What only the real Alloy does (lines reach Loki with their labels and
structured metadata) is tested by the tests marked below, which skip with the
reason when the mirror serves the offline stand-in.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from conftest import (
    handler_items, http_get, inventory_host, play_recap, require_real, run_playbook, served_as_standin, wait_until,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "unit"))
from alloy_syntax import Attribute, Block, check_config  # noqa: E402  (the unit tests' parser and checker)

ALLOY = "alloy-debian13"
READY = "http://127.0.0.1:12345/-/ready"
LOKI = "http://127.0.0.1:3100"
CONFIG = "/etc/alloy/config.alloy"
ALLOWED_LABELS = {"job", "host", "environment", "level", "logger"}
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def alloy():
    return inventory_host(ALLOY)


@pytest.fixture(scope="module")
def neighbour():
    return inventory_host("neighbour-debian13")


def main_pid(host):
    return host.run("systemctl show -p MainPID --value alloy").stdout.strip()


def digest(host, path):
    return host.run(f"sha256sum {path}").stdout.split()[0]


def test_alloy_runs_enabled_as_its_own_user(alloy):
    service = alloy.service("alloy")
    assert service.is_running and service.is_enabled
    status = alloy.file(f"/proc/{main_pid(alloy)}/status").content_string
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert uid == str(alloy.user("alloy").uid) and uid != "0"


def test_the_binary_comes_from_the_verified_release_zip(alloy):
    marker = alloy.file("/opt/dataaggregator/alloy/1.18.1/.installed")
    assert marker.exists
    assert marker.content_string.startswith("alloy-linux-amd64.zip sha256:"), marker.content_string
    assert alloy.file("/usr/local/bin/alloy").linked_to == "/opt/dataaggregator/alloy/1.18.1/alloy-linux-amd64"


def test_the_unit_runs_alloy_on_loopback_without_usage_reports(alloy):
    command = alloy.run("systemctl show -p ExecStart --value alloy").stdout
    for flag in ("run", "--server.http.listen-addr=127.0.0.1:12345", "--storage.path=/var/lib/alloy",
                 "--stability.level=generally-available", "--disable-reporting", CONFIG):
        assert flag in command.split(), (flag, command)


def test_alloy_answers_ready_on_loopback_only(alloy, neighbour):
    assert wait_until(lambda: http_get(alloy, READY)["status"] == 200, timeout=60)
    assert http_get(neighbour, f"http://{ALLOY}:12345/-/ready")["status"] == 0


def test_config_alloy_is_private_and_passes_alloy_s_grammar_and_components(alloy):
    config = alloy.file(CONFIG)
    assert (config.user, config.group, config.mode) == ("root", "alloy", 0o640)
    statements = check_config(config.content_string)
    processes = [block for block in statements if block.name == "loki.process"]
    assert len(processes) == 8
    check = alloy.run(f"/usr/local/bin/alloy validate {CONFIG}")
    assert check.rc == 0, check.stdout + check.stderr


def test_every_stream_has_the_low_cardinality_labels_of_the_environment(alloy):
    statements = check_config(alloy.file(CONFIG).content_string)
    streams = []
    for block in statements:
        attributes = {a.name: a.value for a in block.body if isinstance(a, Attribute)}
        if block.name == "local.file_match":
            streams += attributes["path_targets"]
        elif block.name == "loki.source.journal":
            streams.append(attributes["labels"])
    assert len(streams) >= 8
    for labels in streams:
        values = {key: item.value for key, item in labels.items() if not key.startswith("__")}
        assert set(values) <= ALLOWED_LABELS, values
        assert values["environment"] == "staging" and values["host"] == ALLOY


def test_the_push_password_is_in_a_root_only_file_not_in_the_config(alloy):
    text = alloy.file(CONFIG).content_string
    assert "molecule-alloy-push-secret" not in text
    assert 'password_file = "/etc/alloy/secrets/endpoint-0-basic-auth-password"' in text
    secret = alloy.file("/etc/alloy/secrets/endpoint-0-basic-auth-password")
    assert (secret.user, secret.group, secret.mode) == ("root", "alloy", 0o640)
    assert secret.content_string == "molecule-alloy-push-secret"
    assert alloy.run("runuser -u nobody -- cat /etc/alloy/secrets/endpoint-0-basic-auth-password").rc != 0


def test_alloy_reads_through_groups_and_acls_not_root(alloy):
    groups = set(alloy.user("alloy").groups)
    assert {"adm", "systemd-journal"} <= groups
    assert "root" not in groups
    for path in ("/var/log/nginx/access.log", "/var/log/dataaggregator/backend/backend.log", "/var/log/audit/audit.log"):
        assert alloy.run(f"runuser -u alloy -- cat {path}").rc == 0, path
    result = alloy.run("runuser -u alloy -- journalctl -n 1 -q")
    assert result.rc == 0 and result.stdout.strip(), result.stdout + result.stderr


def test_alloy_took_over_promtail_s_positions_and_promtail_is_gone(alloy):
    copy = alloy.file("/var/lib/alloy/promtail-positions.yml")
    assert copy.exists and (copy.user, copy.mode) == ("alloy", 0o640)
    assert "/var/log/dataaggregator/backend/backend.log" in copy.content_string
    statements = check_config(alloy.file(CONFIG).content_string)
    for block in statements:
        if block.name == "loki.source.file":
            attributes = {a.name: a.value for a in block.body if isinstance(a, Attribute)}
            assert attributes["legacy_positions_file"].value == "/var/lib/alloy/promtail-positions.yml", block.label
        if block.name == "loki.source.journal":
            (position,) = [inner for inner in block.body if isinstance(inner, Block)]
            assert position.name == "legacy_position"
    # Promtail is removed: unit, config and release; its positions stay (promtail_remove_data: false).
    assert not alloy.file("/etc/systemd/system/promtail.service").exists
    assert alloy.run("systemctl is-active promtail").stdout.strip() != "active"
    assert not alloy.file("/etc/promtail").exists
    assert not alloy.file("/usr/local/bin/promtail").exists
    assert alloy.file("/var/lib/promtail/positions.yml").exists


def test_positions_promtail_wrote_after_the_take_over_are_refused_not_re_read(alloy):
    """Back on Promtail by hand, then Alloy again: Alloy's own positions are stale, and it says what to do."""
    positions, copy = "/var/lib/promtail/positions.yml", "/var/lib/alloy/promtail-positions.yml"
    taken = alloy.file(copy).mtime.timestamp()
    alloy.check_output(f"touch -d @{int(taken) + 60} {positions}")
    try:
        rc, output = run_playbook("--limit", ALLOY, "--tags", "alloy")
        assert rc != 0, output
        message = " ".join(output.split())
        assert f"Promtail ran on {ALLOY} after Alloy took over from it" in message, output
        assert "remove /var/lib/alloy" in message
        assert play_recap(output)[ALLOY]["changed"] == 0, output
    finally:
        alloy.check_output(f"touch -d @{int(taken) - 60} {positions}")
    rc, output = run_playbook("--limit", ALLOY, "--tags", "alloy")
    assert rc == 0, output
    assert play_recap(output)[ALLOY]["changed"] == 0, output


def test_a_config_change_reloads_alloy_without_a_restart(alloy):
    pid = main_pid(alloy)
    rc, output = run_playbook("--limit", ALLOY, "-e", "alloy_log_level=debug")
    assert rc == 0, output
    assert handler_items(output, "Reload the services that reload through their API") == ["alloy"], output
    assert handler_items(output, "Restart the services whose files or config changed") == [], output
    assert main_pid(alloy) == pid
    assert 'level = "debug"' in alloy.file(CONFIG).content_string
    # Without --diff, no diff of the config is shown.
    assert 'level = "debug"' not in output, output
    rc, output = run_playbook("--limit", ALLOY)
    assert rc == 0, output
    assert main_pid(alloy) == pid


def test_a_config_alloy_refuses_fails_the_play_and_the_old_one_stays(alloy):
    """The installed alloy's validate stands between a new config and the live one: when it refuses, nothing changes."""
    before, pid = digest(alloy, CONFIG), main_pid(alloy)
    target = alloy.run("readlink -f /usr/local/bin/alloy").stdout.strip()
    # The installed release, for the length of this run, behind a wrapper whose validate refuses every config.
    wrapper = f'#!/bin/sh\nif [ "$1" = validate ]; then echo "Error: refused by the test" >&2; exit 1; fi\nexec {target}.real "$@"\n'
    assert alloy.run(f"mv {target} {target}.real && printf '%s' '{wrapper}' > {target} && chmod 0755 {target}").rc == 0
    try:
        rc, output = run_playbook("--limit", ALLOY, "-e", "alloy_log_level=warn")
    finally:
        alloy.run(f"mv -f {target}.real {target}")
    assert rc != 0
    assert "failed to validate" in output
    assert digest(alloy, CONFIG) == before
    assert main_pid(alloy) == pid
    assert http_get(alloy, READY)["status"] == 200


def test_a_public_listen_address_is_refused_before_anything_changes(alloy):
    before = digest(alloy, CONFIG)
    rc, output = run_playbook("--limit", ALLOY, "-e", "alloy_listen_address=0.0.0.0:12345")
    assert rc != 0
    assert "Alloy's server (its UI and /-/reload) has no authentication" in " ".join(output.split())
    assert play_recap(output)[ALLOY]["changed"] == 0
    assert digest(alloy, CONFIG) == before


def test_a_label_with_ids_is_refused_naming_the_source(alloy):
    source = {"name": "orders", "paths": ["/var/log/orders.log"], "format": "json", "fields": ["user_id"], "labels": ["user_id"]}
    rc, output = run_playbook("--limit", ALLOY, "-e", json.dumps({"alloy_log_sources_extra": [source]}))
    assert rc != 0
    assert "log source orders: 'user_id' cannot be a label" in " ".join(output.split())
    assert play_recap(output)[ALLOY]["changed"] == 0


def test_an_unknown_shipper_is_refused():
    rc, output = run_playbook("--limit", ALLOY, "-e", "logs_shipper=fluentd")
    assert rc != 0
    assert "logs_shipper is fluentd on alloy-debian13: set it to alloy or promtail" in " ".join(output.split())


def test_promtail_is_refused_where_alloy_took_its_place(alloy):
    """Back on Promtail, every line Alloy shipped would be sent again: the promtail role refuses, naming why."""
    rc, output = run_playbook("--limit", ALLOY, "-e", "logs_shipper=promtail")
    assert rc != 0
    assert "Alloy ships the logs of alloy-debian13: it took over Promtail's positions" in " ".join(output.split())
    assert play_recap(output)[ALLOY]["changed"] == 0
    assert not alloy.file("/etc/systemd/system/promtail.service").exists
    assert alloy.service("alloy").is_running


def test_the_alloy_playbook_refuses_a_host_kept_on_promtail(alloy):
    rc, output = run_playbook("--limit", ALLOY, "-e", "logs_shipper=promtail", playbook="../../playbooks/alloy.yml")
    assert rc != 0
    assert "logs_shipper is promtail on alloy-debian13: Alloy would stop Promtail" in " ".join(output.split())
    assert play_recap(output)[ALLOY]["changed"] == 0


def test_a_header_stays_in_config_alloy_and_out_of_the_diff(alloy):
    """Alloy reads headers from config.alloy only: the file keeps its mode and the play shows no diff of it,
    neither when the header comes nor when it goes."""
    header = "molecule-alloy-header-secret"
    endpoint = {"basic_auth": {"username": "alloy", "password": "molecule-alloy-push-secret"},
                "headers": {"X-Shipper-Token": header}}
    rc, output = run_playbook("--limit", ALLOY, "--diff", "-v", "-e", json.dumps({"alloy_loki_endpoint": endpoint}))
    try:
        assert rc == 0, output
        assert header not in output
        config = alloy.file(CONFIG)
        assert header in config.content_string
        assert (config.mode, config.user, config.group) == (0o640, "root", "alloy")
    finally:
        rc, output = run_playbook("--limit", ALLOY, "--diff", "-v")
        assert rc == 0, output
    # The removal's diff would show the old line.
    assert header not in output
    assert play_recap(output)[ALLOY]["changed"] > 0, output
    assert header not in alloy.file(CONFIG).content_string


def test_check_mode_on_the_converged_host_changes_nothing():
    rc, output = run_playbook("--limit", ALLOY, "--check", "--diff")
    assert rc == 0, output
    recap = play_recap(output)[ALLOY]
    assert (recap["changed"], recap["failed"]) == (0, 0), output


# What only the real Alloy (and Loki) do.

def loki_query(host, query, limit=100):
    params = urllib.parse.urlencode({"query": query, "limit": limit, "since": "1h"})
    answer = http_get(host, f"{LOKI}/loki/api/v1/query_range?{params}")
    assert answer["status"] == 200, answer
    return json.loads(answer["body"])["data"]["result"]


@pytest.fixture(scope="module")
def real_alloy():
    require_real("alloy")
    require_real("loki")


@pytest.fixture(scope="module")
def fresh_lines(alloy):
    result = alloy.run(f"python3 /usr/local/bin/backend_logger.py /var/log/dataaggregator/backend/backend.log {RUN} backend")
    assert result.rc == 0, result.stderr
    assert alloy.run(f"logger -t molecule-{RUN} journal line {RUN}").rc == 0
    return RUN


def test_lines_reach_loki_with_their_labels_and_structured_metadata(alloy, fresh_lines, real_alloy):
    query = f'{{job="backend", environment="staging", host="{ALLOY}"}} | request_id="req-{fresh_lines}-slow"'
    assert wait_until(lambda: loki_query(alloy, query), timeout=90)
    (stream,) = loki_query(alloy, query)
    assert set(stream["stream"]) - {"request_id", "user_id", "endpoint", "duration_ms"} <= ALLOWED_LABELS | {"detected_level"}
    labels = json.loads(http_get(alloy, f"{LOKI}/loki/api/v1/labels?since=1h")["body"])["data"]
    assert set(labels) <= ALLOWED_LABELS, labels
    assert wait_until(lambda: loki_query(alloy, f'{{job="systemd-journal", host="{ALLOY}"}} |= "journal line {fresh_lines}"'),
                      timeout=90)


def test_lines_promtail_had_read_are_not_read_again(alloy, fresh_lines, real_alloy):
    """The take-over carried Promtail's offset: Alloy did not read the backend log again from its start.

    prepare.yml wrote a line that is not JSON before Promtail's positions, so Loki stamps it when it is read:
    read by Promtail (if the mirror serves the real one) it is in Loki once, and read again by Alloy it
    would be there a second time, where a JSON line, stamped from its own timestamp, would be deduplicated.
    """
    query = f'{{job="backend", host="{ALLOY}"}} |= "req-{fresh_lines}-slow"'
    assert wait_until(lambda: loki_query(alloy, query), timeout=90)
    time.sleep(5)
    plain = [value for stream in loki_query(alloy, f'{{job="backend", host="{ALLOY}"}} |= "before-alloy plain line"')
             for value in stream["values"]]
    assert len(plain) == (0 if served_as_standin("promtail") else 1), plain


def test_settings_only_promtail_reads_are_refused_not_dropped(alloy):
    """A host moving from Promtail keeps its extra sources: Alloy refuses to run without them."""
    before = digest(alloy, CONFIG)
    source = {"name": "orders", "paths": ["/var/log/orders.log"]}
    settings = {"promtail_log_sources_extra": [source], "promtail_client_options": {"tenant_id": "a"}}
    rc, output = run_playbook("--limit", ALLOY, "-e", json.dumps(settings))
    assert rc != 0
    text = " ".join(output.split())
    assert "sets promtail_log_sources_extra, promtail_client_options, which only Promtail reads" in text, text[-2000:]
    assert play_recap(output)[ALLOY]["changed"] == 0
    assert digest(alloy, CONFIG) == before
