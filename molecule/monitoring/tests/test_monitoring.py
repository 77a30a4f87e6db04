"""The metrics stack, checked through Prometheus's HTTP API on the monitoring host."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, http_get, inventory_host, play_recap,
    run_playbook, served_as_standin, wait_until,
)

# Prometheus demands TLS (a certificate from the scenario's CA) and basic auth.
API = "https://localhost:9090/api/v1"
CA_FILE = "/etc/prometheus/scrape-ca.pem"
PROMETHEUS_USER = "prometheus"
PROMETHEUS_PASSWORD = "molecule-prometheus-password"
MON = "mon-debian13-archive"
BROKEN_PROBE = "http://app-debian13-package:8000/broken"
PG_PASSWORD = "molecule-pg-monitor"
SCRAPE_PASSWORD = "molecule-scrape-password"
REDIS_PASSWORD = "molecule-redis-password"
REMOTE_WRITE_TOKEN = "molecule-remote-write-token"


@pytest.fixture(scope="module")
def mon():
    return inventory_host(MON)


def api(mon, path):
    response = http_get(mon, f"{API}/{path}", PROMETHEUS_USER, PROMETHEUS_PASSWORD, CA_FILE)
    assert response["status"] == 200, response
    return json.loads(response["body"])["data"]


def query(mon, promql):
    return api(mon, "query?query=" + urllib.parse.quote(promql))["result"]


def alerting_rules(mon):
    return [rule for group in api(mon, "rules")["groups"] for rule in group["rules"] if rule["type"] == "alerting"]


def test_node_exporter_runs_on_every_host(host):
    assert host.service("node_exporter").is_running


def checked_targets(mon):
    """Every active target, but those of programs the mirror serves as offline stand-ins."""
    standins = {job for job in ("cadvisor", "grafana") if served_as_standin(job)}
    return [t for t in api(mon, "targets")["activeTargets"] if t["labels"]["job"] not in standins]


def test_every_target_is_up(mon):
    def all_up():
        targets = checked_targets(mon)
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_until(all_up, timeout=90, interval=3)
    assert targets, [(t["scrapeUrl"], t["lastError"]) for t in checked_targets(mon) if t["health"] != "up"]
    by_job = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target["labels"].get("inventory_hostname", target["labels"]["instance"]))
    assert sorted(by_job["node"]) == sorted(["mon-debian13-archive", "db-debian12-package", "cache-debian12-archive", "app-debian13-package"])
    assert by_job["postgres"] == ["db-debian12-package"]
    assert by_job["redis"] == ["cache-debian12-archive"]
    assert by_job["blackbox"] == ["mon-debian13-archive"]
    assert by_job["backend"] == ["app-debian13-package"]
    assert len(by_job["blackbox-health"]) == 3
    assert {"prometheus", "blackbox-http"} <= set(by_job)


def test_scrapes_use_each_hosts_scheme_and_credentials(mon):
    urls = {(t["labels"]["job"], t["labels"].get("inventory_hostname")): t["scrapeUrl"] for t in checked_targets(mon)}
    # The cache host's exporters serve TLS from the scenario's CA...
    assert urls[("redis", "cache-debian12-archive")] == "https://cache-debian12-archive:9121/metrics"
    assert urls[("node", "cache-debian12-archive")] == "https://cache-debian12-archive:9100/metrics"
    # ...the others plain HTTP, and Prometheus scrapes itself over its own TLS.
    assert urls[("node", "db-debian12-package")] == "http://db-debian12-package:9100/metrics"
    assert urls[("prometheus", None)] == "https://mon-debian13-archive:9090/metrics"


def test_tls_exporters_refuse_plain_http():
    cache = inventory_host("cache-debian12-archive")
    # Go's answer to plain HTTP on a TLS port.
    assert http_get(cache, "http://127.0.0.1:9121/metrics")["status"] == 400
    assert http_get(cache, "http://127.0.0.1:9100/metrics")["status"] == 400
    assert cache.file("/etc/redis_exporter/tls.key").mode == 0o640


def test_prometheus_demands_credentials_and_tls(mon):
    assert http_get(mon, f"{API}/targets", cafile=CA_FILE)["status"] == 401
    assert http_get(mon, f"{API}/targets", PROMETHEUS_USER, "wrong", CA_FILE)["status"] == 401
    assert http_get(mon, "http://127.0.0.1:9090/api/v1/targets", PROMETHEUS_USER, PROMETHEUS_PASSWORD)["status"] == 400
    web_config = mon.file("/etc/prometheus/web-config.yml")
    assert PROMETHEUS_PASSWORD not in web_config.content_string
    assert mon.file("/etc/prometheus/tls.key").mode == 0o640


def test_cadvisor_is_scraped_where_the_docker_group_runs_it(mon):
    def cadvisor_targets():
        return [t for t in api(mon, "targets")["activeTargets"] if t["labels"]["job"] == "cadvisor"]

    (target,) = cadvisor_targets()
    assert target["scrapeUrl"] == "http://app-debian13-package:8080/metrics"
    assert target["labels"]["inventory_hostname"] == "app-debian13-package"
    if served_as_standin("cadvisor"):
        # Prometheus reached the stand-in, which serves no metrics: proof of the
        # wiring (host, port, path), never of cAdvisor's metrics.
        assert wait_until(lambda: "404" in cadvisor_targets()[0]["lastError"], timeout=30), cadvisor_targets()
        pytest.skip("cAdvisor's metrics need the real cadvisor (DA_REAL_ARTIFACTS); the wiring was checked")
    assert wait_until(lambda: query(mon, 'up{job="cadvisor"} == 1'), timeout=60)
    assert wait_until(lambda: query(mon, 'machine_cpu_cores{job="cadvisor"}'), timeout=30)


def test_grafana_is_scraped_over_https_where_the_grafana_group_runs_it(mon):
    def grafana_targets():
        return [t for t in api(mon, "targets")["activeTargets"] if t["labels"]["job"] == "grafana"]

    (target,) = grafana_targets()
    # Grafana serves TLS here, so Prometheus scrapes it with the scenario's CA.
    assert target["scrapeUrl"] == f"https://{MON}:3001/metrics"
    if served_as_standin("grafana"):
        # The stand-in answered over TLS (so the CA and the port are right) but
        # serves no metrics: proof of the wiring only.
        assert wait_until(lambda: "404" in grafana_targets()[0]["lastError"], timeout=30), grafana_targets()
        pytest.skip("Grafana's metrics need the real grafana (DA_REAL_ARTIFACTS); the wiring was checked")
    assert wait_until(lambda: query(mon, 'up{job="grafana"} == 1'), timeout=60)
    assert wait_until(lambda: query(mon, "grafana_build_info"), timeout=30)


def test_exporters_with_basic_auth_refuse_anonymous_scrapes():
    db = inventory_host("db-debian12-package")
    assert http_get(db, "http://127.0.0.1:9187/metrics")["status"] == 401
    assert http_get(db, "http://127.0.0.1:9100/metrics")["status"] == 401
    # ...while Prometheus scrapes them (test_every_target_is_up) with the inventory's credentials.


def test_exporters_reach_their_services_with_the_vault_credentials(mon):
    assert wait_until(lambda: query(mon, "pg_up == 1"), timeout=30)
    assert wait_until(lambda: query(mon, "redis_up == 1"), timeout=30)


DB = "db-debian12-package"


def as_exporter(db, conninfo, password=PG_PASSWORD):
    """A login of the exporter's role with a libpq connection string; the password through the environment."""
    return db.run(f"PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -w -Atc 'SELECT 1' '{conninfo} user=postgres_exporter'")


