#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/dataaggregator/infrastructure, as ansible-test requires.
# Extra arguments go to ansible-test (e.g. --test yamllint).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Without shellcheck, ansible-test skips its shellcheck test with a mere warning.
command -v shellcheck >/dev/null || ensure_apt_packages shellcheck

WORK=$(mktemp -d "${TMPDIR:-/tmp}/da-sanity.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TREE=$WORK/ansible_collections/dataaggregator/infrastructure
mkdir -p "$TREE"
# The files git tracks or would track; .collections/ is the checkout's own
# self-link and is no part of the collection.
collection_files() {
  local file
  git -C "$REPO_ROOT" ls-files -z --cached --others --exclude-standard -- . ':!.collections' \
    | while IFS= read -r -d '' file; do [ -e "$REPO_ROOT/$file" ] && printf '%s\0' "$file"; done
}
collection_files | tar -C "$REPO_ROOT" --null -T - -cf - | tar -C "$TREE" -xf -
cd "$TREE"

# ansible-test bootstraps pip into its sanity environments with a script it
# downloads from a host that is not reachable here; give it a local one that
# installs the same pinned pip from the package index.
ansible_test_dir=$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(grep -oE "pip='[0-9.]+'" "$ansible_test_dir/_internal/python_requirements.py" | head -n1 | tr -dc '0-9.')
[ -n "$pip_version" ] || die "cannot tell which pip version ansible-test bootstraps"
bootstrap=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$bootstrap" ] || ! cmp -s "$HARNESS_DIR/offline_get_pip.py" "$bootstrap"; then
  mkdir -p "$(dirname "$bootstrap")"
  cp "$HARNESS_DIR/offline_get_pip.py" "$bootstrap"
fi
python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --color no --python "$python_version" "${DA_SANITY_ENV:---venv}" "$@"
