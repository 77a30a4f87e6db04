"""The Alloy configurations the collection writes: Alloy's syntax, and the components' reference.

The parser and checker (tests/unit/alloy_syntax.py) are written from Alloy
1.18.1's grammar and component reference in ../shared/upstream; the tests
that need the reference are skipped, with the reason, where it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alloy_syntax import AlloySyntaxError, Attribute, Block, Literal, Reference, check_config, load_components, parse
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alloy import (
    AlloyConfigError,
    alloy_config,
    alloy_log_pipeline,
    component_label,
    quote,
)
from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._log_sources import promtail_scrape_configs

ROOT = Path(__file__).resolve().parents[4]
SOURCES = yaml.safe_load((ROOT / "roles/logs/defaults/main.yml").read_text())["logs_sources"]
URL = "http://loki.internal:3100/loki/api/v1/push"
HOSTILE = ['say "hi"', "two\nlines", "back\\slash", "tab\there", "\r\n", "", "${sys.env}", "// not a comment",
           "/* nor this */", "# nor this", "`raw`", "'single'", "ünïcødé ✓", "\x00\x07\x1b\x7f", "\\\"", "\\n literal",
           "a\u2028b", '{ x = "y" }']


@pytest.fixture(scope="module")
def components():
    return load_components()


def pipeline(**options):
    return alloy_log_pipeline(SOURCES, {"urls": [URL], "host": "app1", "environment": "production", **options})


def test_the_default_sources_make_a_config_alloy_would_accept(components):
    text = alloy_config(pipeline()["blocks"])
    statements = check_config(text, components)
    names = [(block.name, block.label) for block in statements]
    assert ("logging", None) in names and ("loki.write", "default") in names
    for source in SOURCES:
        label = component_label(source["name"])
        assert ("loki.process", label) in names
        assert (("loki.source.journal", label) in names) == ("journal" in source)
        assert (("local.file_match", label) in names) == ("paths" in source)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_comes_out_as_one_equivalent_string(components, value):
    """Values reach the config from the inventory: each is written as a string that Alloy reads back unchanged."""
    result = pipeline(environment=value, endpoint={"tenant_id": value, "headers": {"X-Test": value}})
    text = alloy_config(result["blocks"])
    statements = check_config(text, components)
    (match,) = [b for b in statements if b.name == "local.file_match" and b.label == "backend"]
    (targets,) = [a for a in match.body if isinstance(a, Attribute)]
    if value:
        assert targets.value[0]["environment"] == Literal(value, "string")
    (write,) = [b for b in statements if b.name == "loki.write"]
    endpoint = write.body[0]
    attributes = {a.name: a.value for a in endpoint.body if isinstance(a, Attribute)}
    assert attributes["tenant_id"] == Literal(value, "string")
    assert attributes["headers"] == {"X-Test": Literal(value, "string")}


@pytest.mark.parametrize("key, written", [
    ("job", "job"), ("X-Scope-OrgID", '"X-Scope-OrgID"'), ("true", '"true"'), ("null", '"null"'),
    ("ünïcødé key", '"ünïcødé key"'), ("9lives", '"9lives"'),
])
def test_an_object_key_is_written_so_that_alloy_reads_it_back_unchanged(components, key, written):
    text = alloy_config(pipeline(endpoint={"headers": {key: "v"}})["blocks"])
    assert f"\t{written} = " in text
    (write,) = [b for b in check_config(text, components) if b.name == "loki.write"]
    attributes = {a.name: a.value for a in write.body[0].body if isinstance(a, Attribute)}
    assert attributes["headers"] == {key: Literal("v", "string")}


@pytest.mark.parametrize("key", ['say "hi"', "back\\slash", "two\nlines", "", "tab\there", "\ufeffmark", "\x7f"])
def test_an_object_key_alloy_would_read_otherwise_is_refused(key):
    # Alloy takes a quoted key as the text between its quotes: "a\"b" would become a\"b.
    with pytest.raises(AlloyConfigError, match="Alloy reads a quoted key as it stands"):
        alloy_config(pipeline(endpoint={"headers": {key: "v"}})["blocks"])


def test_the_checker_reads_a_quoted_key_as_alloy_does(components):
    (block,) = parse('logging {\n\tx = {"a\\nb" = 1, "" = 2}\n}\n')
    assert set(block.body[0].value) == {"a\\nb", '""'}


def test_keywords_are_never_written_as_names():
    assert component_label("true") == "_true"
    for blocks in ([{"block": "logging", "arguments": {"null": 1}}], [{"block": "loki.write", "label": "false"}]):
        with pytest.raises(AlloyConfigError):
            alloy_config(blocks)


def test_quote_uses_go_escapes_and_stays_on_one_line():
    assert quote('a"b\\c\nd\te\x01') == '"a\\"b\\\\c\\nd\\te\\u0001"'
    # Alloy's scanner refuses a byte order mark past the file's start, even in a string.
    assert quote("\ufeffx") == '"\\ufeffx"'
    assert "\n" not in quote("\n\r\v\f\a\b")


@pytest.mark.parametrize("blocks, message", [
    ([{"block": "loki.write", "label": "has space"}], "not an identifier"),
    ([{"block": "loki.write", "label": "9lives"}], "not an identifier"),
    ([{"block": "loki write"}], "not a block name"),
    ([{"block": "logging", "arguments": {"bad-name": 1}}], "not an attribute name"),
    ([{"block": "logging", "arguments": {"x": {"reference": "a.b; evil"}}}], "dotted identifier path"),
    ([{"block": "logging", "arguments": {"x": float("nan")}}], "no number"),
    ([{"block": "logging", "arguments": {"x": "\udc80"}}], "lone surrogate"),
    ([{"block": "logging", "body": []}], "takes block, label, arguments and blocks"),
    ([{"block": "logging", "arguments": {"x": object()}}], "cannot hold"),
    ({"block": "logging"}, "a list of blocks"),
])
def test_what_has_no_alloy_syntax_is_refused(blocks, message):
    with pytest.raises(AlloyConfigError, match=message):
        alloy_config(blocks)


def test_a_reference_is_written_bare_and_only_a_reference_is():
    text = alloy_config([{"block": "loki.process", "label": "a", "arguments": {
        "forward_to": [{"reference": "loki.write.default.receiver"}]}}])
    (block,) = parse(text)
    assert block.body[0].value == [Reference("loki.write.default.receiver")]
    # A mapping with more keys than "reference" is an object, written quoted.
    text = alloy_config([{"block": "logging", "arguments": {"x": {"reference": "a", "other": "b"}}}])
    assert parse(text)[0].body[0].value == {"reference": Literal("a", "string"), "other": Literal("b", "string")}


def test_secrets_go_to_files_that_the_config_names(components):
    result = pipeline(urls=[URL, "https://loki2.internal/loki/api/v1/push"], secrets_dir="/etc/alloy/secrets",
                      endpoint={"basic_auth": {"username": "shipper", "password": "p@ss\"word\n"},
                                "bearer_token": "", "tls_config": {"ca_file": "/etc/ssl/ca.pem"}})
    text = alloy_config(result["blocks"])
    check_config(text, components)
    assert "p@ss" not in text
    assert result["files"] == {"endpoint-0-basic-auth-password": "p@ss\"word\n", "endpoint-1-basic-auth-password": "p@ss\"word\n"}
    assert text.count('password_file = "/etc/alloy/secrets/endpoint-0-basic-auth-password"') == 1
    assert "bearer_token" not in text  # an empty secret is left out, not written empty
    assert result["sensitive"] == []


def test_a_password_in_a_push_url_goes_to_basic_auth_and_a_file(components):
    result = pipeline(urls=["https://ship%40per:p%3Ass@loki2.internal:3100/loki/api/v1/push", URL],
                      secrets_dir="/etc/alloy/secrets")
    text = alloy_config(result["blocks"])
    check_config(text, components)
    assert "p%3Ass" not in text and "p:ss" not in text and "@loki2" not in text
    assert 'url = "https://loki2.internal:3100/loki/api/v1/push"' in text
    assert 'username = "ship@per"' in text
    assert result["files"] == {"endpoint-0-basic-auth-password": "p:ss"}
    # The second URL has no password, and gets no basic_auth.
    assert text.count("basic_auth {") == 1
    # A user without a password is no secret: it stays in the URL.
    assert "user@loki" in alloy_config(pipeline(urls=["http://user@loki:3100/x"])["blocks"])


@pytest.mark.parametrize("url", ["https://u:pa/ss@loki/x", "https://u:pa?ss@loki/x", "https://u:pa#ss@loki/x",
                                 "http://loki:port/x@y", "http://u:p@[::1/x"])
def test_a_url_whose_password_would_stay_in_it_is_refused_without_quoting_it(url):
    with pytest.raises(AlloyConfigError, match="Loki push URL 1: ") as refused:
        pipeline(urls=[url])
    assert "pa" not in str(refused.value).replace("password", "").replace("percent", "")


@pytest.mark.parametrize("url", ["http://h:9/api/v1/push?a=b@c", "http://[::1]:3100/p@x", "https://user@h/x"])
def test_an_at_sign_after_the_host_is_no_password(url):
    assert alloy_config(pipeline(urls=[url])["blocks"]).count(url) == 1


def test_a_password_both_in_the_url_and_in_basic_auth_is_refused():
    with pytest.raises(AlloyConfigError, match="both in the URL and in the endpoint's basic_auth") as refused:
        pipeline(urls=["https://a:url-secret@loki/x"], endpoint={"basic_auth": {"username": "a", "password": "b"}})
    assert "url-secret" not in str(refused.value)


def test_a_tls_key_goes_to_a_file_and_headers_mark_the_config_sensitive(components):
    key = "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----\n"
    result = pipeline(endpoint={"tls_config": {"cert_pem": "-----BEGIN CERTIFICATE-----\n", "key_pem": key},
                                "oauth2": {"client_id": "a", "tls_config": {"key_pem": key}},
                                "headers": {"X-Token": "hdr-secret"}, "proxy_url": "http://u:p@proxy:3128"})
    text = alloy_config(result["blocks"])
    check_config(text, components)
    assert "MIIsecret" not in text
    assert result["files"] == {"endpoint-0-tls-config-key-pem": key, "endpoint-0-oauth2-tls-config-key-pem": key}
    assert text.count('key_file = "/etc/alloy/secrets/endpoint-0-') == 2
    assert result["sensitive"] == ["headers", "proxy_url"]


def _secret_arguments(spec, path=()):
    for name, argument in spec.get("arguments", {}).items():
        if "secret" in argument["type"]:
            yield path, name
    for name, block in spec.get("blocks", {}).items():
        yield from _secret_arguments(block, path + (name,))


def test_every_secret_setting_of_an_endpoint_goes_to_a_file_or_marks_the_config(components):
    """Read from Alloy's reference: a secret-typed setting the pipeline neither moves nor flags would be shown."""
    endpoint_spec = components["components"]["loki.write"]["blocks"]["endpoint"]
    found = list(_secret_arguments(endpoint_spec))
    assert ((), "bearer_token") in found and (("basic_auth",), "password") in found
    for path, name in found:
        # map(list(secret)) settings (headers) take a header name and its values.
        settings = {"X-Header": ["s3cr3t-value"]} if name.endswith(("headers", "header")) else "s3cr3t-value"
        settings = {name: settings}
        for key in reversed(path):
            settings = {key: settings}
        result = pipeline(endpoint=settings)
        text = alloy_config(result["blocks"])
        assert "s3cr3t-value" not in text or result["sensitive"], (path, name, text)