def as_postgres(db, sql):
    return db.check_output(f"runuser -u postgres -- psql -Atc \"{sql}\"")


def test_the_role_created_the_exporters_login_in_pg_monitor():
    # prepare.yml only installs PostgreSQL: the login is the exporters role's.
    db = inventory_host(DB)
    assert as_postgres(db, "SELECT pg_has_role('postgres_exporter', 'pg_monitor', 'member'), rolsuper, rolcanlogin,"
                           " rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'postgres_exporter'") == "t|f|t|f|f"


def test_pg_hba_lets_the_login_in_only_from_the_exporters_source_to_its_database():
    db = inventory_host(DB)
    allowed = as_exporter(db, "host=127.0.0.1 dbname=postgres")
    assert allowed.rc == 0 and allowed.stdout.strip() == "1", allowed.stderr
    for conninfo in ("host=127.0.0.1 dbname=template1", "host=/var/run/postgresql dbname=postgres"):
        refused = as_exporter(db, conninfo)
        assert refused.rc != 0 and "pg_hba.conf rejects connection" in refused.stderr, (conninfo, refused.stderr)
    wrong = as_exporter(db, "host=127.0.0.1 dbname=postgres", password="not-the-password")
    assert wrong.rc != 0 and "password authentication failed" in wrong.stderr, wrong.stderr
    # The rules come before the file's own, which would let any local login in.
    first = as_postgres(db, "SELECT user_name, database FROM pg_hba_file_rules WHERE error IS NULL ORDER BY line_number LIMIT 1")
    assert first == "{postgres_exporter}|{postgres}", first


