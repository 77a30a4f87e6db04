"""loki.yml and promtail.yml, as rendered for every shipped inventory, against upstream's own key references.

Loki and Promtail cannot run on this project's machines (the mirror serves
offline stand-ins), so nothing else would notice a key the real programs
refuse: both decode their file strictly. Promtail's -check-syntax, which the
role's validation uses, checks neither pipeline stage names nor their options;
this test is the only guard for them.
"""

from __future__ import annotations

import copy

import pytest

from conftest import render_role, rendered_per_host
from upstream_reference import load

LOKI = "loki-3.7.6-config-keys.json"
PROMTAIL = "promtail-3.6.8-config-keys.json"
# Stages the shipped log sources' formats need (json, regex and docker parse; labels and timestamp follow).
SOURCE_STAGES = {"json", "regex", "labels", "timestamp", "docker"}
# The sandbox's generated groups when Loki and Promtail are supplied (sandbox/sandbox.sh), and the
# addresses its containers would have (the sandbox asks Docker for them).
SANDBOX_LOGGING = {"all": {
    "hosts": {f"da-sandbox-{name}": {"private_address": f"172.18.0.{index}"}
              for index, name in enumerate(["monitor", "db", "cache", "app"], start=2)},
    "children": {
        "loki": {"hosts": {"da-sandbox-monitor": {"loki_listen_address": "172.18.0.2:3100"}}},
        "promtail": {"children": {"monitoring": {}, "platform": {}}},
    }}}


@pytest.fixture(scope="module")
def loki_reference():
    return load(LOKI)


@pytest.fixture(scope="module")
def promtail_reference():
    return load(PROMTAIL)


def stages_of(config: dict) -> set:
    """The names of every pipeline stage of a Promtail config, match blocks' inner stages included."""
    names = set()

    def walk(stages):
        for stage in stages or []:
            for name, options in stage.items():
                names.add(name)
                if name == "match":
                    walk(options.get("stages"))

    for scrape in config["scrape_configs"]:
        walk(scrape.get("pipeline_stages"))
    return names


# -- the shipped inventories and the role defaults ---------------------------

@pytest.mark.parametrize("inventory", ["production", "staging", "sandbox"])
def test_every_rendered_loki_and_promtail_config_of_an_inventory_takes_only_keys_the_programs_accept(
        tmp_path, inventory, loki_reference, promtail_reference):
    by_host = rendered_per_host(tmp_path, inventory, ["loki", "promtail"], (
        "({'loki': __loki_config} if 'loki' in group_names else {})"
        " | combine({'promtail': __promtail_config} if 'promtail' in group_names else {})"),
        extra_inventory=SANDBOX_LOGGING if inventory == "sandbox" else None)
    lokis = {host: value["loki"] for host, value in by_host.items() if "loki" in value}
    promtails = {host: value["promtail"] for host, value in by_host.items() if "promtail" in value}
    assert lokis and promtails, by_host.keys()
    for host, config in lokis.items():
        assert loki_reference.problems(config) == [], host
    used = set()
    for host, config in promtails.items():
        assert promtail_reference.problems(config) == [], host
        used |= stages_of(config)
    # The inventories' hosts, together, use every stage the log sources need.
    assert SOURCE_STAGES <= used, used


def test_loki_defaults_and_its_s3_storage_take_only_keys_loki_accepts(tmp_path, loki_reference):
    for storage in ({}, {"loki_storage": "s3", "loki_s3_endpoint": "minio.internal:9000", "loki_s3_bucket": "logs",
                         "loki_s3_region": "eu-west-1", "loki_s3_access_key_id": "loki",
                         "loki_s3_secret_access_key": "unit-secret"}):
        rc, output, config = render_role("loki", "__loki_config", tmp_path, storage)
        assert rc == 0, output
        assert loki_reference.problems(config) == [], storage
        if storage:
            assert "s3" in config["common"]["storage"]


