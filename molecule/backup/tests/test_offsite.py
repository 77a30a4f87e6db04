"""The offsite copy, against moto_server: encrypted uploads (the manifest too),
multipart above the threshold, the retry of a failed upload, and the disaster
it exists for: the database and every local backup gone, restored from the
bucket with the age identity from the vault.

The scenario's database host encrypts for a test key pair (molecule.yml) and
uploads in parts above 5 MiB.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
import secret_scan
from conftest import inventory_host, run_playbook, start_unit

DB = "db-debian12"
BACKUPS = "/var/backups/postgresql"
PROGRAM = "/usr/local/sbin/dataaggregator-backup"
AS_POSTGRES = f"runuser -u postgres -- {PROGRAM}"
SCRATCH = "/var/lib/dataaggregator-backup/offsite"
IDENTITY = f"{SCRATCH}/identity"
OBJECT = f"{SCRATCH}/object.age"
DATABASES = ["platform", "analytics"]
S3 = ("import boto3, sys; s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:5000', region_name='us-east-1', "
      "aws_access_key_id='molecule-access-key', aws_secret_access_key='molecule-s3-secret'); ")


def age_identity():
    hostvars = secret_scan.inventory_hostvars(os.environ["MOLECULE_INVENTORY_FILE"])
    return hostvars[DB]["vault_backup_age_identity"]


@pytest.fixture(scope="module")
def db():
    host = inventory_host(DB)
    host.check_output(f"install -d -o postgres -g postgres -m 0700 {SCRATCH}")
    put(host, IDENTITY, age_identity() + "\n")
    yield host
    host.run(f"rm -rf {SCRATCH}")


@pytest.fixture(scope="module")
def objects():
    host = inventory_host("objects-debian13")
    host.check_output(f"install -d -m 0700 {SCRATCH}")
    put(host, IDENTITY, age_identity() + "\n", owner="root")
    yield host
    host.run(f"rm -rf {SCRATCH}")


def put(host, path, text, owner="postgres", mode="0600"):
    encoded = base64.b64encode(text.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d > {path} && chown {owner}: {path} && chmod {mode} {path}")


def s3(objects, statement):
    return objects.check_output("/opt/moto/bin/python -c %s", S3 + statement)


def bucket_keys(objects, prefix):
    return s3(objects, "print('\\n'.join(o['Key'] for p in s3.get_paginator('list_objects_v2').paginate("
                       f"Bucket='molecule-backups', Prefix='{prefix}') for o in p.get('Contents', [])))").split()


def object_start(objects, key, size=64):
    encoded = s3(objects, "import base64; print(base64.b64encode(s3.get_object(Bucket='molecule-backups', "
                          f"Key='{key}', Range='bytes=0-{size - 1}')['Body'].read()).decode())")
    return base64.b64decode(encoded)


def opened_object(objects, key, whole=False):
    """An object as age decrypts it with the scenario's identity, on the store's host (age is there): its sha256, or all of it."""
    objects.check_output("/opt/moto/bin/python -c %s", S3 + f"s3.download_file('molecule-backups', '{key}', '{OBJECT}')")
    if whole:
        return base64.b64decode(objects.check_output(f"age --decrypt --identity {IDENTITY} {OBJECT} | base64 -w0"))
    return objects.check_output(f"age --decrypt --identity {IDENTITY} {OBJECT} | sha256sum").split()[0]


def offsite_config(db, name, databases, **s3_changes):
    """A copy of the installed config (age and S3 as installed) with its own databases, directories and bucket prefix.

    The directories of an earlier copy of the same name stay.
    """
    config = json.loads(db.check_output("cat /etc/dataaggregator-backup/config.json"))
    directory = f"{SCRATCH}/{name}"
    db.check_output(f"install -d -o postgres -g postgres -m 0750 {directory} {directory}/backups")
    config.update({"backup_dir": f"{directory}/backups", "databases": databases, "state_file": f"{directory}/state.json",
                   "metrics_file": f"{directory}/metrics.prom"})
    config["s3"] = {**config["s3"], "prefix": f"offsite-{name}", **s3_changes}
    put(db, f"{directory}/config.json", json.dumps(config), owner="root", mode="0644")
    return f"{directory}/config.json"


def psql(db, database, sql):
    encoded = base64.b64encode(sql.encode()).decode()
    return db.check_output(f"echo {encoded} | base64 -d | runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -d {database}")


def table_facts(db, database):
    """Every table's row count and the md5 of its rows in order: what a restore must bring back."""
    tables = psql(db, database, "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1").splitlines()
    return {table: psql(db, database, f"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
                                      f"FROM {table} t") for table in tables}


