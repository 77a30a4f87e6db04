"""A stand-in for the platform backend in the sandbox: every application metric
of docs/metrics.md on /metrics, with plausible values that change over time.

It is part of the sandbox only (make demo), never of production: the real
backend serves these metrics itself. It reads the contract from the metrics
page, so a metric added there shows up here without a change.

  python3 backend_simulator.py --contract metrics.md [--metrics-port 8001] [--health-port 8000]

Ports: /metrics on the metrics port (what Prometheus scrapes as job
"backend"), and /health, /health/live, /health/ready and /health/startup on
the health port (what the blackbox probes). Faults make alerts fire on demand:

  curl -X POST 'http://HOST:8001/faults/errors?seconds=900'   12% of requests fail with 5xx
  curl -X POST 'http://HOST:8001/faults/slow?seconds=900'     responses 20 times slower
  curl -X POST 'http://HOST:8001/faults/clear'                back to normal
  curl http://HOST:8001/faults                                what is active, as JSON
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ROW = re.compile(r"^\| `(?P<name>[a-z_:]+)` \| (?P<type>[a-z]+)[^|]*\|(?P<labels>[^|]*)\|(?P<meaning>[^|]*)\|", re.MULTILINE)
SECTION = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)
# Values of labels that the page does not spell out.
DEFAULT_VALUES = {
    "method": ["GET", "POST", "PUT", "DELETE"],
    "endpoint": ["/api/pipelines", "/api/pipelines/{id}", "/api/connectors", "/api/uploads", "/api/auth/login"],
    "status": ["200", "201", "400", "404", "500", "503"],
    "exception_type": ["ValueError", "TimeoutError"],
    "table": ["pipelines", "connectors", "records", "users"],
    "pipeline": ["orders-daily", "crm-sync", "clickstream"],
    "connector": ["postgres", "salesforce", "s3"],
    "file_type": ["csv", "json", "parquet"],
    "transformation": ["normalise", "deduplicate", "enrich"],
    "cache": ["sessions", "queries"],
    "type": ["text", "json"],
    "plan": ["free", "pro", "enterprise"],
    "source": ["api", "upload", "connector"],
    "version": ["1.4.2"],
    "environment": ["sandbox"],
}
# Label values that mean trouble: rare in normal operation.
TROUBLE = {"500", "503", "400", "404", "failure", "failed", "error", "rejected", "timeout", "auth", "rate_limited",
           "other", "integrity", "connection", "cancelled", "protocol", "send", "server"}
# Counters whose every event is trouble.
TROUBLE_NAMES = ("timeout", "lockout", "error", "failure", "failed", "rejected", "exceeded")
LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
SIZE_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


def contract(text: str) -> list:
    """(name, type, labels {label: values}) of every backend metric on the metrics page."""
    backup_section = next((m.start() for m in SECTION.finditer(text) if m["title"].startswith("Backups")), len(text))
    metrics = []
    for row in ROW.finditer(text[:backup_section]):
        label_names = re.findall(r"`([a-z_]+)`", row["labels"])
        spelled = {}
        for label, values in re.findall(r"`([a-z_]+)`: ((?:`[^`]+`(?:, )?)+)", row["meaning"]):
            spelled[label] = re.findall(r"`([^`]+)`", values)
        if len(label_names) == 1 and label_names[0] not in spelled:
            values = re.findall(r"`([^`]+)`", row["meaning"])
            if values:
                spelled[label_names[0]] = values
        labels = {label: spelled.get(label) or DEFAULT_VALUES.get(label) or ["default"] for label in label_names}
        metrics.append((row["name"], row["type"], labels))
    return metrics


def label_text(labels: dict) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}" if labels else ""


class Faults:
    """Faults switched on by POST /faults/<name>, each until its deadline."""

    KNOWN = ("errors", "slow")

    def __init__(self):
        self.until = {}
        self.lock = threading.Lock()

    def set(self, name: str, seconds: float) -> None:
        with self.lock:
            self.until[name] = time.time() + seconds

    def clear(self) -> None:
        with self.lock:
            self.until.clear()

    def active(self, name: str) -> bool:
        return self.until.get(name, 0) > time.time()

    def state(self) -> dict:
        return {name: round(self.until[name] - time.time()) for name in self.KNOWN if self.active(name)}


class Simulator:
    """The metric values, advanced on every scrape by the time since the last one."""

    def __init__(self, metrics: list, faults: Faults, seed: int | None = None):
        self.metrics = metrics
        self.faults = faults
        self.random = random.Random(seed)
        self.started = time.time()
        self.last = self.started
        self.values = {}
        self.lock = threading.Lock()

    # -- how much of what -----------------------------------------------------

    def weight(self, labels: dict) -> float:
        """Share of a metric's rate that goes to these label values.

        A healthy backend stays under every alert's threshold: a trace of 5xx
        and 4xx answers, no other trouble. The errors fault raises the 5xx
        share to 14% and brings the rest of the trouble with it.
        """
        weight = 1.0
        erring = self.faults.active("errors")
        for label, value in labels.items():
            if value not in TROUBLE:
                continue
            if label == "status" and value[:1] in "45" and value.isdigit():
                weight *= 0.14 if erring and value.startswith("5") else 0.004
            else:
                weight *= 0.02 if erring else 0.0
        return weight

    def trouble_rate(self, name: str) -> float | None:
        """Counters that only count trouble (timeouts, lockouts, ...): none unless the errors fault is on."""
        if any(word in name for word in TROUBLE_NAMES):
            return 0.2 if self.faults.active("errors") else 0.0
        return None

    def base_rate(self, name: str) -> float:
        """Events per second of a counter or histogram family."""
        trouble = self.trouble_rate(name)
        if trouble is not None:
            return trouble
        for prefix, rate in (("http_", 4.0), ("db_", 6.0), ("cache_misses", 1.0), ("cache_", 8.0), ("websocket_messages", 3.0),
                             ("business_api_calls", 2.0), ("business_data_volume_bytes", 20000.0),
                             ("connector_data_bytes", 50000.0), ("pipeline_records", 40.0),
                             ("transformation_records", 30.0), ("process_cpu_seconds", 0.08)):
            if name.startswith(prefix):
                return rate
        return 0.05

    def latency(self, name: str) -> float:
        """A random duration in seconds, lognormal around the family's median."""
        median = 0.06
        for prefix, value in (("pipeline_execution", 90.0), ("transformation_duration", 20.0),
                              ("file_processing", 2.0), ("connector_request", 0.4), ("db_query", 0.008),
                              ("db_connection_pool_wait", 0.002)):
            if name.startswith(prefix):
                median = value
        if name.startswith("http_") and self.faults.active("slow"):
            median *= 20
        return self.random.lognormvariate(math.log(median), 0.6)

    def gauge(self, name: str, labels: dict, previous: float | None, now: float) -> float:
        if name == "app_info":
            return 1
        if name == "process_start_time_seconds":
            return round(self.started)
        if name == "process_max_fds":
            return 65536
        if name.endswith("_timestamp_seconds"):
            # A recent success: the lag grows, then a new run resets it.
            lag = (now - self.started) % (1800 if name.startswith("pipeline") else 300)
            return round(now - lag)
        if name == "db_connection_pool_size":
            return 20
        if name == "pipeline_longest_running_execution_seconds":
            return round((now - self.started) % 240, 1)
        low, high = 0.0, 20.0
        for key, bounds in (("_bytes", (2e7, 9e7)), ("_users", (40, 400)), ("_sessions", (30, 300)),
                            ("_entries", (1000, 5000)), ("_fds", (40, 120)), ("websocket_connections", (10, 80)),
                            ("pool_in_use", (2, 14)), ("pool_overflow", (0, 2)), ("business_pipelines", (5, 40)),
                            ("connectors_configured", (3, 12)), ("in_progress", (0, 8)), ("active", (0, 6))):
            if key in name:
                low, high = bounds
        if previous is None:
            return round(low + (high - low) * self.random.random(), 2)
        step = (high - low) * 0.05 * self.random.uniform(-1, 1)
        return round(min(high, max(low, previous + step)), 2)

    # -- advancing and rendering ------------------------------------------------

    def advance(self) -> None:
        now = time.time()
        elapsed = max(0.0, now - self.last)
        self.last = now
        for name, kind, labels in self.metrics:
            for combination in itertools.product(*labels.values()):
                key = (name, combination)
                series = dict(zip(labels, combination))
                if kind == "counter":
                    rate = self.base_rate(name) * self.weight(series)
                    self.values[key] = self.values.get(key, 0.0) + rate * elapsed * self.random.uniform(0.7, 1.3)
                elif kind == "histogram":
                    state = self.values.setdefault(key, {"buckets": [0] * (len(self.buckets(name)) + 1), "sum": 0.0})
                    events = self.base_rate(name) * self.weight(series) * elapsed
                    count = int(events) + (1 if self.random.random() < events - int(events) else 0)
                    for _event in range(min(count, 5000)):
                        self.observe(name, state)
                else:
                    self.values[key] = self.gauge(name, series, self.values.get(key), now)

    def buckets(self, name: str) -> list:
        return SIZE_BUCKETS if name.endswith("_bytes") else LATENCY_BUCKETS

    def observe(self, name: str, state: dict) -> None:
        value = self.random.lognormvariate(math.log(16384), 1.2) if name.endswith("_bytes") else self.latency(name)
        bounds = self.buckets(name)
        index = next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))
        state["buckets"][index] += 1
        state["sum"] += value

    def render(self) -> str:
        with self.lock:
            self.advance()
            lines = []
            for name, kind, labels in self.metrics:
                lines.append(f"# TYPE {name} {kind}")
                for combination in itertools.product(*labels.values()):
                    series = dict(zip(labels, combination))
                    value = self.values[(name, combination)]
                    if kind == "histogram":
                        cumulative = 0
                        for bound, count in zip([*map(str, self.buckets(name)), "+Inf"], value["buckets"]):
                            cumulative += count
                            lines.append(f"{name}_bucket{label_text({**series, 'le': bound})} {cumulative}")
                        lines.append(f"{name}_sum{label_text(series)} {round(value['sum'], 6)}")
                        lines.append(f"{name}_count{label_text(series)} {cumulative}")
                    else:
                        lines.append(f"{name}{label_text(series)} {round(value, 6) if isinstance(value, float) else value}")
            return "\n".join(lines) + "\n"