def test_promtail_s_positions_are_carried_over_when_asked(components):
    text = alloy_config(pipeline(legacy_positions_file="/var/lib/promtail/positions.yml")["blocks"])
    statements = check_config(text, components)
    sources = [b for b in statements if b.name.startswith("loki.source.")]
    for block in sources:
        if block.name == "loki.source.file":
            assert Attribute("legacy_positions_file", Literal("/var/lib/promtail/positions.yml", "string"), 0).value in [
                a.value for a in block.body if isinstance(a, Attribute) and a.name == "legacy_positions_file"]
        else:
            (position,) = [b for b in block.body if isinstance(b, Block)]
            assert position.name == "legacy_position"


def _promtail_streams(configs) -> dict:
    """{source: (stream labels, parsed labels)} of Promtail's scrape configs."""
    streams = {}
    for config in configs:
        labels = config["journal"]["labels"] if "journal" in config else {
            key: value for key, value in config["static_configs"][0]["labels"].items() if not key.startswith("__")}
        parsed = next((stage["labels"] for stage in config.get("pipeline_stages", []) if "labels" in stage), {})
        streams[config["job_name"]] = (labels, set(parsed))
    return streams


def _alloy_streams(statements) -> dict:
    streams = {}
    for block in statements:
        if block.name in ("local.file_match", "loki.source.journal"):
            attributes = {a.name: a.value for a in block.body if isinstance(a, Attribute)}
            value = attributes["path_targets"][0] if block.name == "local.file_match" else attributes["labels"]
            labels = {key: item.value for key, item in value.items() if not key.startswith("__")}
            streams.setdefault(block.label, [None, set()])[0] = labels
        if block.name == "loki.process":
            for stage in block.body:
                if isinstance(stage, Block) and stage.name == "stage.labels":
                    streams.setdefault(block.label, [None, set()])[1] = set(stage.body[0].value)
    return {label: tuple(value) for label, value in streams.items()}


