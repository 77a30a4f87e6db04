#!/usr/bin/env bash
# Make sure a Docker engine answers. Uses the running one if there is one;
# otherwise installs Debian's docker.io and starts dockerd in the background.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if docker info >/dev/null 2>&1; then
  exit 0
fi

command -v dockerd >/dev/null 2>&1 || ensure_apt_packages docker.io
command -v docker >/dev/null 2>&1 || ensure_apt_packages docker.io

log "starting dockerd (log: /var/log/dockerd.log)"
as_root sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
tail -n 20 /var/log/dockerd.log >&2 || true
die "dockerd did not answer within 60 s"