def handler_for(simulator: Simulator, faults: Faults, metrics_port: bool):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = urlsplit(self.path).path
            if metrics_port and path == "/metrics":
                self._send(200, simulator.render(), "text/plain; version=0.0.4")
            elif metrics_port and path == "/faults":
                self._send(200, json.dumps(faults.state()))
            elif not metrics_port and path in ("/health", "/health/live", "/health/ready", "/health/startup"):
                healthy = not faults.active("errors")
                self._send(200 if healthy else 503, json.dumps({"status": "healthy" if healthy else "degraded",
                                                                "environment": "sandbox", "simulated": True}))
            else:
                self._send(404, json.dumps({"error": "not found"}))

        def do_POST(self):  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            name = parts.path.removeprefix("/faults/")
            if not metrics_port or not parts.path.startswith("/faults/"):
                self._send(404, json.dumps({"error": "not found"}))
            elif name == "clear":
                faults.clear()
                self._send(200, json.dumps(faults.state()))
            elif name in Faults.KNOWN:
                seconds = float(parse_qs(parts.query).get("seconds", ["900"])[0])
                faults.set(name, seconds)
                self._send(200, json.dumps(faults.state()))
            else:
                self._send(400, json.dumps({"error": f"unknown fault {name}; known: {', '.join(Faults.KNOWN)}"}))

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--contract", required=True, help="docs/metrics.md")
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--metrics-port", type=int, default=8001)
    parser.add_argument("--health-port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    with open(args.contract, encoding="utf-8") as handle:
        metrics = contract(handle.read())
    faults = Faults()
    simulator = Simulator(metrics, faults, args.seed)
    simulator.render()
    servers = [ThreadingHTTPServer((args.listen, args.metrics_port), handler_for(simulator, faults, True)),
               ThreadingHTTPServer((args.listen, args.health_port), handler_for(simulator, faults, False))]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"simulating {len(metrics)} metrics on :{args.metrics_port}/metrics, health on :{args.health_port}", flush=True)
    servers[0].serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
