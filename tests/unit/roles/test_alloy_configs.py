"""config.alloy as the alloy role renders it: Alloy's grammar and component reference, and Promtail's labels.

The role's variables are rendered by ansible-playbook, for the role's
defaults and for every host of each shipped inventory, then parsed and
decoded by the checker written from Alloy 1.18.1's grammar and component
reference (tests/unit/alloy_syntax.py; skipped, with the reason, where
../shared/upstream is missing).
"""

from __future__ import annotations

import pytest

from alloy_syntax import Attribute, Block, check_config, load_components, parse
from conftest import render_role, rendered_per_host

# The sandbox ships logs only with the real Loki and shipper artifacts (sandbox.sh adds the group then).
INVENTORIES = ["production", "staging"]
ALLOWED_LABELS = {"job", "host", "environment", "level", "logger"}


@pytest.fixture(scope="module")
def components():
    return load_components()


def streams(statements) -> dict:
    """{component label: the stream labels of its targets}."""
    found = {}
    for block in statements:
        attributes = {a.name: a.value for a in block.body if isinstance(a, Attribute)}
        if block.name == "local.file_match":
            targets = attributes["path_targets"]
        elif block.name == "loki.source.journal":
            targets = [attributes["labels"]]
        else:
            continue
        found[block.label] = [{key: item.value for key, item in target.items() if not key.startswith("__")}
                              for target in targets]
    return found


