#!/usr/bin/env bash
# The controller matrix: the stages of the test suite on several ansible-core
# releases, each on its own controller (controller.sh).
#   matrix.sh full          every stage on 2.19 (the host), 2.20 and 2.21
#   matrix.sh ci            what .ci/run runs: sanity, unit and galaxy on 2.19
#                           (the oldest), sanity on 2.20, then every stage on
#                           2.21 (lint with the newest ansible-core and
#                           ansible-lint; Molecule)
#   matrix.sh ENTRY...      VERSION (every stage) or VERSION:STAGE,STAGE...
# Stages are those of `make suite`: lint sanity unit molecule galaxy. Every
# entry runs even when an earlier one failed; the table at the end gives
# pass/fail per release and stage, and the exit status is 1 if any failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

STAGE=$HARNESS_DIR/stage.sh
STAGES=(lint sanity unit molecule galaxy)
RESULTS=$CACHE_DIR/matrix.txt

case "${1:-}" in
  full) entries=(2.19 2.20 2.21) ;;
  ci) entries=("2.19:sanity,unit,galaxy" "2.20:sanity" 2.21) ;;
  '') die "usage: matrix.sh full | ci | VERSION[:STAGE,...]..." ;;
  *) entries=("$@") ;;
esac

# The stages an entry names, one per line: all of them for a bare VERSION.
stages_of() {
  if [ "$1" = "${1%%:*}" ]; then printf '%s\n' "${STAGES[@]}"; else tr , '\n' <<<"${1#*:}"; fi
}

# Refuse an unknown release or stage before anything is set up.
for entry in "${entries[@]}"; do
  [ -f "$REPO_ROOT/tests/requirements/ansible-${entry%%:*}.txt" ] \
    || die "no controller for ansible-core ${entry%%:*} (no tests/requirements/ansible-${entry%%:*}.txt)"
  while read -r stage; do
    [[ " ${STAGES[*]} " == *" $stage "* ]] || die "unknown stage $stage in $entry (stages: ${STAGES[*]})"
  done < <(stages_of "$entry")
done

host_version=$(host_controller_version)
"$STAGE" --reset
mkdir -p "$CACHE_DIR"
: > "$RESULTS"
record() { printf '%s %s %s %s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }

"$STAGE" setup make --no-print-directory setup || exit 1
for entry in "${entries[@]}"; do
  if [ "${entry%%:*}" != "$host_version" ]; then
    "$STAGE" setup:controller-image "$HARNESS_DIR/images.sh" controller || exit 1
    break
  fi
done

# The other releases' virtual environments build in the background while the
# first entries run: pip mostly waits on the package index.
declare -A venv_pids
for entry in "${entries[@]}"; do
  version=${entry%%:*}
  [ "$version" != "$host_version" ] || continue
  "$HARNESS_DIR/controller.sh" "$version" "$STAGE" venv make --no-print-directory venv \
    > "$CACHE_DIR/venv-$version.log" 2>&1 &
  venv_pids[$version]=$!
done

failed=0
for entry in "${entries[@]}"; do
  version=${entry%%:*}
  mapfile -t stages < <(stages_of "$entry")
  printf '\n######## controller: ansible-core %s, stages: %s ########\n' "$version" "${stages[*]}"
  venv_ok=1
  if [ -n "${venv_pids[$version]:-}" ]; then
    wait "${venv_pids[$version]}" || venv_ok=0
    cat "$CACHE_DIR/venv-$version.log"
    unset "venv_pids[$version]"
  else
    "$HARNESS_DIR/controller.sh" "$version" "$STAGE" venv make --no-print-directory venv || venv_ok=0
  fi
  if [ "$venv_ok" = 0 ]; then
    for stage in "${stages[@]}"; do record "$version" "$stage" 0 "not-run(no-venv)"; done
    failed=1
    continue
  fi
  for stage in "${stages[@]}"; do
    start=$SECONDS
    if "$HARNESS_DIR/controller.sh" "$version" make --no-print-directory suite SUITE_STAGES="$stage"; then
      record "$version" "$stage" $((SECONDS - start)) passed
    else
      record "$version" "$stage" $((SECONDS - start)) FAILED
      failed=1
    fi
  done
done

"$STAGE" --summary
printf '\ncontroller matrix (result, seconds):\n%-28s' "ansible-core"
printf ' %-16s' "${STAGES[@]}"
printf '\n'
for entry in "${entries[@]}"; do
  version=${entry%%:*}
  core=$(sed -nE 's/^ansible-core==//p' "$REPO_ROOT/tests/requirements/ansible-$version.txt")
  where=$([ "$version" = "$host_version" ] && echo host || echo controller-image)
  printf '%-28s' "$core ($where)"
  for stage in "${STAGES[@]}"; do
    cell=$(awk -v v="$version" -v s="$stage" '$1 == v && $2 == s { print $4 " " $3 " s" }' "$RESULTS")
    printf ' %-16s' "${cell:--}"
  done
  printf '\n'
done
exit "$failed"
