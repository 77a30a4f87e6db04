"""Log sources as data, rendered for Promtail.

Stage names and keys are checked against Promtail's pipeline reference
(https://grafana.com/docs/loki/latest/send-data/promtail/stages/), and the
shipped expressions and time layouts against lines in the formats that nginx,
PostgreSQL and the backend write on Debian.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._log_sources import (
    log_source_access,
    promtail_clients,
    promtail_scrape_configs,
)
from conftest import ROOT

SHIPPED = yaml.safe_load((ROOT / "roles/logs/defaults/main.yml").read_text())["logs_sources"]
ALLOWED_LABELS = {"job", "host", "environment", "level", "logger"}
# The stages and their keys, from Promtail's stage reference.
DOCUMENTED_STAGES = {
    "json": {"expressions", "source", "drop_malformed"},
    "regex": {"expression", "source"},
    "timestamp": {"source", "format", "fallback_formats", "location", "action_on_failure"},
    "labels": None,
    "structured_metadata": None,
    "docker": set(),
    "labeldrop": None,
}
DOCUMENTED_SCRAPE_CONFIG = {"job_name", "static_configs", "journal", "pipeline_stages", "relabel_configs"}
DOCUMENTED_JOURNAL = {"json", "max_age", "path", "labels", "matches"}
# Go layouts of the shipped timestamps, as strptime formats.
GO_LAYOUTS = {
    "RFC3339": "%Y-%m-%dT%H:%M:%S%z",
    "02/Jan/2006:15:04:05 -0700": "%d/%b/%Y:%H:%M:%S %z",
    "2006-01-02 15:04:05.000 MST": "%Y-%m-%d %H:%M:%S.%f %Z",
}
# Lines as the real programs write them (nginx's combined format and error
# log, PostgreSQL with Debian's log_line_prefix '%m [%p] %q%u@%d ').
SAMPLES = {
    "nginx": [
        ('172.18.0.5 - - [28/Nov/2026:03:12:45 +0000] "GET /api/pipelines HTTP/1.1" 200 612 "-" "curl/8.5.0"',
         {"time_local": "28/Nov/2026:03:12:45 +0000", "method": "GET", "status": "200"}),
        ('2026/11/28 03:12:46 [error] 812#812: *3 open() "/usr/share/nginx/html/missing" failed (2: No such file)',
         {"level": "error"}),
    ],
    "postgres": [
        ("2026-11-28 03:12:40.118 UTC [9021] LOG:  database system is ready to accept connections",
         {"time": "2026-11-28 03:12:40.118 UTC", "level": "LOG"}),
        ('2026-11-28 03:12:41.503 UTC [9133] postgres@postgres ERROR:  relation "missing" does not exist at character 15',
         {"time": "2026-11-28 03:12:41.503 UTC", "level": "ERROR"}),
        ("2026-11-28 03:12:42.001 UTC [9133] app@platform DEBUG1:  snapshot of 0+0 running transactions",
         {"time": "2026-11-28 03:12:42.001 UTC", "level": "DEBUG1"}),
    ],
}


def render(sources=None, **options):
    return promtail_scrape_configs(SHIPPED if sources is None else sources,
                                   {"host": "web-1", "environment": "staging", **options})


def by_job(configs):
    return {config["job_name"]: config for config in configs}


def stage(config, name):
    return [entry[name] for entry in config.get("pipeline_stages", []) if name in entry]


def test_the_seed_has_eight_sources_each_with_its_own_job():
    configs = render()
    assert [config["job_name"] for config in configs] == [
        "backend", "frontend", "system", "nginx", "docker", "postgres", "redis", "audit"]
    jobs = [c["journal"]["labels"]["job"] if "journal" in c else c["static_configs"][0]["labels"]["job"] for c in configs]
    assert len(set(jobs)) == 8
    assert "audit" in jobs


def test_streams_carry_only_low_cardinality_labels():
    for config in render():
        label_sets = [config["journal"]["labels"]] if "journal" in config else [
            static["labels"] for static in config["static_configs"]]
        for labels in label_sets:
            assert set(labels) - {"__path__"} == {"job", "host", "environment"}, config["job_name"]
            assert labels["host"] == "web-1" and labels["environment"] == "staging"
        for promoted in stage(config, "labels"):
            assert set(promoted) <= ALLOWED_LABELS, config["job_name"]


def test_ids_stay_out_of_labels_and_go_to_structured_metadata():
    backend = by_job(render())["backend"]
    assert stage(backend, "labels") == [{"level": "level", "logger": "logger"}]
    metadata = stage(backend, "structured_metadata")[0]
    assert {"request_id", "user_id", "endpoint", "duration_ms"} <= set(metadata)
    assert "timestamp" not in metadata


def test_backend_json_fields_and_its_own_timestamp():
    backend = by_job(render())["backend"]
    expressions = stage(backend, "json")[0]["expressions"]
    assert set(expressions) == {"timestamp", "level", "logger", "request_id", "user_id", "endpoint", "duration_ms"}
    assert stage(backend, "timestamp") == [{"source": "timestamp", "format": "RFC3339"}]


def test_every_stage_and_key_is_documented_by_promtail():
    for config in render():
        assert set(config) <= DOCUMENTED_SCRAPE_CONFIG
        if "journal" in config:
            assert set(config["journal"]) <= DOCUMENTED_JOURNAL
        for entry in config.get("pipeline_stages", []):
            (name, body), = entry.items()
            assert name in DOCUMENTED_STAGES, (config["job_name"], name)
            if DOCUMENTED_STAGES[name] is not None:
                assert set(body) <= DOCUMENTED_STAGES[name], (config["job_name"], name)


def test_system_logs_come_from_the_journal_as_json():
    system = by_job(render())["system"]
    assert system["journal"]["json"] is True
    assert system["journal"]["labels"]["job"] == "systemd-journal"
    assert stage(system, "json")[0]["expressions"]["unit"] == "_SYSTEMD_UNIT"


def test_paths_are_debians():
    paths = {c["job_name"]: [s["labels"]["__path__"] for s in c.get("static_configs", [])] for c in render()}
    assert paths["postgres"] == ["/var/log/postgresql/postgresql-*-main.log"]
    assert paths["redis"] == ["/var/log/redis/redis-server*.log"]
    assert paths["nginx"] == ["/var/log/nginx/access.log", "/var/log/nginx/error.log"]
    assert paths["docker"] == ["/var/lib/docker/containers/*/*-json.log"]
    assert stage(by_job(render())["docker"], "docker") == [{}]


@pytest.mark.parametrize("job", sorted(SAMPLES))
def test_shipped_expressions_parse_real_lines_and_their_times(job):
    config = by_job(render())[job]
    expressions = [re.compile(body["expression"]) for body in stage(config, "regex")]
    layouts = {ts["source"]: GO_LAYOUTS[ts["format"]] for ts in stage(config, "timestamp")}
    for line, expected in SAMPLES[job]:
        extracted = {}
        for expression in expressions:
            match = expression.search(line)
            if match:
                extracted.update(match.groupdict())
        assert {key: extracted.get(key) for key in expected} == expected, line
        for field, layout in layouts.items():
            if field in extracted:
                datetime.strptime(extracted[field], layout)


def test_access_is_by_group_or_acl_never_root():
    access = log_source_access(SHIPPED)
    assert access == {"groups": ["adm", "systemd-journal"], "acl": ["/var/lib/docker/containers", "/var/log/audit"]}
    assert log_source_access(SHIPPED, ["docker", "audit"])["acl"] == []


def test_disabled_sources_are_left_out():
    assert "docker" not in by_job(render(disabled=["docker"]))
    with pytest.raises(AnsibleFilterError, match="unknown log sources: dokcer"):
        render(disabled=["dokcer"])


@pytest.mark.parametrize(("source", "message"), [
    ({"name": "app", "paths": ["/x"], "format": "json", "fields": ["user_id"], "labels": ["user_id"]},
     "'user_id' cannot be a label"),
    ({"name": "app", "paths": ["/x"], "format": "json", "fields": ["logger"], "labels": ["level"]},
     "label 'level' is not a field the source parses"),
    ({"name": "app", "paths": ["/x"], "journal": {}}, "exactly one of paths and journal"),
    ({"name": "app"}, "exactly one of paths and journal"),
    ({"name": "app", "paths": ["/x"], "pipeline": []}, r"unknown keys \['pipeline'\]"),
    ({"name": "app", "paths": ["/x"], "format": "regex", "expressions": ["(?P<level>[a-z"]}, "does not compile"),
    ({"name": "app", "paths": ["/x"], "format": "regex", "expressions": ["^x"]}, "names no field"),
    ({"name": "app", "paths": ["/x"], "format": "xml"}, "format must be one of"),
    ({"name": "app", "paths": ["/x"], "format": "json", "fields": ["a"], "timestamps": [{"field": "t", "format": "RFC3339"}]},
     "timestamp field 't' is not a field"),
    ({"name": "app", "paths": ["/x"], "format": "json", "fields": ["a"], "metadata": ["b"]}, "metadata field 'b'"),
    ({"name": "app", "journal": {}, "format": "docker"}, "docker format reads files"),
])
def test_bad_sources_fail_naming_the_source(source, message):
    with pytest.raises(AnsibleFilterError, match=f"log source app: .*{message}"):
        render([source])


def test_source_names_are_unique():
    with pytest.raises(AnsibleFilterError, match="repeated: app"):
        render([{"name": "app", "paths": ["/a"]}, {"name": "app", "paths": ["/b"]}])


def test_file_streams_drop_promtails_filename_label():
    for config in render():
        drops = stage(config, "labeldrop")
        assert drops == ([] if "journal" in config else [["filename"]]), config["job_name"]


def test_plain_sources_only_drop_the_filename_and_json_paths_can_be_renamed():
    configs = render([
        {"name": "plain", "paths": ["/var/log/x.log"]},
        {"name": "nested", "job": "api", "paths": ["/y"], "format": "json", "fields": {"level": "log.level"},
         "labels": ["level"]},
    ])
    assert configs[0]["pipeline_stages"] == [{"labeldrop": ["filename"]}]
    assert configs[1]["static_configs"][0]["labels"]["job"] == "api"
    assert stage(configs[1], "json") == [{"expressions": {"level": "log.level"}}]


def test_clients_from_the_inventory_default_to_lokis_loopback_address():
    hostvars = {"logs-1": {}, "logs-2": {"loki_listen_address": "10.1.0.7:3100", "ansible_host": "10.1.0.7"}}
    clients = promtail_clients(hostvars, {"loki": ["logs-1", "logs-2"]}, {"client_options": {"batchwait": "2s"}})
    assert clients == [
        {"url": "http://127.0.0.1:3100/loki/api/v1/push", "batchwait": "2s"},
        {"url": "http://10.1.0.7:3100/loki/api/v1/push", "batchwait": "2s"},
    ]


def test_explicit_urls_replace_the_inventory():
    clients = promtail_clients({}, {"loki": []}, {"urls": ["https://logs.example.org/loki/api/v1/push"]})
    assert clients == [{"url": "https://logs.example.org/loki/api/v1/push"}]
    assert promtail_clients({}, {}, {}) == []
