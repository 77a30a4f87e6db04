"""The pgbackrest method on a real PostgreSQL 17 with Debian's pgBackRest.

Runs after test_backup.py (file order): the tests start the jobs by hand,
damage the repository, and recover the cluster to a point in time.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import inventory_host, play_recap, run_playbook, start_unit

PITR = "pitr-debian13"
DATABASES = ["platform", "analytics"]
METRICS = "/var/lib/node_exporter/textfile_collector/dataaggregator_backup.prom"
COMMAND = "runuser -u postgres -- /usr/local/sbin/dataaggregator-backup"
PGBACKREST = "runuser -u postgres -- pgbackrest --stanza=main --log-level-console=warn"
RECORDS = "/var/lib/receiver/records.jsonl"


@pytest.fixture(scope="module")
def pitr():
    return inventory_host(PITR)


@pytest.fixture(scope="module")
def objects():
    return inventory_host("objects-debian13")


def psql(host, database, sql):
    return host.check_output("runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -d %s -c %s", database, sql)


def backups(host):
    return json.loads(host.check_output(f"{PGBACKREST} --output=json info"))[0]["backup"]


def metric(host, name, database):
    for line in host.file(METRICS).content_string.splitlines():
        if line.startswith(f'dataaggregator_backup_{name}{{database="{database}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return None


def webhook_messages(objects):
    content = objects.file(RECORDS)
    return [json.loads(line) for line in content.content_string.splitlines()] if content.exists else []


def test_wal_archiving_is_on_and_reaches_an_encrypted_repository(pitr):
    assert psql(pitr, "postgres", "SHOW archive_mode") == "on"
    assert psql(pitr, "postgres", "SHOW archive_command") == "pgbackrest --stanza=main archive-push %p"
    check = pitr.run(f"{PGBACKREST} check")
    assert check.rc == 0, check.stderr
    info = json.loads(pitr.check_output(f"{PGBACKREST} --output=json info"))[0]
    assert info["cipher"] == "aes-256-cbc"
    conf = pitr.file("/etc/pgbackrest/pgbackrest.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "postgres", 0o640)
    assert "molecule-cipher-secret" not in conf.content_string
    assert "pg1-path=/var/lib/postgresql/17/main" in conf.content_string
    secrets = pitr.file("/etc/pgbackrest/conf.d/dataaggregator-secrets.conf")
    assert (secrets.user, secrets.mode) == ("postgres", 0o600)


def test_a_full_backup_comes_first_then_differential_ones(pitr):
    before = len(backups(pitr))
    assert before == 0
    for expected in ("full", "diff"):
        succeeded, journal = start_unit(pitr, "dataaggregator-backup.service")
        assert succeeded, journal
        newest = backups(pitr)[-1]
        assert newest["type"] == expected and not newest["error"], newest
        assert f"pgbackrest: {expected} backup {newest['label']} verified" in journal
    full, diff = backups(pitr)
    assert diff["reference"] == [full["label"]]
    for database in DATABASES:
        assert metric(pitr, "last_run_success", database) == 1
        assert metric(pitr, "last_success_timestamp_seconds", database) == diff["timestamp"]["stop"]
        assert metric(pitr, "last_success_size_bytes", database) == diff["info"]["repository"]["size"]
        # A local repository: nothing is uploaded.
        assert metric(pitr, "last_upload_timestamp_seconds", database) is None


def test_the_restore_test_restores_into_a_scratch_cluster_and_checks_every_table(pitr):
    succeeded, journal = start_unit(pitr, "dataaggregator-backup-restore-test.service")
    assert succeeded, journal
    newest = backups(pitr)[-1]
    assert f"pgbackrest: backup {newest['label']} restored and checked" in journal
    assert "platform: 3 tables, 120365 rows" in journal and "analytics: 1 tables, 50000 rows" in journal
    for database in DATABASES:
        assert metric(pitr, "restore_test_last_run_success", database) == 1
    assert not pitr.file("/var/lib/dataaggregator-backup/restore-test").exists
    assert not pitr.socket("unix:///var/lib/dataaggregator-backup/restore-test/.s.PGSQL.54329").is_listening


def test_a_damaged_file_in_the_repository_fails_the_run_and_nothing_expires(pitr, objects):
    full = backups(pitr)[0]
    # The biggest file of the full backup, which the differential ones reference.
    victim = pitr.check_output(
        f"find /var/lib/pgbackrest/backup/main/{full['label']}/pg_data/base -type f -printf '%s %p\\n' | sort -n | tail -1"
    ).split()[1]
    pitr.check_output(f"printf garbage | dd of={victim} bs=1 seek=100 conv=notrunc status=none")
    labels = [backup["label"] for backup in backups(pitr)]
    sent_before = len(webhook_messages(objects))
    succeeded, journal = start_unit(pitr, "dataaggregator-backup.service")
    assert not succeeded
    assert "FAILED at step verify" in journal and "checksum invalid: 1" in journal, journal
    messages = webhook_messages(objects)[sent_before:]
    assert len(messages) == 1, messages
    assert f"on {PITR} failed at step 'verify'" in messages[0]["body"]["text"]
    for database in DATABASES:
        assert metric(pitr, "last_run_success", database) == 0
    # The failed differential stays in the repository, unexpired, beside the rest.
    assert [backup["label"] for backup in backups(pitr)][: len(labels)] == labels
    assert pitr.run(f"{COMMAND} verify").rc == 1
    # The next run starts a new chain, which does not depend on the damaged file.
    succeeded, journal = start_unit(pitr, "dataaggregator-backup.service")
    assert succeeded, journal
    assert backups(pitr)[-1]["type"] == "full"
    assert all(metric(pitr, "last_run_success", database) == 1 for database in DATABASES)
    # A full backup on demand, as after any doubt about the repository.
    result = pitr.run(f"{COMMAND} backup --full")
    assert result.rc == 0, result.stdout + result.stderr
    assert backups(pitr)[-1]["type"] == "full"


def test_point_in_time_recovery_brings_back_exactly_what_was_committed_before_the_target(pitr):
    psql(pitr, "platform", "CREATE TABLE pitr_probe (id int, phase text)")
    psql(pitr, "platform", "INSERT INTO pitr_probe SELECT g, 'before' FROM generate_series(1, 100) g")
    target = psql(pitr, "platform", "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00'")
    time.sleep(2)
    psql(pitr, "platform", "INSERT INTO pitr_probe SELECT g, 'after' FROM generate_series(101, 150) g")

    # The whole cluster is replaced: not without force.
    rc, output = run_playbook("-e", "restore_hosts=pitr", "-e", f"restore_target_time={target}",
                              playbook="../../playbooks/restore.yml")
    assert rc != 0 and "set restore_force=true" in " ".join(output.split())
    assert psql(pitr, "platform", "SELECT count(*) FROM pitr_probe") == "150"

    rc, output = run_playbook("-e", "restore_hosts=pitr", "-e", f"restore_target_time={target}", "-e", "restore_force=true",
                              playbook="../../playbooks/restore.yml")
    assert rc == 0, output
    assert psql(pitr, "platform", "SELECT phase, count(*) FROM pitr_probe GROUP BY phase") == "before|100"
    assert psql(pitr, "postgres", "SELECT pg_is_in_recovery()") == "f"
    assert "public.users=20000" in output and "public.pageviews=50000" in output

    # The recovered cluster (a new timeline) archives and backs up again.
    psql(pitr, "platform", "INSERT INTO pitr_probe SELECT g, 'later' FROM generate_series(151, 160) g")
    succeeded, journal = start_unit(pitr, "dataaggregator-backup.service")
    assert succeeded, journal


def test_the_pgbackrest_host_converges_with_no_change_and_shows_no_secret():
    rc, output = run_playbook("--check", "--diff", "-v", "--limit", PITR)
    assert rc == 0, output
    assert "molecule-cipher-secret" not in output and "molecule-webhook-secret" not in output
    assert play_recap(output)[PITR]["changed"] == 0


S3_REPOSITORY = {
    "backup_s3_bucket": "molecule-backups",
    "backup_s3_endpoint_url": "https://objects-debian13:9443",
    "backup_s3_region": "us-east-1",
    "backup_s3_prefix": "pgbackrest",
    "backup_s3_access_key_id": "molecule-access-key",
    "backup_s3_secret_access_key": "molecule-s3-secret",
    "backup_pgbackrest_s3_uri_style": "path",
    "backup_pgbackrest_s3_ca_file": "/usr/local/share/molecule-ca.crt",
}
S3_LIST = ("import boto3; s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:5000', region_name='us-east-1', "
           "aws_access_key_id='molecule-access-key', aws_secret_access_key='molecule-s3-secret'); "
           "print('\\n'.join(o['Key'] for p in s3.get_paginator('list_objects_v2').paginate("
           "Bucket='molecule-backups', Prefix='pgbackrest/') for o in p.get('Contents', [])))")


def test_the_repository_can_be_an_s3_bucket(pitr, objects):
    # Last: it moves the host's repository to the store behind the TLS proxy.
    settings = ["-e", json.dumps(S3_REPOSITORY), "--limit", PITR]
    rc, output = run_playbook(*settings)
    assert rc == 0, output
    conf = pitr.file("/etc/pgbackrest/pgbackrest.conf").content_string
    assert "repo1-type=s3" in conf and "repo1-s3-endpoint=objects-debian13" in conf and "repo1-storage-port=9443" in conf
    assert "molecule-s3-secret" not in conf
    assert "repo1-s3-key-secret=molecule-s3-secret" in pitr.file("/etc/pgbackrest/conf.d/dataaggregator-secrets.conf").content_string

    succeeded, journal = start_unit(pitr, "dataaggregator-backup.service")
    assert succeeded, journal
    newest = backups(pitr)[-1]
    assert newest["type"] == "full" and f"pgbackrest: full backup {newest['label']} verified" in journal
    for database in DATABASES:
        assert metric(pitr, "last_upload_timestamp_seconds", database) == newest["timestamp"]["stop"]
    keys = objects.check_output("/opt/moto/bin/python -c %s", S3_LIST).splitlines()
    assert f"pgbackrest/backup/main/{newest['label']}/backup.manifest" in keys
    assert any(key.startswith("pgbackrest/archive/main/") for key in keys)

    succeeded, journal = start_unit(pitr, "dataaggregator-backup-restore-test.service")
    assert succeeded, journal
    assert f"pgbackrest: backup {newest['label']} restored and checked" in journal

    rc, output = run_playbook("--check", "--diff", "-v", *settings)
    assert rc == 0, output
    for secret in ("molecule-s3-secret", "molecule-cipher-secret"):
        assert secret not in output
    assert play_recap(output)[PITR]["changed"] == 0