def test_debian_12s_postgres_exporter_gets_no_flag_it_would_refuse():
    # 0.11 (Debian 12's package) refuses --config.file, which 0.12 and later
    # get (the platform scenario runs 0.17); the file is there for an upgrade.
    db = inventory_host(DB)
    assert "--config.file" not in db.check_output("systemctl cat postgres_exporter")
    assert db.service("postgres_exporter").is_running
    config = db.file("/etc/postgres_exporter/postgres_exporter.yml")
    assert config.content_string == "auth_modules: {}\n"
    assert (config.user, config.group, config.mode) == ("root", "postgres_exporter", 0o640)


def test_a_pg_hba_rule_postgresql_cannot_parse_fails_the_play_and_keeps_the_file_and_the_rules():
    db = inventory_host(DB)
    hba = as_postgres(db, "SHOW hba_file")
    before = db.check_output(f"sha256sum {hba}")
    owner_and_mode = db.check_output(f"stat -c '%U:%G %a' {hba}")
    rc, output = run_playbook("--limit", DB, "-e", '{"exporters_postgres_login_sources": ["127.0.0.1/32", "300.1.1.1/32"]}')
    assert rc != 0, output
    assert "The new pg_hba.conf had errors" in " ".join(output.split()), output
    assert db.check_output(f"sha256sum {hba}") == before
    # Put back with its owner and mode: the server reads it as postgres.
    assert db.check_output(f"stat -c '%U:%G %a' {hba}") == owner_and_mode
    # Neither that run nor the converge left copies of pg_hba.conf behind.
    assert db.run(f"ls {hba}.*~").rc != 0
    assert db.service("postgresql").is_running
    allowed = as_exporter(db, "host=127.0.0.1 dbname=postgres")
    assert allowed.rc == 0, allowed.stderr


@pytest.mark.parametrize(
    "extra_vars",
    [
        # pg_hba.conf's keywords would widen the rule to every user or database.
        '{"exporters_postgres_login_user": "all"}',
        '{"exporters_postgres_login_database": "replication"}',
        # A newline would add a rule of the caller's own, here one that trusts everyone.
        '{"exporters_postgres_login_user": "exporter\\nhost all all 0.0.0.0/0 trust"}',
        '{"exporters_postgres_login_sources": ["10.0.0.1"]}',
    ],
)
def test_a_login_pg_hba_would_misread_is_refused_before_any_change(extra_vars):
    db = inventory_host(DB)
    hba = as_postgres(db, "SHOW hba_file")
    before = db.check_output(f"sha256sum {hba}")
    rc, output = run_playbook("--limit", DB, "--tags", "exporters", "-e", extra_vars)
    assert rc != 0, output
    assert "must be plain lower-case PostgreSQL names" in " ".join(output.split()), output
    assert play_recap(output)[DB]["changed"] == 0, output
    assert db.check_output(f"sha256sum {hba}") == before
    assert "trust" not in db.check_output(f"grep -v '^#' {hba} | grep 0.0.0.0/0 || true")


