"""File entries of a directory, and the install descriptions of Prometheus-style releases."""

from __future__ import annotations

import pytest

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_entries import (
    FileEntryError,
    file_entries,
    named_contents,
    release_install,
)

NODE = {"program": "node_exporter", "version": "1.9.1", "base_url": "https://mirror.example/node_exporter/releases/download/",
        "arch": "arm64", "method": "archive", "download_on": "controller", "package": "prometheus-node-exporter"}


def test_each_name_becomes_an_entry_in_the_directory_in_order():
    entries = file_entries({"b.yml": "b: 1\n", "a.yml": "a: 1\n"}, "/etc/prometheus/rules", "prometheus",
                           validate="promtool check rules %s")
    assert entries == [
        {"path": "/etc/prometheus/rules/b.yml", "content": "b: 1\n", "group": "prometheus", "mode": "0640",
         "validate": "promtool check rules %s"},
        {"path": "/etc/prometheus/rules/a.yml", "content": "a: 1\n", "group": "prometheus", "mode": "0640",
         "validate": "promtool check rules %s"},
    ]


def test_secret_files_are_flagged_and_folders_are_allowed():
    entries = file_entries({"Team/board.json": "{}", "smtp-password": "s3cret"}, "/etc/x/", "x", mode="0600", secret=True)
    assert [entry["path"] for entry in entries] == ["/etc/x/Team/board.json", "/etc/x/smtp-password"]
    assert all(entry["secret"] is True and entry["mode"] == "0600" and "validate" not in entry for entry in entries)
    assert file_entries({}, "/etc/x", "x") == []


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../escape", "a/../../b", ".hidden", "a//b", "line\nbreak", "dir/.", 7])
def test_a_name_outside_the_directory_or_hidden_is_refused(name):
    with pytest.raises(FileEntryError, match="is not a file name below the directory"):
        file_entries({name: "content"}, "/etc/x", "x")


@pytest.mark.parametrize(("contents", "directory", "validate", "message"), [
    (["a"], "/etc/x", None, "expects a mapping"),
    ({"a": "1"}, "relative", None, "must be an absolute path"),
    ({"a": "1"}, "", None, "must be an absolute path"),
    ({"a": "1"}, "/etc/x", "promtool check rules", "validate must contain %s"),
])
def test_bad_arguments_are_refused(contents, directory, validate, message):
    with pytest.raises(FileEntryError, match=message):
        file_entries(contents, directory, "x", validate=validate)


def test_a_refused_name_never_shows_the_content():
    with pytest.raises(FileEntryError) as refused:
        file_entries({"../x": "very-secret-content"}, "/etc/x", "x", secret=True)
    assert "very-secret-content" not in str(refused.value)


def test_sources_are_named_by_their_base_name_and_a_clash_is_refused():
    assert named_contents(["/r/files/rules/node.yml", "extra/team.yml"], ["n", "t"]) == {"node.yml": "n", "team.yml": "t"}
    with pytest.raises(FileEntryError, match="two sources are named node.yml"):
        named_contents(["/a/node.yml", "/b/node.yml"], ["1", "2"])
    with pytest.raises(FileEntryError, match="one text for each"):
        named_contents(["/a/node.yml"], [])


def test_a_release_gives_the_url_checksum_binaries_and_package():
    assert release_install(NODE) == {
        "method": "archive", "version": "1.9.1",
        "archive_url": "https://mirror.example/node_exporter/releases/download/v1.9.1/node_exporter-1.9.1.linux-arm64.tar.gz",
        "checksum": "sha256:https://mirror.example/node_exporter/releases/download/v1.9.1/sha256sums.txt",
        "binaries": [{"name": "node_exporter"}], "download_on": "controller",
        "packages": ["prometheus-node-exporter"], "package_binary": "/usr/bin/prometheus-node-exporter",
        "masked_units": ["prometheus-node-exporter.service"],
    }


def test_a_release_can_name_its_archive_binaries_units_and_checksum():
    redis = release_install({**NODE, "program": "redis_exporter", "archive": "{program}-v{version}.linux-{arch}.tar.gz",
                             "binaries": ["redis_exporter"], "masked_units": [], "checksum": "sha256:abc"})
    assert redis["archive_url"].endswith("/v1.9.1/redis_exporter-v1.9.1.linux-arm64.tar.gz")
    assert redis["masked_units"] == [] and redis["checksum"] == "sha256:abc"
    bare = release_install({k: v for k, v in NODE.items() if k not in ("package", "download_on")})
    assert "packages" not in bare and bare["download_on"] == "target"


@pytest.mark.parametrize(("change", "message"), [
    ({"version": ""}, "node_exporter needs version"),
    ({"base_url": None, "arch": ""}, "needs base_url, arch"),
    ({"method": "package", "package": ""}, "node_exporter has no package to install"),
])
def test_a_release_without_what_its_install_needs_is_refused(change, message):
    with pytest.raises(FileEntryError, match=message):
        release_install({**NODE, **change})
    with pytest.raises(FileEntryError, match="expects a mapping"):
        release_install(["node_exporter"])