def test_promtail_defaults_with_all_eight_log_sources_take_only_keys_promtail_accepts(tmp_path, promtail_reference):
    rc, output, config = render_role("promtail", "__promtail_config", tmp_path, {"loki_listen_address": "10.0.0.9:3100"},
                                     groups={"loki": ["localhost"]})
    assert rc == 0, output
    assert len(config["scrape_configs"]) >= 8
    assert promtail_reference.problems(config) == []
    assert SOURCE_STAGES <= stages_of(config)


# -- the check itself refuses what the programs refuse -----------------------

@pytest.fixture(scope="module")
def promtail_default(tmp_path_factory):
    rc, output, config = render_role("promtail", "__promtail_config", tmp_path_factory.mktemp("promtail"),
                                     {"loki_listen_address": "10.0.0.9:3100"}, groups={"loki": ["localhost"]})
    assert rc == 0, output
    return config


def first_stage(config: dict, name: str) -> tuple:
    """(scrape index, stage index) of the first stage with this name."""
    for scrape_index, scrape in enumerate(config["scrape_configs"]):
        for stage_index, stage in enumerate(scrape.get("pipeline_stages") or []):
            if name in stage:
                return scrape_index, stage_index
    raise AssertionError(f"no {name} stage in the rendered config")


@pytest.mark.parametrize(("change", "named"), [
    # An unknown stage: Promtail fails when it builds its targets.
    (lambda c, s, i: c["scrape_configs"][s]["pipeline_stages"].insert(0, {"jsonn": {"expressions": {}}}),
     "pipeline_stages[0].jsonn: unknown key"),
    # An unknown option in a stage: Promtail would drop it silently.
    (lambda c, s, i: c["scrape_configs"][s]["pipeline_stages"][i]["json"].update(expresions={"a": "b"}),
     ".json.expresions: unknown key"),
    # A wrong type in a stage.
    (lambda c, s, i: c["scrape_configs"][s]["pipeline_stages"][i]["json"].update(expressions=["level"]),
     ".json.expressions: must be a mapping"),
    # Two stages in one list item.
    (lambda c, s, i: c["scrape_configs"][s]["pipeline_stages"][i].update(labels={"level": None}),
     "must hold exactly one of"),
    # An unknown top-level key, and a wrong scalar type.
    (lambda c, s, i: c.update(target_configs={}), "target_configs: unknown key"),
    (lambda c, s, i: c["server"].update(http_listen_port="ninety-eighty"), "server.http_listen_port: 'ninety-eighty' is not a valid int"),
    (lambda c, s, i: c["positions"].update(sync_period="often"), "positions.sync_period: 'often' is not a valid duration"),
])
def test_the_check_names_what_promtail_would_refuse(promtail_default, promtail_reference, change, named):
    config = copy.deepcopy(promtail_default)
    change(config, *first_stage(config, "json"))
    problems = promtail_reference.problems(config)
    assert any(named in problem for problem in problems), problems


def test_a_documented_field_the_code_lacks_is_refused(promtail_default, promtail_reference):
    config = copy.deepcopy(promtail_default)
    config["scrape_configs"][0]["azure_event_hub"] = {}
    assert any("azure_event_hub: documented, but the program's code has no such field" in problem
               for problem in promtail_reference.problems(config))


@pytest.mark.parametrize(("change", "named"), [
    (lambda c: c.update(auth=False), "auth: unknown key"),
    (lambda c: c["limits_config"].update(retention_period=30), "limits_config.retention_period: 30 is not a valid duration"),
    (lambda c: c["schema_config"]["configs"][0].update(period="24h"), "schema_config.configs[0].period: unknown key"),
    (lambda c: c["common"]["storage"]["filesystem"].update(directory="/x"), "common.storage.filesystem.directory: unknown key"),
    (lambda c: c["server"].update(http_listen_port=True), "server.http_listen_port: True is not a valid int"),
])
def test_the_check_names_what_loki_would_refuse(tmp_path, loki_reference, change, named):
    rc, output, config = render_role("loki", "__loki_config", tmp_path)
    assert rc == 0, output
    change(config)
    problems = loki_reference.problems(config)
    assert any(named in problem for problem in problems), problems
