#!/usr/bin/env bash
# Extract the service checkers the unit tests run (promtool, amtool, and
# prometheus for the rules against the sandbox's simulated backend) from
# Debian's packages into .cache/tools/bin. Nothing is installed system-wide
# and no service starts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TOOLS_DIR=$CACHE_DIR/tools
BIN_DIR=$TOOLS_DIR/bin

# tool  debian-package  path-in-package
TOOLS='promtool prometheus usr/bin/promtool
prometheus prometheus usr/bin/prometheus
amtool prometheus-alertmanager usr/bin/amtool'

mkdir -p "$BIN_DIR"
while read -r tool package path; do
  [ -x "$BIN_DIR/$tool" ] && continue
  work=$(mktemp -d)
  (cd "$work" && apt-get download -q "$package" >/dev/null 2>&1) \
    || { as_root apt-get update -qq; (cd "$work" && apt-get download -q "$package" >/dev/null); }
  dpkg-deb -x "$work"/*.deb "$work/root"
  install -m 0755 "$work/root/$path" "$BIN_DIR/$tool"
  rm -rf "$work"
  log "tools: $tool from $package ($("$BIN_DIR/$tool" --version 2>&1 | head -n1))"
done <<<"$TOOLS"
