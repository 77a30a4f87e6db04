"""The backup program against a real S3-compatible server (moto's, in a thread):
multipart uploads, the retry of sets whose upload failed, remote retention, and
the download of a set onto a host that lost its own (fetch, restore --source s3).

Encryption needs the age binary; the backup Molecule scenario covers it with a
real key pair, and these tests cover what an encrypted set looks like in the bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

from conftest import ROOT
from test_backup_program import DAY, backup

PROGRAM = ROOT / "roles/backup/files/dataaggregator_backup.py"

BUCKET = "offsite"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def endpoint():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint, request):
    """An empty bucket of the test's own, and a client for it."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test-key", aws_secret_access_key="test-secret")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def settings(directory, endpoint, **s3):
    return backup.Config({
        "backup_dir": str(directory), "databases": [{"name": "app"}], "retention_days": 7, "keep_min": 2,
        "s3": {"bucket": BUCKET, "endpoint_url": endpoint, "region": "us-east-1", "prefix": "db", **s3},
    }, {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"})


def sealed_set(directory, stamp, files):
    """A verified set as backup_database leaves it: the files, then the manifest."""
    path = directory / "app" / stamp
    path.mkdir(parents=True)
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(content)
    backup.seal(str(path), {"database": "app", "stamp": stamp, "verified": True, "database_entry": {"path": "app.dump"}}, 0o600)
    return path


def stamp_ago(days):
    return backup.stamp_of(backup.now() - days * DAY)


def keys(client, prefix="db/app/"):
    return sorted(item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
                  for item in page.get("Contents", []))


def test_a_file_above_the_threshold_goes_up_in_parts_and_comes_back_identical(tmp_path, endpoint, s3):
    big = os.urandom(12 * MIB + 12345)
    stamp = stamp_ago(0)
    sealed_set(tmp_path / "host", stamp, {"globals.sql": b"-- roles\n", "app.dump": big})
    config = settings(tmp_path / "host", endpoint, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    assert backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now()) == [stamp]
    # S3 gives a multipart object the ETag "<md5 of the parts' md5s>-<parts>".
    assert s3.head_object(Bucket=BUCKET, Key=f"db/app/{stamp}/app.dump")["ETag"].strip('"').endswith("-3")
    assert "-" not in s3.head_object(Bucket=BUCKET, Key=f"db/app/{stamp}/globals.sql")["ETag"]
    # Another host, with nothing of its own, gets the same bytes back.
    elsewhere = settings(tmp_path / "new-host", endpoint, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    found = backup.fetch_set(elsewhere, "app", "latest", "")
    assert found["good"] and found["stamp"] == stamp
    assert hashlib.sha256((tmp_path / "new-host/app" / stamp / "app.dump").read_bytes()).digest() == hashlib.sha256(big).digest()
    assert oct((tmp_path / "new-host/app" / stamp / "app.dump").stat().st_mode & 0o777) == "0o600"


def test_a_threshold_below_the_smallest_part_is_refused(tmp_path, endpoint):
    with pytest.raises(backup.ConfigError, match="at least 5 MiB"):
        settings(tmp_path, endpoint, multipart_chunksize=MIB)


def test_a_set_whose_upload_failed_goes_up_on_the_next_run(tmp_path, endpoint, s3):
    earlier, newer = stamp_ago(1), stamp_ago(0)
    sealed_set(tmp_path, earlier, {"globals.sql": b"-- roles\n", "app.dump": b"PGDMP earlier"})
    unreachable = settings(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(backup.s3_errors()):
        backup.upload_missing(unreachable, "app", backup.backup_sets(unreachable, "app"), backup.now())
    assert keys(s3) == []
    sealed_set(tmp_path, newer, {"globals.sql": b"-- roles\n", "app.dump": b"PGDMP newer"})
    config = settings(tmp_path, endpoint)
    assert backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now()) == [newer, earlier]
    assert f"db/app/{earlier}/manifest.json" in keys(s3)
    # Nothing is sent twice.
    assert backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now()) == []


def test_a_half_uploaded_set_is_completed_but_an_old_one_is_left_to_retention(tmp_path, endpoint, s3):
    half, old = stamp_ago(2), stamp_ago(30)
    sealed_set(tmp_path, old, {"app.dump": b"PGDMP old"})
    sealed_set(tmp_path, half, {"app.dump": b"PGDMP half"})
    # The data reached the bucket, the manifest did not: the set is not complete there.
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{half}/app.dump", Body=b"PGDMP half")
    config = settings(tmp_path, endpoint)
    assert backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now()) == [half]
    assert f"db/app/{half}/manifest.json" in keys(s3) and not any(old in key for key in keys(s3))


def test_remote_retention_counts_encrypted_manifests_and_never_partial_sets(tmp_path, endpoint, s3):
    complete = [stamp_ago(days) for days in (10, 20, 30)]
    partial = stamp_ago(40)
    for stamp in complete:
        s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/app.dump.age", Body=b"age")
        s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/manifest.json.age", Body=b"age")
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{partial}/app.dump.age", Body=b"age")
    backup.prune_remote(settings(tmp_path, endpoint), "app", backup.now())
    # keep_min 2: the two newest complete sets stay; the third and the partial one go.
    assert keys(s3) == sorted(f"db/app/{stamp}/{name}" for stamp in complete[:2] for name in ("app.dump.age", "manifest.json.age"))


def test_fetch_skips_a_damaged_newest_set_for_latest_and_refuses_it_by_name(tmp_path, endpoint, s3, capsys):
    good, damaged = stamp_ago(1), stamp_ago(0)
    sealed_set(tmp_path / "host", good, {"app.dump": b"PGDMP good"})
    sealed_set(tmp_path / "host", damaged, {"app.dump": b"PGDMP damaged"})
    config = settings(tmp_path / "host", endpoint)
    backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now())
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{damaged}/app.dump", Body=b"PGDMP changed")
    elsewhere = settings(tmp_path / "new-host", endpoint)
    with pytest.raises(backup.BackupError, match=f"app.dump of {damaged} from the bucket does not match its manifest"):
        backup.fetch_set(elsewhere, "app", damaged, "")
    assert not (tmp_path / "new-host/app" / damaged).exists()
    assert not (tmp_path / "new-host/app" / (backup.PARTIAL_PREFIX + damaged)).exists()
    assert backup.fetch_set(elsewhere, "app", "latest", "")["stamp"] == good
    assert f"{damaged} from the bucket is not usable" in capsys.readouterr().out
    assert [found["stamp"] for found in backup.backup_sets(elsewhere, "app")] == [good]


