#!/usr/bin/env bash
# Run the Molecule scenarios in lanes side by side: each lane runs its
# scenarios one after another, the last lane in the foreground, the others in
# the background. One scenario leaves the controller's cores about half idle
# (it mostly waits on containers, services, scrape intervals and
# notification windows), so two lanes take much less time than one. Each
# scenario is still a stage with its own timing; a background lane's output is
# printed when every lane has ended. A lane stops at its first failure; the
# others run to their end.
#
#   molecule-parallel.sh "SCENARIO SCENARIO..." "SCENARIO..."...
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die 'usage: molecule-parallel.sh "SCENARIO..." ["SCENARIO..."]...'
mkdir -p "$CACHE_DIR"

run_lane() {
  local scenario
  for scenario in $1; do
    "$HARNESS_DIR/stage.sh" "molecule:$scenario" molecule test -s "$scenario" || return 1
  done
}

lanes=("$@")
foreground=${lanes[-1]}
unset 'lanes[-1]'
pids=() logs=()
for lane in "${lanes[@]}"; do
  lane_log=$CACHE_DIR/molecule-lane-${lane%% *}.log
  log "molecule: in the background: $lane (output in $lane_log)"
  run_lane "$lane" > "$lane_log" 2>&1 &
  pids+=($!)
  logs+=("$lane_log")
done
log "molecule: in the foreground: $foreground"

rc=0
run_lane "$foreground" || rc=1

for index in "${!pids[@]}"; do
  wait "${pids[$index]}" || rc=1
  printf '\n----- output of the background lane: %s -----\n' "${lanes[$index]}"
  cat "${logs[$index]}"
done
exit "$rc"