def test_every_uploaded_object_decrypts_to_the_local_file(db, objects):
    # A timer's run: the fault tests' sets (made without upload) go up with its own.
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    for database in DATABASES:
        newest = json.loads(db.check_output(f"{AS_POSTGRES} list {database}"))[0]
        manifest = json.loads(db.file(f"{newest['path']}/manifest.json").content_string)
        for name, entry in manifest["files"].items():
            key = f"db/{database}/{newest['stamp']}/{name}.age"
            assert object_start(objects, key).startswith(b"age-encryption.org/v1"), key
            assert opened_object(objects, key) == entry["sha256"], key


def test_a_dump_above_the_threshold_goes_up_in_parts_and_comes_back_identical(db, objects):
    # About 12 MiB of hex that a dump without compression keeps as it is: three parts of 5 MiB.
    db.run("runuser -u postgres -- dropdb --if-exists bulk")
    db.check_output("runuser -u postgres -- createdb bulk")
    psql(db, "bulk", "CREATE TABLE blobs AS SELECT g AS id, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) AS body "
                     "FROM generate_series(1, 120000) g;")
    config = offsite_config(db, "multipart", [{"name": "bulk", "format": "custom", "compress": "0"}])
    result = db.run(f"{AS_POSTGRES} --config {config} backup")
    assert result.rc == 0, result.stdout + result.stderr
    local = json.loads(db.check_output(f"{AS_POSTGRES} --config {config} list bulk"))[0]
    manifest = json.loads(db.file(f"{local['path']}/manifest.json").content_string)
    dump = manifest["database_entry"]["path"]
    assert manifest["files"][dump]["size"] > 10 * 1024 * 1024, manifest["files"]
    key = f"offsite-multipart/bulk/{local['stamp']}/{dump}.age"
    head = json.loads(s3(objects, f"import json; print(json.dumps(s3.head_object(Bucket='molecule-backups', Key='{key}'), default=str))"))
    # S3 gives an object uploaded in parts the ETag "<md5 of the parts' md5s>-<parts>".
    parts = -(-head["ContentLength"] // (5 * 1024 * 1024))
    assert parts >= 3 and head["ETag"].strip('"').endswith(f"-{parts}"), head
    # Fetched by another host (here: another backup directory), decrypted and checked.
    elsewhere = offsite_config(db, "multipart-elsewhere", [{"name": "bulk"}], prefix="offsite-multipart")
    fetched = json.loads(db.check_output(f"{AS_POSTGRES} --config {elsewhere} fetch bulk --identity {IDENTITY}"))
    assert fetched["backup"] == local["stamp"]
    assert db.file(f"{fetched['path']}/{dump}").sha256sum == manifest["files"][dump]["sha256"]
    db.check_output("runuser -u postgres -- dropdb bulk")


def test_the_manifest_goes_up_encrypted_like_the_data(db, objects):
    newest = json.loads(db.check_output(f"{AS_POSTGRES} list platform"))[0]
    keys = bucket_keys(objects, f"db/platform/{newest['stamp']}/")
    assert f"db/platform/{newest['stamp']}/manifest.json.age" in keys and all(key.endswith(".age") for key in keys), keys
    sealed = object_start(objects, f"db/platform/{newest['stamp']}/manifest.json.age", size=65536)
    # Neither the table names nor the row counts can be read in the bucket.
    assert sealed.startswith(b"age-encryption.org/v1") and b"users" not in sealed and b"rows" not in sealed
    opened = json.loads(opened_object(objects, f"db/platform/{newest['stamp']}/manifest.json.age", whole=True))
    # The local copy may have gained the restore test's date since.
    local = json.loads(db.file(f"{newest['path']}/manifest.json").content_string)
    assert opened["files"] == local["files"] and opened["database_entry"]["tables"] == local["database_entry"]["tables"]


def test_a_set_whose_upload_failed_goes_up_on_the_next_run(db, objects):
    config = offsite_config(db, "retry", [{"name": "analytics"}], endpoint_url="http://objects-debian13:1")
    failed = db.run(f"{AS_POSTGRES} --config {config} backup")
    assert failed.rc == 1 and "analytics: FAILED at step upload" in failed.stdout, failed.stdout + failed.stderr
    stranded = json.loads(db.check_output(f"{AS_POSTGRES} --config {config} list analytics"))
    assert len(stranded) == 1 and stranded[0]["good"]
    assert bucket_keys(objects, "offsite-retry/") == []
    # The store is back: the next run uploads its own set and the stranded one.
    reachable = offsite_config(db, "retry", [{"name": "analytics"}])
    result = db.run(f"{AS_POSTGRES} --config {reachable} backup")
    assert result.rc == 0, result.stdout + result.stderr
    assert f"{stranded[0]['stamp']} uploaded to s3://molecule-backups/offsite-retry/analytics/" in result.stdout
    assert "(its earlier upload had not completed)" in result.stdout
    keys = bucket_keys(objects, "offsite-retry/analytics/")
    stamps = {key.split("/")[2] for key in keys if key.endswith("/manifest.json.age")}
    assert len(stamps) == 2 and stranded[0]["stamp"] in stamps, keys


def test_with_the_database_and_every_local_backup_gone_the_bucket_restores_both(db):
    before = {database: table_facts(db, database) for database in DATABASES}
    succeeded, journal = start_unit(db, "dataaggregator-backup.service")
    assert succeeded, journal
    newest = {database: json.loads(db.check_output(f"{AS_POSTGRES} list {database}"))[0]["stamp"] for database in DATABASES}
    for database in DATABASES:
        db.check_output(f"runuser -u postgres -- dropdb --force {database}")
    db.check_output(f"rm -rf {BACKUPS}/*")
    outputs = {}
    for database in DATABASES:
        rc, output = run_playbook("-vvv", "--diff", "-e", "restore_from=s3", "-e", f"restore_database={database}",
                                  playbook="../../playbooks/restore.yml")
        assert rc == 0, output
        outputs[f"the restore of {database} from the bucket at -vvv --diff"] = output
        assert f"(backup {newest[database]} from the bucket)" in " ".join(output.split())
        assert table_facts(db, database) == before[database], database
    # The downloaded sets are local sets again, good ones; the identity left with the play.
    for database in DATABASES:
        assert [found["stamp"] for found in json.loads(db.check_output(f"{AS_POSTGRES} list {database} --full"))
                if found["good"]] == [newest[database]]
    assert not db.check_output("find /run/dataaggregator-backup -name '*.age-identity'")
    secrets = secret_scan.needles({"the age identity (vault_backup_age_identity)": age_identity()})
    findings, places = secret_scan.scan([DB], secrets, outputs)
    assert not findings, secret_scan.report(findings, secrets, places)


def test_a_restore_from_the_bucket_without_the_identity_fails_before_touching_the_database(db):
    before = table_facts(db, "platform")
    # Nothing local to fall back on: the set must come from the bucket.
    db.check_output(f"rm -rf {BACKUPS}/platform/*")
    rc, output = run_playbook("-e", "restore_from=s3", "-e", "restore_database=platform", "-e", "restore_target=platform_copy",
                              "-e", "vault_backup_age_identity=", playbook="../../playbooks/restore.yml")
    assert rc != 0 and "is encrypted with age: give the identity" in " ".join(output.split()), output
    assert "platform_copy" not in db.check_output("runuser -u postgres -- psql -X -A -t -l")
    assert table_facts(db, "platform") == before
