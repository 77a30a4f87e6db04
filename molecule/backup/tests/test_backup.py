"""Backups of a real PostgreSQL 15, proven by restoring them.

The tests run in file order: they start the jobs by hand, age and damage
backups on disk, stop PostgreSQL, and put things back for the next test.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import (
    assert_no_secret_anywhere, assert_units_within_exposure_limits, http_get, inventory_host, play_recap,
    run_playbook, start_unit,
)

DB = "db-debian12"
BACKUPS = "/var/backups/postgresql"
METRICS = "/var/lib/node_exporter/textfile_collector/dataaggregator_backup.prom"
COMMAND = "runuser -u postgres -- /usr/local/sbin/dataaggregator-backup"
DATABASES = ["platform", "analytics"]
RECORDS = "/var/lib/receiver/records.jsonl"


@pytest.fixture(scope="module")
def db():
    return inventory_host(DB)


@pytest.fixture(scope="module")
def objects():
    return inventory_host("objects-debian13")


def sets_of(host, database):
    return json.loads(host.check_output(f"{COMMAND} list {database}"))


def row_counts(host, database):
    sql = ("SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
    tables = host.check_output(f"runuser -u postgres -- psql -X -A -t -d {database} -c \"{sql}\"").splitlines()
    counts = {}
    for table in tables:
        query = f"SELECT count(*) FROM {table}".replace('"', '\\"')
        counts[table] = int(host.check_output(f'runuser -u postgres -- psql -X -A -t -d {database} -c "{query}"'))
    return counts


def metrics(host):
    values = {}
    for line in host.file(METRICS).content_string.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            values[name_labels] = float(value)
    return values


def metric(host, name, database):
    return metrics(host).get(f'dataaggregator_backup_{name}{{database="{database}"}}')


def webhook_messages(objects):
    content = objects.file(RECORDS)
    return [json.loads(line) for line in content.content_string.splitlines()] if content.exists else []


def test_timers_are_scheduled_and_persistent(db):
    for timer in ("dataaggregator-backup.timer", "dataaggregator-backup-restore-test.timer"):
        assert db.service(timer).is_enabled and db.service(timer).is_running, timer
        assert db.run(f"systemctl show -p NextElapseUSecRealtime --value {timer}").stdout.strip() not in ("", "0", "n/a")
    unit = db.file("/etc/systemd/system/dataaggregator-backup.timer").content_string
    assert "OnCalendar=*-*-* 02:00:00" in unit and "Persistent=yes" in unit and "RandomizedDelaySec=15min" in unit
    service = db.file("/etc/systemd/system/dataaggregator-backup.service").content_string
    assert "Type=oneshot" in service and "User=postgres" in service
    assert "Nice=10" in service and "IOSchedulingClass=idle" in service
    # The services' sandbox, with what the jobs write left writable; the runs below prove it is enough.
    assert "ProtectSystem=strict" in service and "ReadWritePaths=/var/backups/postgresql" in service
    lock_dir = db.file("/run/dataaggregator-backup")
    assert (lock_dir.user, lock_dir.group, lock_dir.mode) == ("postgres", "postgres", 0o750)


def test_a_run_produces_verified_dumps_a_manifest_and_metrics(db):
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    for database in DATABASES:
        newest = sets_of(db, database)[0]
        assert newest["good"], newest
        manifest = json.loads(db.file(f"{newest['path']}/manifest.json").content_string)
        assert manifest["verified"] is True and "globals.sql" in manifest["files"]
        assert f"{database}: backup {newest['stamp']} verified" in journal
        assert metric(db, "last_run_success", database) == 1
        assert metric(db, "last_success_size_bytes", database) == manifest["size"]
        assert time.time() - metric(db, "last_upload_timestamp_seconds", database) < 300
    platform = json.loads(db.file(f"{sets_of(db, 'platform')[0]['path']}/manifest.json").content_string)
    assert platform["database_entry"]["format"] == "directory"
    assert platform["database_entry"]["tables"]["public.users"]["rows"] == 20000
    assert "md5" in platform["database_entry"]["tables"]["public.users"]
    assert platform["database_entry"]["tables"]['"Reports"."Daily Totals"']["rows"] == 365


def test_backup_files_are_private(db):
    for database in DATABASES:
        newest = sets_of(db, database)[0]["path"]
        modes = db.check_output(f"find {newest} -type f -printf '%m %u\\n'").splitlines()
        assert modes and all(line in ("600 postgres", "640 postgres") for line in modes), modes
    assert db.file(BACKUPS).mode == 0o750
    secrets = db.file("/etc/dataaggregator-backup/secrets.json")
    assert (secrets.user, secrets.mode) == ("postgres", 0o600)
    assert "molecule-s3-secret" not in db.file("/etc/dataaggregator-backup/config.json").content_string


def test_node_exporter_serves_the_backup_metrics(db):
    page = http_get(db, "http://127.0.0.1:9100/metrics")["body"]
    for database in DATABASES:
        assert f'dataaggregator_backup_last_run_success{{database="{database}"}} 1' in page


def test_the_restore_test_matches_the_source(db):
    succeeded, journal = start_unit(db, "dataaggregator-backup-restore-test.service")
    assert succeeded, journal
    for database in DATABASES:
        assert f"{database}: backup" in journal and "restored and matched" in journal
        assert metric(db, "restore_test_last_run_success", database) == 1
    assert "da_restore_test_platform" not in db.check_output("runuser -u postgres -- psql -X -A -t -l")


def test_the_restore_playbook_recreates_the_data(db):
    rc, output = run_playbook("-e", "restore_database=platform", "-e", "restore_target=platform_restored",
                              playbook="../../playbooks/restore.yml")
    assert rc == 0, output
    assert row_counts(db, "platform_restored") == row_counts(db, "platform")
    assert "public.users=20000" in output
    # A second restore into the same database is refused without force, and replaces it with force.
    rc, output = run_playbook("-e", "restore_database=platform", "-e", "restore_target=platform_restored",
                              playbook="../../playbooks/restore.yml")
    assert rc != 0 and "database platform_restored exists; set force to replace it" in " ".join(output.split())
    rc, output = run_playbook("-e", "restore_database=platform", "-e", "restore_target=platform_restored",
                              "-e", "restore_force=true", playbook="../../playbooks/restore.yml")
    assert rc == 0, output
    assert row_counts(db, "platform_restored") == row_counts(db, "platform")


def test_the_restore_playbook_restores_a_legacy_plain_dump(db):
    db.check_output("runuser -u postgres -- sh -c 'pg_dump analytics | gzip > /var/backups/postgresql/legacy-analytics.sql.gz'")
    rc, output = run_playbook("-e", "restore_database=analytics_legacy",
                              "-e", "restore_legacy_dump=/var/backups/postgresql/legacy-analytics.sql.gz",
                              playbook="../../playbooks/restore.yml")
    assert rc == 0, output
    assert row_counts(db, "analytics_legacy") == row_counts(db, "analytics")
    assert "public.pageviews=50000" in output


def test_a_truncated_backup_fails_verification_and_is_never_counted_as_good(db):
    newest = sets_of(db, "analytics")[0]
    manifest = json.loads(db.file(f"{newest['path']}/manifest.json").content_string)
    dump = manifest["database_entry"]["path"]
    assert dump == "analytics.dump.zst"
    db.check_output(f"truncate -s 4096 {newest['path']}/{dump}")
    result = db.run(f"{COMMAND} verify")
    assert result.rc == 1 and f"analytics: {newest['stamp']} FAILED verification" in result.stdout
    listed = {found["stamp"]: found for found in sets_of(db, "analytics")}
    assert not listed[newest["stamp"]]["good"]
    assert db.file(f"{newest['path']}/FAILED").exists
    rc, output = run_playbook("-e", "restore_database=analytics", "-e", f"restore_backup={newest['stamp']}",
                              "-e", "restore_target=analytics_bad", playbook="../../playbooks/restore.yml")
    assert rc != 0 and f"backup {newest['stamp']} is not good" in " ".join(output.split())


def test_retention_keeps_the_newest_good_backups_when_all_are_older_than_the_window(db):
    # A good backup beside the truncated one, then both aged past the 7-day
    # window: the truncated one newer (40 days) than the good one (41 days).
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    good, truncated = sets_of(db, "analytics")[:2]
    assert good["good"] and not truncated["good"]
    aged = {}
    for days, found in ((40, truncated), (41, good)):
        aged[found["stamp"]] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - days * 86400))
        db.check_output(f"mv {found['path']} {BACKUPS}/analytics/{aged[found['stamp']]}")
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    left = sets_of(db, "analytics")
    # keep_min is 2: the new backup and the newest good one, however old. Had the
    # truncated one counted as good, it would have stayed instead.
    assert [found["stamp"] for found in left[1:]] == [aged[good["stamp"]]]
    assert all(found["good"] for found in left) and len(left) == 2
    assert f"pruned {aged[truncated['stamp']]}" in journal


LOCK_HOLDER = ("import fcntl, os, sys, time; descriptor = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT); "
               "fcntl.flock(descriptor, fcntl.LOCK_EX); time.sleep(120)")


def test_a_second_concurrent_run_is_refused_by_the_lock(db):
    # Another run, as a systemd start or a manual one would be: it holds the lock.
    holder = db.check_output("runuser -u postgres -- sh -c 'python3 -c \"%s\" /run/dataaggregator-backup/lock "
                             ">/dev/null 2>&1 & echo $!'" % LOCK_HOLDER)
    assert holder.isdigit()
    time.sleep(2)
    before = metrics(db)
    try:
        result = db.run(f"{COMMAND} backup")
        assert result.rc == 75, result.stdout + result.stderr
        assert "another backup run holds /run/dataaggregator-backup/lock" in result.stdout
        assert metrics(db) == before
    finally:
        db.run(f"kill {holder}")
    time.sleep(1)
    assert db.run("runuser -u postgres -- flock -n /run/dataaggregator-backup/lock true").rc == 0


def test_with_postgresql_stopped_the_run_fails_notifies_once_and_keeps_earlier_backups(db, objects):
    before = {database: sets_of(db, database) for database in DATABASES}
    digests = db.check_output(f"find {BACKUPS} -type f -name manifest.json -exec sha256sum {{}} +")
    sent_before = len(webhook_messages(objects))
    db.check_output("systemctl stop postgresql")
    try:
        succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    finally:
        db.check_output("systemctl start postgresql")
    assert not succeeded
    messages = webhook_messages(objects)[sent_before:]
    assert len(messages) == len(DATABASES), journal
    for database in DATABASES:
        text = next(m["body"]["text"] for m in messages if f"Backup of {database} " in m["body"]["text"])
        assert f"on {DB} failed at step 'dump globals'" in text, text
        assert metric(db, "last_run_success", database) == 0
        assert metric(db, "last_success_timestamp_seconds", database) is not None
        assert sets_of(db, database) == before[database]
    assert db.check_output(f"find {BACKUPS} -type f -name manifest.json -exec sha256sum {{}} +") == digests
    assert not db.check_output(f"find {BACKUPS} -name '.partial-*'")
    # The next run succeeds again.
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    assert all(metric(db, "last_run_success", database) == 1 for database in DATABASES)


def test_cron_replaces_the_timers_for_hosts_without_them(db):
    rc, output = run_playbook("-e", "backup_scheduler=cron")
    assert rc == 0, output
    cron = db.file("/etc/cron.d/dataaggregator-backup").content_string
    assert "0 2 * * * postgres nice -n 10 ionice -c 3 /usr/local/sbin/dataaggregator-backup backup" in cron
    assert "0 4 * * 0 postgres nice -n 10 ionice -c 3 /usr/local/sbin/dataaggregator-backup restore-test" in cron
    assert not db.service("dataaggregator-backup.timer").is_enabled
    rc, output = run_playbook()
    assert rc == 0, output
    assert not db.file("/etc/cron.d/dataaggregator-backup").exists
    assert db.service("dataaggregator-backup.timer").is_enabled and db.service("dataaggregator-backup.timer").is_running


def test_no_secret_shows_in_a_verbose_diff_run():
    rc, output = run_playbook("--check", "--diff", "-v")
    assert rc == 0, output
    for secret in ("molecule-s3-secret", "molecule-webhook-secret"):
        assert secret not in output
    assert play_recap(output)[DB]["changed"] == 0


@pytest.mark.last
def test_no_secret_in_any_hosts_logs_or_the_verbose_output():
    """Every secret of the scenario: not in a -vvv --diff run's output, any host's journal or /var/log."""
    assert assert_no_secret_anywhere(extra_secrets=["molecule-s3-secret", "molecule-webhook-secret", "molecule-cipher-secret"]) >= 3


def test_every_unit_of_the_collection_is_within_its_exposure_limit():
    # systemd-analyze security on the running hosts, against the limits the offline unit test holds.
    assert assert_units_within_exposure_limits() >= 1
