"""Switching an exporter off removes it: unit, config, package, port and scrape job.

One converge with the Redis exporter switched off, then a second one that must
change nothing. A unit of the same name that the collection did not write (a
hand-made postgres_exporter on another host) must survive the same run.
"""

from __future__ import annotations

import json

import pytest
from conftest import http_get, inventory_host, play_recap, run_playbook, wait_until

PROMETHEUS = "exporters-debian12-package"
HAND_MADE = "exporters-debian13-archive"
SWITCHED_OFF = '{"exporters_redis_enabled": false}'
HAND_MADE_UNIT = """[Unit]
Description=A postgres_exporter installed by hand, not by the collection
[Service]
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
"""


def redis_targets(prometheus):
    """Health of each target of the redis job, as Prometheus's API reports it."""
    response = http_get(prometheus, "http://127.0.0.1:9090/api/v1/targets")
    assert response["status"] == 200, response
    targets = json.loads(response["body"])["data"]["activeTargets"]
    return [target["health"] for target in targets if target["labels"].get("job") == "redis"]


@pytest.fixture(scope="module")
def removal():
    """Before, the removal run and its repeat; the hand-made unit is gone afterwards."""
    prometheus, other = inventory_host(PROMETHEUS), inventory_host(HAND_MADE)
    before = {
        "running": prometheus.service("redis_exporter").is_running,
        "listening": prometheus.socket("tcp://0.0.0.0:9121").is_listening,
        "targets": wait_until(lambda: [h for h in redis_targets(prometheus) if h == "up"], 90),
    }
    other.run("cat > /etc/systemd/system/postgres_exporter.service <<'EOF'\n" + HAND_MADE_UNIT + "EOF\n"
              "systemctl daemon-reload && systemctl enable --now postgres_exporter")
    try:
        first = run_playbook("-e", SWITCHED_OFF)
        second = run_playbook("-e", SWITCHED_OFF)
        hand_made_running = other.service("postgres_exporter").is_running
    finally:
        other.run("systemctl disable --now postgres_exporter; rm -f /etc/systemd/system/postgres_exporter.service;"
                  " systemctl daemon-reload")
    return {"before": before, "first": first, "second": second, "hand_made_running": hand_made_running}


def test_the_exporter_ran_and_was_scraped_before(removal):
    assert removal["before"] == {"running": True, "listening": True, "targets": ["up"]}


def test_the_unit_config_and_package_are_gone(removal):
    rc, output = removal["first"]
    assert rc == 0, output
    assert play_recap(output)[PROMETHEUS]["changed"] > 0, output
    host = inventory_host(PROMETHEUS)
    assert host.check_output("systemctl show -p LoadState --value redis_exporter") == "not-found"
    assert not host.file("/etc/systemd/system/redis_exporter.service").exists
    assert not host.file("/etc/redis_exporter").exists
    assert not host.package("prometheus-redis-exporter").is_installed
    # The mask put on the package's own unit went with the package.
    assert not host.file("/etc/systemd/system/prometheus-redis-exporter.service").exists


def test_the_port_is_closed(removal):
    assert not inventory_host(PROMETHEUS).socket("tcp://0.0.0.0:9121").is_listening


def test_the_scrape_job_is_gone_from_the_config_and_from_prometheus(removal):
    prometheus = inventory_host(PROMETHEUS)
    config = prometheus.file("/etc/prometheus/prometheus.yml").content_string
    assert "job_name: redis" not in config
    assert "job_name: node" in config
    assert wait_until(lambda: redis_targets(prometheus) == [], 30), redis_targets(prometheus)


def test_a_second_run_changes_nothing(removal):
    rc, output = removal["second"]
    assert rc == 0, output
    for name, counts in play_recap(output).items():
        assert counts["changed"] == 0, (name, output)


def test_a_unit_the_collection_did_not_write_is_left_alone(removal):
    assert removal["hand_made_running"]
