"""The sandbox's backend simulator, run as a process and scraped over HTTP like Prometheus does."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, debian_tool

SAMPLE = re.compile(r'^(?P<name>[a-z_:]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
CONTRACT = (ROOT / "docs/metrics.md").read_text()
SIMULATOR = ROOT / "sandbox/backend_simulator.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def backend():
    metrics_port, health_port = free_port(), free_port()
    process = subprocess.Popen([sys.executable, str(SIMULATOR), "--contract", str(ROOT / "docs/metrics.md"),
                                "--listen", "127.0.0.1", "--metrics-port", str(metrics_port),
                                "--health-port", str(health_port), "--seed", "7"], stdout=subprocess.PIPE, text=True)
    assert "simulating" in process.stdout.readline()
    yield {"metrics": f"http://127.0.0.1:{metrics_port}", "health": f"http://127.0.0.1:{health_port}"}
    process.terminate()
    process.wait(timeout=10)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(url: str) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as response:
        return json.loads(response.read())


def scrape(backend) -> dict:
    """{(name, labels text): value} of one scrape."""
    status, body = get(backend["metrics"] + "/metrics")
    assert status == 200
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, line
            samples[(match["name"], match["labels"] or "")] = float(match["value"])
    return samples


def contract_metrics() -> dict:
    """{name: (type, labels)} of the backend's part of the contract (not the backup role's)."""
    backend_part = CONTRACT.split("## Backups", 1)[0]
    return {m[1]: (m[2], re.findall(r"`([a-z_]+)`", m[3]))
            for m in re.finditer(r"^\| `([a-z_:]+)` \| ([a-z]+)[^|]*\|([^|]*)\|", backend_part, re.MULTILINE)}


def labels_of(text: str) -> dict:
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', text))


def error_ratio(before: dict, after: dict) -> float:
    def delta(status_filter):
        return sum(value - before.get(key, 0) for key, value in after.items()
                   if key[0] == "http_requests_total" and status_filter(labels_of(key[1])["status"]))
    return delta(lambda status: status.startswith("5")) / delta(lambda status: True)


def test_every_backend_metric_of_the_contract_is_served_with_its_labels(backend):
    samples = scrape(backend)
    served = {}
    for name, labels in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name) if name.endswith(("_bucket", "_sum", "_count")) else name
        served.setdefault(base, set()).update(labels_of(labels))
    for name, (kind, labels) in contract_metrics().items():
        assert name in served, name
        assert set(labels) <= served[name], (name, labels, served[name])
    assert not any(name.startswith("dataaggregator_backup_") for name in served)


def test_label_values_are_the_ones_the_contract_spells_out(backend):
    samples = scrape(backend)
    logins = {labels_of(labels)["method"] for name, labels in samples if name == "auth_login_attempts_total"}
    assert logins == {"password", "oauth", "api_key"}
    windows = {labels_of(labels)["window"] for name, labels in samples if name == "business_active_users"}
    assert windows == {"1h", "24h", "30d"}


def test_values_change_as_a_live_backend_would(backend):
    before = scrape(backend)
    time.sleep(1.5)
    after = scrape(backend)
    counters = [key for key in after if key[0].endswith("_total")]
    assert all(after[key] >= before[key] for key in counters)
    assert sum(after[key] - before[key] for key in counters if key[0] == "http_requests_total") > 0
    assert after[("app_info", 'version="1.4.2",environment="sandbox"')] == 1
    assert 0 < after[("process_start_time_seconds", "")] <= time.time()
    assert abs(after[("connector_last_sync_timestamp_seconds", 'connector="postgres"')] - time.time()) < 301


def test_histograms_are_cumulative_and_count_their_observations(backend):
    time.sleep(1)
    samples = scrape(backend)
    series = 'method="GET",endpoint="/api/pipelines"'
    buckets = [(labels_of(labels)["le"], value) for (name, labels), value in samples.items()
               if name == "http_request_duration_seconds_bucket" and labels.startswith(series)]
    values = [value for _le, value in buckets]
    assert values == sorted(values) and buckets[-1][0] == "+Inf"
    assert samples[("http_request_duration_seconds_count", series)] == values[-1] > 0


def test_an_error_fault_raises_the_5xx_share_past_the_critical_threshold_and_clears(backend):
    first = scrape(backend)
    time.sleep(2)
    normal = scrape(backend)
    # The rules alert above 1% (warning) and 5% (critical) of requests.
    assert error_ratio(first, normal) < 0.01
    assert post(backend["metrics"] + "/faults/errors?seconds=60") == {"errors": 60}
    assert get(backend["health"] + "/health")[0] == 503
    time.sleep(2)
    faulty = scrape(backend)
    assert error_ratio(normal, faulty) > 0.05
    assert post(backend["metrics"] + "/faults/clear") == {}
    assert get(backend["health"] + "/health/ready")[0] == 200


def test_an_unknown_fault_is_refused(backend):
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(backend["metrics"] + "/faults/fire")
    assert refused.value.code == 400


def alerts(prometheus_url: str) -> list:
    status, body = get(prometheus_url + "/api/v1/alerts")
    assert status == 200
    return json.loads(body)["data"]["alerts"]


def test_the_shipped_rules_stay_quiet_until_a_fault_trips_them(tmp_path):
    """A real Prometheus with every shipped rule scrapes a fresh simulator: no alert but the Watchdog until the errors fault."""
    metrics_port, health_port, web_port = free_port(), free_port(), free_port()
    simulator = subprocess.Popen([sys.executable, str(SIMULATOR), "--contract", str(ROOT / "docs/metrics.md"),
                                  "--listen", "127.0.0.1", "--metrics-port", str(metrics_port),
                                  "--health-port", str(health_port), "--seed", "11"], stdout=subprocess.PIPE, text=True)
    assert "simulating" in simulator.stdout.readline()
    rules = sorted(str(path) for path in (ROOT / "roles/prometheus/files/rules").glob("*.yml"))
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rules,
        "scrape_configs": [{"job_name": "backend", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }))
    prometheus = subprocess.Popen([debian_tool("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get(url + "/-/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        # Enough scrapes and evaluations for every rate() and increase() to have data.
        time.sleep(20)
        # Only the Watchdog, which always fires (the dead-man's switch), and fires here too.
        assert [a["labels"]["alertname"] for a in alerts(url)] == ["Watchdog"]
        post(f"http://127.0.0.1:{metrics_port}/faults/errors?seconds=120")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "BackendHighErrorRate" not in {a["labels"]["alertname"] for a in alerts(url)}:
            time.sleep(1)
        assert "BackendHighErrorRate" in {a["labels"]["alertname"] for a in alerts(url)}
    finally:
        prometheus.terminate()
        simulator.terminate()
        prometheus.wait(timeout=10)
        simulator.wait(timeout=10)
