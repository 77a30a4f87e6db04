#!/usr/bin/env bash
# Run one stage of the test command and record how long it took:
#   stage.sh NAME COMMAND...
# Timings go to .cache/timings.txt; `stage.sh --summary` prints them. The
# controller matrix sets DA_STAGE_PREFIX (say "2.21:") to tell releases apart.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
TIMINGS=$CACHE_DIR/timings.txt
mkdir -p "$CACHE_DIR"

if [ "${1:-}" = "--reset" ]; then : > "$TIMINGS"; exit 0; fi
if [ "${1:-}" = "--summary" ]; then
  printf '\n%-28s %8s  %s\n' stage seconds result
  awk '{ printf "%-28s %8s  %s\n", $1, $2, $3; total += $2 } END { printf "%-28s %8d\n", "total", total }' "$TIMINGS"
  exit 0
fi

name=${DA_STAGE_PREFIX:-}$1; shift
printf '\n===== stage %s =====\n' "$name"
start=$(date +%s)
"$@"
rc=$?
elapsed=$(( $(date +%s) - start ))
result=$([ "$rc" -eq 0 ] && echo passed || echo "FAILED(rc=$rc)")
printf '%s %s %s\n' "$name" "$elapsed" "$result" >> "$TIMINGS"
printf '===== stage %s: %s in %d s =====\n' "$name" "$result" "$elapsed"
exit "$rc"
