#!/usr/bin/env bash
# Create the virtual environment with the pinned test dependencies; reinstall
# when any requirements file changes. By default .venv from
# tests/requirements.txt (the host's controller); the controller matrix sets
#   DA_VENV          where the environment lives
#   DA_REQUIREMENTS  the requirements file, relative to tests/
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VENV=${DA_VENV:-$REPO_ROOT/.venv}
REQUIREMENTS=${DA_REQUIREMENTS:-requirements.txt}
STAMP=$VENV/.requirements.sha256
[ -f "$REPO_ROOT/tests/$REQUIREMENTS" ] || die "no such requirements file: tests/$REQUIREMENTS"
# The file and every file it includes (-r), so that new pins of one release
# do not reinstall the environments of the others.
requirement_files() {
  local file=$1 included
  printf '%s\n' "$file"
  sed -nE 's/^-r[[:space:]]+//p' "$file" | while read -r included; do
    requirement_files "$(dirname "$file")/$included"
  done
}
WANT=$(requirement_files "$REPO_ROOT/tests/$REQUIREMENTS" | xargs cat | sha256sum | cut -d' ' -f1)

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  exit 0
fi
python3 -m venv "$VENV" 2>/dev/null || { ensure_apt_packages python3-venv; python3 -m venv "$VENV"; }
log "installing the pinned test dependencies into $VENV (tests/$REQUIREMENTS, $("$VENV/bin/python" -V))"
# This machine's pip config names local indexes that may not exist; drop
# those warnings and keep every other line.
quiet_pip() {
  "$VENV/bin/pip" "$@" 2>&1 | { grep -v "Location '.*' is ignored" || true; }
  return "${PIPESTATUS[0]}"
}
quiet_pip install -q --upgrade pip >/dev/null
(cd "$REPO_ROOT/tests" && quiet_pip install -q -r "$REQUIREMENTS")
echo "$WANT" > "$STAMP"
