# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups that are proven to restore.

Installed by the backup role as /usr/local/sbin/dataaggregator-backup and run
by its systemd timers (or cron). Commands:

  backup          dump every configured database, verify, upload, prune
  restore-test    restore each database's newest good backup into a scratch
                  database and compare it with the counts taken at dump time
  verify          re-check the checksums and sizes of every local backup
  list            the backups of a database, newest first, as JSON
  restore         restore a backup (or a legacy .sql.gz dump) into a database
  counts          the row count of every table of a database

With the pgbackrest method the backups are pgBackRest's: full ones, and
differential ones in between, of the whole cluster, verified in the
repository before anything expires; the restore test restores the newest one
into a scratch cluster on its own port (see the pgBackRest section).

Each backup is a directory <backup_dir>/<database>/<UTC stamp>/ that holds the
globals (roles), the database in an archive format, and manifest.json. The
manifest is written last, after every file is fsynced and read back in full;
only a directory with a manifest is a backup. A set whose files no longer
match their manifest (or that a check marked FAILED) is never counted as
good: not restored by default, not kept in place of a good one, not used to
decide what to prune.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MANIFEST = "manifest.json"
FAILED_MARKER = "FAILED"
PARTIAL_PREFIX = ".partial-"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EXIT_LOCKED = 75
EXIT_CONFIG = 78
POSTGRES_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|min|h|d)?$")
DEFAULT_SCRATCH_PREFIX = "da_restore_test_"
# A scratch database name the program can always quote-free pass to createdb and dropdb.
SCRATCH_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
METRIC_PREFIX = "dataaggregator_backup_"
MIB = 1024 * 1024
AGE_SUFFIX = ".age"


class ConfigError(Exception):
    """A config or an invocation the program refuses before it does anything; one line says why."""


class Stopped(BaseException):
    """systemd (a timeout, a stop) or an operator ended the run: no database is started after it."""


def stop(signum, _frame):
    raise Stopped(signal.Signals(signum).name)


class BackupError(Exception):
    """A failed step: what failed, for the log, the notification and the metrics."""

    def __init__(self, step: str, message: str, database: str = ""):
        super().__init__(message)
        self.step = step
        self.database = database


# -- small helpers ---------------------------------------------------------

def now() -> float:
    return time.time()


def stamp_of(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime(STAMP_FORMAT)


def time_of(stamp: str) -> float:
    return datetime.datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc).timestamp()


# Log lines go to stdout, but to stderr while a command whose stdout is JSON runs.
LOG_TO_STDERR = []


def log(message: str) -> None:
    print(message, file=sys.stderr if LOG_TO_STDERR else sys.stdout, flush=True)


def fsync_path(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_below(root: str) -> list:
    """Every regular file below root, as paths relative to it, sorted."""
    found = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)


def write_atomically(path: str, text: str, mode: int = 0o640) -> None:
    """Write to a temporary name in the same directory, fsync, rename, fsync the directory."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    fsync_path(os.path.dirname(path) or ".")


ERROR_LINE = re.compile(r"\b(ERROR|FATAL|PANIC|error):")


def last_line(stderr) -> str:
    """The last error a program wrote to its stderr file, else its last line (the tail only: it may hold megabytes).

    psql follows an error with the statement and a caret under it; the error is what says why.
    """
    stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 4096))
    lines = [line.strip() for line in stderr.read().decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.search(line)]
    return (errors or lines or ["no message"])[-1]


def run(step: str, argv: list, database: str = "", env: dict | None = None, stdout=None, stdin=None,
        input_text: str | None = None) -> str:
    """Run a PostgreSQL client program; a failure raises BackupError naming the step.

    stderr goes to an unnamed temporary file, so a program that writes a lot
    there never blocks on a full pipe.
    """
    with tempfile.TemporaryFile() as stderr:
        completed = subprocess.run(argv, stdout=stdout if stdout is not None else subprocess.PIPE,
                                   stderr=stderr, stdin=stdin, env=env, check=False,
                                   input=input_text.encode() if input_text is not None else None)
        if completed.returncode != 0:
            raise BackupError(step, f"{os.path.basename(argv[0])} exited {completed.returncode}: {last_line(stderr)}",
                              database)
    return completed.stdout.decode(errors="replace") if stdout is None else ""


def run_pipe(step: str, first: list, second: list, database: str = "", env: dict | None = None,
             stdout=None) -> None:
    """Run first | second; a failure of either raises BackupError naming the step and the program.

    Both stderr streams go to temporary files: read after the fact from a
    pipe, a producer's stderr beyond the pipe's 64 KiB would block it, and
    with it the whole pipeline.
    """
    with tempfile.TemporaryFile() as producer_error, tempfile.TemporaryFile() as consumer_error:
        with subprocess.Popen(first, stdout=subprocess.PIPE, stderr=producer_error, env=env) as producer, \
                subprocess.Popen(second, stdin=producer.stdout,
                                 stdout=stdout if stdout is not None else subprocess.DEVNULL,
                                 stderr=consumer_error, env=env) as consumer:
            producer.stdout.close()
            try:
                consumer.wait()
                producer.wait()
            except BaseException:
                # Stopped (or interrupted): neither child may outlive the run, nor block the exit waiting for it.
                producer.kill()
                consumer.kill()
                raise
        for program, process, error in ((first[0], producer, producer_error), (second[0], consumer, consumer_error)):
            if process.returncode != 0:
                raise BackupError(step, f"{os.path.basename(program)} exited {process.returncode}: {last_line(error)}",
                                  database)


ZSTD = re.compile(r"^zstd(?::([0-9]+))?$")


def zstd_level(database: dict) -> int | None:
    """The zstd level of a custom-format dump that is compressed as a stream, or None."""
    match = ZSTD.match(str(database.get("compress", "")))
    if database.get("format", "custom") != "custom" or not match:
        return None
    return int(match.group(1) or 3)


# -- configuration ---------------------------------------------------------

class Config:
    """The role-written JSON config, and the secrets beside it (a file only the backup user reads)."""

    def __init__(self, data: dict, secrets: dict | None = None):
        self.secrets = secrets or {}
        self.backup_dir = data["backup_dir"]
        defaults = data.get("defaults", {})
        self.databases = [self.with_defaults(database, defaults) for database in data["databases"]]
        self.host_label = data.get("host_label") or socket.gethostname()
        self.bin_dir = data.get("pg_bin_dir", "")
        self.connection = data.get("connection", {})
        self.retention_days = float(data.get("retention_days", 30))
        self.keep_min = int(data.get("keep_min", 3))
        self.lock_file = data.get("lock_file", "/run/dataaggregator-backup/lock")
        self.state_file = data.get("state_file", "/var/lib/dataaggregator-backup/state.json")
        self.metrics_file = data.get("metrics_file", "")
        self.notify = data.get("notify", {})
        self.s3 = data.get("s3", {})
        # Objects above the threshold go up (and come down) in parts of the chunk size:
        # one PUT is limited to 5 GiB, and a part to at least 5 MiB.
        self.multipart_threshold = int(self.s3.get("multipart_threshold", 64 * MIB))
        self.multipart_chunksize = int(self.s3.get("multipart_chunksize", 64 * MIB))
        self.encryption = data.get("encryption", {})
        # "dump" (pg_dump archives) or "pgbackrest" (physical backups and WAL archiving).
        self.method = data.get("method", "dump")
        self.pgbackrest = data.get("pgbackrest", {})
        # Dumps hold every row and the roles' password hashes.
        self.file_mode = int(str(data.get("file_mode", "0600")), 8)
        # Who runs it: root switches to this user, anyone else is refused.
        self.user = data.get("user", "")
        # How long pg_dump and the row counts wait for a table someone else has locked.
        self.lock_wait_timeout = str(data.get("lock_wait_timeout", "10min"))
        self.validate()

    def validate(self) -> None:
        """What the role's preflight checks too, again here: the config file can be edited by hand."""
        if self.keep_min < 1:
            raise ConfigError(f"keep_min must be at least 1, so the newest good backup is never pruned (got {self.keep_min})")
        if self.retention_days < 1:
            raise ConfigError(f"retention_days must be at least 1 (got {self.retention_days:g})")
        if not POSTGRES_DURATION.match(self.lock_wait_timeout):
            raise ConfigError(f"lock_wait_timeout must be a PostgreSQL duration such as 10min (got {self.lock_wait_timeout!r})")
        if self.multipart_chunksize < 5 * MIB or self.multipart_threshold < 5 * MIB:
            raise ConfigError("s3 multipart_threshold and multipart_chunksize must be at least 5 MiB (S3's smallest part)")
        names = {database["name"] for database in self.databases}
        for database in self.databases:
            prefix = database.get("scratch_prefix", DEFAULT_SCRATCH_PREFIX)
            if not SCRATCH_PREFIX.match(str(prefix)):
                raise ConfigError(f"{database['name']}: scratch_prefix must be 1 to 40 lower-case letters, digits or "
                                  f"underscores, starting with a letter or an underscore (got {prefix!r})")
            if scratch_name(database) in names:
                raise ConfigError(f"{database['name']}: the restore test's scratch database {scratch_name(database)} "
                                  "is a configured database; choose another scratch_prefix")

    @staticmethod
    def with_defaults(database: dict, defaults: dict) -> dict:
        """A database's settings, with the defaults for what it leaves out (compression by format)."""
        complete = {key: value for key, value in database.items() if value is not None}
        complete.setdefault("format", defaults.get("format", "custom"))
        complete.setdefault("jobs", int(defaults.get("jobs", 2)))
        complete.setdefault("compress", (defaults.get("compress") or {}).get(
            complete["format"], "zstd:3" if complete["format"] == "custom" else "1"))
        return complete

    @classmethod
    def load(cls, path: str) -> "Config":
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        secrets = {}
        if data.get("secrets_file") and os.path.exists(data["secrets_file"]):
            with open(data["secrets_file"], encoding="utf-8") as handle:
                secrets = json.load(handle)
        return cls(data, secrets)

    def secret(self, name: str) -> str:
        """A secret from the secrets file, else from the environment."""
        return str(self.secrets.get(name) or os.environ.get(name, ""))

    def program(self, name: str) -> str:
        return os.path.join(self.bin_dir, name) if self.bin_dir else name

    def pg_env(self) -> dict:
        env = dict(os.environ)
        for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER")):
            if self.connection.get(key):
                env[variable] = str(self.connection[key])
        # Without a password the client uses peer authentication as the backup user.
        if self.secret("PGPASSWORD"):
            env["PGPASSWORD"] = self.secret("PGPASSWORD")
        return env


