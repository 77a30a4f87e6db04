#!/usr/bin/env bash
# Create .venv with the pinned test dependencies; reinstall when
# tests/requirements.txt or requirements.txt change.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VENV=$REPO_ROOT/.venv
STAMP=$VENV/.requirements.sha256
WANT=$(cat "$REPO_ROOT/tests/requirements.txt" "$REPO_ROOT/requirements.txt" | sha256sum | cut -d' ' -f1)

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  exit 0
fi
python3 -m venv "$VENV" 2>/dev/null || { ensure_apt_packages python3-venv; python3 -m venv "$VENV"; }
log "installing the pinned test dependencies into .venv"
# This machine's pip config names local indexes that may not exist; drop
# those warnings and keep every other line.
quiet_pip() {
  "$VENV/bin/pip" "$@" 2>&1 | { grep -v "Location '.*' is ignored" || true; }
  return "${PIPESTATUS[0]}"
}
quiet_pip install -q --upgrade pip >/dev/null
(cd "$REPO_ROOT/tests" && quiet_pip install -q -r requirements.txt)
echo "$WANT" > "$STAMP"
