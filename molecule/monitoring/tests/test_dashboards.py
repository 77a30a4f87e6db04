"""Every query of the shipped dashboards, run against the scenario's Prometheus.

Each expression must run without error and return data: the exporters run
against real services, and the application host serves a /metrics page with
every metric of the contract (generated from docs/metrics.md). Only cAdvisor's
queries wait for the real program, and the alert queries for alerts to fire.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import inventory_host, served_as_standin, wait_until

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
sys.path.insert(0, str(PROJECT / "tests" / "unit"))
from promql import is_exporter_metric, metric_names, shipped_dashboards, spec_queries, substitute_variables  # noqa: E402

MON = "mon-debian13-archive"
# Runs every query in one go inside the monitoring host, through the same
# TLS and basic auth Grafana's datasource uses.
QUERY_ALL = r"""
import base64, json, ssl, sys, urllib.error, urllib.parse, urllib.request
exprs = json.loads(sys.argv[1])
context = ssl.create_default_context(cafile="/etc/prometheus/scrape-ca.pem")
token = base64.b64encode(b"grafana:molecule-grafana-datasource-password").decode()
results = []
for expr in exprs:
    request = urllib.request.Request("https://localhost:9090/api/v1/query",
                                     data=urllib.parse.urlencode({"query": expr}).encode())
    request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            body = json.loads(response.read().decode())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read().decode() or "{}")
    results.append({"status": body.get("status"), "error": body.get("error", ""),
                    "series": len((body.get("data") or {}).get("result") or [])})
print(json.dumps(results))
"""


def shipped_queries():
    for _entry, spec in shipped_dashboards():
        for panel, expr in spec_queries(spec):
            yield f"{spec['title']} / {panel}", expr


QUERIES = list(shipped_queries())
EXPRESSIONS = [query[1] for query in QUERIES]


def must_return_data(expr: str) -> bool:
    names = metric_names(expr)
    return (
        bool(names)
        and not any(name.startswith(("container_", "machine_")) for name in names)
        and not names & {"ALERTS", "ALERTS_FOR_STATE"}
    )


def run_all(exprs):
    mon = inventory_host(MON)
    result = mon.run("python3 -c %s %s", QUERY_ALL, json.dumps(exprs))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def results():
    exprs = [substitute_variables(expr) for expr in EXPRESSIONS]
    needed = [index for index, expr in enumerate(exprs) if must_return_data(expr)]

    def all_have_data():
        answers = run_all(exprs)
        return answers if all(answers[i]["series"] > 0 for i in needed) else None

    # Rates need two scrapes of each target; the scenario scrapes every 5 s.
    answers = wait_until(all_have_data, timeout=90, interval=5) or run_all(exprs)
    summary = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "dashboard-queries.txt"
    summary.write_text("".join(
        f"{'data' if a['series'] else 'empty'}\t{a['series']}\t{where}\t{expr}\n"
        for (where, expr), a in zip(QUERIES, answers)
    ))
    return answers


def test_the_dashboards_have_many_queries_and_nearly_all_must_return_data():
    assert len(QUERIES) >= 100
    assert sum(must_return_data(substitute_variables(expr)) for expr in EXPRESSIONS) >= 100
    assert sum(all(is_exporter_metric(name) for name in metric_names(expr)) for expr in EXPRESSIONS) >= 20


@pytest.mark.parametrize("index", range(len(QUERIES)), ids=[f"{i}:{q[0]}" for i, q in enumerate(QUERIES)])
def test_query_runs_and_exporter_queries_return_data(results, index):
    where, expr = QUERIES[index]
    answer = results[index]
    assert answer["status"] == "success", f"{where}: {expr}: {answer['error']}"
    if must_return_data(substitute_variables(expr)):
        assert answer["series"] > 0, f"{where}: {expr} returned no data"


def test_cadvisor_queries_return_data_from_the_real_cadvisor(results):
    cadvisor = [i for i, expr in enumerate(EXPRESSIONS) if any(n.startswith(("container_", "machine_")) for n in metric_names(expr))]
    if not cadvisor:
        pytest.skip("no dashboard query uses cAdvisor metrics")
    if served_as_standin("cadvisor"):
        pytest.skip("needs the real cadvisor (DA_REAL_ARTIFACTS); its queries were checked to run without error")
    assert all(results[i]["series"] > 0 for i in cadvisor), [QUERIES[i] for i in cadvisor if not results[i]["series"]]