def test_fetch_of_an_encrypted_set_without_the_identity_says_what_is_missing(tmp_path, endpoint, s3):
    stamp = stamp_ago(0)
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/app.dump.age", Body=b"age")
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/manifest.json.age", Body=b"age")
    with pytest.raises(backup.BackupError, match="encrypted with age: give the identity"):
        backup.fetch_set(settings(tmp_path, endpoint), "app", stamp, "")
    assert os.listdir(tmp_path / "app") == []


def test_fetch_from_an_empty_bucket_or_none_fails_in_one_line(tmp_path, endpoint, s3):
    with pytest.raises(backup.BackupError, match=r"no complete backup of app in s3://offsite/db/app/"):
        backup.fetch_set(settings(tmp_path, endpoint), "app", "latest", "")
    with pytest.raises(backup.BackupError, match="no bucket configured"):
        backup.fetch_set(backup.Config({"backup_dir": str(tmp_path), "databases": [{"name": "app"}]}), "app", "latest", "")


def test_list_shows_the_buckets_sets_complete_or_not(tmp_path, endpoint, s3):
    complete, partial = stamp_ago(1), stamp_ago(0)
    sealed_set(tmp_path, complete, {"app.dump": b"PGDMP"})
    config = settings(tmp_path, endpoint)
    backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now())
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{partial}/app.dump", Body=b"PGDMP")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"backup_dir": str(tmp_path), "databases": [{"name": "app"}], "secrets_file": str(tmp_path / "s.json"),
                                "s3": config.s3}))
    (tmp_path / "s.json").write_text(json.dumps({"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}))
    # In a process of its own: main() sets the umask and may switch users.
    result = subprocess.run([sys.executable, str(PROGRAM), "--config", str(path), "list", "app", "--source", "s3"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(found["stamp"], found["complete"], found["encrypted"]) for found in listed] == [(partial, False, False), (complete, True, False)]


@pytest.mark.parametrize("name", ["../../escaped", "/etc/escaped", "dump/../../escaped", "./app.dump"])
def test_a_manifest_that_names_a_file_outside_the_set_is_refused(tmp_path, endpoint, s3, name):
    stamp = stamp_ago(0)
    manifest = {"database": "app", "stamp": stamp, "verified": True, "files": {name: {"size": 1, "sha256": "0" * 64}},
                "database_entry": {"path": name}}
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/manifest.json", Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/{name.lstrip('/')}", Body=b"x")
    with pytest.raises(backup.BackupError, match="outside the set"):
        backup.fetch_set(settings(tmp_path / "host", endpoint), "app", stamp, "")
    assert not (tmp_path / "escaped").exists() and not list((tmp_path / "host" / "app").iterdir())


def test_a_manifest_whose_dump_is_not_among_its_files_is_refused(tmp_path, endpoint, s3):
    stamp = stamp_ago(0)
    manifest = {"database": "app", "stamp": stamp, "verified": True, "files": {"app.dump": {"size": 1, "sha256": "0" * 64}},
                "database_entry": {"path": "../../../var/lib/postgresql/other.dump"}}
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{stamp}/manifest.json", Body=json.dumps(manifest).encode())
    with pytest.raises(backup.BackupError, match="names a dump, '../../../var/lib/postgresql/other.dump', that is not among"):
        backup.fetch_set(settings(tmp_path, endpoint), "app", stamp, "")


@pytest.mark.parametrize("manifest", [[], {"database": "app", "stamp": "S", "files": {"app.dump": "zz"}, "database_entry": {"path": "app.dump"}},
                                      {"database": "app", "stamp": "S", "files": {}, "database_entry": "app.dump"}])
def test_a_malformed_manifest_in_the_bucket_fails_in_one_line_and_an_older_set_is_used(tmp_path, endpoint, s3, manifest):
    good, broken = stamp_ago(1), stamp_ago(0)
    sealed_set(tmp_path / "host", good, {"app.dump": b"PGDMP good"})
    config = settings(tmp_path / "host", endpoint)
    backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now())
    body = json.dumps(manifest).replace('"S"', f'"{broken}"').encode()
    s3.put_object(Bucket=BUCKET, Key=f"db/app/{broken}/manifest.json", Body=body)
    elsewhere = settings(tmp_path / "new-host", endpoint)
    with pytest.raises(backup.BackupError, match=f"the manifest of {broken} in the bucket is not app's manifest"):
        backup.fetch_set(elsewhere, "app", broken, "")
    assert backup.fetch_set(elsewhere, "app", "latest", "")["stamp"] == good


def test_a_damaged_copy_on_the_host_is_replaced_by_the_buckets(tmp_path, endpoint, s3):
    stamp = stamp_ago(0)
    path = sealed_set(tmp_path, stamp, {"app.dump": b"PGDMP original"})
    config = settings(tmp_path, endpoint)
    backup.upload_missing(config, "app", backup.backup_sets(config, "app"), backup.now())
    (path / "app.dump").write_bytes(b"PGDMP damaged")
    found = backup.fetch_set(config, "app", "latest", "")
    assert found["stamp"] == stamp and found["good"] and (path / "app.dump").read_bytes() == b"PGDMP original"


def test_listing_the_bucket_of_a_host_without_one_fails_in_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"backup_dir": str(tmp_path), "databases": [{"name": "app"}]}))
    result = subprocess.run([sys.executable, str(PROGRAM), "--config", str(path), "list", "app", "--source", "s3"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "this host has no bucket configured (backup_s3_bucket)" in result.stdout + result.stderr
