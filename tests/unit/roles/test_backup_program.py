"""The backup program's own logic: which sets are good, what is pruned, metrics, the lock.

The program is exercised against a real PostgreSQL in the backup Molecule
scenario; these tests cover the decisions that need no database.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("dataaggregator_backup", ROOT / "roles/backup/files/dataaggregator_backup.py")
backup = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(backup)

DAY = 86400
NOW = backup.time_of("20261128T020000Z")


def make_set(root, database, stamp, files=None, verified=True, manifest=True):
    path = root / database / stamp
    path.mkdir(parents=True)
    files = files or {"globals.sql": b"-- roles\n", f"{database}.dump": b"PGDMP" + b"x" * 100}
    for name, content in files.items():
        (path / name).write_bytes(content)
    if manifest:
        entries = {name: {"size": len(content), "sha256": backup.sha256_of(str(path / name))} for name, content in files.items()}
        (path / backup.MANIFEST).write_text(json.dumps({"files": entries, "verified": verified, "stamp": stamp}))
    return path


def config(tmp_path, **extra):
    return backup.Config({"backup_dir": str(tmp_path), "databases": [{"name": "app"}], **extra})


def stamp_days_ago(days):
    return backup.stamp_of(NOW - days * DAY)


def test_a_complete_set_is_good_and_sorted_newest_first(tmp_path):
    make_set(tmp_path, "app", stamp_days_ago(2))
    make_set(tmp_path, "app", stamp_days_ago(1))
    sets = backup.backup_sets(config(tmp_path), "app", full=True)
    assert [found["stamp"] for found in sets] == [stamp_days_ago(1), stamp_days_ago(2)]
    assert all(found["good"] for found in sets)


def test_truncated_missing_unverified_partial_and_marked_sets_are_not_good(tmp_path):
    truncated = make_set(tmp_path, "app", stamp_days_ago(1))
    with open(truncated / "app.dump", "r+b") as dump:
        dump.truncate(10)
    missing = make_set(tmp_path, "app", stamp_days_ago(2))
    (missing / "globals.sql").unlink()
    make_set(tmp_path, "app", stamp_days_ago(3), verified=False)
    make_set(tmp_path, "app", stamp_days_ago(4), manifest=False)
    (tmp_path / "app" / (backup.PARTIAL_PREFIX + stamp_days_ago(5))).mkdir()
    marked = make_set(tmp_path, "app", stamp_days_ago(6))
    (marked / backup.FAILED_MARKER).write_text("restore test failed\n")
    sets = {found["stamp"]: found for found in backup.backup_sets(config(tmp_path), "app")}
    assert not any(found["good"] for found in sets.values())
    assert sets[stamp_days_ago(1)]["problems"] == ["app.dump has 10 bytes, the manifest says 105"]
    assert sets[stamp_days_ago(2)]["problems"] == ["globals.sql is missing"]
    assert sets[stamp_days_ago(3)]["problems"] == ["never verified"]
    assert sets[stamp_days_ago(4)]["problems"] == ["no manifest (incomplete)"]
    assert sets[stamp_days_ago(5)]["problems"] == ["no manifest (incomplete)"]
    assert sets[stamp_days_ago(6)]["problems"] == ["marked failed: restore test failed"]


def test_a_changed_byte_is_found_by_the_full_check_only(tmp_path):
    path = make_set(tmp_path, "app", stamp_days_ago(1))
    data = bytearray((path / "app.dump").read_bytes())
    data[50] ^= 0xFF
    (path / "app.dump").write_bytes(bytes(data))
    assert backup.backup_sets(config(tmp_path), "app")[0]["good"]
    assert backup.backup_sets(config(tmp_path), "app", full=True)[0]["problems"] == ["app.dump does not match its sha256"]


def plan(sets, retention_days=30, keep_min=3):
    return sorted(found["stamp"] for found in backup.prune_plan(sets, retention_days, keep_min, NOW))


def fake(days, good=True):
    return {"stamp": stamp_days_ago(days), "time": NOW - days * DAY, "path": f"/b/{days}", "good": good}


def test_prune_deletes_by_age_and_keeps_the_window():
    sets = [fake(1), fake(10), fake(29), fake(31), fake(45)]
    assert plan(sets) == sorted([stamp_days_ago(31), stamp_days_ago(45)])


def test_prune_keeps_the_newest_good_backups_even_when_all_are_old():
    sets = [fake(40), fake(50), fake(60), fake(70)]
    assert plan(sets, keep_min=2) == sorted([stamp_days_ago(60), stamp_days_ago(70)])


def test_bad_sets_never_stand_in_for_good_ones():
    # The two newest are bad: the two newest good ones are kept in their place.
    sets = [fake(35, good=False), fake(36, good=False), fake(40), fake(50), fake(60)]
    assert plan(sets, keep_min=2) == sorted([stamp_days_ago(35), stamp_days_ago(36), stamp_days_ago(60)])


def test_bad_sets_inside_the_window_stay_for_inspection():
    assert plan([fake(1, good=False), fake(2)], keep_min=1) == []


def test_metrics_follow_the_contract_names_and_escape_labels():
    text = backup.render_metrics({
        'we"ird': {"last_run_success": 0, "last_run_timestamp_seconds": 5.0},
        "app": {"last_run_success": 1, "last_success_size_bytes": 1234},
    })
    assert '# TYPE dataaggregator_backup_last_run_success gauge' in text
    assert 'dataaggregator_backup_last_run_success{database="app"} 1' in text
    assert 'dataaggregator_backup_last_run_success{database="we\\"ird"} 0' in text
    assert 'dataaggregator_backup_last_success_size_bytes{database="app"} 1234' in text
    assert "restore_test" not in text


def test_every_metric_the_program_writes_is_in_the_contract():
    contract = (ROOT / "docs" / "metrics.md").read_text()
    for metric, _help in backup.METRICS:
        assert f"`{backup.METRIC_PREFIX}{metric}`" in contract, metric


def test_a_second_run_is_refused_by_the_lock(tmp_path):
    lock = str(tmp_path / "run" / "backup.lock")
    with backup.Lock(lock):
        with pytest.raises(backup.BackupError, match="another backup run holds") as refused:
            with backup.Lock(lock):
                pass
        assert refused.value.step == "lock"
    with backup.Lock(lock):
        pass


def test_a_run_in_the_same_second_as_the_last_set_waits_for_the_next_second(tmp_path):
    started = backup.now()
    (tmp_path / backup.stamp_of(started)).mkdir()
    later, stamp = backup.unused_stamp(str(tmp_path), started, "app")
    assert stamp != backup.stamp_of(started) and not (tmp_path / stamp).exists()
    assert later > started and backup.stamp_of(later) == stamp


def test_a_second_that_never_ends_fails_after_a_bounded_wait(tmp_path, monkeypatch):
    # A clock that stands still (or was set back onto a used second) must not hold the run forever.
    frozen = backup.now()
    monkeypatch.setattr(backup, "now", lambda: frozen)
    naps = []
    monkeypatch.setattr(backup.time, "sleep", naps.append)
    (tmp_path / backup.stamp_of(frozen)).mkdir()
    with pytest.raises(backup.BackupError, match="already exists") as refused:
        backup.unused_stamp(str(tmp_path), frozen, "app")
    assert refused.value.step == "dump" and refused.value.database == "app"
    assert 0 < sum(naps) <= 5


def test_row_counts_and_checksums_come_from_one_query_function():
    answers = {
        backup.TABLES_SQL: ["public.users", 's."Odd Name"', ""],
        "SELECT count(*) FROM public.users;": ["1000"],
        'SELECT count(*) FROM s."Odd Name";': ["2"],
    }

    def query(sql):
        if sql.startswith("SELECT md5("):
            assert "FROM public.users t" in sql
            return ["abc"]
        return answers[sql]

    facts = backup.table_facts(query, ["users"])
    assert facts == {"public.users": {"rows": 1000, "md5": "abc"}, 's."Odd Name"': {"rows": 2}}
    with pytest.raises(backup.BackupError, match="table missing to checksum does not exist"):
        backup.table_facts(query, ["missing"])


def test_secrets_come_from_the_secrets_file_and_a_password_disables_peer_auth(tmp_path):
    (tmp_path / "secrets.json").write_text(json.dumps({"PGPASSWORD": "vault-pw"}))
    (tmp_path / "config.json").write_text(json.dumps({
        "backup_dir": str(tmp_path), "databases": [], "secrets_file": str(tmp_path / "secrets.json"),
        "connection": {"host": "db.internal", "port": 5433, "user": "backup"}}))
    loaded = backup.Config.load(str(tmp_path / "config.json"))
    env = loaded.pg_env()
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGPORT"], env["PGUSER"]) == ("vault-pw", "db.internal", "5433", "backup")
    assert backup.Config({"backup_dir": "/x", "databases": []}).pg_env().get("PGPASSWORD") == os.environ.get("PGPASSWORD")


def test_databases_get_the_defaults_of_their_format():
    loaded = backup.Config({"backup_dir": "/b", "defaults": {"format": "custom", "jobs": 4,
                                                             "compress": {"custom": "zstd:3", "directory": "1"}},
                            "databases": [{"name": "small"}, {"name": "big", "format": "directory", "jobs": 8},
                                          {"name": "gz", "compress": "6", "jobs": None}]})
    assert loaded.databases == [
        {"name": "small", "format": "custom", "jobs": 4, "compress": "zstd:3"},
        {"name": "big", "format": "directory", "jobs": 8, "compress": "1"},
        {"name": "gz", "format": "custom", "jobs": 4, "compress": "6"},
    ]
    assert backup.zstd_level(loaded.databases[0]) == 3
    assert backup.zstd_level(loaded.databases[1]) is None
    assert backup.zstd_level(loaded.databases[2]) is None


def test_a_set_that_no_longer_matches_is_marked_failed_when_checked_in_full(tmp_path):
    path = make_set(tmp_path, "app", stamp_days_ago(1))
    data = bytearray((path / "app.dump").read_bytes())
    data[7] ^= 0x01
    (path / "app.dump").write_bytes(bytes(data))
    (found,) = backup.backup_sets(config(tmp_path), "app")
    with pytest.raises(backup.BackupError, match="no longer matches its manifest: app.dump does not match its sha256"):
        backup.checked_in_full(found)
    assert (path / backup.FAILED_MARKER).exists()
    assert not backup.backup_sets(config(tmp_path), "app")[0]["good"]


# pgbackrest verify --output=text --verbose, as pgBackRest 2.55 printed it
# for a valid set and for a set that references a damaged file.
VERIFY_VALID = """stanza: main
status: ok
  archiveId: 17-1, total WAL checked: 1, total valid WAL: 1
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261128-055457F, status: valid, total files checked: 1270, total valid files: 1270
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
"""
VERIFY_DAMAGED = """stanza: main
status: error
  archiveId: 17-1, total WAL checked: 2, total valid WAL: 2
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261128-055359F_20261128-055456D, status: invalid, total files checked: 1270, total valid files: 1269
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
"""


def test_a_valid_pgbackrest_set_has_no_problem():
    assert backup.verify_problem(VERIFY_VALID, "20261128-055457F") == ""


def test_a_pgbackrest_set_with_a_damaged_file_is_reported_with_the_count():
    problem = backup.verify_problem(VERIFY_DAMAGED, "20261128-055359F_20261128-055456D")
    assert problem == ("backup 20261128-055359F_20261128-055456D is invalid: "
                       "missing: 0, checksum invalid: 1, size invalid: 0, other: 0")


def test_a_pgbackrest_set_missing_from_the_report_is_not_valid():
    # pgbackrest verify exits 0 whatever it finds: silence is not success.
    assert backup.verify_problem("", "20261128-055457F") == "backup 20261128-055457F is not checked: see pgbackrest verify"
    assert "not checked" in backup.verify_problem(VERIFY_VALID, "20261128-060000F")


def test_a_bad_wal_makes_a_valid_looking_set_fail():
    report = VERIFY_VALID.replace("status: ok", "status: error").replace("total valid WAL: 1\n    missing: 0", "total valid WAL: 0\n    missing: 1")
    assert backup.verify_problem(report, "20261128-055457F").startswith("backup 20261128-055457F is valid: missing: 1")


def pgbackrest_backup(label, kind, stop, error=False):
    return {"label": label, "type": kind, "timestamp": {"start": stop - 60, "stop": stop}, "error": error}


@pytest.mark.parametrize("history, force_full, expected", [
    ([], False, "full"),
    ([pgbackrest_backup("F1", "full", NOW - 2 * DAY)], False, "diff"),
    ([pgbackrest_backup("F1", "full", NOW - 8 * DAY), pgbackrest_backup("D1", "diff", NOW - DAY)], False, "full"),
    ([pgbackrest_backup("F1", "full", NOW - 2 * DAY, error=True)], False, "full"),
    ([pgbackrest_backup("F1", "full", NOW - 2 * DAY)], True, "full"),
])
def test_pgbackrest_takes_a_full_backup_weekly_and_differential_ones_between(tmp_path, history, force_full, expected):
    tool = backup.PgBackRest(config(tmp_path, method="pgbackrest", pgbackrest={"full_every_days": 7}))
    assert tool.next_type(history, NOW, force_full) == expected


def test_the_state_that_asks_for_a_new_pgbackrest_chain_is_not_published_as_a_metric():
    page = backup.render_metrics({"app": {backup.FULL_NEEDED: True, "last_run_success": 0}})
    assert backup.FULL_NEEDED not in page
    assert 'dataaggregator_backup_last_run_success{database="app"} 0' in page
