#!/usr/bin/env bash
# Run one Molecule scenario in the background while others run one after
# another in the foreground. One scenario leaves the controller's cores
# about half idle (it mostly waits on containers, services and the network),
# so the pair takes much less time than the two in turn. Each scenario is
# still a stage with its own timing; the background one's output is printed
# when it ends.
#
#   molecule-parallel.sh BACKGROUND_SCENARIO FOREGROUND_SCENARIO...
set -uo pipefail
. "$(dirname "$0")/lib.sh"

background=$1
shift
background_log=$CACHE_DIR/molecule-$background.log
mkdir -p "$CACHE_DIR"
log "molecule: $background in the background (output in $background_log), beside: $*"
"$HARNESS_DIR/stage.sh" "molecule:$background" molecule test -s "$background" > "$background_log" 2>&1 &
background_pid=$!

rc=0
for scenario in "$@"; do
  "$HARNESS_DIR/stage.sh" "molecule:$scenario" molecule test -s "$scenario" || { rc=1; break; }
done

wait "$background_pid"
background_rc=$?
printf '\n----- output of molecule test -s %s (ran in the background) -----\n' "$background"
cat "$background_log"
[ "$background_rc" -eq 0 ] || rc=1
exit "$rc"
