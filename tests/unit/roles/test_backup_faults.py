"""The backup program's failure paths that need no database: settings it refuses,
pipes that must never block, a run that fails in every way still recording
itself as failed, and the switch from root to the backup user.

The backup Molecule scenario runs the same faults against a real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT
from test_backup_program import backup, config, make_set, stamp_days_ago

PROGRAM = ROOT / "roles/backup/files/dataaggregator_backup.py"
# A child that writes 1 MiB to its stderr, then "data" to its stdout.
LOUD = [sys.executable, "-c", "import sys; sys.stderr.write('w' * 1048576 + '\\nlast words\\n'); sys.stderr.flush(); "
                              "sys.stdout.write('data')"]


@pytest.mark.parametrize("changes, message", [
    ({"keep_min": 0}, "keep_min must be at least 1"),
    ({"retention_days": 0.5}, "retention_days must be at least 1"),
    ({"lock_wait_timeout": "soon"}, "lock_wait_timeout must be a PostgreSQL duration"),
    ({"databases": [{"name": "app", "scratch_prefix": ""}]}, "scratch_prefix must be 1 to 40"),
    ({"databases": [{"name": "app", "scratch_prefix": "Drop Me;"}]}, "scratch_prefix must be 1 to 40"),
    ({"databases": [{"name": "analytics"}, {"name": "lytics", "scratch_prefix": "ana"}]}, "is a configured database"),
])
def test_settings_that_would_destroy_data_are_refused(tmp_path, changes, message):
    with pytest.raises(backup.ConfigError, match=message):
        config(tmp_path, **changes)


def test_the_default_scratch_prefix_and_a_valid_one_pass(tmp_path):
    assert backup.scratch_name(config(tmp_path).databases[0]) == "da_restore_test_app"
    settings = config(tmp_path, databases=[{"name": "app", "scratch_prefix": "scratch_"}])
    assert backup.scratch_name(settings.databases[0]) == "scratch_app"


def test_a_refused_config_ends_in_one_line_and_its_own_exit_code(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"backup_dir": str(tmp_path), "databases": [{"name": "app"}], "keep_min": 0}))
    assert backup.main(["--config", str(path), "backup"]) == backup.EXIT_CONFIG
    error = capsys.readouterr().err
    assert error.startswith("dataaggregator-backup: keep_min must be at least 1") and error.count("\n") == 1


def test_a_megabyte_on_stderr_blocks_neither_a_pipe_nor_a_single_program(tmp_path):
    target = tmp_path / "out"
    with open(target, "wb") as handle:
        backup.run_pipe("dump", LOUD, ["cat"], "app", stdout=handle)
    assert target.read_bytes() == b"data"
    assert backup.run("dump", LOUD, "app") == "data"


def test_a_failing_program_is_named_with_the_last_line_of_its_megabyte_of_stderr():
    failing = LOUD[:2] + [LOUD[2] + "; sys.exit(3)"]
    with pytest.raises(backup.BackupError, match="exited 3: last words"):
        backup.run_pipe("dump", failing, ["cat"], "app")
    with pytest.raises(backup.BackupError, match="exited 3: last words"):
        backup.run("dump", failing, "app")


@pytest.mark.parametrize("url", ["not a url", "http://[broken", "ftp://127.0.0.1:1/unreachable"])
def test_a_failing_notification_is_logged_and_never_raised_nor_shows_the_url(tmp_path, capsys, url):
    settings = backup.Config({"backup_dir": str(tmp_path), "databases": [{"name": "app"}]}, {"SLACK_WEBHOOK_URL": url + "/s3cret"})
    assert backup.notify(settings, "text") is False
    output = capsys.readouterr().out
    assert output.startswith("notification failed: ") and "s3cret" not in output


def test_every_database_is_tried_and_recorded_failed_when_the_client_programs_are_missing(tmp_path):
    # A missing pg_dumpall is an OSError, not a BackupError: it once aborted the run with a traceback.
    settings = config(tmp_path, databases=[{"name": "app"}, {"name": "other"}], pg_bin_dir=str(tmp_path / "missing"),
                      state_file=str(tmp_path / "state" / "state.json"), metrics_file=str(tmp_path / "metrics.prom"))
    assert backup.command_backup(settings, None) == 1
    page = (tmp_path / "metrics.prom").read_text()
    for name in ("app", "other"):
        assert f'dataaggregator_backup_last_run_success{{database="{name}"}} 0' in page
        assert f'dataaggregator_backup_last_run_timestamp_seconds{{database="{name}"}}' in page
    assert not [entry for entry in os.listdir(tmp_path / "app") if entry.startswith(backup.PARTIAL_PREFIX)]


def test_a_state_that_cannot_be_saved_fails_the_run_but_the_metrics_still_say_so(tmp_path):
    (tmp_path / "not-a-directory").write_text("")
    settings = config(tmp_path, pg_bin_dir=str(tmp_path / "missing"), state_file=str(tmp_path / "not-a-directory" / "state.json"),
                      metrics_file=str(tmp_path / "metrics.prom"))
    assert backup.command_backup(settings, None) == 1
    assert 'dataaggregator_backup_last_run_success{database="app"} 0' in (tmp_path / "metrics.prom").read_text()


# The hosts' Python, as the installed program runs: a virtualenv's may sit where the backup user cannot read.
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="switching users needs root and /usr/bin/python3")
def test_started_as_root_it_becomes_the_backup_user_and_everything_it_writes_is_that_users():
    nobody = pwd.getpwnam("nobody")
    root = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(root, 0o755)
        backups = os.path.join(root, "backups")
        os.mkdir(backups)
        os.chown(backups, nobody.pw_uid, nobody.pw_gid)
        damaged = make_set(Path(backups), "app", stamp_days_ago(1))
        (damaged / "app.dump").write_bytes(b"cut")
        for path in (damaged.parent, damaged, *damaged.iterdir()):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        path = os.path.join(root, "config.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"backup_dir": backups, "databases": [{"name": "app"}], "user": "nobody"}, handle)
        result = subprocess.run([SYSTEM_PYTHON, str(PROGRAM), "--config", path, "verify"],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 1 and "FAILED verification" in result.stdout, result.stdout + result.stderr
        marker = os.stat(damaged / backup.FAILED_MARKER)
        assert (marker.st_uid, marker.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        # Any other user than root or the backup user is refused in one line.
        refused = subprocess.run(["runuser", "-u", "daemon", "--", SYSTEM_PYTHON, str(PROGRAM), "--config", path, "verify"],
                                 capture_output=True, text=True, check=False)
        assert refused.returncode == backup.EXIT_CONFIG and "run it as nobody, or as root" in refused.stderr
    finally:
        shutil.rmtree(root)


def test_the_reason_given_is_the_error_line_not_the_caret_psql_prints_under_the_statement():
    psql_like = [sys.executable, "-c", "import sys; sys.stderr.write('psql:<stdin>:3: ERROR:  canceling statement due to "
                                       "lock timeout\\nLINE 1: SELECT count(*) FROM pageviews\\n              ^\\n'); sys.exit(3)"]
    with pytest.raises(backup.BackupError, match="exited 3: psql:<stdin>:3: ERROR:  canceling statement due to lock timeout"):
        backup.run("snapshot", psql_like, "app")
