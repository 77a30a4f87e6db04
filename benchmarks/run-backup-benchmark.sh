#!/usr/bin/env bash
# Run benchmarks/backup_benchmark.py in a throwaway Debian 12 systemd container
# with PostgreSQL 15 and zstd from apt (make benchmark). Arguments go to the
# script, for example --format directory --compress 1.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=da-backup-benchmark
IMAGE=${DA_IMAGE_REPO:-dataaggregator/molecule-debian}:12

docker rm -f "$NAME" >/dev/null 2>&1 || true
trap 'docker rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$NAME" --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
  "$IMAGE" /lib/systemd/systemd >/dev/null
for _ in $(seq 1 30); do
  docker exec "$NAME" systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded' && break
  sleep 1
done
docker exec "$NAME" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql zstd >/dev/null'
docker exec "$NAME" mkdir -p /opt/bench/benchmarks /opt/bench/roles/backup/files
docker cp benchmarks/backup_benchmark.py "$NAME":/opt/bench/benchmarks/
docker cp roles/backup/files/dataaggregator_backup.py "$NAME":/opt/bench/roles/backup/files/
docker exec "$NAME" python3 /opt/bench/benchmarks/backup_benchmark.py "$@"
