"""Time the docker-compose stack's backup script against the backup role's, on one database of at least 1 GiB.

Run as root on a host with PostgreSQL (make benchmark runs it in a throwaway
container). In one run it builds the database with pgbench, then times:

  old    pg_dump | gzip > file.sql.gz            (the docker-compose stack's backup script)
  role   dataaggregator-backup backup            (dump, fsync, full-read verification,
                                                  checksums and manifest), once per
                                                  variant (format:compression)

and prints wall time, CPU time (of the client processes; the server's work is
in the wall time) and size of each, and the ratios role/old.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "roles", "backup", "files", "dataaggregator_backup.py")


def as_postgres(argv: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, **kwargs)


def psql(database: str, sql: str) -> str:
    return as_postgres(["psql", "-X", "-A", "-t", "-d", database, "-c", sql], capture_output=True, text=True).stdout.strip()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(action) -> tuple:
    """(wall seconds, CPU seconds of the child processes) of action()."""
    cpu, wall = children_cpu(), time.monotonic()
    action()
    return time.monotonic() - wall, children_cpu() - cpu


def tree_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _s, files in os.walk(path) for f in files)


def build(database: str, scale: int) -> int:
    if psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'") != "1":
        as_postgres(["createdb", database])
        as_postgres(["pgbench", "-i", "-q", "-s", str(scale), database], capture_output=True)
        # Text that compresses like real rows, not only pgbench's blank filler.
        psql(database, "UPDATE pgbench_accounts SET filler = md5(aid::text) || ' account ' || (aid % 1000)")
        # Rewritten, so the size on disk is the data's, not dead rows.
        psql(database, "VACUUM FULL ANALYZE")
    return int(psql(database, f"SELECT pg_database_size('{database}')"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--database", default="benchmark")
    parser.add_argument("--scale", type=int, default=75, help="pgbench scale (75 is about 1.2 GiB)")
    parser.add_argument("--variant", action="append", metavar="FORMAT:COMPRESS",
                        help="the role's settings to time; default custom:zstd:3 (the role's) and directory:1")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", default="/var/tmp/backup-benchmark")
    args = parser.parse_args()

    size = build(args.database, args.scale)
    if size < 1 << 30:
        print(f"the database is {size / 2**30:.2f} GiB; raise --scale", file=sys.stderr)
        return 2
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    shutil.chown(args.workdir, "postgres", "postgres")
    bin_dir = as_postgres(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("pg_config") else sorted(f"/usr/lib/postgresql/{v}/bin" for v in os.listdir("/usr/lib/postgresql"))[-1]

    old_file = os.path.join(args.workdir, "old-script.sql.gz")
    old_wall, old_cpu = measure(lambda: as_postgres(
        ["bash", "-c", f"set -euo pipefail; {bin_dir}/pg_dump {args.database} | gzip > {old_file}"]))
    old_size = tree_size(old_file)

    print(f"database {args.database}: {size / 2**30:.2f} GiB on disk (pgbench scale {args.scale}), {os.cpu_count()} CPUs")
    print(f"{'':48} {'wall s':>8} {'CPU s':>8} {'size MiB':>9} {'wall/old':>9} {'size/old':>9}")
    print(f"{'old script: pg_dump | gzip':48} {old_wall:8.1f} {old_cpu:8.1f} {old_size / 2**20:9.1f}")
    for number, variant in enumerate(args.variant or ["custom:zstd:3", "directory:1"]):
        fmt, _sep, compress = variant.partition(":")
        backup_dir = os.path.join(args.workdir, f"role-{number}")
        config = {
            "backup_dir": backup_dir, "pg_bin_dir": bin_dir,
            "databases": [{"name": args.database, "format": fmt, "compress": compress, "jobs": args.jobs}],
            "lock_file": os.path.join(args.workdir, "lock"), "state_file": os.path.join(args.workdir, "state.json"),
            "retention_days": 30, "keep_min": 3,
        }
        config_file = os.path.join(tempfile.mkdtemp(), "config.json")
        with open(config_file, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        os.chmod(os.path.dirname(config_file), 0o755)
        os.chmod(config_file, 0o644)
        wall, cpu = measure(lambda path=config_file: as_postgres(["python3", PROGRAM, "--config", path, "backup"],
                                                                 stdout=subprocess.DEVNULL))
        role_size = tree_size(os.path.join(backup_dir, args.database))
        label = f"role: {fmt} {compress}, {args.jobs} jobs, verified"
        print(f"{label:48} {wall:8.1f} {cpu:8.1f} {role_size / 2**20:9.1f} {wall / old_wall:9.2f} {role_size / old_size:9.2f}")
        shutil.rmtree(backup_dir, ignore_errors=True)
    shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
