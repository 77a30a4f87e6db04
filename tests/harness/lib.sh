# Shared helpers for the test harness scripts. Source it; do not run it.
# shellcheck shell=bash

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HARNESS_DIR/../.." && pwd)
CACHE_DIR=${DA_CACHE_DIR:-$REPO_ROOT/.cache}
export HARNESS_DIR REPO_ROOT CACHE_DIR

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing, with one apt-get update at most.
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The first URI of the host's configured Debian archive (never a hard-coded host).
host_debian_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -v -- '-security' | head -n1)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{print $2}' | grep -v -- '-security' | head -n1)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in the host's apt configuration"
  printf '%s\n' "$uri"
}

# The ansible-core release the host's own controller runs: the one that
# tests/requirements.txt names (by its requirements/ansible-VERSION.txt).
host_controller_version() {
  sed -nE 's|^-r requirements/ansible-([0-9.]+)\.txt$|\1|p' "$REPO_ROOT/tests/requirements.txt"
}