def scratch_name(database: dict) -> str:
    """The restore test's scratch database for a configured database."""
    return f"{database.get('scratch_prefix', DEFAULT_SCRATCH_PREFIX)}{database['name']}"[:63]


def run_as(user: str) -> None:
    """Become the backup user when started as root; refuse any other user, so every file stays the backup user's."""
    if not user:
        return
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"the backup user {user} does not exist") from None
    if os.geteuid() == account.pw_uid:
        return
    if os.geteuid() != 0:
        raise ConfigError(f"run it as {user}, or as root, which switches to {user} (this is uid {os.geteuid()})")
    os.initgroups(user, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ.update(HOME=account.pw_dir, USER=user, LOGNAME=user)


# -- backup sets -------------------------------------------------------------

def database_dir(config: Config, name: str) -> str:
    return os.path.join(config.backup_dir, name)


def read_manifest(path: str) -> dict | None:
    try:
        with open(os.path.join(path, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def set_problems(path: str, manifest: dict | None, full: bool = False) -> list:
    """Why a set is not a good backup; empty when it is. full re-hashes every file."""
    if manifest is None:
        return ["no manifest (incomplete)"]
    if os.path.exists(os.path.join(path, FAILED_MARKER)):
        with open(os.path.join(path, FAILED_MARKER), encoding="utf-8") as handle:
            return [f"marked failed: {handle.read().strip()}"]
    if not manifest.get("verified"):
        return ["never verified"]
    problems = []
    for name, expected in manifest.get("files", {}).items():
        file_path = os.path.join(path, name)
        try:
            size = os.path.getsize(file_path)
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if size != expected["size"]:
            problems.append(f"{name} has {size} bytes, the manifest says {expected['size']}")
        elif full and sha256_of(file_path) != expected["sha256"]:
            problems.append(f"{name} does not match its sha256")
    return problems


def checked_in_full(found: dict) -> dict:
    """Re-hash a set that looked good; one that no longer matches is marked FAILED for good."""
    problems = set_problems(found["path"], found["manifest"], full=True)
    if problems:
        write_atomically(os.path.join(found["path"], FAILED_MARKER), "; ".join(problems) + "\n")
        raise BackupError("checksum", f"backup {found['stamp']} no longer matches its manifest: {'; '.join(problems)}",
                          (found["manifest"] or {}).get("database", ""))
    return found


def backup_sets(config: Config, name: str, full: bool = False) -> list:
    """Every set of a database, newest first: {stamp, path, manifest, problems, good}."""
    root = database_dir(config, name)
    sets = []
    if not os.path.isdir(root):
        return sets
    for entry in os.listdir(root):
        path = os.path.join(root, entry)
        if not os.path.isdir(path):
            continue
        stamp = entry[len(PARTIAL_PREFIX):] if entry.startswith(PARTIAL_PREFIX) else entry
        try:
            moment = time_of(stamp)
        except ValueError:
            continue
        manifest = None if entry.startswith(PARTIAL_PREFIX) else read_manifest(path)
        problems = set_problems(path, manifest, full)
        sets.append({"stamp": stamp, "time": moment, "path": path, "manifest": manifest,
                     "problems": problems, "good": not problems})
    return sorted(sets, key=lambda found: found["time"], reverse=True)


def prune_plan(sets: list, retention_days: float, keep_min: int, moment: float) -> list:
    """The sets to delete: older than the window, except the newest keep_min good ones.

    Sets that are not good (incomplete, failed, truncated) never count towards
    keep_min and never stand in for a good one; they go once they are older
    than the window like any other.
    """
    cutoff = moment - retention_days * 86400
    kept_good = [found["path"] for found in sets if found["good"]][:keep_min]
    return [found for found in sets if found["time"] < cutoff and found["path"] not in kept_good]


# -- dumping ----------------------------------------------------------------

class SnapshotSession:
    """A psql session holding a repeatable-read transaction whose snapshot pg_dump shares.

    Row counts (and table checksums) taken here see exactly the data the dump holds.
    """

    MARK = "--da-backup-end--"

    def __init__(self, config: Config, database: str):
        self.database = database
        # stderr in a file: notices must never fill a pipe nobody reads.
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [config.program("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=config.pg_env(), text=True)
        # A table locked by someone else fails the count, as it fails pg_dump, instead of waiting forever.
        self.query(f"SET lock_timeout = '{config.lock_wait_timeout}';")

    def query(self, sql: str) -> list:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{sql}\n\\echo {self.MARK}\n")
        self.process.stdin.flush()
        lines = []
        for line in self.process.stdout:
            if line.rstrip("\n") == self.MARK:
                return lines
            lines.append(line.rstrip("\n"))
        self.process.wait()
        raise BackupError("snapshot", f"psql ended: {last_line(self.stderr)}", self.database)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.query("COMMIT;")
                self.process.stdin.close()
            except (BackupError, OSError):
                pass
            self.process.wait(timeout=60)
        self.stderr.close()


TABLES_SQL = (
    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition ORDER BY 1;"
)


def table_facts(query, checksum_tables: list) -> dict:
    """{table: {"rows": n[, "md5": ...]}} through a query function (one session, one snapshot)."""
    facts = {}
    for table in query(TABLES_SQL):
        if not table:
            continue
        facts[table] = {"rows": int(query(f"SELECT count(*) FROM {table};")[0])}
    for table in checksum_tables:
        quoted = next((name for name in facts if name == table or name.split(".", 1)[1] == table), None)
        if quoted is None:
            raise BackupError("count", f"table {table} to checksum does not exist")
        row = query(f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {quoted} t;")
        facts[quoted]["md5"] = row[0]
    return facts


def dump_database(config: Config, database: dict, target: str) -> dict:
    """Dump globals and one database into target; returns the manifest's database entry."""
    name = database["name"]
    env = config.pg_env()
    globals_path = os.path.join(target, "globals.sql")
    with open(globals_path, "wb") as handle:
        run("dump globals", [config.program("pg_dumpall"), "--globals-only"], name, env, stdout=handle)
    session = SnapshotSession(config, name)
    try:
        session.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;")
        snapshot = session.query("SELECT pg_export_snapshot();")[0]
        tables = table_facts(session.query, database.get("checksum_tables", []))
        fmt = database.get("format", "custom")
        level = zstd_level(database)
        argv = [config.program("pg_dump"), f"--snapshot={snapshot}", "--format=" + ("c" if fmt == "custom" else "d"),
                f"--lock-wait-timeout={config.lock_wait_timeout}", "--dbname", name]
        if level is not None:
            # A custom archive compressed as one stream by multithreaded zstd:
            # faster and smaller than pg_dump's own gzip, and readable by any
            # pg_restore through a pipe.
            dump_path = os.path.join(target, f"{name}.dump.zst")
            with open(dump_path, "wb") as handle:
                run_pipe("dump", argv + ["--compress=0"], ["zstd", "-q", f"-{level}", "-T0", "-c"], name, env, stdout=handle)
        else:
            dump_path = os.path.join(target, f"{name}.dump" if fmt == "custom" else f"{name}.dir")
            argv += [f"--compress={database.get('compress', '1')}", "--file", dump_path]
            if fmt == "directory":
                argv.insert(1, f"--jobs={int(database.get('jobs', 2))}")
            run("dump", argv, name, env)
    finally:
        session.close()
    return {"format": fmt, "compress": str(database.get("compress", "")), "path": os.path.relpath(dump_path, target),
            "tables": tables}


def read_in_full(config: Config, target: str, entry: dict, name: str) -> None:
    """Read every byte of the dump back through pg_restore: a listing alone misses truncation."""
    path = os.path.join(target, entry["path"])
    if path.endswith(".zst"):
        run_pipe("verify", ["zstd", "-q", "-d", "-c", path], [config.program("pg_restore"), "--file", os.devnull], name)
    else:
        run("verify", [config.program("pg_restore"), "--file", os.devnull, path], name)


def seal(target: str, manifest: dict, mode: int) -> dict:
    """Fsync every file, record checksums, then write the manifest last."""
    files = {}
    for relative in files_below(target):
        path = os.path.join(target, relative)
        os.chmod(path, mode)
        fsync_path(path)
        files[relative] = {"sha256": sha256_of(path), "size": os.path.getsize(path)}
    for directory, _dirs, _names in os.walk(target):
        fsync_path(directory)
    manifest["files"] = files
    manifest["size"] = sum(entry["size"] for entry in files.values())
    write_atomically(os.path.join(target, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + "\n", mode)
    return manifest


def unused_stamp(root: str, started: float, name: str) -> tuple:
    """The start time and stamp of a new set, waiting for the next second when a set of this second exists.

    Sets are named by the second they start in; an operator's run right after the timer's must not fail for that.
    A set from the future (a clock set back) still fails: waiting for it could take hours.
    """
    for _attempt in range(30):
        stamp = stamp_of(started)
        if not os.path.exists(os.path.join(root, stamp)):
            return started, stamp
        time.sleep(0.1)
        started = now()
    raise BackupError("dump", f"{os.path.join(root, stamp)} already exists (is the clock behind the newest set?)", name)


def backup_database(config: Config, database: dict, started: float) -> dict:
    """One verified backup set of one database; returns its manifest."""
    name = database["name"]
    root = database_dir(config, name)
    os.makedirs(root, mode=0o750, exist_ok=True)
    started, stamp = unused_stamp(root, started, name)
    partial = os.path.join(root, PARTIAL_PREFIX + stamp)
    final = os.path.join(root, stamp)
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial, mode=0o750)
    try:
        entry = dump_database(config, database, partial)
        read_in_full(config, partial, entry, name)
        manifest = seal(partial, {
            "version": 1, "database": name, "host": config.host_label, "stamp": stamp,
            "started": started, "finished": now(), "database_entry": entry, "verified": True,
        }, config.file_mode)
        os.rename(partial, final)
        fsync_path(root)
    except OSError as exc:
        # A full disk or a permission problem: a failed step like any other.
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError("write", str(exc), name) from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


# -- object storage -----------------------------------------------------------

def s3_errors() -> tuple:
    """What boto3 raises when the store refuses or cannot be reached (only OSError without boto3)."""
    try:
        import boto3.exceptions
        import botocore.exceptions
    except ImportError:
        return (OSError,)
    return (boto3.exceptions.Boto3Error, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError)


def s3_client(config: Config):
    if not config.s3.get("bucket"):
        raise BackupError("s3", "this host has no bucket configured (backup_s3_bucket)")
    # Imported here: only hosts that upload need boto3 (python3-boto3, which the role installs with a bucket).
    try:
        import boto3
    except ImportError:
        raise BackupError("s3", "boto3 is missing: install python3-boto3 (the backup role does when backup_s3_bucket is set)") from None

    return boto3.client("s3", endpoint_url=config.s3.get("endpoint_url") or None,
                        region_name=config.s3.get("region") or None,
                        aws_access_key_id=config.secret("AWS_ACCESS_KEY_ID") or None,
                        aws_secret_access_key=config.secret("AWS_SECRET_ACCESS_KEY") or None)


def transfer_config(config: Config):
    """Multipart above the threshold, four parts at a time (each part is held in memory)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=config.multipart_threshold,
                          multipart_chunksize=config.multipart_chunksize, max_concurrency=4)


def remote_key(config: Config, *parts: str) -> str:
    return "/".join(part for part in (config.s3.get("prefix", "").strip("/"), *parts) if part)


def remote_sets(config: Config, client, name: str) -> dict:
    """The bucket's sets of a database by stamp: {stamp, time, keys, manifest_key, size}.

    A set is complete once its manifest (plain or encrypted) is there: it goes up last.
    """
    prefix = remote_key(config, name) + "/"
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=config.s3["bucket"], Prefix=prefix):
        for item in page.get("Contents", []):
            stamp, _sep, rest = item["Key"][len(prefix):].partition("/")
            try:
                moment = time_of(stamp)
            except ValueError:
                continue
            entry = found.setdefault(stamp, {"stamp": stamp, "time": moment, "keys": [], "manifest_key": "", "size": 0})
            entry["keys"].append(item["Key"])
            entry["size"] += item.get("Size", 0)
            if rest in (MANIFEST, MANIFEST + AGE_SUFFIX):
                entry["manifest_key"] = item["Key"]
    return found


def encrypt(config: Config, path: str, scratch: str) -> str:
    """The file encrypted for the age recipients, in the scratch directory; the file itself without recipients."""
    recipients = config.encryption.get("age_recipients") or []
    if not recipients:
        return path
    encrypted = os.path.join(scratch, os.path.basename(path) + AGE_SUFFIX)
    argv = ["age", "--encrypt", "--output", encrypted]
    for recipient in recipients:
        argv.extend(["--recipient", recipient])
    run("encrypt", argv + [path])
    return encrypted


def upload_set(config: Config, client, found: dict) -> None:
    """Upload a set: data first, the manifest last (encrypted too), each object checked for size and sha256 after."""
    bucket = config.s3["bucket"]
    prefix = remote_key(config, os.path.relpath(found["path"], config.backup_dir))
    transfer = transfer_config(config)
    # Encrypted copies go beside the sets (same filesystem, not a RAM-backed /tmp), one at a time.
    scratch = os.path.join(os.path.dirname(found["path"]), f".upload-{os.getpid()}")
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    try:
        for name in list(found["manifest"]["files"]) + [MANIFEST]:
            local = os.path.join(found["path"], name)
            sent = encrypt(config, local, scratch)
            key = f"{prefix}/{name}" + (AGE_SUFFIX if sent != local else "")
            digest = sha256_of(sent)
            client.upload_file(sent, bucket, key, ExtraArgs={"Metadata": {"sha256": digest}}, Config=transfer)
            head = client.head_object(Bucket=bucket, Key=key)
            if head["ContentLength"] != os.path.getsize(sent) or head.get("Metadata", {}).get("sha256") != digest:
                raise BackupError("upload", f"s3://{bucket}/{key} does not match what was sent", found["manifest"]["database"])
            if sent != local:
                os.unlink(sent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def upload_missing(config: Config, name: str, sets: list, moment: float) -> list:
    """Upload the good local sets the bucket has no manifest of, newest first; returns their stamps.

    That is the new set, and any whose upload failed on an earlier run. Sets
    older than the retention window are left alone: the bucket's retention may
    have pruned them on purpose.
    """
    client = s3_client(config)
    remote = remote_sets(config, client, name)
    cutoff = moment - config.retention_days * 86400
    uploaded = []
    for position, found in enumerate(sets):
        if not found["good"] or remote.get(found["stamp"], {}).get("manifest_key"):
            continue
        if position > 0 and found["time"] < cutoff:
            continue
        upload_set(config, client, found)
        uploaded.append(found["stamp"])
        log(f"{name}: {found['stamp']} uploaded to s3://{config.s3['bucket']}/{remote_key(config, name, found['stamp'])}"
            + (" (its earlier upload had not completed)" if position > 0 else ""))
    return uploaded


def prune_remote(config: Config, name: str, moment: float) -> None:
    """Remote retention: the same rule, over the sets whose manifest reached the bucket."""
    client = s3_client(config)
    sets = sorted(({**found, "path": found["stamp"], "good": bool(found["manifest_key"])}
                   for found in remote_sets(config, client, name).values()), key=lambda found: found["time"], reverse=True)
    for found in prune_plan(sets, config.retention_days, config.keep_min, moment):
        for key in found["keys"]:
            client.delete_object(Bucket=config.s3["bucket"], Key=key)


def decrypt(path: str, identity: str) -> str:
    """Decrypt path.age next to it with the age identity file; returns the plain file's path."""
    plain = path[:-len(AGE_SUFFIX)]
    if not identity:
        raise BackupError("decrypt", f"{os.path.basename(path)} is encrypted with age: give the identity "
                                     "(restore_age_identity, from the vault)")
    run("decrypt", ["age", "--decrypt", "--identity", identity, "--output", plain, path])
    os.unlink(path)
    return plain


def download(config: Config, client, found: dict, relative: str, target: str, identity: str) -> str:
    """One object of a remote set into target, decrypted if it was encrypted; returns the local path."""
    # The manifest names the files: one that points outside the set (an absolute
    # path, a ".." part) is refused, whoever could write to the bucket.
    parts = relative.replace("\\", "/").split("/")
    if not relative or relative.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise BackupError("fetch", f"the manifest of {found['stamp']} names {relative!r}, outside the set", found["database"])
    key = remote_key(config, found["database"], found["stamp"], relative)
    encrypted = key + AGE_SUFFIX in found["keys"]
    if not encrypted and key not in found["keys"]:
        raise BackupError("fetch", f"{relative} of {found['stamp']} is missing from the bucket", found["database"])
    path = os.path.join(target, *parts)
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    received = path + (AGE_SUFFIX if encrypted else "")
    client.download_file(config.s3["bucket"], key + (AGE_SUFFIX if encrypted else ""), received,
                         Config=transfer_config(config))
    return decrypt(received, identity) if encrypted else received


def well_formed(manifest) -> bool:
    """Whether a manifest from elsewhere has the shape this program writes (so checking it cannot crash)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("database_entry"), dict):
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not isinstance(manifest["database_entry"].get("path"), str):
        return False
    return all(isinstance(name, str) and "\0" not in name and isinstance(entry, dict) and isinstance(entry.get("size"), int)
               and isinstance(entry.get("sha256"), str) for name, entry in files.items())


def download_set(config: Config, client, found: dict, identity: str) -> str:
    """A remote set into the database's directory, every file checked against its manifest; returns its path."""
    name, stamp = found["database"], found["stamp"]
    root = database_dir(config, name)
    os.makedirs(root, mode=0o750, exist_ok=True)
    partial = os.path.join(root, PARTIAL_PREFIX + stamp)
    final = os.path.join(root, stamp)
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial, mode=0o750)
    try:
        manifest_path = download(config, client, found, MANIFEST, partial, identity)
        manifest = read_manifest(partial)
        if not well_formed(manifest) or manifest.get("database") != name or manifest.get("stamp") != stamp:
            raise BackupError("fetch", f"the manifest of {stamp} in the bucket is not {name}'s manifest of {stamp}", name)
        # What the restore reads is one of the files (a custom archive) or their directory (directory format).
        dump = str((manifest.get("database_entry") or {}).get("path", ""))
        if not any(relative == dump or relative.startswith(dump + "/") for relative in manifest.get("files", {})):
            raise BackupError("fetch", f"the manifest of {stamp} names a dump, {dump!r}, that is not among its files", name)
        os.chmod(manifest_path, config.file_mode)
        for relative, expected in manifest.get("files", {}).items():
            path = download(config, client, found, relative, partial, identity)
            os.chmod(path, config.file_mode)
            if os.path.getsize(path) != expected["size"] or sha256_of(path) != expected["sha256"]:
                raise BackupError("checksum", f"{relative} of {stamp} from the bucket does not match its manifest", name)
        # Every file was hashed above; this checks the rest (verified, no FAILED marker).
        problems = set_problems(partial, manifest)
        if problems:
            raise BackupError("checksum", f"{stamp} from the bucket: {'; '.join(problems)}", name)
        for directory, _dirs, names in os.walk(partial):
            for entry in names:
                fsync_path(os.path.join(directory, entry))
            fsync_path(directory)
        # A local copy that went bad is replaced; a good one is never downloaded (see fetch_set).
        shutil.rmtree(final, ignore_errors=True)
        os.rename(partial, final)
        fsync_path(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def fetch_set(config: Config, name: str, stamp: str, identity: str) -> dict:
    """The set to restore from the bucket (the newest complete one for "latest"), downloaded and checked.

    For "latest", a set that fails its checks is reported and the next older one is tried.
    """
    if not config.s3.get("bucket"):
        raise BackupError("fetch", "this host has no bucket configured (backup_s3_bucket)", name)
    local = {found["stamp"]: found for found in backup_sets(config, name)}
    try:
        client = s3_client(config)
        remote = sorted((dict(found, database=name) for found in remote_sets(config, client, name).values()
                         if found["manifest_key"]), key=lambda found: found["time"], reverse=True)
        where = f"s3://{config.s3['bucket']}/{remote_key(config, name)}/"
        if stamp not in ("", "latest"):
            remote = [found for found in remote if found["stamp"] == stamp]
            if not remote:
                raise BackupError("fetch", f"no complete backup {stamp} of {name} in {where}", name)
        if not remote:
            raise BackupError("fetch", f"no complete backup of {name} in {where}", name)
        failures = []
        for found in remote:
            if local.get(found["stamp"], {}).get("good"):
                try:
                    checked = checked_in_full(local[found["stamp"]])
                    log(f"{name}: {found['stamp']} is on this host already, and matches its manifest; not downloaded")
                    return checked
                except BackupError as exc:
                    # Marked FAILED now; the bucket's copy replaces it.
                    log(f"{name}: the copy of {found['stamp']} on this host is damaged ({exc}); downloading it")
            try:
                download_set(config, client, found, identity)
            except (BackupError, *s3_errors()) as exc:
                if stamp not in ("", "latest"):
                    raise
                failures.append(f"{found['stamp']}: {exc}")
                log(f"{name}: {found['stamp']} from the bucket is not usable ({exc}); trying the next older one")
                continue
            log(f"{name}: {found['stamp']} downloaded from {where} and checked against its manifest")
            return next(each for each in backup_sets(config, name) if each["stamp"] == found["stamp"])
        raise BackupError("fetch", f"no backup of {name} in {where} passed its checks: {'; '.join(failures)}", name)
    except s3_errors() as exc:
        raise BackupError("fetch", str(exc), name) from None


# -- state, metrics, notifications -------------------------------------------

def load_state(config: Config) -> dict:
    try:
        with open(config.state_file, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def save_state(config: Config, state: dict) -> None:
    os.makedirs(os.path.dirname(config.state_file), exist_ok=True)
    write_atomically(config.state_file, json.dumps(state, indent=2, sort_keys=True) + "\n", 0o640)


METRICS = [
    ("last_run_timestamp_seconds", "Unix time the last backup run ended."),
    ("last_run_success", "1 when the last run produced a verified backup, else 0."),
    ("last_success_timestamp_seconds", "Unix time of the last verified backup."),
    ("last_success_size_bytes", "Size of the last verified backup."),
    ("last_success_duration_seconds", "Duration of the last successful run."),
    ("last_upload_timestamp_seconds", "Unix time the last backup was uploaded and checked."),
    ("restore_test_last_run_success", "1 when the last restore test matched its source, else 0."),
    ("restore_test_last_success_timestamp_seconds", "Unix time of the last successful restore test."),
]


def render_metrics(state: dict) -> str:
    lines = []
    for metric, help_text in METRICS:
        samples = [(database, values[metric]) for database, values in sorted(state.items()) if metric in values]
        if not samples:
            continue
        lines.append(f"# HELP {METRIC_PREFIX}{metric} {help_text}")
        lines.append(f"# TYPE {METRIC_PREFIX}{metric} gauge")
        for database, value in samples:
            label = database.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{METRIC_PREFIX}{metric}{{database="{label}"}} {value}')
    return "\n".join(lines) + "\n"


def publish(config: Config, state: dict) -> bool:
    """Save the state and write the metrics; False (and a log line) when either failed. Never raises."""
    published = True
    try:
        save_state(config, state)
    except OSError as exc:
        log(f"could not save the state to {config.state_file}: {exc}")
        published = False
    if config.metrics_file:
        try:
            write_atomically(config.metrics_file, render_metrics(state), 0o644)
        except OSError as exc:
            # The run's outcome stands; stale metrics make the staleness alerts fire.
            log(f"could not publish the metrics: {exc}")
            published = False
    return published


def notify(config: Config, text: str) -> bool:
    """Send text to the Slack webhook; a failure of any kind (a malformed URL too) is logged, never raised."""
    url = config.secret("SLACK_WEBHOOK_URL")
    if not url:
        return True
    try:
        request = urllib.request.Request(url, data=json.dumps({"text": text}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=15):
            pass
    except Exception as exc:  # noqa: BLE001  (whatever it is, the run's own outcome must stand)
        # The URL is a secret: the error's type and reason only.
        log(f"notification failed: {type(exc).__name__}: {getattr(exc, 'reason', '') or 'see the webhook URL'}")
        return False
    return True


# -- pgBackRest ---------------------------------------------------------------
#
# The pgbackrest method backs up the whole cluster: full backups, differential
# ones in between, and the WAL that PostgreSQL's archive_command pushes. The
# same metrics come out, one series per configured database, since each one
# is in every cluster backup.

MARKERS_TABLE = "dataaggregator_backup_markers"
# Kept in the state file (not a metric): the last run failed verification.
FULL_NEEDED = "pgbackrest_full_needed"


class PgBackRest:
    """pgbackrest for the configured stanza, with its answers as data."""

    def __init__(self, config: Config):
        self.config = config
        self.settings = config.pgbackrest
        self.stanza = self.settings.get("stanza", "main")

    def run(self, step: str, *args: str) -> str:
        return run(step, ["pgbackrest", f"--stanza={self.stanza}", "--log-level-console=warn", *args],
                   env=self.config.pg_env())

    def backups(self) -> list:
        """The stanza's backups, oldest first, as pgbackrest's info lists them."""
        stanzas = json.loads(self.run("info", "--output=json", "info") or "[]")
        if not stanzas or stanzas[0].get("status", {}).get("code") not in (0, 2):
            status = stanzas[0].get("status", {}) if stanzas else {}
            raise BackupError("info", f"stanza {self.stanza}: {status.get('message', 'not found')}")
        return stanzas[0].get("backup", [])

    def verify(self, label: str) -> None:
        """Read every file the backup needs (its own and those it references) and check their checksums.

        pgbackrest verify reports problems in its output and still exits 0.
        """
        problem = verify_problem(self.run("verify", f"--set={label}", "--output=text", "--verbose", "verify"), label)
        if problem:
            raise BackupError("verify", problem)

    def next_type(self, backups: list, moment: float, force_full: bool = False) -> str:
        """full when the newest full backup is older than full_every_days (or missing), else diff."""
        fulls = [b["timestamp"]["stop"] for b in backups if b.get("type") == "full" and not b.get("error")]
        every = float(self.settings.get("full_every_days", 7)) * 86400
        return "diff" if fulls and moment - max(fulls) < every and not force_full else "full"


def verify_problem(report: str, label: str) -> str:
    """What pgbackrest verify's verbose text report says is wrong with a backup, or "" when it is valid.

    Valid means the set's own files and the WAL it needs to reach consistency.
    """
    statuses = dict(re.findall(r"backup: (\S+), status: (\w+)", report))
    if statuses.get(label) == "valid" and re.search(r"^status: ok$", report, re.MULTILINE):
        return ""
    details = " ".join(line.strip() for line in report.splitlines() if re.search(r"(missing|invalid|other): [1-9]", line))
    return f"backup {label} is {statuses.get(label, 'not checked')}: {details or 'see pgbackrest verify'}"


def good_backups(backups: list) -> list:
    return [backup for backup in backups if not backup.get("error")]


def set_marker(config: Config, label: str) -> None:
    """A row committed before the backup starts; a restore of that backup must hold it."""
    run("marker", [config.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-v", f"label={label}"],
        env=config.pg_env(), input_text=(
            f"CREATE TABLE IF NOT EXISTS {MARKERS_TABLE} (label text PRIMARY KEY, taken_at timestamptz NOT NULL DEFAULT now());\n"
            f"DELETE FROM {MARKERS_TABLE} WHERE taken_at < now() - interval '400 days';\n"
            f"INSERT INTO {MARKERS_TABLE} (label) VALUES (:'label');\n"))


def pgbackrest_backup(config: Config, state: dict, force_full: bool = False) -> list:
    """One cluster backup (full or differential), verified in the repository; the failures, as a list."""
    tool = PgBackRest(config)
    started = now()
    names = [database["name"] for database in config.databases]
    # A set that failed verification may leave a damaged file that differential
    # sets would go on referencing: the next backup starts a new chain.
    force_full = force_full or any(state.get(name, {}).get(FULL_NEEDED) for name in names)
    try:
        kind = tool.next_type(tool.backups(), started, force_full)
        marker = f"{stamp_of(started)}-{os.getpid()}"
        set_marker(config, marker)
        # Expiry waits until the new backup has been verified.
        tool.run("backup", f"--type={kind}", f"--annotation=marker={marker}", "--no-expire-auto", "backup")
        newest = good_backups(tool.backups())[-1]
        if newest.get("annotation", {}).get("marker") != marker:
            raise BackupError("backup", "the newest backup in the repository is not the one just made")
        tool.verify(newest["label"])
        tool.run("expire", "expire")
    except BackupError as exc:
        for name in names:
            state.setdefault(name, {}).update({"last_run_timestamp_seconds": now(), "last_run_success": 0})
            if exc.step == "verify":
                state[name][FULL_NEEDED] = True
        log(f"pgbackrest: FAILED at step {exc.step}: {exc}")
        notify(config, f":x: Backup (pgBackRest, stanza {tool.stanza}, databases {', '.join(names)}) on "
                       f"{config.host_label} failed at step '{exc.step}': {exc}")
        return [exc]
    finished = now()
    values = {"last_run_timestamp_seconds": finished, "last_run_success": 1,
              "last_success_timestamp_seconds": newest["timestamp"]["stop"],
              "last_success_size_bytes": newest["info"]["repository"]["size"],
              "last_success_duration_seconds": round(finished - started, 3)}
    if tool.settings.get("remote"):
        # The repository is the object store: the backup is uploaded once pgbackrest succeeded.
        values["last_upload_timestamp_seconds"] = newest["timestamp"]["stop"]
    for name in names:
        state.setdefault(name, {}).update(values)
        state[name].pop(FULL_NEEDED, None)
    log(f"pgbackrest: {newest['type']} backup {newest['label']} verified "
        f"({newest['info']['repository']['size']} bytes to restore from the repository)")
    if config.notify.get("on_success"):
        notify(config, f":white_check_mark: Backup (pgBackRest) on {config.host_label} succeeded: "
                       f"{newest['type']} {newest['label']}.")
    return []


class ScratchCluster:
    """A backup restored into a scratch directory and started on its own port, as the backup user."""

    def __init__(self, config: Config, directory: str, port: int):
        self.config = config
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.port = port
        self.started = False

    def restore(self, tool: PgBackRest, label: str) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.makedirs(self.data, mode=0o700)
        # To the backup's consistent point, promoted, with no archiving of its own.
        tool.run("restore test", f"--pg1-path={self.data}", f"--set={label}", "--type=immediate",
                 "--target-action=promote", "--archive-mode=off", "restore")
        # Debian keeps the configuration outside the data directory: give the copy its own.
        with open(os.path.join(self.data, "postgresql.conf"), "w", encoding="utf-8") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = ''\nunix_socket_directories = '{self.directory}'\n"
                       # No hot standby: it would demand the source's connection limits, and
                       # nothing needs to read the copy before recovery has ended.
                       "archive_mode = off\nhot_standby = off\nshared_buffers = 64MB\n"
                       # The strict sandbox refuses writable and executable memory, which JIT needs.
                       "jit = off\n")
        with open(os.path.join(self.data, "pg_hba.conf"), "w", encoding="utf-8") as hba:
            hba.write("local all all peer\n")
        with open(os.path.join(self.data, "pg_ident.conf"), "w", encoding="utf-8"):
            pass

    def start(self, timeout: int = 3600) -> None:
        self.started = True
        server_log = os.path.join(self.directory, "log")
        try:
            run("restore test", [self.config.program("pg_ctl"), "-D", self.data, "-l", server_log,
                                 "-w", "-t", str(timeout), "start"], env=self.config.pg_env(), stdout=subprocess.DEVNULL)
        except BackupError as exc:
            # The scratch directory goes away: keep the server's last word.
            with open(server_log, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().strip().splitlines()
            last = [line for line in lines if re.search(r"\b(FATAL|PANIC|ERROR):", line)][-3:] or lines[-3:]
            raise BackupError(exc.step, f"{exc} ({' | '.join(last)})") from None
        # pg_ctl can return before recovery has ended; until then connections are refused.
        deadline = now() + timeout
        while True:
            try:
                if self.query("postgres", "SELECT pg_is_in_recovery();") == ["f"]:
                    return
            except BackupError as exc:
                if now() > deadline:
                    raise BackupError("restore test", f"the restored cluster did not open in {timeout} s: {exc}") from None
            if now() > deadline:
                raise BackupError("restore test", f"the restored cluster was still recovering after {timeout} s")
            time.sleep(1)

    def env(self) -> dict:
        env = self.config.pg_env()
        env.update({"PGHOST": self.directory, "PGPORT": str(self.port)})
        for variable in ("PGUSER", "PGPASSWORD"):
            env.pop(variable, None)
        return env

    def query(self, database: str, sql: str, step: str = "restore test") -> list:
        return run(step, [self.config.program("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database],
                   database, self.env(), input_text=sql + "\n").splitlines()

    def close(self) -> None:
        if self.started:
            subprocess.run([self.config.program("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"],
                           env=self.config.pg_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def pgbackrest_restore_test(config: Config, state: dict) -> bool:
    """Restore the newest good backup into a scratch cluster and check it; True when it passed."""
    tool = PgBackRest(config)
    names = [database["name"] for database in config.databases]
    scratch = ScratchCluster(config, tool.settings.get("restore_test_dir", "/var/lib/dataaggregator-backup/restore-test"),
                             int(tool.settings.get("restore_test_port", 54329)))
    try:
        good = good_backups(tool.backups())
        if not good:
            raise BackupError("restore test", "no good backup to test")
        newest = good[-1]
        scratch.restore(tool, newest["label"])
        scratch.start()
        marker = newest.get("annotation", {}).get("marker", "")
        # The program made the label (stamp and pid): anything else is not one of its markers.
        if not re.fullmatch(r"[0-9TZ-]+", marker):
            raise BackupError("restore test", f"backup {newest['label']} carries no marker of this program")
        found = scratch.query("postgres", f"SELECT count(*) FROM {MARKERS_TABLE} WHERE label = '{marker}';")
        if found != ["1"]:
            raise BackupError("restore test", f"the marker {marker or '(none)'} written before backup {newest['label']} is missing")
        summary = []
        for name in names:
            source = {table for table in run("restore test", [config.program("psql"), "-X", "-A", "-t", "-d", name],
                                             name, config.pg_env(), input_text=TABLES_SQL + "\n").splitlines() if table}
            # Every table read in full: a damaged page fails the count.
            restored = table_facts(lambda sql, name=name: scratch.query(name, sql), [])
            if set(restored) != source:
                raise BackupError("restore test", f"tables differ from the source: {sorted(set(restored) ^ source)[:5]}", name)
            summary.append(f"{name}: {len(restored)} tables, {sum(f['rows'] for f in restored.values())} rows")
    except BackupError as exc:
        for name in names:
            state.setdefault(name, {})["restore_test_last_run_success"] = 0
        log(f"pgbackrest: RESTORE TEST FAILED at step {exc.step}: {exc}")
        notify(config, f":x: Restore test (pgBackRest, stanza {tool.stanza}) on {config.host_label} failed at step "
                       f"'{exc.step}': {exc}")
        return False
    finally:
        scratch.close()
    for name in names:
        state.setdefault(name, {}).update({"restore_test_last_run_success": 1,
                                           "restore_test_last_success_timestamp_seconds": now()})
    log(f"pgbackrest: backup {newest['label']} restored and checked ({'; '.join(summary)})")
    return True


# -- commands -----------------------------------------------------------------

class Lock:
    """An exclusive, non-blocking lock: a second run (timer or manual) is refused, not queued."""

    def __init__(self, path: str):
        self.path = path
        self.descriptor = -1

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.descriptor)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise BackupError("lock", f"another backup run holds {self.path}") from None
            raise
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        os.close(self.descriptor)


def failure_of(exc: BaseException, name: str) -> BackupError:
    """Any exception of one database's run as a BackupError: the step, and one line on what went wrong."""
    if isinstance(exc, BackupError):
        return exc
    if isinstance(exc, OSError):
        return BackupError("write", f"{exc.strerror or exc} ({exc.filename or 'no file'})", name)
    return BackupError("internal", f"{type(exc).__name__}: {exc}", name)


def backup_one(config: Config, database: dict, values: dict) -> None:
    """Back up, upload and prune one database, recording the outcome in values; raises on failure."""
    name = database["name"]
    started = now()
    manifest = backup_database(config, database, started)
    values.update({"last_success_timestamp_seconds": manifest["finished"], "last_success_size_bytes": manifest["size"],
                   "last_success_duration_seconds": round(now() - started, 3)})
    log(f"{name}: backup {manifest['stamp']} verified ({manifest['size']} bytes)")
    sets = backup_sets(config, name)
    if config.s3.get("bucket"):
        try:
            upload_missing(config, name, sets, now())
            values["last_upload_timestamp_seconds"] = now()
            prune_remote(config, name, now())
        except s3_errors() as exc:
            raise BackupError("upload", str(exc), name) from None
    for found in prune_plan(sets, config.retention_days, config.keep_min, now()):
        shutil.rmtree(found["path"])
        log(f"{name}: pruned {found['stamp']}" + ("" if found["good"] else f" ({'; '.join(found['problems'])})"))
    if config.notify.get("on_success"):
        notify(config, f":white_check_mark: Backup of {name} on {config.host_label} succeeded: "
                       f"{manifest['stamp']}, {manifest['size']} bytes.")


def command_backup(config: Config, args) -> int:
    state = load_state(config)
    if config.method == "pgbackrest":
        try:
            failures = pgbackrest_backup(config, state, getattr(args, "full", False))
        finally:
            published = publish(config, state)
        return 1 if failures or not published else 0
    failed = False
    # Each database on its own: one that fails, however, never keeps the others from their backup.
    for database in config.databases:
        name = database["name"]
        values = state.setdefault(name, {})
        values["last_run_success"] = 0
        try:
            backup_one(config, database, values)
            values["last_run_success"] = 1
        except Exception as exc:  # noqa: BLE001  (reported, and the next database still runs)
            failed = True
            failure = failure_of(exc, name)
            log(f"{name}: FAILED at step {failure.step}: {failure}")
            notify(config, f":x: Backup of {name} on {config.host_label} failed at step '{failure.step}': {failure}")
        finally:
            # Written whatever happened, a stop by systemd included: a failed run always reads as failed.
            values["last_run_timestamp_seconds"] = now()
            failed = not publish(config, state) or failed
    return 1 if failed else 0


def restore_into(config: Config, found: dict, target: str, jobs: int = 2, comment: str = "") -> None:
    entry = found["manifest"]["database_entry"]
    env = config.pg_env()
    # createdb's second argument is the database's comment, set as it is created.
    run("create", [config.program("createdb"), "--template=template0", target] + ([comment] if comment else []), target, env)
    path = os.path.join(found["path"], entry["path"])
    if path.endswith(".zst"):
        # From a stream pg_restore works through the archive in order, in one job.
        run_pipe("restore", ["zstd", "-q", "-d", "-c", path],
                 [config.program("pg_restore"), "--exit-on-error", "--dbname", target], target, env)
    else:
        run("restore", [config.program("pg_restore"), "--exit-on-error", f"--jobs={jobs}", "--dbname", target, path],
            target, env)


def database_exists(config: Config, name: str) -> bool:
    # Through stdin: psql interpolates :'name' (quoted) there, not in -c.
    rows = run("check", [config.program("psql"), "-X", "-A", "-t", "-d", "postgres", "-v", f"name={name}"], name,
               config.pg_env(), input_text="SELECT 1 FROM pg_database WHERE datname = :'name';\n")
    return rows.strip() == "1"


def facts_of(config: Config, name: str, checksum_tables: list) -> dict:
    session = SnapshotSession(config, name)
    try:
        session.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;")
        return table_facts(session.query, checksum_tables)
    finally:
        session.close()


def drop_database(config: Config, name: str) -> None:
    run("drop", [config.program("dropdb"), "--if-exists", "--force", name], name, config.pg_env())


# What the restore test writes on the scratch databases it creates, and checks before it drops one.
SCRATCH_COMMENT = "scratch database of the dataaggregator-backup restore test; dropped after each test"


def database_comment(config: Config, name: str) -> str | None:
    """The comment on a database; None when the database does not exist."""
    rows = run("check", [config.program("psql"), "-X", "-A", "-t", "-d", "postgres", "-v", f"name={name}"], name,
               config.pg_env(), input_text="SELECT coalesce(shobj_description(oid, 'pg_database'), '') "
                                           "FROM pg_database WHERE datname = :'name';\n")
    # One line, empty when the comment is; no line at all when there is no such database.
    return None if rows == "" else rows.rstrip("\n")


def drop_scratch(config: Config, name: str, configured: set) -> None:
    """Drop a scratch database, only one the restore test made: never a configured one, never another's."""
    if name in configured:
        raise BackupError("restore test", f"refusing to drop {name}: it is a configured database", name)
    comment = database_comment(config, name)
    if comment is None:
        return
    if comment != SCRATCH_COMMENT:
        raise BackupError("restore test", f"refusing to drop {name}: it exists and the restore test did not create it "
                                          "(no scratch comment); rename it or choose another scratch_prefix", name)
    drop_database(config, name)


def command_restore_test(config: Config, _args) -> int:
    state = load_state(config)
    if config.method == "pgbackrest":
        try:
            passed = pgbackrest_restore_test(config, state)
        finally:
            published = publish(config, state)
        return 0 if passed and published else 1
    failed = False
    for database in config.databases:
        name = database["name"]
        values = state.setdefault(name, {})
        scratch = scratch_name(database)
        configured = {entry["name"] for entry in config.databases}
        try:
            good = [found for found in backup_sets(config, name) if found["good"]]
            if not good:
                raise BackupError("restore test", "no good backup to test", name)
            newest = checked_in_full(good[0])
            # A leftover of an interrupted test goes; anything else by that name stops the test.
            drop_scratch(config, scratch, configured)
            try:
                restore_into(config, newest, scratch, int(database.get("jobs", 2)), SCRATCH_COMMENT)
                expected = newest["manifest"]["database_entry"]["tables"]
                got = facts_of(config, scratch, [t for t, f in expected.items() if "md5" in f])
            finally:
                drop_scratch(config, scratch, configured)
            differences = {table: (expected.get(table), got.get(table)) for table in set(expected) | set(got)
                           if expected.get(table) != got.get(table)}
            if differences:
                raise BackupError("restore test", f"{len(differences)} tables differ: {sorted(differences)[:5]}", name)
            newest["manifest"]["restore_tested_at"] = now()
            write_atomically(os.path.join(newest["path"], MANIFEST),
                             json.dumps(newest["manifest"], indent=2, sort_keys=True) + "\n", config.file_mode)
            values.update({"restore_test_last_run_success": 1,
                           "restore_test_last_success_timestamp_seconds": newest["manifest"]["restore_tested_at"]})
            log(f"{name}: backup {newest['stamp']} restored and matched ({len(expected)} tables)")
        except Exception as exc:  # noqa: BLE001  (reported, and the next database is still tested)
            failed = True
            failure = failure_of(exc, name)
            values["restore_test_last_run_success"] = 0
            log(f"{name}: RESTORE TEST FAILED at step {failure.step}: {failure}")
            notify(config, f":x: Restore test of {name} on {config.host_label} failed at step '{failure.step}': {failure}")
        finally:
            failed = not publish(config, state) or failed
    return 1 if failed else 0


def command_verify(config: Config, _args) -> int:
    """Re-hash every local set; mark the ones that no longer match so nothing counts them as good."""
    if config.method == "pgbackrest":
        tool = PgBackRest(config)
        bad = 0
        for backup in good_backups(tool.backups()):
            try:
                tool.verify(backup["label"])
            except BackupError as exc:
                bad += 1
                log(f"pgbackrest: {exc}")
        log(f"{bad} backups failed verification" if bad else "every backup in the repository verified")
        return 1 if bad else 0
    bad = 0
    for database in config.databases:
        for found in backup_sets(config, database["name"], full=True):
            if found["manifest"] is None or found["good"]:
                continue
            if not os.path.exists(os.path.join(found["path"], FAILED_MARKER)):
                write_atomically(os.path.join(found["path"], FAILED_MARKER), "; ".join(found["problems"]) + "\n")
            bad += 1
            log(f"{database['name']}: {found['stamp']} FAILED verification: {'; '.join(found['problems'])}")
    log(f"{bad} backups failed verification" if bad else "every backup matches its manifest")
    return 1 if bad else 0


def command_list(config: Config, args) -> int:
    if config.method == "pgbackrest":
        # Every database is in every cluster backup.
        print(json.dumps([{"stamp": backup["label"], "type": backup["type"], "good": not backup.get("error"),
                           "started": backup["timestamp"]["start"], "finished": backup["timestamp"]["stop"],
                           "size": backup["info"]["repository"]["size"]}
                          for backup in reversed(PgBackRest(config).backups())], indent=2))
        return 0
    if args.source == "s3":
        try:
            remote = remote_sets(config, s3_client(config), args.database).values()
        except s3_errors() as exc:
            raise BackupError("list", str(exc), args.database) from None
        print(json.dumps([{"stamp": found["stamp"], "complete": bool(found["manifest_key"]), "objects": len(found["keys"]),
                           "size": found["size"], "encrypted": found["manifest_key"].endswith(AGE_SUFFIX)}
                          for found in sorted(remote, key=lambda found: found["time"], reverse=True)], indent=2))
        return 0
    sets = backup_sets(config, args.database, full=args.full)
    print(json.dumps([{"stamp": found["stamp"], "path": found["path"], "good": found["good"],
                       "problems": found["problems"],
                       "restore_tested_at": (found["manifest"] or {}).get("restore_tested_at")} for found in sets],
                     indent=2))
    return 0


def choose_backup(config: Config, database: str, stamp: str) -> dict:
    """The backup to restore (the newest good one for "latest"), re-hashed in full."""
    sets = backup_sets(config, database)
    if stamp in ("", "latest"):
        chosen = next((found for found in sets if found["good"]), None)
        if chosen is None:
            raise BackupError("restore", f"no good backup of {database}", database)
    else:
        chosen = next((found for found in sets if found["stamp"] == stamp), None)
        if chosen is None:
            raise BackupError("restore", f"no backup {stamp} of {database}", database)
        if not chosen["good"]:
            raise BackupError("checksum", f"backup {stamp} is not good: {'; '.join(chosen['problems'])}", database)
    return checked_in_full(chosen)


def make_room(config: Config, target: str, force: bool) -> None:
    if database_exists(config, target):
        if not force:
            raise BackupError("restore", f"database {target} exists; set force to replace it", target)
        drop_database(config, target)


def command_fetch(config: Config, args) -> int:
    """Download a set from the bucket into the backup directory, checked, without restoring it."""
    found = fetch_set(config, args.database, args.backup, args.identity)
    print(json.dumps({"database": args.database, "backup": found["stamp"], "path": found["path"]}, indent=2))
    return 0


def command_counts(config: Config, args) -> int:
    print(json.dumps({"database": args.database, "tables": facts_of(config, args.database, [])}, indent=2))
    return 0


def command_restore(config: Config, args) -> int:
    if config.method == "pgbackrest" and not args.legacy:
        raise BackupError("restore", "the pgbackrest method restores the whole cluster: use playbooks/restore.yml, "
                                     "which stops PostgreSQL and runs pgbackrest restore")
    target = args.target or args.database
    env = config.pg_env()
    if args.legacy:
        make_room(config, target, args.force)
        run("create", [config.program("createdb"), "--template=template0", target], target, env)
        with subprocess.Popen(["gzip", "-dc", args.legacy], stdout=subprocess.PIPE) as gunzip:
            run("restore", [config.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target], target, env,
                stdout=subprocess.DEVNULL, stdin=gunzip.stdout)
            if gunzip.wait() != 0:
                raise BackupError("restore", f"{args.legacy} is not a complete gzip file", target)
        print(json.dumps({"database": target, "source": args.legacy, "tables": facts_of(config, target, [])}, indent=2))
        return 0
    # Checksums first: nothing is dropped for a backup that would not restore.
    if args.source == "s3":
        chosen = fetch_set(config, args.database, args.backup, args.identity)
    else:
        chosen = choose_backup(config, args.database, args.backup)
    make_room(config, target, args.force)
    if args.globals:
        # Roles that exist already make psql report errors; the rest still applies.
        run("restore globals", [config.program("psql"), "-X", "-q", "-d", "postgres", "-f",
                                os.path.join(chosen["path"], "globals.sql")], target, env, stdout=subprocess.DEVNULL)
    restore_into(config, chosen, target, args.jobs)
    counts = facts_of(config, target, [])
    expected = chosen["manifest"]["database_entry"]["tables"]
    print(json.dumps({"database": target, "backup": chosen["stamp"], "source": args.source, "tables": counts,
                      "matches_backup": {t: f["rows"] for t, f in counts.items()} == {t: f["rows"] for t, f in expected.items()}},
                     indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dataaggregator-backup", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", default="/etc/dataaggregator-backup/config.json")
    commands = parser.add_subparsers(dest="command", required=True)
    backup = commands.add_parser("backup")
    backup.add_argument("--full", action="store_true", help="pgbackrest method: a full backup whatever the schedule")
    commands.add_parser("restore-test")
    commands.add_parser("verify")
    listing = commands.add_parser("list")
    listing.add_argument("database")
    listing.add_argument("--full", action="store_true", help="re-hash every file")
    listing.add_argument("--source", choices=["local", "s3"], default="local", help="this host's sets or the bucket's")
    restore = commands.add_parser("restore")
    restore.add_argument("database", help="the database whose backup to restore")
    restore.add_argument("--backup", default="latest", help="a backup's stamp; latest good by default")
    restore.add_argument("--target", default="", help="database to restore into; the same name by default")
    restore.add_argument("--force", action="store_true", help="replace the target if it exists")
    restore.add_argument("--globals", action="store_true", help="restore the roles first")
    restore.add_argument("--jobs", type=int, default=2)
    restore.add_argument("--legacy", default="", help="a plain .sql.gz dump of the old backup script")
    fetch = commands.add_parser("fetch", help="download a set from the bucket and check it, without restoring it")
    fetch.add_argument("database")
    fetch.add_argument("--backup", default="latest", help="a backup's stamp; the newest complete one by default")
    restore.add_argument("--source", choices=["local", "s3"], default="local",
                         help="s3: download the set from the bucket first (a host that lost its backups)")
    for command in (restore, fetch):
        command.add_argument("--identity", default="", help="age identity file, to decrypt an encrypted upload")
    counts = commands.add_parser("counts", help="the row count of every table of a database, as JSON")
    counts.add_argument("database")
    args = parser.parse_args(argv)
    try:
        config = Config.load(args.config)
        run_as(config.user)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"dataaggregator-backup: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    os.umask(0o027)
    # A stop unwinds like an error, so the state and the metrics still say the run failed.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    handlers = {"backup": command_backup, "restore-test": command_restore_test, "verify": command_verify,
                "list": command_list, "restore": command_restore, "fetch": command_fetch, "counts": command_counts}
    if args.command == "fetch":
        args.source = "s3"
    if args.command in ("list", "restore", "fetch", "counts"):
        LOG_TO_STDERR.append(args.command)
    try:
        if args.command in ("backup", "restore-test", "restore", "fetch"):
            with Lock(config.lock_file):
                return handlers[args.command](config, args)
        return handlers[args.command](config, args)
    except BackupError as exc:
        log(f"FAILED at step {exc.step}: {exc}")
        if exc.step == "lock":
            return EXIT_LOCKED
        return 1
    except Stopped as exc:
        log(f"STOPPED by {exc}: the databases not finished are recorded as failed")
        return 128 + signal.SIGTERM
    finally:
        LOG_TO_STDERR.clear()


if __name__ == "__main__":
    sys.exit(main())
