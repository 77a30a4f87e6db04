"""grafana_dashboard: layout, references and errors, and Grafana's own schema.

Every built dashboard must come back unchanged from the official
grafana-foundation-sdk models: a misspelt or misplaced key would be dropped
by them, and show up as a difference.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._dashboards import (
    PANEL_TYPES,
    dashboard_files,
    grafana_dashboard,
    grafana_dashboards,
)

plugins.register_default_plugins()

# Keys of the alert list panel's options, as Grafana documents them
# (grafana-foundation-sdk has no model of this panel to check against).
ALERTLIST_OPTION_KEYS = {
    "viewMode", "groupMode", "groupBy", "maxItems", "sortOrder", "dashboardAlerts", "alertName",
    "alertInstanceLabelFilter", "datasource", "folder", "stateFilter",
}


def round_trip(dashboard: dict) -> dict:
    model = Dashboard.from_json(copy.deepcopy(dashboard))
    return json.loads(json.dumps(model, default=lambda obj: obj.to_json()))


def timeseries(dashboard):
    return next(p for p in dashboard["panels"] if p["type"] == "timeseries")


def every_type_spec():
    return {
        "uid": "da-test",
        "title": "Test",
        "tags": ["test"],
        "description": "All panel types",
        "rows": [
            {"title": "Metrics", "panels": [
                {"title": kind, "type": kind, "width": 8, "unit": "percent",
                 "thresholds": [{"value": 80, "color": "orange"}, {"value": 95, "color": "red"}],
                 "queries": [] if kind == "alertlist" else [{"expr": '{job="x"}' if kind == "logs" else "up", "legend": "{{instance}}"}]}
                for kind in sorted(PANEL_TYPES)
            ]},
            {"title": "Second row", "panels": [{"title": "Wide", "width": 24, "stack": True, "queries": ["sum(up)", "count(up)"]}]},
        ],
    }


def test_every_panel_type_round_trips_through_grafanas_schema_unchanged():
    dashboard = grafana_dashboard(every_type_spec())
    assert round_trip(dashboard) == dashboard


@pytest.mark.parametrize(
    "misspell",
    [
        lambda d: timeseries(d).update(titel="x"),
        lambda d: timeseries(d)["options"].update(legnd={}),
        lambda d: timeseries(d)["fieldConfig"]["defaults"]["custom"].update(lineWidht=2),
        lambda d: timeseries(d)["targets"][0].update(legendFromat="x"),
        lambda d: d["templating"]["list"][0].update(lable="x"),
        lambda d: d.update(refesh="1m"),
    ],
)
def test_the_round_trip_would_catch_a_misspelt_key(misspell):
    dashboard = grafana_dashboard(every_type_spec())
    misspell(dashboard)
    assert round_trip(dashboard) != dashboard


def test_alertlist_options_use_only_documented_keys():
    dashboard = grafana_dashboard(every_type_spec())
    (alertlist,) = [p for p in dashboard["panels"] if p["type"] == "alertlist"]
    assert set(alertlist["options"]) == ALERTLIST_OPTION_KEYS
    assert alertlist["targets"] == [] and "datasource" not in alertlist


def test_panels_flow_left_to_right_wrap_at_24_and_rows_stack():
    dashboard = grafana_dashboard(every_type_spec())
    positions = [(p["type"], p["gridPos"]) for p in dashboard["panels"]]
    assert positions[0] == ("row", {"h": 1, "w": 24, "x": 0, "y": 0})
    # Seven panels of width 8: three per line.
    assert [grid["x"] for _kind, grid in positions[1:8]] == [0, 8, 16, 0, 8, 16, 0]
    assert [grid["y"] for _kind, grid in positions[1:8]] == [1, 1, 1, 9, 9, 9, 17]
    assert positions[8] == ("row", {"h": 1, "w": 24, "x": 0, "y": 25})
    assert positions[9][1] == {"h": 8, "w": 24, "x": 0, "y": 26}


def test_ids_are_stable_and_unique():
    first = grafana_dashboard(every_type_spec())
    again = grafana_dashboard(every_type_spec())
    ids = [p["id"] for p in first["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    assert ids == [p["id"] for p in again["panels"]]


def test_datasources_are_referenced_by_uid_variables():
    dashboard = grafana_dashboard(every_type_spec())
    by_type = {p["type"]: p for p in dashboard["panels"]}
    assert by_type["timeseries"]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert by_type["timeseries"]["targets"][0]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert by_type["logs"]["datasource"] == {"type": "loki", "uid": "${loki_datasource}"}
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "loki_datasource", "environment", "job", "instance"]


def test_a_dashboard_without_logs_has_no_loki_variable():
    spec = {"uid": "m", "title": "M", "variables": ["environment"], "rows": [{"title": "R", "panels": [{"title": "P", "queries": ["up"]}]}]}
    assert [v["name"] for v in grafana_dashboard(spec)["templating"]["list"]] == ["datasource", "environment"]


def test_the_environment_variable_starts_on_the_inventorys_environment_and_survives_grafanas_schema():
    spec = {"uid": "m", "title": "M", "rows": [{"title": "R", "panels": [{"title": "P", "queries": ["up"]}]}]}
    by_name = {v["name"]: v for v in grafana_dashboard(spec, environment="staging")["templating"]["list"]}
    assert by_name["environment"]["current"] == {"selected": True, "text": "staging", "value": "staging"}
    assert "current" not in by_name["job"]
    # Without one, Grafana picks (the first value it finds).
    assert "current" not in {v["name"]: v for v in grafana_dashboard(spec)["templating"]["list"]}["environment"]
    files = dashboard_files([{"src": "m.yml", "folder": "F"}], [spec], "/d", environment="staging")
    built = json.loads(files[0]["content"])
    assert round_trip(built)["templating"]["list"][1]["current"]["value"] == "staging"


def test_time_refresh_tags_and_links():
    dashboard = grafana_dashboard(dict(every_type_spec(), time_from="24h", refresh="1m"))
    assert dashboard["time"] == {"from": "now-24h", "to": "now"}
    assert dashboard["refresh"] == "1m"
    assert dashboard["tags"] == ["dataaggregator", "test"]
    (link,) = dashboard["links"]
    assert link["type"] == "dashboards" and link["tags"] == ["dataaggregator"] and link["keepTime"] and link["includeVars"]


def test_stat_panels_query_instantly_and_timeseries_over_a_range():
    dashboard = grafana_dashboard(every_type_spec())
    by_type = {p["type"]: p for p in dashboard["panels"]}
    assert by_type["stat"]["targets"][0]["instant"] is True and by_type["stat"]["targets"][0]["range"] is False
    assert by_type["timeseries"]["targets"][0]["instant"] is False
    assert by_type["table"]["targets"][0]["format"] == "table"


def bad(**panel):
    return {"uid": "bad", "title": "Bad", "rows": [{"title": "R", "panels": [{"title": "Broken", "queries": ["up"], **panel}]}]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (bad(type="piechart"), "dashboard 'bad', panel 'Broken': 'type' 'piechart' is not a known panel type"),
        (bad(queries=[]), "dashboard 'bad', panel 'Broken': 'queries' is missing"),
        (bad(queries=[{"legend": "x"}]), "dashboard 'bad', panel 'Broken', query A: 'expr' is missing"),
        (bad(width=25), "dashboard 'bad', panel 'Broken': 'width' must be 1 to 24 (got 25)"),
        (bad(widht=6), "dashboard 'bad', panel 'Broken': unknown keys ['widht']"),
        (bad(thresholds=[{"value": 90}, {"value": 80}]), "panel 'Broken': thresholds must rise"),
        (dict(bad(), rows=[]), "dashboard 'bad': 'rows' must be a non-empty list"),
        (dict(bad(), uid="has spaces"), "'uid' must be 1 to 40 letters"),
        (dict(bad(), refresh="soon"), "'refresh' is not a duration"),
    ],
)
def test_bad_specs_fail_naming_the_panel_and_field(spec, message):
    with pytest.raises(AnsibleFilterError, match="grafana_dashboard: ") as error:
        grafana_dashboard(spec)
    assert message in str(error.value)


def test_a_duplicate_uid_across_dashboards_fails():
    spec = bad()
    with pytest.raises(AnsibleFilterError, match="dashboard 'bad': the uid 'bad' is used by another dashboard"):
        grafana_dashboards([spec, dict(spec, title="Other")])


# dashboard_files: the file entries the grafana role hands to file_set.

FILE_SPEC_TEXT = """\
uid: da-files
title: "Files \\u00e9"
rows:
  - title: One
    panels:
      - {title: Up, type: stat, queries: ['up{job="node"}'], width: 6}
      - {title: Rate, type: timeseries, queries: [{expr: 'rate(x_total[5m])', legend: '{{instance}}'}]}
