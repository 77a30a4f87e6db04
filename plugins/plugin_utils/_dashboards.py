# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build Grafana dashboard JSON from a compact spec.

A spec names the dashboard (uid, title, tags, description), the template
variables it offers, and rows of panels; each panel has a type, queries
(PromQL or, for logs panels, LogQL) with legends, a unit, thresholds and a
width. The output is a complete dashboard: every panel gets a grid position
(rows stack, panels flow left to right and wrap at 24 columns), a stable id,
and datasource references by uid; the dashboard gets a time range, a refresh
interval and links to the other dashboards of the collection.

The JSON is written out in full, with every field Grafana's schema gives a
default, so that it round-trips unchanged through the official
grafana-foundation-sdk models (the unit tests check this).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import yaml
from ansible.errors import AnsibleFilterError

GRID_WIDTH = 24
DEFAULT_HEIGHT = 8
SCHEMA_VERSION = 41
# Every dashboard of the collection carries this tag; the links menu lists them.
COLLECTION_TAG = "dataaggregator"

PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
LOKI = {"type": "loki", "uid": "${loki_datasource}"}

SPEC_KEYS = {"uid", "title", "tags", "description", "variables", "rows", "time_from", "refresh"}
ROW_KEYS = {"title", "panels", "collapsed"}
PANEL_KEYS = {"title", "type", "queries", "unit", "thresholds", "width", "height", "description", "decimals", "min", "max", "stack"}
QUERY_KEYS = {"expr", "legend", "instant", "format"}
VARIABLES = ("datasource", "loki_datasource", "environment", "job", "instance")
UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
DURATION = re.compile(r"^[0-9]+[smhdwMy]$")
COLORS = re.compile(r"^(green|yellow|orange|red|blue|purple|text|#[0-9a-fA-F]{6})$")


def _fail(where: str, message: str) -> None:
    raise AnsibleFilterError(f"grafana_dashboard: {where}: {message}")


def _legend(show: bool = True) -> dict:
    return {"displayMode": "list", "placement": "bottom", "showLegend": show, "calcs": []}


def _reduce() -> dict:
    return {"calcs": ["lastNotNull"], "fields": "", "values": False}


# Panel options by type, complete as Grafana's schema defines them.
def _options(kind: str) -> dict:
    if kind == "timeseries":
        return {"legend": _legend(), "tooltip": {"mode": "multi", "sort": "desc"}}
    if kind == "stat":
        return {
            "graphMode": "area", "colorMode": "value", "justifyMode": "auto", "textMode": "auto",
            "wideLayout": True, "showPercentChange": False, "reduceOptions": _reduce(),
            "percentChangeColorMode": "standard", "orientation": "auto",
        }
    if kind == "gauge":
        return {
            "showThresholdLabels": False, "showThresholdMarkers": True, "sizing": "auto", "minVizWidth": 75,
            "reduceOptions": _reduce(), "minVizHeight": 75, "orientation": "auto",
        }
    if kind == "bargauge":
        return {
            "displayMode": "gradient", "valueMode": "color", "namePlacement": "auto", "showUnfilled": True,
            "sizing": "auto", "minVizWidth": 8, "minVizHeight": 16, "legend": _legend(False),
            "reduceOptions": _reduce(), "maxVizHeight": 300, "orientation": "horizontal",
        }
    if kind == "table":
        return {
            "frameIndex": 0, "showHeader": True, "showTypeIcons": False,
            "footer": {"show": False, "reducer": ["sum"], "countRows": False}, "cellHeight": "sm",
        }
    if kind == "logs":
        return {
            "showLabels": False, "showCommonLabels": False, "showTime": True, "showLogContextToggle": True,
            "wrapLogMessage": True, "prettifyLogMessage": False, "enableLogDetails": True,
            "sortOrder": "Descending", "dedupStrategy": "none",
        }
    # alertlist: the current and recent alerts of Grafana's alerting view,
    # which lists the Alertmanager datasource's alerts too.
    return {
        "viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 50, "sortOrder": 1,
        "dashboardAlerts": False, "alertName": "", "alertInstanceLabelFilter": "", "datasource": "",
        "folder": None, "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False, "error": True},
    }