def test_the_role_defaults_render_a_config_alloy_accepts(tmp_path, components):
    rc, output, text = render_role("alloy", "__alloy_config_text", tmp_path,
                                   {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"]})
    assert rc == 0, output
    statements = check_config(text, components)
    assert len([block for block in statements if block.name == "loki.process"]) == 8
    for targets in streams(statements).values():
        for labels in targets:
            assert set(labels) <= ALLOWED_LABELS and labels["environment"] == "production"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_host_of_each_shipped_inventory_gets_a_config_alloy_accepts(tmp_path, components, inventory):
    by_host = rendered_per_host(tmp_path, inventory, ["alloy"],
                                "__alloy_config_text if 'promtail' in group_names else ''")
    configs = {host: text for host, text in by_host.items() if text}
    assert configs, f"no host of {inventory} ships logs"
    for host, text in configs.items():
        statements = check_config(text, components)
        (write,) = [block for block in statements if block.name == "loki.write"]
        endpoints = [inner for inner in write.body if isinstance(inner, Block)]
        assert endpoints, host
        for endpoint in endpoints:
            url = {a.name: a.value for a in endpoint.body if isinstance(a, Attribute)}["url"].value
            assert "127.0.0.1" not in url or host.startswith("monitor"), (host, url)
        for targets in streams(statements).values():
            for labels in targets:
                assert set(labels) <= ALLOWED_LABELS, (host, labels)
                assert labels["host"] == host


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_both_shippers_label_every_source_alike_on_every_host(tmp_path, inventory):
    """The same streams whichever shipper runs: Promtail's labels of each source are Alloy's."""
    by_host = rendered_per_host(tmp_path, inventory, ["alloy", "promtail"], (
        "{'alloy': __alloy_config_text, 'promtail': __promtail_config.scrape_configs} if 'promtail' in group_names else {}"))
    compared = 0
    for host, value in by_host.items():
        if not value:
            continue
        alloy = streams(parse(value["alloy"]))
        promtail = {}
        for scrape in value["promtail"]:
            labels = [scrape["journal"]["labels"]] if "journal" in scrape else [
                {key: item for key, item in static["labels"].items() if not key.startswith("__")}
                for static in scrape["static_configs"]]
            promtail[scrape["job_name"]] = labels
        assert alloy == promtail, host
        compared += 1
    assert compared > 0


@pytest.mark.parametrize("overrides, message", [
    ({"alloy_log_sources_extra": [{"name": "x", "paths": ["/x"], "format": "json", "fields": ["user_id"],
                                   "labels": ["user_id"]}]}, "'user_id' cannot be a label"),
    ({"alloy_loki_endpoint": {"url": "http://elsewhere"}}, "the endpoint settings hold no url"),
    ({"alloy_log_sources_extra": [{"name": "a-b", "paths": ["/x"]}, {"name": "a_b", "paths": ["/y"]}]},
     "both become the Alloy label 'a_b'"),
])
def test_what_alloy_would_refuse_fails_the_render_naming_it(tmp_path, overrides, message):
    settings = {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"], **overrides}
    rc, output, _value = render_role("alloy", "__alloy_config_text", tmp_path, settings)
    assert rc != 0
    assert message in " ".join(output.split())


@pytest.mark.parametrize("value", ['prod"uction', "two\nlines", "back\\slash", "tab\tand } brace", "ünïcødé"])
def test_hostile_label_values_come_out_as_the_same_strings(tmp_path, components, value):
    rc, output, text = render_role("alloy", "__alloy_config_text", tmp_path, {
        "alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"], "alloy_environment": value,
        "alloy_host_label": value, "alloy_loki_endpoint": {"tenant_id": value}})
    assert rc == 0, output
    for targets in streams(check_config(text, components)).values():
        for labels in targets:
            assert labels["environment"] == value and labels["host"] == value


@pytest.mark.parametrize("grafana_settings, expected", [
    ({}, ["https://apt.grafana.com", "stable", ["main"], "https://apt.grafana.com/gpg.key"]),
    ({"grafana_apt_repository_url": "http://mirror/apt", "grafana_apt_suite": "beta",
      "grafana_apt_components": ["main", "extra"], "grafana_apt_key_url": "http://mirror/apt/gpg.key"},
     ["http://mirror/apt", "beta", ["main", "extra"], "http://mirror/apt/gpg.key"]),
])
def test_the_apt_source_follows_the_grafana_role_s_so_one_host_never_flips_it(tmp_path, grafana_settings, expected):
    """Both roles write grafana.sources: Alloy's settings default to Grafana's where the inventory sets those."""
    rc, output, value = render_role(
        "alloy", "[alloy_apt_repository_url, alloy_apt_suite, alloy_apt_components, alloy_apt_key_url]", tmp_path,
        {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"], **grafana_settings})
    assert rc == 0, output
    assert value == expected


def test_the_package_is_pinned_to_its_version_and_revision(tmp_path):
    rc, output, value = render_role("alloy", "__alloy_service.install.packages", tmp_path,
                                    {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"],
                                     "alloy_install_method": "package", "alloy_package_revision": "2"})
    assert rc == 0, output
    assert value == ["alloy=1.18.1-2"]


def test_the_role_looks_for_every_setting_the_pipeline_marks_sensitive(tmp_path):
    """The live config is searched for these names before a diff is shown: the lists must agree."""
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alloy import ENDPOINT_SENSITIVE

    rc, output, value = render_role("alloy", "__alloy_sensitive_settings", tmp_path,
                                    {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"]})
    assert rc == 0, output
    assert set(value) == ENDPOINT_SENSITIVE


@pytest.mark.parametrize("revision, accepted", [("1", True), ("2+deb12u1", True), ("", False), ("1\n", False),
                                                ("*", False), ("1 alloy-extra", False)])
def test_the_preflight_takes_only_a_packaging_revision(tmp_path, revision, accepted):
    """The preflight's own condition (read from preflight.yml), rendered as the role renders it."""
    import re
    from pathlib import Path

    import yaml

    tasks = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/alloy/tasks/preflight.yml").read_text())
    (checks,) = [task["vars"]["__alloy_checks"] for task in tasks if "__alloy_checks" in task.get("vars", {})]
    (condition,) = [check["ok"] for check in checks if "alloy_package_revision" in check["fix"]]
    expression = re.fullmatch(r"\{\{(.*)\}\}", condition.strip(), re.S).group(1)
    rc, output, value = render_role("alloy", expression, tmp_path,
                                    {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"],
                                     "alloy_install_method": "package", "alloy_package_revision": revision})
    assert rc == 0, output
    assert value is accepted


@pytest.mark.parametrize("line, sensitive", [
    ('\t\theaders = {\n', True),
    ('    proxy_url = "http://proxy:3128"\n', True),
    ('\t\turl = "https://shipper:secret@loki.internal/loki/api/v1/push"\n', True),
    ('\t\turl = "https://loki.internal/loki/api/v1/push"\n', False),
    ('\t\turl = "http://loki:3100/push?a=b"\n', False),
    ('\tlevel = "info"\n', False),
])
def test_the_live_config_search_finds_what_a_diff_must_not_show(tmp_path, line, sensitive):
    """The grep of configure.yml, run as the role runs it, on a config.alloy holding the line."""
    import re
    import subprocess
    from pathlib import Path

    import yaml

    tasks = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/alloy/tasks/configure.yml").read_text())
    (argv,) = [task["ansible.builtin.command"]["argv"] for task in tasks
               if task.get("register") == "__alloy_live_sensitive"]
    pieces = re.split(r"\{\{(.*?)\}\}", argv[2].strip())  # literal text and Jinja expressions, alternating
    pattern = " ~ ".join(repr(piece) if index % 2 == 0 else f"({piece})" for index, piece in enumerate(pieces))
    expression = f"[{argv[0]!r}, {argv[1]!r}, {pattern}]"
    rc, output, rendered = render_role("alloy", expression, tmp_path,
                                       {"alloy_loki_urls": ["http://loki.internal:3100/loki/api/v1/push"]})
    assert rc == 0, output
    config = tmp_path / "config.alloy"
    config.write_text('logging {\n\tlevel = "info"\n}\n\nloki.write "default" {\n\tendpoint {\n' + line + "\t}\n}\n")
    result = subprocess.run([*rendered, str(config)], check=False)
    assert result.returncode == (0 if sensitive else 1)
