"""The logging stack: Loki and Promtail beside real log sources.

Install mechanics, privileges, listen addresses, config checks, reloads and
the preflight run against whatever the mirror serves. What only the real
programs do (lines reach Loki and come back from LogQL, JSON fields parse,
retention is in force) is tested by the tests marked below, which skip with
the reason when the mirror serves the offline stand-ins.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import pytest
import yaml
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, handler_items, http_get, inventory_host, play_recap,
    require_real, run_playbook, wait_until,
)

LOGS = "logs-debian12"
LOKI = "http://127.0.0.1:3100"
ALLOWED_LABELS = {"job", "host", "environment", "level", "logger"}
# The sources that have lines on the logs host, by job (Docker does not run there).
JOBS_WITH_LINES = ["backend", "frontend", "systemd-journal", "nginx", "postgres", "redis", "audit"]
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def logs():
    return inventory_host(LOGS)


@pytest.fixture(scope="module")
def neighbour():
    return inventory_host("neighbour-debian13")


@pytest.fixture(scope="module")
def fresh_lines(logs):
    """New lines in every source, tagged with this run's id."""
    for kind in ("backend", "frontend", "audit"):
        result = logs.run(f"python3 /usr/local/bin/backend_logger.py /var/log/dataaggregator/{kind}/{kind}.log {RUN} {kind}")
        assert result.rc == 0, result.stderr
    assert logs.run(f"curl -s -o /dev/null http://127.0.0.1/?run={RUN}").rc == 0
    # nginx logs an error when its upstream is down (the prepared server on 8081).
    assert logs.run(f"curl -s -o /dev/null http://127.0.0.1:8081/missing-{RUN}").rc == 0
    logs.run(f"runuser -u postgres -- psql -c 'SELECT * FROM missing_{RUN}'")
    assert logs.run(f"logger -t molecule-{RUN} journal line {RUN}").rc == 0
    return RUN


def main_pid(host, unit):
    return host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()


def uid_of_pid(host, pid):
    status = host.file(f"/proc/{pid}/status").content_string
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))


LISTENING = r"""
import ipaddress, sys
port, found = int(sys.argv[1]), set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if state == "0A" and int(local_port, 16) == port:
            raw = bytes.fromhex(address)
            # /proc shows each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)))
print(" ".join(sorted(found)))
"""


def listening_addresses(host, port):
    """The local addresses with a TCP socket listening on the port (from /proc, no ss needed)."""
    return set(host.run("python3 -c %s %s", LISTENING, str(port)).stdout.split())


def digest(host, path):
    return host.run(f"sha256sum {path}").stdout.split()[0]


@pytest.mark.parametrize("unit", ["loki", "promtail"])
def test_services_run_enabled_as_their_own_users(logs, unit):
    service = logs.service(unit)
    assert service.is_running and service.is_enabled
    pid = main_pid(logs, unit)
    assert uid_of_pid(logs, pid) == str(logs.user(unit).uid)
    assert logs.user(unit).uid != 0


def test_binaries_come_from_the_verified_release_zips(logs):
    for program, version in (("loki", "3.7.8"), ("promtail", "3.6.8")):
        marker = logs.file(f"/opt/dataaggregator/{program}/{version}/.installed")
        assert marker.exists, program
        assert marker.content_string.startswith(f"{program}-linux-amd64.zip sha256:"), marker.content_string
        assert logs.file(f"/usr/local/bin/{program}").linked_to == f"/opt/dataaggregator/{program}/{version}/{program}-linux-amd64"


def test_loki_answers_ready_on_loopback(logs):
    assert wait_until(lambda: http_get(logs, f"{LOKI}/ready")["status"] == 200, timeout=60)


def test_loki_listens_on_loopback_only_by_default(logs, neighbour):
    assert listening_addresses(logs, 3100) == {"127.0.0.1"}
    from_outside = http_get(neighbour, f"http://{LOGS}:3100/ready")
    assert from_outside["status"] == 0, from_outside
    # Promtail's own server (metrics for Prometheus) listens everywhere, as set.
    assert listening_addresses(logs, 9080) == {"0.0.0.0"}
    assert http_get(neighbour, f"http://{LOGS}:9080/ready")["status"] == 200


def test_loki_config_is_checked_private_and_keeps_seven_days(logs):
    config = logs.file("/etc/loki/loki.yml")
    assert (config.user, config.group, config.mode) == ("root", "loki", 0o640)
    parsed = yaml.safe_load(config.content_string)
    assert parsed["limits_config"]["retention_period"] == "168h"
    assert parsed["compactor"]["retention_enabled"] is True
    assert parsed["schema_config"]["configs"][0]["schema"] == "v13"
    check = logs.run("/usr/local/bin/loki -verify-config -config.expand-env=true -config.file=/etc/loki/loki.yml")
    assert check.rc == 0, check.stderr