def _custom(kind: str, panel: Mapping) -> dict:
    if kind == "timeseries":
        return {
            "drawStyle": "line", "lineInterpolation": "linear", "lineWidth": 1, "fillOpacity": 10,
            "gradientMode": "none", "showPoints": "never", "pointSize": 4, "spanNulls": False,
            "axisPlacement": "auto", "axisLabel": "", "axisBorderShow": False, "axisCenteredZero": False,
            "axisColorMode": "text", "axisSoftMin": 0, "barAlignment": 0, "insertNulls": False,
            "scaleDistribution": {"type": "linear"},
            "stacking": {"mode": "normal" if panel.get("stack") else "none", "group": "A"},
            "thresholdsStyle": {"mode": "off"},
            "hideFrom": {"legend": False, "tooltip": False, "viz": False},
        }
    if kind == "table":
        return {"align": "auto", "inspect": False, "cellOptions": {"type": "auto"}}
    return {}


# The type each panel kind has in Grafana.
PANEL_TYPES = {
    "timeseries": "timeseries",
    "stat": "stat",
    "gauge": "gauge",
    "table": "table",
    "bargauge": "bargauge",
    "logs": "logs",
    "alertlist": "alertlist",
}


def _thresholds(where: str, steps) -> dict:
    if steps is None:
        steps = []
    if not isinstance(steps, list):
        _fail(where, "'thresholds' must be a list of {value, color}")
    out = [{"value": None, "color": "green"}]
    previous = None
    for step in steps:
        if not isinstance(step, Mapping) or set(step) - {"value", "color"} or "value" not in step:
            _fail(where, f"threshold {step!r} must be a mapping with 'value' and 'color'")
        value, color = step["value"], step.get("color", "red")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, f"threshold value {value!r} is not a number")
        if previous is not None and value <= previous:
            _fail(where, "thresholds must rise")
        if not COLORS.match(str(color)):
            _fail(where, f"threshold color {color!r} is not a known color")
        out.append({"value": value, "color": color})
        previous = value
    return {"mode": "absolute", "steps": out}


def _targets(where: str, kind: str, queries) -> list:
    if kind == "alertlist":
        if queries:
            _fail(where, "'queries' is not used by an alertlist panel")
        return []
    if not isinstance(queries, list) or not queries:
        _fail(where, "'queries' is missing: a panel of this type needs at least one query")
    datasource = LOKI if kind == "logs" else PROMETHEUS
    targets = []
    for index, query in enumerate(queries):
        ref = chr(ord("A") + index)
        if isinstance(query, str):
            query = {"expr": query}
        if not isinstance(query, Mapping):
            _fail(where, f"query {ref} must be a string or a mapping")
        unknown = sorted(set(query) - QUERY_KEYS)
        if unknown:
            _fail(f"{where}, query {ref}", f"unknown keys {unknown}; allowed: {sorted(QUERY_KEYS)}")
        expr = query.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            _fail(f"{where}, query {ref}", "'expr' is missing")
        target = {"expr": expr.strip(), "refId": ref, "datasource": dict(datasource)}
        if kind != "logs":
            target["legendFormat"] = str(query.get("legend", "__auto"))
            instant = bool(query.get("instant", kind in ("stat", "gauge", "bargauge", "table")))
            target["instant"] = instant
            target["range"] = not instant
            target["format"] = query.get("format", "table" if kind == "table" else "time_series")
        targets.append(target)
    return targets


def _variables(spec_variables, uses_loki: bool, environment: str | None = None) -> list:
    names = list(spec_variables if spec_variables is not None else ["datasource", "environment", "job", "instance"])
    for name in names:
        if name not in VARIABLES:
            _fail("variables", f"unknown variable {name!r}; known: {list(VARIABLES)}")
    if "datasource" not in names:
        names.insert(0, "datasource")
    if uses_loki and "loki_datasource" not in names:
        names.insert(1, "loki_datasource")
    common = {"skipUrlSync": False, "multi": False, "allowCustomValue": True, "includeAll": False,
              "auto": False, "auto_min": "10s", "auto_count": 30}
    selectors = {
        "environment": ("label_values(up, environment)", False),
        "job": ('label_values(up{environment=~"$environment"}, job)', True),
        "instance": ('label_values(up{environment=~"$environment", job=~"$job"}, instance)', True),
    }
    variables = []
    for name in VARIABLES:
        if name not in names:
            continue
        if name in ("datasource", "loki_datasource"):
            variables.append({
                **common, "type": "datasource", "name": name,
                "label": "Prometheus" if name == "datasource" else "Loki",
                "query": "prometheus" if name == "datasource" else "loki", "hide": 0,
            })
            continue
        query, include_all = selectors[name]
        variables.append({
            **common, "type": "query", "name": name, "label": name.capitalize(), "hide": 0,
            "datasource": dict(PROMETHEUS), "query": query, "refresh": 2, "sort": 1,
            "includeAll": include_all, "multi": include_all,
            **({"allValue": ".*"} if include_all else {}),
            # A dashboard opens on the environment of the Grafana that serves it.
            **({"current": {"selected": True, "text": environment, "value": environment}}
               if name == "environment" and environment else {}),
        })
    return variables


