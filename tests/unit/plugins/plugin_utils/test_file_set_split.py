"""split_secret_contents: what file_set's action plugin hands the module."""

from __future__ import annotations

import pytest

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_set import (
    SecretContentError,
    split_secret_contents,
)


def test_secret_contents_move_out_of_the_file_entries():
    args = {"files": [{"path": "/etc/a.yml", "content": "a: 1\n"},
                      {"path": "/etc/s.env", "content": "TOKEN=x\n", "secret": True, "mode": "0600"}],
            "exclusive": ["/etc"]}
    split = split_secret_contents(args)
    assert split["files"] == [{"path": "/etc/a.yml", "content": "a: 1\n"},
                              {"path": "/etc/s.env", "secret": True, "mode": "0600"}]
    assert split["secret_contents"] == {"/etc/s.env": "TOKEN=x\n"}
    assert split["exclusive"] == ["/etc"]
    assert args["files"][1]["content"] == "TOKEN=x\n", "the task's own arguments are left as they were"


@pytest.mark.parametrize("flag", [True, "true", "yes", "True", 1])
def test_every_true_spelling_counts(flag):
    split = split_secret_contents({"files": [{"path": "/s", "content": "x", "secret": flag}]})
    assert split["secret_contents"] == {"/s": "x"} and "content" not in split["files"][0]


@pytest.mark.parametrize("flag", [False, "false", "no", 0, None])
def test_files_not_marked_secret_keep_their_content(flag):
    split = split_secret_contents({"files": [{"path": "/p", "content": "x", "secret": flag}]})
    assert split["files"][0]["content"] == "x" and "secret_contents" not in split


def test_given_secret_contents_are_kept_and_merged():
    split = split_secret_contents({"files": [{"path": "/a", "secret": True}, {"path": "/b", "content": "b", "secret": True}],
                                   "secret_contents": {"/a": "a"}})
    assert split["secret_contents"] == {"/a": "a", "/b": "b"}


def test_an_empty_secret_is_still_moved():
    split = split_secret_contents({"files": [{"path": "/s", "content": "", "secret": True}]})
    assert split["secret_contents"] == {"/s": ""} and "content" not in split["files"][0]


@pytest.mark.parametrize("args, message", [
    ({"files": [{"path": "/s", "content": "1", "secret": True}, {"path": "/s", "content": "2", "secret": True}]}, "listed twice"),
    ({"files": [{"path": "/s", "content": "1", "secret": True}], "secret_contents": {"/s": "2"}}, "both in files and in secret_contents"),
])
def test_ambiguous_secrets_are_refused(args, message):
    with pytest.raises(SecretContentError, match=message):
        split_secret_contents(args)


def test_malformed_arguments_are_left_for_the_modules_own_check():
    assert split_secret_contents({"files": "not a list"}) == {"files": "not a list"}
    assert split_secret_contents({"files": ["not a dict"]})["files"] == ["not a dict"]