def test_health_probes_succeed_and_the_broken_probe_fails(mon):
    assert wait_until(lambda: len(query(mon, 'probe_success{job="blackbox-health"} == 1')) == 3, timeout=30)
    assert wait_until(lambda: query(mon, f'probe_success{{instance="{BROKEN_PROBE}"}} == 0'), timeout=30)

    def pending():
        alerts = api(mon, "alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "BlackboxProbeFailed" and a["labels"]["instance"] == BROKEN_PROBE]

    alerts = wait_until(pending, timeout=30)
    assert alerts and alerts[0]["state"] in ("pending", "firing")
    assert alerts[0]["labels"]["severity"] == "critical" and alerts[0]["labels"]["team"] == "infrastructure"


def test_at_least_40_alerting_rules_evaluate_without_error(mon):
    def evaluated():
        rules = alerting_rules(mon)
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = wait_until(evaluated, timeout=60, interval=2)
    assert rules, [r for r in alerting_rules(mon) if r["health"] != "ok"]
    assert len(rules) >= 40
    assert all(not r.get("lastError") for r in rules)


def test_external_labels_carry_the_environment(mon):
    assert "environment: molecule" in api(mon, "status/config")["yaml"]


def test_secrets_sit_in_root_only_files(host):
    for path in ("/etc/postgres_exporter/environment", "/etc/redis_exporter/environment"):
        secret = host.file(path)
        if secret.exists:
            assert secret.user == "root" and secret.mode == 0o600
            assert "PASSWORD" in secret.content_string or "DATA_SOURCE_NAME" in secret.content_string
    assert PG_PASSWORD not in host.check_output("systemctl cat postgres_exporter 2>/dev/null || true")


def test_prometheus_yml_holds_no_credential_only_the_files_that_do(mon):
    config = mon.file("/etc/prometheus/prometheus.yml").content_string
    assert not [secret for secret in (SCRAPE_PASSWORD, PROMETHEUS_PASSWORD, REMOTE_WRITE_TOKEN) if secret in config]
    assert "credentials_file: /etc/prometheus/secrets/remote_write-archive-credentials" in config
    assert "password_file: /etc/prometheus/secrets/scrape-" in config
    secrets = mon.file("/etc/prometheus/secrets")
    assert (secrets.user, secrets.group, secrets.mode) == ("root", "prometheus", 0o750)
    names = secrets.listdir()
    assert "remote_write-archive-credentials" in names and len(names) >= 2
    for name in names:
        credential = mon.file(f"/etc/prometheus/secrets/{name}")
        assert (credential.user, credential.group, credential.mode) == ("root", "prometheus", 0o640), name
    assert mon.file("/etc/prometheus/secrets/remote_write-archive-credentials").content_string == REMOTE_WRITE_TOKEN


def test_secrets_never_show_in_playbook_output():
    rc, output = run_playbook("--diff", "-v")
    assert rc == 0, output
    assert PG_PASSWORD not in output
    assert REDIS_PASSWORD not in output
    assert SCRAPE_PASSWORD not in output
    assert PROMETHEUS_PASSWORD not in output
    assert REMOTE_WRITE_TOKEN not in output
    assert "PRIVATE KEY" not in output


def start_time(mon):
    return api(mon, "status/runtimeinfo")["startTime"]


def test_rule_change_reloads_without_restart(mon):
    started, count = start_time(mon), len(alerting_rules(mon))

    rc, output = run_playbook("--limit", MON, "--tags", "prometheus", "-e", '{"prometheus_rules_shipped_disabled": ["websocket.yml"]}')
    assert rc == 0, output
    try:
        assert not mon.file("/etc/prometheus/rules/websocket.yml").exists
        assert wait_until(lambda: len(alerting_rules(mon)) == count - 2, timeout=20)
        assert start_time(mon) == started, "Prometheus restarted instead of reloading"
    finally:
        rc, output = run_playbook("--limit", MON, "--tags", "prometheus")
        assert rc == 0, output
    assert wait_until(lambda: len(alerting_rules(mon)) == count, timeout=20)
    assert start_time(mon) == started


def test_bad_user_rule_fails_the_play_and_keeps_the_served_rules(mon, tmp_path):
    bad = tmp_path / "team-rules.yml"
    bad.write_text("groups:\n  - name: team\n    rules:\n      - alert: Broken\n        expr: rate(http_requests_total[5m] > 1\n")
    count = len(alerting_rules(mon))

    rc, output = run_playbook("--limit", MON, "--tags", "prometheus", "-e", json.dumps({"prometheus_rule_files_extra": [str(bad)]}))

    assert rc != 0, output
    assert "team-rules.yml" in output
    assert "parse error" in output or "could not parse" in output, output
    assert not mon.file("/etc/prometheus/rules/team-rules.yml").exists
    assert len(alerting_rules(mon)) == count
    assert mon.service("prometheus").is_running


def test_a_good_user_rule_is_served_and_removed_again(mon, tmp_path):
    extra = tmp_path / "team-rules.yml"
    extra.write_text(
        "groups:\n  - name: team\n    rules:\n      - alert: TeamCanary\n        expr: vector(0) > 1\n"
        "        labels: {severity: warning, team: infrastructure}\n"
    )
    rc, output = run_playbook("--limit", MON, "--tags", "prometheus", "-e", json.dumps({"prometheus_rule_files_extra": [str(extra)]}))
    assert rc == 0, output
    assert wait_until(lambda: any(r["name"] == "TeamCanary" for r in alerting_rules(mon)), timeout=20)
    rc, output = run_playbook("--limit", MON, "--tags", "prometheus")
    assert rc == 0, output
    assert not mon.file("/etc/prometheus/rules/team-rules.yml").exists
    assert wait_until(lambda: not any(r["name"] == "TeamCanary" for r in alerting_rules(mon)), timeout=20)


def test_blackbox_rejects_a_bad_module_and_keeps_its_config(mon):
    before = mon.file("/etc/blackbox_exporter/blackbox.yml").content_string
    broken = {"exporters_blackbox_modules_extra": {"broken": {"prober": "http", "http": {"fail_if_body_not_matches_regexp": ["(unclosed"]}}}}
    try:
        rc, output = run_playbook("--limit", MON, "--tags", "exporters", "-e", json.dumps(broken))
        assert rc != 0, output
        assert "failed to validate" in output
        # blackbox_exporter's own words (they differ between versions).
        assert "Could not compile regular expression" in output or "error parsing regexp" in output, output
        assert mon.file("/etc/blackbox_exporter/blackbox.yml").content_string == before
        assert mon.service("blackbox_exporter").is_running
    finally:
        rc, output = run_playbook("--limit", MON, "--tags", "exporters")
        assert rc == 0, output


def blackbox_pid(mon):
    return mon.check_output("systemctl show --property=MainPID --value blackbox_exporter")


def test_a_new_blackbox_module_is_served_after_a_reload_not_a_restart(mon):
    def served_config():
        response = http_get(mon, "http://localhost:9115/config")
        assert response["status"] == 200, response
        return response["body"]

    pid = blackbox_pid(mon)
    canary = {"exporters_blackbox_modules_extra": {"canary_tcp": {"prober": "tcp", "timeout": "3s"}}}
    rc, output = run_playbook("--limit", MON, "--tags", "exporters", "-e", json.dumps(canary))
    assert rc == 0, output
    try:
        assert wait_until(lambda: "canary_tcp" in served_config(), timeout=20), served_config()
        assert blackbox_pid(mon) == pid, "blackbox_exporter restarted instead of reloading"
    finally:
        rc, output = run_playbook("--limit", MON, "--tags", "exporters")
        assert rc == 0, output
    assert wait_until(lambda: "canary_tcp" not in served_config(), timeout=20)
    assert blackbox_pid(mon) == pid


def test_check_mode_on_a_converged_host_changes_nothing():
    rc, output = run_playbook("--check", "--diff")
    assert rc == 0, output
    for name, counts in play_recap(output).items():
        assert counts["failed"] == 0 and counts["changed"] == 0, (name, output)


@pytest.mark.parametrize(
    ("tags", "extra_vars", "named"),
    [
        ("prometheus", '{"prometheus_retention_time": "a fortnight"}', "prometheus_retention_time"),
        ("prometheus", '{"prometheus_install_method": "docker"}', "prometheus_install_method"),
        ("prometheus", '{"prometheus_backend_metrics_port": "eight thousand"}', "prometheus_backend_metrics_port"),
        ("exporters", '{"exporters_redis_enabled": "maybe"}', "exporters_redis_enabled"),
    ],
)
def test_bad_input_stops_the_play_before_any_change(tags, extra_vars, named):
    rc, output = run_playbook("--limit", MON, "--tags", tags, "-e", extra_vars)
    assert rc != 0, output
    assert named in output
    for name, counts in play_recap(output).items():
        assert counts["changed"] == 0, (name, output)


def test_basic_auth_on_an_old_redis_exporter_is_refused_before_any_change():
    # The cache host runs redis_exporter 1.45, which cannot check basic auth.
    rc, output = run_playbook(
        "--limit", "cache-debian12-archive", "-e", '{"exporters_basic_auth_users": {"prometheus": "x"}}'
    )
    assert rc != 0, output
    # YAML output may fold a long message; compare with whitespace collapsed.
    assert "redis_exporter checks it only from release 1.67 on" in " ".join(output.split())
    assert play_recap(output)["cache-debian12-archive"]["changed"] == 0, output


@pytest.mark.last
def test_no_secret_in_any_hosts_logs_or_the_verbose_output():
    """Every secret of the scenario: not in a -vvv --diff run's output, any host's journal or /var/log."""
    # Besides the inventory's: the Grafana secrets that test_grafana.py sets in its own runs.
    extra = [PG_PASSWORD, REDIS_PASSWORD, SCRAPE_PASSWORD, PROMETHEUS_PASSWORD, REMOTE_WRITE_TOKEN, "molecule-grafana-admin-rotated",
             "molecule-grafana-admin-diff", "molecule-grafana-secret-key-diff"]
    assert assert_no_secret_anywhere(extra_secrets=extra) >= len(extra)


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
