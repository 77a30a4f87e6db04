#!/usr/bin/env bash
# Build the collection, install the tarball into an empty collections path, and
# use that installed copy (not the checkout): ansible-doc for every role and a
# syntax check of every playbook.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/da-galaxy.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Only the installed copy may be used: no repository ansible.cfg (whose
# collections path points at the checkout), run from elsewhere.
cd "$WORK"
printf "[defaults]\n" > "$WORK/ansible.cfg"
export ANSIBLE_CONFIG=$WORK/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH=$WORK/collections
export ANSIBLE_ROLES_PATH=$WORK/no-roles

ansible-galaxy collection build --force --output-path "$WORK/dist" "$REPO_ROOT" >/dev/null
tarball=$(ls "$WORK"/dist/dataaggregator-infrastructure-*.tar.gz)
log "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"

# Nothing from tests, Molecule, CI or the dev self-link may ship.
leaked=$(tar -tzf "$tarball" | grep -E '^(tests|molecule|\.ci|\.collections|\.cache|\.venv)/' || true)
[ -z "$leaked" ] || die "the tarball contains files that build_ignore should keep out: $leaked"

ansible-galaxy collection install --offline --force -p "$WORK/collections" "$tarball" >/dev/null
installed=$WORK/collections/ansible_collections/dataaggregator/infrastructure
[ -f "$installed/MANIFEST.json" ] || die "the tarball did not install"

mapfile -t roles < <(find "$installed/roles" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
for role in "${roles[@]}"; do
  ansible-doc -t role "dataaggregator.infrastructure.$role" > "$WORK/doc-$role.txt"
  grep -q "ENTRY POINT" "$WORK/doc-$role.txt" || die "ansible-doc shows no entry point for role $role"
  log "ansible-doc -t role dataaggregator.infrastructure.$role: ok"
done
mapfile -t filters < <(find "$installed/plugins/filter" -maxdepth 1 -type f \( -name '*.py' -o -name '*.yml' \) -printf '%f\n' \
                         | sed -E 's/\.(py|yml)$//' | sort -u)
for filter in "${filters[@]}"; do
  ansible-doc -t filter "dataaggregator.infrastructure.$filter" >/dev/null
  log "ansible-doc -t filter dataaggregator.infrastructure.$filter: ok"
done

printf 'all:\n  hosts:\n    smoke:\n      ansible_connection: local\n' > "$WORK/inventory.yml"
for playbook in "$installed"/playbooks/*.yml; do
  ansible-playbook --syntax-check -i "$WORK/inventory.yml" "$playbook" >/dev/null
  name=$(basename "$playbook" .yml)
  # Playbooks in a collection are also reachable by their FQCN.
  ansible-playbook --syntax-check -i "$WORK/inventory.yml" "dataaggregator.infrastructure.$name" >/dev/null
  log "syntax check of playbook $name (by path and as dataaggregator.infrastructure.$name): ok"
done

# What ansible-builder puts into an execution environment for this collection:
# the controller-side Python libraries of requirements.txt, through
# meta/execution-environment.yml.
introspected=$(ansible-builder introspect --sanitize "$WORK/collections")
while read -r requirement; do
  grep -qF -- "$requirement" <<<"$introspected" || die "ansible-builder introspect does not list $requirement: $introspected"
done < <(grep -E '^[a-z]' "$REPO_ROOT/requirements.txt")
log "ansible-builder introspect lists the controller requirements: ok"

# CHANGELOG.rst is built from changelogs/fragments when a version is released
# (antsibull-changelog release): build it from a copy now, and check that every
# fragment's entry is in it.
mkdir "$WORK/release"
cp -r "$REPO_ROOT/galaxy.yml" "$REPO_ROOT/changelogs" "$REPO_ROOT/meta" "$REPO_ROOT/plugins" "$REPO_ROOT/roles" "$WORK/release/"
version=$(awk '$1 == "version:" {print $2}' "$REPO_ROOT/galaxy.yml")
(cd "$WORK/release" && antsibull-changelog release --version "$version" >/dev/null 2>&1) \
  || die "antsibull-changelog release could not build CHANGELOG.rst from the fragments"
python3 - "$REPO_ROOT/changelogs/fragments" "$WORK/release/CHANGELOG.rst" <<'PY' || die "CHANGELOG.rst lacks fragment entries"
import pathlib, sys, yaml
fragments, changelog = pathlib.Path(sys.argv[1]), " ".join(pathlib.Path(sys.argv[2]).read_text().split())
# Entries of the trivial section are left out of CHANGELOG.rst by design.
entries = [" ".join(str(item).split()) for path in fragments.glob("*.yml")
           for section, items in (yaml.safe_load(path.read_text()) or {}).items()
           if section != "trivial" and isinstance(items, list) for item in items]
missing = [entry[:70] for entry in entries if entry[:60].replace("`", "") not in changelog.replace("`", "")]
if missing:
    sys.exit(f"missing from CHANGELOG.rst: {missing}")
print(f"==> CHANGELOG.rst built from the fragments: all {len(entries)} entries", file=sys.stderr)
PY