def test_promtail_config_has_the_eight_sources_and_pushes_to_loki(logs):
    config = logs.file("/etc/promtail/promtail.yml")
    assert (config.user, config.group, config.mode) == ("root", "promtail", 0o640)
    parsed = yaml.safe_load(config.content_string)
    assert parsed["clients"] == [{"url": "http://127.0.0.1:3100/loki/api/v1/push"}]
    assert len(parsed["scrape_configs"]) == 8
    for scrape in parsed["scrape_configs"]:
        statics = [static["labels"] for static in scrape.get("static_configs", [])]
        for labels in statics + ([scrape["journal"]["labels"]] if "journal" in scrape else []):
            assert set(labels) - {"__path__"} <= ALLOWED_LABELS
            assert labels["environment"] == "staging" and labels["host"] == LOGS
    check = logs.run("/usr/local/bin/promtail -check-syntax -config.file=/etc/promtail/promtail.yml")
    assert check.rc == 0, check.stdout + check.stderr


def test_promtail_reads_through_groups_and_acls_not_root(logs):
    groups = set(logs.user("promtail").groups)
    assert {"adm", "systemd-journal"} <= groups
    assert "root" not in groups and "docker" not in groups


@pytest.mark.parametrize("path", [
    "/var/log/nginx/access.log",
    "/var/log/nginx/error.log",
    "/var/log/postgresql/postgresql-15-main.log",
    "/var/log/redis/redis-server.log",
    "/var/log/dataaggregator/backend/backend.log",
    "/var/log/dataaggregator/audit/audit.log",
    "/var/log/audit/audit.log",
])
def test_promtail_can_read_each_source(logs, fresh_lines, path):
    result = logs.run(f"runuser -u promtail -- cat {path}")
    assert result.rc == 0, result.stderr
    assert logs.run(f"runuser -u nobody -- cat {path}").rc != 0, f"{path} is readable by anyone"


def test_promtail_reads_the_journal(logs):
    result = logs.run("runuser -u promtail -- journalctl -n 1 -q")
    assert result.rc == 0 and result.stdout.strip(), result.stdout + result.stderr
    assert "insufficient permissions" not in result.stdout + result.stderr


def test_real_sources_write_lines_in_the_parsed_formats(logs, fresh_lines):
    backend = [json.loads(line) for line in logs.file("/var/log/dataaggregator/backend/backend.log").content_string.splitlines()]
    slow = [entry for entry in backend if entry.get("request_id") == f"req-{fresh_lines}-slow"]
    assert slow and slow[0]["duration_ms"] == 1500 and slow[0]["logger"] == "backend.api"
    assert f"?run={fresh_lines}" in logs.file("/var/log/nginx/access.log").content_string
    assert f"missing-{fresh_lines}" in logs.file("/var/log/nginx/error.log").content_string
    assert f"missing_{fresh_lines}" in logs.file("/var/log/postgresql/postgresql-15-main.log").content_string
    assert "Ready to accept connections" in logs.file("/var/log/redis/redis-server.log").content_string


def test_a_config_loki_refuses_fails_the_play_and_the_old_one_stays(logs):
    before, pid = digest(logs, "/etc/loki/loki.yml"), main_pid(logs, "loki")
    rc, output = run_playbook("--limit", LOGS, "-e", json.dumps({"loki_config_extra": {"not_a_block": {"x": 1}}}))
    assert rc != 0
    assert "failed to validate" in output
    assert digest(logs, "/etc/loki/loki.yml") == before
    assert main_pid(logs, "loki") == pid
    assert http_get(logs, f"{LOKI}/ready")["status"] == 200


def test_a_public_listen_address_is_refused_before_anything_changes(logs):
    before = digest(logs, "/etc/loki/loki.yml")
    rc, output = run_playbook("--limit", LOGS, "-e", "loki_listen_address=0.0.0.0:3100")
    assert rc != 0
    assert "Loki has no authentication, so it must not listen on a wildcard or public address" in " ".join(output.split())
    assert play_recap(output)[LOGS]["changed"] == 0
    assert digest(logs, "/etc/loki/loki.yml") == before


def test_a_label_with_ids_is_refused_naming_the_source(logs):
    source = {"name": "orders", "paths": ["/var/log/orders.log"], "format": "json", "fields": ["user_id"], "labels": ["user_id"]}
    rc, output = run_playbook("--limit", LOGS, "-e", json.dumps({"promtail_log_sources_extra": [source]}))
    assert rc != 0
    assert "log source orders: 'user_id' cannot be a label" in " ".join(output.split())
    assert play_recap(output)[LOGS]["changed"] == 0


def test_promtail_elsewhere_is_refused_a_loopback_loki(neighbour):
    rc, output = run_playbook(playbook="neighbour.yml")
    assert rc != 0
    assert "a loopback address of another host" in " ".join(output.split())
    assert not neighbour.file("/etc/promtail").exists


