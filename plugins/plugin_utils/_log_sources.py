# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log sources as data, and their rendering for Promtail.

A log source says what to read and what to pull out of each line, in terms
that do not belong to one shipper:

* ``name`` (unique) and ``job`` (the stream's job label; the name by default);
* where the lines come from: ``paths`` (file globs) or ``journal`` (the
  systemd journal, with optional ``max_age`` and ``path``);
* ``format``: ``plain`` (nothing parsed), ``json`` (``fields``: names, or a
  mapping of name to the JSON path), ``regex`` (``expressions``: named groups
  become fields) or ``docker`` (Docker's json-file lines);
* ``labels``: the fields that become stream labels. Only ``level`` and
  ``logger`` may: every stream already has ``job``, ``host`` and
  ``environment``, and anything else (user and request ids, paths, status
  codes) would multiply Loki's streams. Those go to ``metadata``, Loki's
  structured metadata, which by default holds every parsed field that is
  neither a label nor a timestamp;
* ``timestamps``: fields that carry the line's own time, with their Go layout
  (or a name such as ``RFC3339``);
* ``access``: what the shipper's user needs to read the source without root:
  ``groups`` to join, or directories to open to it by ``acl``.

The Promtail renderer below is one consumer; an Alloy renderer can take the
same data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._scrape import (
    SERVICES,
    _group_hosts,
    _target,
    service_listen,
)

# Labels every stream carries, set by the shipper rather than parsed.
STREAM_LABELS = ("job", "host", "environment")
# Parsed fields that may become labels: few values each, whatever the load.
LABEL_FIELDS = ("level", "logger")
FORMATS = ("plain", "json", "regex", "docker")
SOURCE_KEYS = {
    "name", "job", "paths", "journal", "format", "fields", "expressions", "labels", "metadata",
    "timestamps", "access", "enabled", "description",
}
JOURNAL_KEYS = {"max_age", "path"}
ACCESS_KEYS = {"groups", "acl"}
TIMESTAMP_KEYS = {"field", "format"}
NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _fail(source: str, message: str):
    raise AnsibleFilterError(f"log source {source}: {message}")


def _list_of_strings(name: str, key: str, value) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        _fail(name, f"{key} must be a list of non-empty strings")
    return list(value)


def _fields(name: str, source: Mapping) -> dict:
    """The fields a source's format extracts: {field name: where it comes from}."""
    kind = source.get("format") or "plain"
    if kind not in FORMATS:
        _fail(name, f"format must be one of {', '.join(FORMATS)}, not {kind!r}")
    if kind != "json" and source.get("fields"):
        _fail(name, "fields belong to the json format; a regex names its fields as groups")
    if kind != "regex" and source.get("expressions"):
        _fail(name, "expressions belong to the regex format")
    if kind == "json":
        fields = source.get("fields") or []
        if isinstance(fields, list):
            fields = {field: field for field in _list_of_strings(name, "fields", fields)}
        if not isinstance(fields, Mapping) or not fields:
            _fail(name, "the json format needs fields: a list of names or a mapping of name to JSON path")
        return {str(field): str(path) for field, path in fields.items()}
    if kind == "regex":
        expressions = _list_of_strings(name, "expressions", source.get("expressions"))
        if not expressions:
            _fail(name, "the regex format needs expressions")
        found = {}
        for expression in expressions:
            try:
                groups = re.compile(expression).groupindex
            except re.error as exc:
                _fail(name, f"expression {expression!r} does not compile: {exc}")
            if not groups:
                _fail(name, f"expression {expression!r} names no field (use (?P<name>...))")
            found.update({group: group for group in groups})
        return found
    return {}


def normalise_source(source: Mapping) -> dict:
    """Check one source and fill in its defaults."""
    if not isinstance(source, Mapping) or not source.get("name"):
        raise AnsibleFilterError(f"every log source needs a name; got {source!r}")
    name = str(source["name"])
    unknown = set(source) - SOURCE_KEYS
    if unknown:
        _fail(name, f"unknown keys {sorted(unknown)}; a source takes {sorted(SOURCE_KEYS)}")
    paths = _list_of_strings(name, "paths", source.get("paths"))
    journal = source.get("journal")
    if bool(paths) == (journal is not None):
        _fail(name, "give exactly one of paths and journal")
    if journal is not None:
        if not isinstance(journal, Mapping) or set(journal) - JOURNAL_KEYS:
            _fail(name, f"journal takes only {sorted(JOURNAL_KEYS)}")
        if source.get("format") == "docker":
            _fail(name, "the docker format reads files, not the journal")
    fields = _fields(name, source)

    labels = _list_of_strings(name, "labels", source.get("labels"))
    for label in labels:
        if label not in LABEL_FIELDS:
            _fail(name, f"{label!r} cannot be a label: labels are {', '.join(STREAM_LABELS + LABEL_FIELDS)} only; "
                        "keep high-cardinality values in metadata or in the line")
        if label not in fields:
            _fail(name, f"label {label!r} is not a field the source parses")

    timestamps = source.get("timestamps") or []
    if not isinstance(timestamps, list):
        _fail(name, "timestamps must be a list of {field, format}")
    for timestamp in timestamps:
        if not isinstance(timestamp, Mapping) or set(timestamp) != TIMESTAMP_KEYS:
            _fail(name, f"each timestamp needs exactly {sorted(TIMESTAMP_KEYS)}")
        if timestamp["field"] not in fields:
            _fail(name, f"timestamp field {timestamp['field']!r} is not a field the source parses")
    timestamp_fields = {timestamp["field"] for timestamp in timestamps}

    if "metadata" in source and source["metadata"] is not None:
        metadata = _list_of_strings(name, "metadata", source["metadata"])
        for field in metadata:
            if field not in fields:
                _fail(name, f"metadata field {field!r} is not a field the source parses")
    else:
        metadata = [field for field in fields if field not in labels and field not in timestamp_fields]
    for field in set(labels) | set(metadata):
        if not NAME.match(field):
            _fail(name, f"{field!r} is not a valid label or metadata name")

    access = source.get("access") or {}
    if not isinstance(access, Mapping) or set(access) - ACCESS_KEYS:
        _fail(name, f"access takes only {sorted(ACCESS_KEYS)}")
    return {
        "name": name,
        "job": str(source.get("job") or name),
        "paths": paths,
        "journal": dict(journal) if journal is not None else None,
        "format": source.get("format") or "plain",
        "fields": fields,
        "expressions": list(source.get("expressions") or []),
        "labels": labels,
        "metadata": metadata,
        "timestamps": [dict(timestamp) for timestamp in timestamps],
        "access": {
            "groups": _list_of_strings(name, "access.groups", access.get("groups")),
            "acl": _list_of_strings(name, "access.acl", access.get("acl")),
        },
        "enabled": bool(source.get("enabled", True)),
    }


def log_sources(sources, disabled=None) -> list:
    """The enabled sources, checked and with their defaults, in their given order."""
    if not isinstance(sources, list):
        raise AnsibleFilterError("log sources must be a list")
    disabled = set(disabled or [])
    normalised = [normalise_source(source) for source in sources]
    names = [source["name"] for source in normalised]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AnsibleFilterError(f"log source names must be unique; repeated: {', '.join(duplicates)}")
    unknown = disabled - set(names)
    if unknown:
        raise AnsibleFilterError(f"cannot disable unknown log sources: {', '.join(sorted(unknown))}")
    return [source for source in normalised if source["enabled"] and source["name"] not in disabled]


def _pipeline(source: dict) -> list:
    # Promtail labels file streams with their path; that label is not one of ours.
    stages = [] if source["journal"] is not None else [{"labeldrop": ["filename"]}]
    if source["format"] == "docker":
        stages.append({"docker": {}})
    elif source["format"] == "json":
        stages.append({"json": {"expressions": dict(source["fields"])}})
    elif source["format"] == "regex":
        # Each expression fills the fields of the lines it matches; the others pass untouched.
        stages.extend({"regex": {"expression": expression}} for expression in source["expressions"])
    stages.extend({"timestamp": {"source": ts["field"], "format": ts["format"]}} for ts in source["timestamps"])
    if source["labels"]:
        stages.append({"labels": {label: label for label in source["labels"]}})
    if source["metadata"]:
        stages.append({"structured_metadata": {field: field for field in source["metadata"]}})
    return stages


def promtail_scrape_configs(sources, options: Mapping | None = None) -> list:
    """Promtail's scrape_configs for the given sources.

    options: host (the host label), environment, disabled (names of sources to leave out).
    """
    options = options or {}
    stream = {"job": None, "host": str(options.get("host") or ""), "environment": str(options.get("environment") or "")}
    configs = []
    for source in log_sources(sources, options.get("disabled")):
        labels = {key: value for key, value in {**stream, "job": source["job"]}.items() if value}
        config = {"job_name": source["name"]}
        if source["journal"] is not None:
            journal = {"json": source["format"] == "json", "labels": labels}
            journal.update(source["journal"])
            config["journal"] = journal
        else:
            config["static_configs"] = [
                {"targets": ["localhost"], "labels": {**labels, "__path__": path}} for path in source["paths"]
            ]
        stages = _pipeline(source)
        if stages:
            config["pipeline_stages"] = stages
        configs.append(config)
    return configs


def log_source_access(sources, disabled=None) -> dict:
    """What the shipper's user needs: the groups to join and the directories to open by ACL."""
    groups, acl = [], []
    for source in log_sources(sources, disabled):
        groups.extend(group for group in source["access"]["groups"] if group not in groups)
        acl.extend(path for path in source["access"]["acl"] if path not in acl)
    return {"groups": groups, "acl": acl}


def loki_push_urls(hostvars: Mapping, groups: Mapping, group: str = "loki") -> list:
    """The push URL of every Loki host in the group, at its listen address."""
    spec = SERVICES["loki"]
    urls = []
    for host in _group_hosts(groups, group or spec["group"]):
        vars_of_host = hostvars.get(host, {})
        urls.append(f"http://{_target(vars_of_host, host, service_listen(vars_of_host, spec))}/loki/api/v1/push")
    return urls


def promtail_clients(hostvars: Mapping, groups: Mapping, options: Mapping | None = None) -> list:
    """Promtail's clients: the given URLs, or every Loki of the inventory group, each with the client options."""
    options = options or {}
    urls = list(options.get("urls") or []) or loki_push_urls(hostvars, groups, options.get("group") or "loki")
    return [{"url": url, **dict(options.get("client_options") or {})} for url in urls]
