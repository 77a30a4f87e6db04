# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Grafana Alloy configurations: built as data, then written in Alloy's syntax.

The data is a list of blocks. A block is a mapping:

* ``block``: its name, identifiers joined by dots (``loki.write``);
* ``label``: its label (components need one; ``logging`` takes none);
* ``arguments``: attribute name to value, written first, in the given order;
* ``blocks``: the blocks it holds, in order (a ``loki.process`` stage list).

Values are strings, numbers, booleans, None (``null``), lists and mappings
(Alloy objects), and references to another component's exports, written as
``{"reference": "loki.write.default.receiver"}``: a mapping with that one key
and a dotted identifier path. Nothing else is written unquoted, so a value
from the inventory can never become an expression.

The writer follows the syntax that Alloy's scanner and parser accept:
double-quoted strings with Go's escapes (so quotes, backslashes and line
breaks in a value stay one string), labels that are identifiers, one element
per line with a comma after each, the last included, and no ``#`` comments
(Alloy has none).

Object keys are the exception to the escapes: Alloy's parser takes a quoted
key as the text between its quotes, escapes and all. A key is written bare
when it is an identifier, quoted when it has no character that would need an
escape, and refused otherwise (a header name never needs one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Literals, not identifiers: no attribute, key or label may be written as one bare.
KEYWORDS = {"true", "false", "null"}
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
INDENT = "\t"
REFERENCE = "reference"
# The longest list of plain values written on one line.
INLINE_WIDTH = 80

# Go's short escapes; every other control character is written \u00XX.
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


class AlloyConfigError(ValueError):
    """Data that has no Alloy syntax."""


def quote(text: str) -> str:
    """A double-quoted Alloy string with Go's escapes: one line, whatever the text holds."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xD800 <= ord(char) <= 0xDFFF:
            # A lone surrogate (bytes that were not UTF-8): Go's unquoting refuses it.
            raise AlloyConfigError(f"a string holds the lone surrogate U+{ord(char):04X}, which is not text")
        elif ord(char) < 0x20 or ord(char) == 0x7F or char == "\ufeff":
            # Control characters, and the byte order mark, which Alloy's scanner refuses past the file's start.
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key, where: str) -> str:
    """An object key: bare when an identifier, quoted when no escape is needed, else refused."""
    key = str(key)
    if IDENTIFIER.fullmatch(key) and key not in KEYWORDS:
        return key
    if not key or any(char in '"\\\ufeff' or ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF
                      for char in key):
        raise AlloyConfigError(f"{where}: the key {key!r} cannot be written: Alloy reads a quoted key as it stands, "
                               "without escapes, so a key must be non-empty and hold no quote, backslash or control character")
    return f'"{key}"'


def is_reference(value) -> bool:
    return isinstance(value, Mapping) and set(value) == {REFERENCE}


def _reference(value: Mapping, where: str) -> str:
    path = value[REFERENCE]
    if not isinstance(path, str) or not DOTTED.fullmatch(path):
        raise AlloyConfigError(f"{where}: a reference must be a dotted identifier path, got {path!r}")
    return path


def _value(value, depth: int, where: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AlloyConfigError(f"{where}: Alloy has no number {value!r}")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if is_reference(value):
        return _reference(value, where)
    inner = INDENT * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        fields = [f"{inner}{_key(key, where)} = {_value(item, depth + 1, f'{where}.{key}')},\n" for key, item in value.items()]
        return "{\n" + "".join(fields) + INDENT * depth + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if all(not isinstance(item, (Mapping, list, tuple)) or is_reference(item) for item in value):
            # Short lists of plain values on one line, which takes no trailing comma.
            line = "[" + ", ".join(_value(item, depth + 1, f"{where}[{index}]") for index, item in enumerate(value)) + "]"
            if len(line) <= INLINE_WIDTH:
                return line
        elements = [f"{inner}{_value(item, depth + 1, f'{where}[{index}]')},\n" for index, item in enumerate(value)]
        return "[\n" + "".join(elements) + INDENT * depth + "]"
    raise AlloyConfigError(f"{where}: Alloy cannot hold a {type(value).__name__}")


def _block(block, depth: int, where: str) -> str:
    if not isinstance(block, Mapping) or not isinstance(block.get("block"), str):
        raise AlloyConfigError(f"{where}: a block is a mapping with its name in 'block', got {block!r}")
    unknown = set(block) - {"block", "label", "arguments", "blocks"}
    if unknown:
        raise AlloyConfigError(f"{where}: a block takes block, label, arguments and blocks, not {', '.join(sorted(unknown))}")
    name = block["block"]
    if not DOTTED.fullmatch(name):
        raise AlloyConfigError(f"{where}: {name!r} is not a block name (identifiers joined by dots)")
    where = f"{where} ({name})"
    header = name
    label = block.get("label")
    if label is not None:
        if not isinstance(label, str) or not IDENTIFIER.fullmatch(label) or label in KEYWORDS:
            raise AlloyConfigError(f"{where}: the label {label!r} is not an identifier (letters, digits, '_')")
        header += f" {quote(label)}"
    arguments = block.get("arguments") or {}
    blocks = block.get("blocks") or []
    if not isinstance(arguments, Mapping) or not isinstance(blocks, list):
        raise AlloyConfigError(f"{where}: arguments is a mapping and blocks a list")
    indent = INDENT * (depth + 1)
    lines = []
    for key, value in arguments.items():
        if not isinstance(key, str) or not IDENTIFIER.fullmatch(key) or key in KEYWORDS:
            raise AlloyConfigError(f"{where}: {key!r} is not an attribute name")
        lines.append(f"{indent}{key} = {_value(value, depth + 1, f'{where}.{key}')}\n")
    for index, inner in enumerate(blocks):
        if lines:
            lines.append("\n")
        lines.append(_block(inner, depth + 1, f"{where}.blocks[{index}]"))
    if not lines:
        return INDENT * depth + header + " { }\n"
    return INDENT * depth + header + " {\n" + "".join(lines) + INDENT * depth + "}\n"


def alloy_config(blocks) -> str:
    """The text of an Alloy configuration file: the blocks, one after the other, separated by a blank line."""
    if not isinstance(blocks, list):
        raise AlloyConfigError("alloy_config: expects a list of blocks")
    return "\n".join(_block(block, 0, f"blocks[{index}]") for index, block in enumerate(blocks))


# The log pipeline. Each source gets its own chain, named by the source:
# local.file_match -> loki.source.file (or loki.source.journal) ->
# loki.process (its stages) -> the one loki.write.
WRITER = "default"
# Secrets of an endpoint: the setting, and the *_file attribute Alloy reads it from.
ENDPOINT_SECRETS = {
    (): {"bearer_token": "bearer_token_file"},
    ("basic_auth",): {"password": "password_file"},
    ("authorization",): {"credentials": "credentials_file"},
    ("oauth2",): {"client_secret": "client_secret_file"},
    ("tls_config",): {"key_pem": "key_file"},
    ("oauth2", "tls_config"): {"key_pem": "key_file"},
}
# Settings that may carry a credential and that Alloy cannot read from a file:
# written into config.alloy, which then must not be shown in a diff.
ENDPOINT_SENSITIVE = {"headers", "http_headers", "proxy_connect_header", "endpoint_params", "proxy_url"}


def component_label(name: str) -> str:
    """A source's name as a component label: an identifier (other characters become '_')."""
    label = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    return label if IDENTIFIER.fullmatch(label) and label not in KEYWORDS else f"_{label}"


def _reference_to(path: str) -> dict:
    return {REFERENCE: path}


def _stages(source: Mapping) -> list:
    """The loki.process stages of a source: the same steps, in the same order, as its Promtail pipeline."""
    stages = []
    if source["journal"] is None:
        # loki.source.file labels each stream with its path; that label is not one of ours.
        stages.append({"block": "stage.label_drop", "arguments": {"values": ["filename"]}})
    if source["format"] == "docker":
        stages.append({"block": "stage.docker"})
    elif source["format"] == "json":
        stages.append({"block": "stage.json", "arguments": {"expressions": dict(source["fields"])}})
    elif source["format"] == "regex":
        stages.extend({"block": "stage.regex", "arguments": {"expression": expression}}
                      for expression in source["expressions"])
    stages.extend({"block": "stage.timestamp", "arguments": {"source": ts["field"], "format": ts["format"]}}
                  for ts in source["timestamps"])
    if source["labels"]:
        stages.append({"block": "stage.labels", "arguments": {"values": {label: label for label in source["labels"]}}})
    if source["metadata"]:
        stages.append({"block": "stage.structured_metadata",
                       "arguments": {"values": {field: field for field in source["metadata"]}}})
    return stages


def _source_blocks(source: Mapping, label: str, stream: Mapping, options: Mapping) -> list:
    process = _reference_to(f"loki.process.{label}.receiver")
    if source["journal"] is not None:
        arguments = {"forward_to": [process], "labels": dict(stream)}
        if source["format"] == "json":
            arguments["format_as_json"] = True
        arguments |= {key: source["journal"][key] for key in ("max_age", "path") if source["journal"].get(key)}
        journal = {"block": "loki.source.journal", "label": label, "arguments": arguments}
        if options.get("legacy_positions_file"):
            # Promtail's cursor for this job: Alloy carries on where Promtail stopped.
            journal["blocks"] = [{"block": "legacy_position", "arguments": {
                "file": options["legacy_positions_file"], "name": source["name"]}}]
        return [journal]
    match = {"block": "local.file_match", "label": label, "arguments": {
        "path_targets": [{"__path__": path, **stream} for path in source["paths"]]}}
    arguments = {"targets": _reference_to(f"local.file_match.{label}.targets"), "forward_to": [process]}
    if options.get("legacy_positions_file"):
        # Promtail's offsets, read once when Alloy has none of its own.
        arguments["legacy_positions_file"] = options["legacy_positions_file"]
    return [match, {"block": "loki.source.file", "label": label, "arguments": arguments}]


def _endpoint(url: str, settings: Mapping, secrets_dir: str, index: int, files: dict, sensitive: set) -> dict:
    """One loki.write endpoint: its URL and settings, with each secret moved to a file of secrets_dir.

    The settings that may hold a credential but stay in the config are added to sensitive.
    """
    def build(values: Mapping, path: tuple) -> dict:
        arguments, blocks = {}, []
        secrets = ENDPOINT_SECRETS.get(path, {})
        for key, value in values.items():
            if key in secrets:
                if value in (None, ""):
                    continue
                file_name = "-".join(("endpoint", str(index), *path, key)).replace("_", "-")
                files[file_name] = str(value)
                arguments[secrets[key]] = f"{secrets_dir.rstrip('/')}/{file_name}"
            elif isinstance(value, Mapping) and key in ("basic_auth", "authorization", "oauth2", "tls_config", "queue_config"):
                blocks.append({"block": key, **build(value, path + (key,))})
            else:
                if key in ENDPOINT_SENSITIVE and value not in (None, "", {}):
                    sensitive.add(".".join((*path, key)))
                arguments[key] = value
        return {"arguments": arguments, "blocks": blocks}
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._credential_files import split_url_credentials

    if "url" in settings:
        raise AlloyConfigError("the endpoint settings hold no url: each Loki's URL is given apart")
    # A password in the URL (https://user:pass@host/...) goes to basic_auth,
    # and from there to a file, as every other endpoint secret does.
    try:
        url, credentials = split_url_credentials(url)
    except ValueError as error:
        raise AlloyConfigError(f"Loki push URL {index + 1}: {error}") from None
    if credentials is not None:
        if settings.get("basic_auth"):
            raise AlloyConfigError(f"Loki push URL {index + 1} has a password both in the URL and in the endpoint's basic_auth")
        settings = {**settings, "basic_auth": credentials}
    return {"block": "endpoint", **build({"url": url, **settings}, ())}


def alloy_log_pipeline(sources: list, options: Mapping | None = None) -> dict:
    """The blocks of an Alloy configuration that ships the log sources to Loki, and its secret files.

    options (all optional but urls):
      urls                   the Loki push URLs, one endpoint each
      endpoint               settings of every endpoint in Alloy's terms (basic_auth,
                             tls_config, bearer_token, tenant_id, headers...); secrets
                             (password, bearer_token, credentials, client_secret,
                             tls_config.key_pem) go to files of secrets_dir, which
                             the config names
      secrets_dir            where those files are (default /etc/alloy/secrets)
      host, environment      the stream labels every source carries, with its job
      disabled               names of sources to leave out
      legacy_positions_file  Promtail's positions file, to carry on where it stopped
      log_level, log_format  Alloy's own logging
    Returns {"blocks": [...], "files": {file name: content}, "sensitive": [...]}: sensitive
    names the settings written into the config that may hold a credential (headers,
    proxy_url...), which Alloy cannot read from a file; the config must then not be shown.
    """
    # Imported here: the writer above stands alone (the tests read it without a log source).
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._log_sources import log_sources

    options = dict(options or {})
    urls = options.get("urls") or []
    if not isinstance(urls, list) or not urls or not all(isinstance(url, str) and url for url in urls):
        raise AlloyConfigError("alloy_log_pipeline: urls must name at least one Loki push URL")
    endpoint = options.get("endpoint") or {}
    if not isinstance(endpoint, Mapping):
        raise AlloyConfigError("alloy_log_pipeline: endpoint must be a mapping of loki.write endpoint settings")
    secrets_dir = str(options.get("secrets_dir") or "/etc/alloy/secrets")
    stream_base = {"host": str(options.get("host") or ""), "environment": str(options.get("environment") or "")}

    blocks: list = [{"block": "logging", "arguments": {
        "level": str(options.get("log_level") or "info"), "format": str(options.get("log_format") or "logfmt")}}]
    labels: dict = {}
    for source in log_sources(sources, options.get("disabled")):
        label = component_label(source["name"])
        if label in labels:
            raise AlloyConfigError(f"log sources {labels[label]!r} and {source['name']!r} both become the Alloy label {label!r}")
        labels[label] = source["name"]
        stream = {key: value for key, value in {"job": source["job"], **stream_base}.items() if value}
        blocks.extend(_source_blocks(source, label, stream, options))
        blocks.append({"block": "loki.process", "label": label,
                       "arguments": {"forward_to": [_reference_to(f"loki.write.{WRITER}.receiver")]},
                       "blocks": _stages(source)})
    files: dict = {}
    sensitive: set = set()
    blocks.append({"block": "loki.write", "label": WRITER,
                   "blocks": [_endpoint(url, endpoint, secrets_dir, index, files, sensitive) for index, url in enumerate(urls)]})
    return {"blocks": blocks, "files": files, "sensitive": sorted(sensitive)}