def test_grafana_elsewhere_is_refused_a_loopback_loki(neighbour):
    rc, output = run_playbook(playbook="neighbour_grafana.yml")
    assert rc != 0
    assert "would read Loki at http://127.0.0.1:3100, a loopback address of another host" in " ".join(output.split())
    assert not neighbour.file("/etc/grafana").exists


def test_a_promtail_config_change_reloads_without_a_restart(logs):
    pid = main_pid(logs, "promtail")
    since = logs.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    time.sleep(1)
    rc, output = run_playbook("--limit", LOGS, "-e", "promtail_log_level=debug")
    assert rc == 0, output
    assert handler_items(output, "Reload the services that reload through their API") == ["promtail"], output
    assert handler_items(output, "Restart the services whose files or config changed") == [], output
    assert main_pid(logs, "promtail") == pid
    assert "level: debug" in logs.file("/etc/promtail/promtail.yml").content_string
    rc, output = run_playbook("--limit", LOGS)
    assert rc == 0, output
    assert main_pid(logs, "promtail") == pid
    journal = logs.run(f"journalctl -u promtail --since '{since}' -q -o cat").stdout
    assert "Stopped" not in journal and "Started" not in journal, journal


def test_check_mode_on_the_converged_stack_changes_nothing():
    rc, output = run_playbook("--check", "--diff")
    assert rc == 0, output
    recap = play_recap(output)[LOGS]
    assert (recap["changed"], recap["failed"]) == (0, 0), output


def test_the_s3_secret_stays_out_of_loki_yml_and_the_output():
    secret = f"molecule-s3-secret-{RUN}"
    s3 = {"loki_storage": "s3", "loki_s3_endpoint": "s3.internal:9000", "loki_s3_bucket": "logs",
          "loki_s3_access_key_id": "loki", "loki_s3_secret_access_key": secret}
    rc, output = run_playbook("--limit", LOGS, "--check", "--diff", "-v", "-e", json.dumps(s3))
    assert rc == 0, output
    assert secret not in output
    # The diff of loki.yml shows only the reference to the environment file's variable.
    assert "secret_access_key: ${LOKI_S3_SECRET_ACCESS_KEY}" in output


# What only the real Loki and Promtail do.

def loki_query(logs, query, limit=100):
    params = urllib.parse.urlencode({"query": query, "limit": limit, "since": "1h"})
    answer = http_get(logs, f"{LOKI}/loki/api/v1/query_range?{params}")
    assert answer["status"] == 200, answer
    return json.loads(answer["body"])["data"]["result"]


def lines_of(streams):
    return [value[1] for stream in streams for value in stream["values"]]


@pytest.fixture(scope="module")
def real_stack():
    require_real("loki")
    require_real("promtail")


@pytest.mark.parametrize("job", JOBS_WITH_LINES)
def test_every_source_reaches_loki_and_comes_back_by_job(logs, fresh_lines, real_stack, job):
    assert wait_until(lambda: loki_query(logs, f'{{job="{job}", environment="staging", host="{LOGS}"}}'), timeout=90), job


def test_backend_json_fields_parse_as_the_seed_queries_them(logs, fresh_lines, real_stack):
    query = f'{{job="backend"}} | json | duration_ms > 1000 | request_id="req-{fresh_lines}-slow"'
    assert wait_until(lambda: lines_of(loki_query(logs, query)), timeout=90)
    fast = lines_of(loki_query(logs, f'{{job="backend"}} | json | duration_ms > 1000 | request_id="req-{fresh_lines}-fast"'))
    assert fast == []


def test_ids_are_structured_metadata_and_labels_stay_few(logs, fresh_lines, real_stack):
    query = f'{{job="backend"}} | user_id="user456" | request_id="req-{fresh_lines}-slow"'
    assert wait_until(lambda: lines_of(loki_query(logs, query)), timeout=90)
    labels = json.loads(http_get(logs, f"{LOKI}/loki/api/v1/labels?since=1h")["body"])["data"]
    assert set(labels) <= ALLOWED_LABELS, labels
    assert not {"user_id", "request_id", "endpoint"} & set(labels)


def test_levels_and_loggers_are_labels(logs, fresh_lines, real_stack):
    assert wait_until(lambda: loki_query(logs, '{job="backend", level="ERROR", logger="backend.pipeline"}'), timeout=90)
    assert wait_until(lambda: loki_query(logs, '{job="nginx", level="error"}'), timeout=90)


def test_retention_is_in_force(logs, real_stack):
    config = yaml.safe_load(http_get(logs, f"{LOKI}/config")["body"])
    assert config["limits_config"]["retention_period"] == "1w"
    assert config["compactor"]["retention_enabled"] is True


@pytest.mark.last
def test_no_secret_in_any_hosts_logs_or_the_verbose_output():
    """Every secret of the scenario: not in a -vvv --diff run's output, any host's journal or /var/log."""
    assert assert_no_secret_anywhere(extra_secrets=[f"molecule-s3-secret-{RUN}"]) >= 1


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
