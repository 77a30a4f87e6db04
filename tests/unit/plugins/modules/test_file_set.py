"""file_set: a set of files, directories and links in one step, validated before it replaces anything."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.dataaggregator.infrastructure.plugins.modules.file_set import SECRET_MASK, FileSet, FileSetError

ROOT = Path(__file__).resolve().parents[4]


def params(**given):
    base = {"directories": [], "files": [], "links": [], "absent": [], "exclusive": []}
    for entry in given.get("files", []):
        entry.setdefault("mode", "0644")
        entry.setdefault("secret", False)
    return {**base, **given}


def run_command(argv):
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout, completed.stderr


def apply(check_mode=False, **given):
    file_set = FileSet(params(**given), check_mode, run_command)
    file_set.run()
    return file_set


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_directories_parents_first_then_files_and_links(tmp_path):
    target = tmp_path / "opt" / "bin"
    result = apply(
        directories=[{"path": str(tmp_path / "etc" / "svc" / "sub"), "mode": "0750"},
                     {"path": str(tmp_path / "etc" / "svc"), "mode": "0755"}],
        files=[{"path": str(tmp_path / "etc" / "svc" / "a.yml"), "content": "a: 1\n", "mode": "0640"}],
        links=[{"path": str(tmp_path / "link"), "src": str(target)}],
    )
    assert (tmp_path / "etc/svc/a.yml").read_text() == "a: 1\n"
    assert mode_of(tmp_path / "etc/svc/a.yml") == 0o640
    assert mode_of(tmp_path / "etc/svc/sub") == 0o750
    assert os.readlink(tmp_path / "link") == str(target)
    assert result.changed_paths == [str(tmp_path / "etc/svc"), str(tmp_path / "etc/svc/sub"),
                                    str(tmp_path / "etc/svc/a.yml"), str(tmp_path / "link")]


def test_a_second_run_changes_nothing(tmp_path):
    spec = {"directories": [{"path": str(tmp_path / "d"), "mode": "0700"}],
            "files": [{"path": str(tmp_path / "d" / "f"), "content": "x\n", "mode": "0600"}],
            "links": [{"path": str(tmp_path / "l"), "src": "d/f"}], "exclusive": [str(tmp_path / "d")]}
    apply(**spec)
    again = apply(**spec)
    assert again.changed_paths == [] and again.removed_paths == []


def test_mode_drift_is_repaired_without_rewriting(tmp_path):
    path = tmp_path / "f"
    path.write_text("same\n")
    path.chmod(0o666)
    inode = path.stat().st_ino
    result = apply(files=[{"path": str(path), "content": "same\n", "mode": "0640"}])
    assert mode_of(path) == 0o640
    assert path.stat().st_ino == inode
    assert result.diffs[0]["before"] == {"mode": "0o666"} and result.diffs[0]["after"] == {"mode": "0o640"}


def test_check_mode_reports_without_touching(tmp_path):
    path = tmp_path / "f"
    path.write_text("old\n")
    (tmp_path / "stray").write_text("left over\n")
    result = apply(check_mode=True, files=[{"path": str(path), "content": "new\n"}],
                   directories=[{"path": str(tmp_path / "new-dir")}], exclusive=[str(tmp_path)])
    assert path.read_text() == "old\n"
    assert not (tmp_path / "new-dir").exists() and (tmp_path / "stray").exists()
    assert str(path) in result.changed_paths and str(tmp_path / "new-dir") in result.changed_paths
    assert result.removed_paths == [str(tmp_path / "stray")]
    assert result.diffs[1]["before"] == "old\n" and result.diffs[1]["after"] == "new\n"


def test_check_mode_on_a_new_host_tolerates_a_user_not_created_yet(tmp_path):
    result = apply(check_mode=True, files=[{"path": str(tmp_path / "f"), "content": "x", "owner": "no-such-user-here"}])
    assert result.changed_paths == [str(tmp_path / "f")]
    with pytest.raises(FileSetError, match="no such user: no-such-user-here"):
        apply(files=[{"path": str(tmp_path / "f"), "content": "x", "owner": "no-such-user-here"}])


def test_a_failed_validation_replaces_nothing_and_names_the_file(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("old good\n")
    bad.write_text("old bad\n")
    checker = f"{sys.executable} -c 'import sys; sys.exit(\"BROKEN\" in open(sys.argv[1]).read())' %s"
    with pytest.raises(FileSetError) as failure:
        apply(files=[{"path": str(good), "content": "new good\n", "validate": checker},
                     {"path": str(bad), "content": "BROKEN\n", "validate": checker}])
    assert str(bad) in str(failure.value) and str(good) + ":" not in str(failure.value)
    assert "Nothing was replaced" in str(failure.value)
    assert good.read_text() == "old good\n" and bad.read_text() == "old bad\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.txt", "good.txt"], "staged files were left behind"


def test_validation_runs_on_the_new_content_only_when_it_changed(tmp_path):
    log = tmp_path / "calls"
    path = tmp_path / "f"
    checker = f"{sys.executable} -c 'import sys; open(sys.argv[2], \"a\").write(open(sys.argv[1]).read())' %s {log}"
    apply(files=[{"path": str(path), "content": "v1\n", "validate": checker}])
    apply(files=[{"path": str(path), "content": "v1\n", "validate": checker}])
    assert log.read_text() == "v1\n"


def test_exclusive_directories_lose_everything_undeclared(tmp_path):
    root = tmp_path / "dashboards"
    (root / "Old folder").mkdir(parents=True)
    (root / "Old folder" / "gone.json").write_text("{}")
    (root / "Kept").mkdir()
    (root / "Kept" / "stale.json").write_text("{}")
    (root / ".hidden").write_text("x")
    result = apply(files=[{"path": str(root / "Kept" / "a.json"), "content": "{}\n"}], exclusive=[str(root)])
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["Kept", "Kept/a.json"]
    assert sorted(result.removed_paths) == sorted([str(root / ".hidden"), str(root / "Kept" / "stale.json"),
                                                   str(root / "Old folder")])


def test_absent_paths_go(tmp_path):
    (tmp_path / "web.yml").write_text("x")
    result = apply(absent=[str(tmp_path / "web.yml"), str(tmp_path / "never-was")])
    assert not (tmp_path / "web.yml").exists()
    assert result.removed_paths == [str(tmp_path / "web.yml")]


def test_a_link_is_repointed(tmp_path):
    (tmp_path / "link").symlink_to("/opt/old")
    result = apply(links=[{"path": str(tmp_path / "link"), "src": "/opt/new"}])
    assert os.readlink(tmp_path / "link") == "/opt/new"
    assert result.diffs == [{"before_header": str(tmp_path / "link"), "after_header": str(tmp_path / "link"),
                             "before": {"path": str(tmp_path / "link"), "src": "/opt/old"},
                             "after": {"path": str(tmp_path / "link"), "src": "/opt/new"}}]


def test_secret_contents_stay_out_of_the_diff(tmp_path):
    path = tmp_path / "secret.env"
    path.write_text("PASSWORD=old-secret\n")
    result = apply(files=[{"path": str(path), "content": "PASSWORD=new-secret\n", "secret": True, "mode": "0600"}])
    assert path.read_text() == "PASSWORD=new-secret\n" and mode_of(path) == 0o600
    assert "old-secret" not in json.dumps(result.diffs) and "new-secret" not in json.dumps(result.diffs)
    assert result.diffs[0]["after"] == SECRET_MASK + "\n"


@pytest.mark.parametrize("mode", ["rw-r--r--", "99", "17777"])
def test_a_bad_mode_is_refused(tmp_path, mode):
    with pytest.raises(FileSetError, match="mode"):
        apply(files=[{"path": str(tmp_path / "f"), "content": "x", "mode": mode}])


def test_through_ansible_secrets_are_masked_even_with_verbose_diff(tmp_path):
    """The module as a task runs it: one call, --diff -vvv, the secret nowhere in the output."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"dataaggregator.infrastructure.file_set": {
            "directories": [{"path": str(tmp_path / "conf"), "mode": "0750"}],
            "files": [{"path": str(tmp_path / "conf" / "plain.yml"), "content": "listen: 9090\n"},
                      {"path": str(tmp_path / "conf" / "secret.env"), "content": "TOKEN=s3cr3t-t0ken\n",
                       "mode": "0600", "secret": True}]}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    command = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "--diff", "-vvv"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changed=1" in first.stdout and "changed=0" in second.stdout, second.stdout
    assert "listen: 9090" in first.stdout, "the plain file's diff should show"
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert "s3cr3t-t0ken" not in output
    assert (tmp_path / "conf" / "secret.env").read_text() == "TOKEN=s3cr3t-t0ken\n"


