"""The backup program under operators, faults and hostile settings, on the real PostgreSQL 15 host.

Each test sets up its fault, runs the program as the timer or an operator
would, and checks the state it ends in: what the metrics say, what is left on
disk, what the database holds. Most run a copy of the installed config with
one change, whose state and metrics go to a scratch directory, so the real
ones stay as the other tests expect them.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from conftest import inventory_host, run_playbook, start_unit

DB = "db-debian12"
BACKUPS = "/var/backups/postgresql"
PROGRAM = "/usr/local/sbin/dataaggregator-backup"
AS_POSTGRES = f"runuser -u postgres -- {PROGRAM}"
SCRATCH = "/var/lib/dataaggregator-backup/faults"
SMALL = "/var/backups/small"
SCRATCH_COMMENT = "scratch database of the dataaggregator-backup restore test; dropped after each test"


@pytest.fixture(scope="module")
def db():
    host = inventory_host(DB)
    host.check_output(f"install -d -o postgres -g postgres -m 0750 {SCRATCH}")
    yield host
    host.run(f"rm -rf {SCRATCH}")


def put(host, path, text, owner="postgres", mode="0600"):
    encoded = base64.b64encode(text.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d > {path} && chown {owner}: {path} && chmod {mode} {path}")


def faulty_config(host, name, secrets=None, **changes):
    """A copy of the installed config with changes (no upload), its state and metrics in a directory of its own."""
    config = json.loads(host.check_output("cat /etc/dataaggregator-backup/config.json"))
    directory = f"{SCRATCH}/{name}"
    host.check_output(f"rm -rf {directory} && install -d -o postgres -g postgres -m 0750 {directory}")
    config.update({"state_file": f"{directory}/state.json", "metrics_file": f"{directory}/metrics.prom", "s3": {}})
    if secrets is not None:
        put(host, f"{directory}/secrets.json", json.dumps(secrets))
        config["secrets_file"] = f"{directory}/secrets.json"
    config.update(changes)
    put(host, f"{directory}/config.json", json.dumps(config), owner="root", mode="0644")
    return f"{directory}/config.json"


def metrics_of(host, config_path):
    path = config_path.rsplit("/", 1)[0] + "/metrics.prom"
    values = {}
    for line in host.file(path).content_string.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            values[name_labels] = float(value)
    return values


def run_success(host, config_path, database):
    return metrics_of(host, config_path).get(f'dataaggregator_backup_last_run_success{{database="{database}"}}')


def sets_of(host, database, config_path=""):
    option = f"--config {config_path} " if config_path else ""
    return json.loads(host.check_output(f"{AS_POSTGRES} {option}list {database}"))


def psql(host, database, sql):
    encoded = base64.b64encode(sql.encode()).decode()
    return host.check_output(f"echo {encoded} | base64 -d | runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -d {database}")


def test_started_as_root_it_writes_as_the_backup_user_and_the_next_restore_works(db):
    # A damaged copy of the newest set, for verify to mark FAILED.
    newest = sets_of(db, "analytics")[0]
    damaged = f"{BACKUPS}/analytics/20200101T000000Z"
    db.check_output(f"cp -a {newest['path']} {damaged} && truncate -s 10 {damaged}/analytics.dump.zst")
    try:
        verify = db.run(f"{PROGRAM} verify")
        assert verify.rc == 1 and "20200101T000000Z FAILED verification" in verify.stdout, verify.stdout + verify.stderr
        assert db.file(f"{damaged}/FAILED").user == "postgres"
        backup = db.run(f"{PROGRAM} backup")
        assert backup.rc == 0, backup.stdout + backup.stderr
        foreign = db.check_output(f"find {BACKUPS} /var/lib/dataaggregator-backup /run/dataaggregator-backup "
                                  f"-path {SCRATCH} -prune -o ! -user postgres -print")
        assert foreign == "", foreign
        # The next run as the service's user: the restore playbook.
        rc, output = run_playbook("-e", "restore_database=analytics", "-e", "restore_target=analytics_after_root",
                                  playbook="../../playbooks/restore.yml")
        assert rc == 0, output
    finally:
        db.run(f"rm -rf {damaged}; runuser -u postgres -- dropdb --if-exists analytics_after_root")


def test_any_other_user_is_refused_in_one_line(db):
    result = db.run(f"runuser -u nobody -- {PROGRAM} list analytics")
    assert result.rc == 78, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("dataaggregator-backup: ")
    assert "Traceback" not in result.stderr


def test_the_restore_test_never_drops_a_database_it_did_not_create(db):
    scratch = "da_restore_test_analytics"
    db.check_output(f"runuser -u postgres -- createdb {scratch}")
    psql(db, scratch, "CREATE TABLE precious (id int); INSERT INTO precious VALUES (42);")
    try:
        succeeded, journal = start_unit(db, "dataaggregator-backup-restore-test.service")
        assert not succeeded
        assert f"refusing to drop {scratch}: it exists and the restore test did not create it" in journal
        assert psql(db, scratch, "SELECT id FROM precious;").strip() == "42"
        # The other database's test still ran and passed.
        assert "platform: backup" in journal and "restored and matched" in journal
    finally:
        db.check_output(f"runuser -u postgres -- dropdb {scratch}")
    # A leftover of the test's own (an interrupted run) is dropped and the test passes.
    db.check_output(f"runuser -u postgres -- createdb {scratch} '{SCRATCH_COMMENT}'")
    succeeded, journal = start_unit(db, "dataaggregator-backup-restore-test.service")
    assert succeeded, journal
    assert db.run(f"runuser -u postgres -- psql -X -A -t -d postgres -c \"SELECT 1 FROM pg_database WHERE datname = '{scratch}'\"").stdout.strip() == ""


BAD_SCRATCH = {
    "empty": [{"name": "analytics", "scratch_prefix": ""}],
    "not a plain name": [{"name": "analytics", "scratch_prefix": "Bad-Prefix"}],
    "a configured database": [{"name": "analytics"}, {"name": "lytics", "scratch_prefix": "ana"}],
}


@pytest.mark.parametrize("case", sorted(BAD_SCRATCH))
def test_a_bad_scratch_prefix_is_refused_by_the_preflight_and_by_the_program(db, case):
    databases = BAD_SCRATCH[case]
    rc, output = run_playbook("-e", json.dumps({"backup_databases": databases}), "--limit", DB)
    assert rc != 0 and "scratch_prefix" in " ".join(output.split()), output
    result = db.run(f"{PROGRAM} --config {faulty_config(db, 'scratch', databases=databases)} restore-test")
    assert result.rc == 78 and "scratch" in result.stderr, result.stdout + result.stderr
    assert db.check_output("runuser -u postgres -- psql -X -A -t -d analytics -c 'SELECT count(*) FROM pageviews'") == "50000"


def test_the_program_refuses_a_retention_that_would_prune_everything(db):
    before = sets_of(db, "analytics")
    for changes, message in (({"keep_min": 0}, "keep_min must be at least 1"),
                             ({"retention_days": -1}, "retention_days must be at least 1")):
        result = db.run(f"{PROGRAM} --config {faulty_config(db, 'retention', **changes)} backup")
        assert result.rc == 78 and message in result.stderr, result.stdout + result.stderr
    assert sets_of(db, "analytics") == before


def test_a_run_of_one_step_is_checked_by_the_preflight():
    rc, output = run_playbook("--tags", "backup_configure", "-e", "backup_keep_min=0", "--limit", DB)
    assert rc != 0 and "backup_keep_min at least 1" in " ".join(output.split()), output


def test_a_failing_notification_never_aborts_the_run(db):
    # The first database does not exist; the notification of its failure goes to a malformed URL.
    config = faulty_config(db, "notify", secrets={"SLACK_WEBHOOK_URL": "not-a-url/molecule-webhook-secret"},
                           databases=[{"name": "no_such_database"}, {"name": "analytics", "format": "custom"}])
    before = len(sets_of(db, "analytics"))
    result = db.run(f"{PROGRAM} --config {config} backup")
    assert result.rc == 1, result.stdout + result.stderr
    assert "no_such_database: FAILED" in result.stdout and "notification failed: ValueError" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr and "molecule-webhook-secret" not in result.stdout + result.stderr
    assert len(sets_of(db, "analytics")) == before + 1
    assert run_success(db, config, "no_such_database") == 0 and run_success(db, config, "analytics") == 1


def test_a_full_disk_fails_clearly_removes_the_partial_set_and_keeps_the_last_good_one(db):
    config = faulty_config(db, "full", backup_dir=SMALL, databases=[{"name": "analytics", "format": "custom"}])
    first = db.run(f"{PROGRAM} --config {config} backup")
    assert first.rc == 0, first.stdout + first.stderr
    good = sets_of(db, "analytics", config)
    assert len(good) == 1 and good[0]["good"]
    # Fill the file system but for 64 KiB, less than the next dump needs.
    free = int(db.check_output(f"df --output=avail -B1 {SMALL} | tail -1"))
    db.check_output(f"head -c {free - 65536} /dev/zero > {SMALL}/filler")
    try:
        second = db.run(f"{PROGRAM} --config {config} backup")
        assert second.rc == 1, second.stdout + second.stderr
        assert "analytics: FAILED at step" in second.stdout and "No space left on device" in second.stdout, second.stdout
        assert "Traceback" not in second.stdout + second.stderr
        assert db.check_output(f"find {SMALL}/analytics -name '.partial-*'") == ""
        assert sets_of(db, "analytics", config) == good
        assert run_success(db, config, "analytics") == 0
    finally:
        db.run(f"rm -f {SMALL}/filler")
    db.check_output(f"rm -rf {SMALL}/analytics")


def fake_pg_dump(db, body):
    """A bin directory whose pg_dump runs body first, then the real one (with "$@"); returns its path."""
    real = json.loads(db.check_output("cat /etc/dataaggregator-backup/config.json"))["pg_bin_dir"]
    directory = f"{SCRATCH}/bin"
    db.check_output(f"rm -rf {directory} && mkdir {directory} && ln -s {real}/* {directory}/ && rm {directory}/pg_dump")
    put(db, f"{directory}/pg_dump", f"#!/bin/sh\n{body}\nexec {real}/pg_dump \"$@\"\n", owner="root", mode="0755")
    return directory


def test_a_megabyte_on_the_dumps_stderr_does_not_block_it(db):
    # Read only at the end, 1 MiB on a pipe's stderr (64 KiB) would block pg_dump, and the run with it, for ever.
    bin_dir = fake_pg_dump(db, "yes 'a line of warnings from pg_dump' | head -c 1048576 >&2")
    config = faulty_config(db, "stderr", pg_bin_dir=bin_dir, databases=[{"name": "analytics", "format": "custom"}])
    started = time.monotonic()
    result = db.run(f"timeout 120 {PROGRAM} --config {config} backup")
    assert result.rc == 0, (result.rc, result.stdout[-2000:], result.stderr[-2000:])
    assert time.monotonic() - started < 100
    assert run_success(db, config, "analytics") == 1


def test_a_dump_waiting_on_a_locked_table_fails_within_the_lock_timeout(db):
    holder = db.check_output(
        "runuser -u postgres -- sh -c \"psql -X -d analytics -c 'BEGIN; LOCK TABLE pageviews IN ACCESS EXCLUSIVE MODE; "
        "SELECT pg_sleep(90);' >/dev/null 2>&1 & echo \\$!\"")
    time.sleep(2)
    try:
        config = faulty_config(db, "locked", lock_wait_timeout="3s", databases=[{"name": "analytics", "format": "custom"}])
        started = time.monotonic()
        result = db.run(f"timeout 60 {PROGRAM} --config {config} backup")
        assert result.rc == 1, (result.rc, result.stdout, result.stderr)
        assert time.monotonic() - started < 30
        assert "lock timeout" in result.stdout, result.stdout
        assert run_success(db, config, "analytics") == 0
    finally:
        db.run(f"kill {holder}")


def test_a_stopped_run_is_recorded_as_failed_and_leaves_no_partial_set(db):
    # A dump that hangs; systemd's TimeoutStartSec (or an operator) stops the job with SIGTERM.
    assert db.check_output("systemctl show -p TimeoutStartUSec --value dataaggregator-backup.service") == "6h"
    bin_dir = fake_pg_dump(db, "exec sleep 300")
    config = faulty_config(db, "stopped", pg_bin_dir=bin_dir, databases=[{"name": "analytics", "format": "custom"}])
    started = time.monotonic()
    result = db.run(f"timeout -s TERM 5 {PROGRAM} --config {config} backup")
    assert result.rc == 124, (result.rc, result.stdout, result.stderr)
    assert time.monotonic() - started < 30
    assert "STOPPED by SIGTERM" in result.stdout, result.stdout
    assert run_success(db, config, "analytics") == 0
    assert db.check_output(f"find {BACKUPS}/analytics -name '.partial-*'") == ""
    # The hung child went with it (the images have no pgrep).
    running = db.check_output("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
    assert "sleep 300" not in running