"""


def test_dashboard_files_write_what_to_nice_json_writes():
    # Same bytes as the to_nice_json the role used before: an upgrade changes no file.
    from ansible.plugins.filter.core import to_nice_json

    entries = [{"src": "files.yml", "folder": "Infrastructure"}]
    (written,) = dashboard_files(entries, [FILE_SPEC_TEXT], "/etc/grafana/dashboards")
    built = grafana_dashboard(yaml.safe_load(FILE_SPEC_TEXT))
    assert written == {
        "path": "/etc/grafana/dashboards/Infrastructure/da-files.json",
        "content": to_nice_json(built, indent=2) + "\n",
        "group": "grafana",
        "mode": "0640",
    }
    legends = [target["legendFormat"] for panel in json.loads(written["content"])["panels"]
               for target in panel.get("targets", [])]
    assert "{{instance}}" in legends


def test_dashboard_files_take_parsed_specs_and_their_own_group_and_mode():
    spec = yaml.safe_load(FILE_SPEC_TEXT)
    (written,) = dashboard_files([{"src": "x", "folder": "Data"}], [spec], "/d", group="viewers", mode="0644")
    assert (written["path"], written["group"], written["mode"]) == ("/d/Data/da-files.json", "viewers", "0644")


@pytest.mark.parametrize("folder", [".hidden", "a/b", "", None])
def test_dashboard_files_refuse_a_hidden_or_nested_folder_naming_the_spec(folder):
    with pytest.raises(AnsibleFilterError, match=r"grafana_dashboard: extra/broken\.yml: folder must be a name"):
        dashboard_files([{"src": "extra/broken.yml", "folder": folder}], [FILE_SPEC_TEXT], "/d")


@pytest.mark.parametrize("text, reason", [("- a list\n", "must be a mapping"), ("uid: [unclosed\n", "is not YAML")])
def test_dashboard_files_refuse_a_text_that_is_no_spec(text, reason):
    with pytest.raises(AnsibleFilterError, match=rf"broken\.yml: {reason}"):
        dashboard_files([{"src": "broken.yml", "folder": "F"}], [text], "/d")


def test_dashboard_files_refuse_a_duplicate_uid_across_the_list():
    entries = [{"src": "a.yml", "folder": "A"}, {"src": "b.yml", "folder": "B"}]
    with pytest.raises(AnsibleFilterError, match="da-files"):
        dashboard_files(entries, [FILE_SPEC_TEXT, FILE_SPEC_TEXT], "/d")


def test_dashboard_files_need_one_text_per_entry():
    with pytest.raises(AnsibleFilterError, match="one spec text for each"):
        dashboard_files([{"src": "a.yml", "folder": "A"}], [], "/d")