def grafana_dashboard(spec: Mapping, known_uids=None, environment: str | None = None) -> dict:
    """Return the dashboard JSON (as a dict) for a compact spec.

    known_uids: uids of the dashboards built before this one; a duplicate is an error.
    environment: the value the environment variable starts on (none: Grafana's first).
    """
    if not isinstance(spec, Mapping):
        _fail("spec", f"must be a mapping, not {type(spec).__name__}")
    uid = spec.get("uid")
    title = spec.get("title")
    where = f"dashboard {uid or title!r}"
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        _fail(where, f"unknown keys {unknown}; allowed: {sorted(SPEC_KEYS)}")
    if not isinstance(uid, str) or not UID.match(uid):
        _fail(where, f"'uid' must be 1 to 40 letters, digits, '-' or '_' (got {uid!r})")
    if uid in set(known_uids or []):
        _fail(where, f"the uid {uid!r} is used by another dashboard")
    if not isinstance(title, str) or not title:
        _fail(where, "'title' is missing")
    rows = spec.get("rows")
    if not isinstance(rows, list) or not rows:
        _fail(where, "'rows' must be a non-empty list")

    panels = []
    next_id = 1
    y = 0
    uses_loki = False
    for row_index, row in enumerate(rows):
        row_where = f"{where}, row {row_index + 1}"
        if not isinstance(row, Mapping):
            _fail(row_where, "must be a mapping with 'title' and 'panels'")
        unknown = sorted(set(row) - ROW_KEYS)
        if unknown:
            _fail(row_where, f"unknown keys {unknown}; allowed: {sorted(ROW_KEYS)}")
        row_where = f"{where}, row {row.get('title', row_index + 1)!r}"
        panels.append({
            "type": "row", "collapsed": bool(row.get("collapsed", False)), "id": next_id, "panels": [],
            "title": str(row.get("title", "")), "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        })
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        row_panels = row.get("panels")
        if not isinstance(row_panels, list) or not row_panels:
            _fail(row_where, "'panels' must be a non-empty list")
        for panel_index, panel in enumerate(row_panels):
            if not isinstance(panel, Mapping):
                _fail(f"{row_where}, panel {panel_index + 1}", "must be a mapping")
            panel_where = f"{where}, panel {panel.get('title', panel_index + 1)!r}"
            unknown = sorted(set(panel) - PANEL_KEYS)
            if unknown:
                _fail(panel_where, f"unknown keys {unknown}; allowed: {sorted(PANEL_KEYS)}")
            if not panel.get("title"):
                _fail(panel_where, "'title' is missing")
            kind = panel.get("type", "timeseries")
            if kind not in PANEL_TYPES:
                _fail(panel_where, f"'type' {kind!r} is not a known panel type; known: {sorted(PANEL_TYPES)}")
            width = panel.get("width", 12)
            if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= GRID_WIDTH:
                _fail(panel_where, f"'width' must be 1 to {GRID_WIDTH} (got {width!r})")
            height = panel.get("height", DEFAULT_HEIGHT)
            if isinstance(height, bool) or not isinstance(height, int) or not 1 <= height <= 50:
                _fail(panel_where, f"'height' must be 1 to 50 (got {height!r})")
            if x + width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            defaults = {"unit": str(panel.get("unit", "short")), "thresholds": _thresholds(panel_where, panel.get("thresholds")),
                        "color": {"mode": "thresholds" if kind in ("stat", "gauge", "bargauge") else "palette-classic"},
                        "custom": _custom(kind, panel), "mappings": []}
            for key in ("decimals", "min", "max"):
                if key in panel:
                    defaults[key] = panel[key]
            built = {
                "type": PANEL_TYPES[kind], "id": next_id, "title": str(panel["title"]),
                "description": str(panel.get("description", "")), "transparent": False,
                "gridPos": {"h": height, "w": width, "x": x, "y": y}, "repeatDirection": "h",
                "targets": _targets(panel_where, kind, panel.get("queries")),
                "options": _options(kind),
                "fieldConfig": {"defaults": defaults, "overrides": []},
            }
            if kind != "alertlist":
                built["datasource"] = dict(LOKI if kind == "logs" else PROMETHEUS)
            uses_loki = uses_loki or kind == "logs"
            panels.append(built)
            next_id += 1
            x += width
            line_height = max(line_height, height)
        y += line_height

    tags = list(spec.get("tags") or [])
    if COLLECTION_TAG not in tags:
        tags.insert(0, COLLECTION_TAG)
    time_from = spec.get("time_from", "6h")
    refresh = spec.get("refresh", "30s")
    for key, value in (("time_from", time_from), ("refresh", refresh)):
        if not isinstance(value, str) or not DURATION.match(value):
            _fail(where, f"'{key}' is not a duration such as 30s, 6h or 7d (got {value!r})")
    return {
        "uid": uid,
        "title": title,
        "description": str(spec.get("description", "")),
        "tags": tags,
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": f"now-{time_from}", "to": "now"},
        "refresh": refresh,
        "templating": {"list": _variables(spec.get("variables"), uses_loki, environment)},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "links": [{
            "title": "Data Aggregator dashboards", "type": "dashboards", "icon": "external link", "tooltip": "",
            "tags": [COLLECTION_TAG], "asDropdown": True, "targetBlank": False, "includeVars": True,
            "keepTime": True, "url": "",
        }],
        "panels": panels,
    }


def grafana_dashboards(specs, environment: str | None = None) -> list:
    """Build several dashboards, refusing duplicate uids across them."""
    if not isinstance(specs, list):
        raise AnsibleFilterError("grafana_dashboard: expects a list of dashboard specs")
    built = []
    for spec in specs:
        built.append(grafana_dashboard(spec, [dashboard["uid"] for dashboard in built], environment))
    return built


# libyaml's loader where PyYAML was built with it: specs are plain data.
_SPEC_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dashboard_json(dashboard: Mapping) -> str:
    """The text of a dashboard file: what to_nice_json(indent=2) writes, and a newline.

    Plain json.dumps: Ansible's own encoder walks every value in Python to look
    for tags, which costs seconds for a hundred dashboards on every run.
    """
    return json.dumps(dashboard, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def dashboard_files(entries, texts, directory: str, group: str = "grafana", mode: str = "0640",
                    environment: str | None = None) -> list:
    """The file_set entries of a set of dashboards: <directory>/<folder>/<uid>.json.

    entries are the role's dashboard entries (src, folder) and texts the YAML
    of their specs, in the same order. All specs are built together, so a
    duplicate uid fails; so does a folder that is hidden or nested.
    """
    if not isinstance(entries, list) or not isinstance(texts, list) or len(entries) != len(texts):
        raise AnsibleFilterError("grafana_dashboard_files: expects a list of dashboard entries and one spec text for each")
    specs = []
    for entry, text in zip(entries, texts):
        where = entry.get("src", "?") if isinstance(entry, Mapping) else "?"
        folder = entry.get("folder") if isinstance(entry, Mapping) else None
        if not isinstance(folder, str) or not folder or folder.startswith(".") or "/" in folder:
            _fail(where, f"folder must be a name that does not start with a dot or hold a slash, not {folder!r}")
        try:
            spec = text if isinstance(text, Mapping) else yaml.load(str(text), Loader=_SPEC_LOADER)
        except yaml.YAMLError as error:
            _fail(where, f"is not YAML: {error}")
        if not isinstance(spec, Mapping):
            _fail(where, "must be a mapping (a dashboard spec)")
        specs.append(spec)
    return [
        {"path": f"{directory}/{entry['folder']}/{dashboard['uid']}.json", "content": dashboard_json(dashboard),
         "group": group, "mode": mode}
        for entry, dashboard in zip(entries, grafana_dashboards(specs, environment))
    ]
