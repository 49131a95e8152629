#!/usr/bin/env bash
# A bounded run of one fuzz target: run.sh TARGET SEEDS_DIR SECONDS [libFuzzer options...]
# New inputs go to a scratch corpus (the committed seeds are only read); a crash, a leak,
# a timeout (10 s per input) or an out-of-memory (2 GB) fails the run and leaves the
# input as crash-*/timeout-*/oom-* in the working directory. Prints the executions.
set -uo pipefail
target=$1 seeds=$2 seconds=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
          -close_fd_mask=1 "$@" "$work" "$seeds" > "$work/log" 2>&1
rc=$?
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$work/log"
grep -E "^INFO: .*corpus|^#[0-9]+ *DONE" "$work/log" | tail -1
if [ $rc -ne 0 ]; then
  tail -60 "$work/log"
  echo "$(basename "$target"): failed (libFuzzer exit $rc)"
fi
exit $rc