def test_secret_contents_are_written_and_masked_like_secret_files(tmp_path):
    path = tmp_path / "secret.env"
    result = apply(files=[{"path": str(path), "mode": "0600"}], secret_contents={str(path): "TOKEN=from-secret-contents\n"})
    assert path.read_text() == "TOKEN=from-secret-contents\n"
    assert result.diffs[0]["after"] == SECRET_MASK + "\n"


@pytest.mark.parametrize("files, secret_contents, message", [
    ([{"path": "/x/a"}], {}, "no content"),
    ([{"path": "/x/a", "content": "inline"}], {"/x/a": "and secret"}, "both inline and in secret_contents"),
    ([{"path": "/x/a", "content": "a"}], {"/x/b": "stray"}, "not in files: /x/b"),
])
def test_content_must_come_from_exactly_one_place(files, secret_contents, message):
    with pytest.raises(FileSetError, match=message):
        apply(files=files, secret_contents=secret_contents)


def logged_invocation(monkeypatch, module_args):
    """What AnsibleModule writes to the host's log (journal or syslog) when file_set starts."""
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.dataaggregator.infrastructure.plugins.modules import file_set

    logged = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append((msg, log_args)))
    with patch_module_args(module_args), pytest.raises(SystemExit):
        file_set.main()
    return json.dumps(logged)


def test_the_hosts_log_gets_no_secret_once_the_action_plugin_split_the_arguments(tmp_path, monkeypatch, capsys):
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_set import split_secret_contents

    secret = 'PASSWORD="multi-line\nsecret-value"\n'
    task_args = {"files": [{"path": str(tmp_path / "plain.yml"), "content": "listen: 9090\n"},
                           {"path": str(tmp_path / "secret.env"), "content": secret, "mode": "0600", "secret": True}]}
    # Inline, as a task gives it: the module logs it before it can mask it.
    # This is what the action plugin exists to prevent.
    inline = logged_invocation(monkeypatch, task_args)
    assert "secret-value" in inline
    capsys.readouterr()

    split = logged_invocation(monkeypatch, split_secret_contents(task_args))
    assert "secret-value" not in split and "multi-line" not in split
    assert "secret_contents=NOT_LOGGING_PARAMETER" in split
    assert "listen: 9090" in split, "only the secret is held back"
    assert (tmp_path / "secret.env").read_text() == secret
    assert "secret-value" not in capsys.readouterr().out