def test_both_shippers_give_every_source_the_same_labels():
    options = {"host": "app1", "environment": "production"}
    promtail = _promtail_streams(promtail_scrape_configs(SOURCES, options))
    alloy = _alloy_streams(parse(alloy_config(pipeline()["blocks"])))
    assert len(promtail) == len(SOURCES) >= 8
    assert alloy == promtail


@pytest.mark.parametrize("text, message", [
    ('loki.process "a" {\n\tforward_to = []\n\tstage.nonsense { }\n}\n', "unknown block 'stage.nonsense'"),
    ('loki.process "a" {\n\tstage.docker { }\n}\n', "missing required argument 'forward_to'"),
    ("logging {\n\tlevel = 'info'\n}\n", "single-quoted"),
    ('logging {\n\tlevel = "info"\n}\nloki.write "w" {\n\texternal_labels = {\n\t\t"a" = "b"\n\t}\n}\n', "missing ','"),
    ('loki.write "w" {\n\texternal_labels = {}\n}\nloki.process "a" {\n\tforward_to = [\n\t\tloki.write.w.receiver\n\t]\n}\n',
     "missing ','"),
    ("logging {\n\tlevel = \"info\" format = \"json\"\n}\n", "expected a newline"),
    ("# comment\nlogging { }\n", "not a comment"),
    ('logging {\n\tlevel = "\\q"\n}\n', "unknown escape"),
    ('loki.write "not an identifier" { }\n', "not a valid identifier"),
    ("loki.write default { }\n", "expected '{' or '='"),
    ('loki.wrote "w" { }\n', "unknown component"),
    ("loki.write { }\n", "needs a non-empty label"),
    ('logging "x" { }\n', "takes no label"),
    ('loki.process "a" {\n\tforward_to = [loki.write.missing.receiver]\n}\n', "names no export"),
    ('local.file_match "a" {\n\tpath_targets = [{"job" = "x"}]\n}\n', "missing required key '__path__'"),
    ('logging {\n\tlevel = true\n}\n', "is not a string"),
    ('local.file_match "a" {\n\tpath_targets = [{"__path__" = "/x"}]\n\tsync_period = "10 seconds"\n}\n', "Go duration"),
    ('logging {\n\tlevel = "a"\n\tlevel = "b"\n}\n', "given twice"),
    ('logging { }\nlogging { }\n', "given twice"),
    ('loki.process "a" {\n\tforward_to = ["loki.write.w.receiver"]\n}\n', "comes only from a reference"),
    ('logging {\n\tlevel = "unterminated\n}\n', "newline in string"),
])
def test_the_checker_refuses_what_alloy_refuses(components, text, message):
    with pytest.raises(AlloySyntaxError, match=message):
        check_config(text, components)


def test_the_checker_accepts_alloy_s_own_forms(components):
    text = """// a comment
logging { level = "debug" }
loki.write "w" {
    endpoint {
        url = "http://x/loki/api/v1/push"
        batch_size = "1MiB"
        max_backoff_retries = -1 + 11
    }
    external_labels = {job = `raw`, "quoted key" = "v"}
}
/* a block
   comment */
loki.process "a" {
    forward_to = [loki.write.w.receiver]
    stage.match {
        selector = "{job=\\"x\\"}"
        stage.drop { older_than = "1h30m" }
    }
}
"""
    statements = check_config(text, components)
    assert [block.name for block in statements] == ["logging", "loki.write", "loki.process"]
