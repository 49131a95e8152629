#!/usr/bin/env bash
# Resume: a sweep killed with kill -9 after some runs (and with a torn last log record),
# then re-run with the same command, ends with the same /runs as an uninterrupted sweep,
# bit for bit; the HDF5 path is a complete, readable file at every moment in between.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/ss-resume-XXXXXX)
trap 'kill -9 $pid $watch 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"

cat > "$tmp/sweep.yaml" <<'YAML'
name: resume-test
seeds: 4
datasets:
  g:
    kind: gaussian
    features: 20
    relevant: 8
    samples: 20000
model:
  hidden: [64, 32]
  activations: [tanh, relu]
training:
  epochs: 40
  batch_size: 200
sweep:
  reg_eigenvalues: [1.0e-3, 1.0e-2]
relevance:
  topk: [1, 2, 4, 8, 20]
YAML

# The reference: uninterrupted.
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/ref.h5" > "$tmp/ref.out" 2>&1; rc=$?
check "uninterrupted sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'

# A watcher opens the results file over and over while the sweep runs and is killed.
cat > "$tmp/watch.py" <<'PY'
import os, sys, time, h5py
path, stop = sys.argv[1], sys.argv[2]
opened = bad = 0
while not os.path.exists(stop):
    if os.path.exists(path):
        try:
            with h5py.File(path, "r") as f:
                assert f.attrs["format"] in (b"specsweep-results", "specsweep-results")
                for r in f["runs"].values():
                    r["eigenvalues"][()]
            opened += 1
        except Exception as e:
            bad += 1
            print("unreadable:", e, flush=True)
    time.sleep(0.005)
print(f"opened {opened} bad {bad}")
sys.exit(1 if bad or opened == 0 else 0)
PY
$PY "$tmp/watch.py" "$tmp/res.h5" "$tmp/stop" > "$tmp/watch.out" 2>&1 &
watch=$!

"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/res.h5" --snapshot-interval 0.05 > "$tmp/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do   # until 3 runs are committed (up to 60 s)
  n=$("$SPECSWEEP" list "$tmp/sweep.yaml" -o "$tmp/res.h5" 2>/dev/null | grep -c '^ok')
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
n_before=$("$SPECSWEEP" list "$tmp/sweep.yaml" -o "$tmp/res.h5" | grep -c '^ok')
check "some but not all runs committed before kill -9 (got $n_before of 8)" '[ "$n_before" -ge 3 ] && [ "$n_before" -lt 8 ]'

# A torn record at the end, as if the machine died in the middle of appending the next
# result: the first 100 bytes of a copy of the last record. It was never committed, so
# it is trimmed silently and no run is lost.
tail -c 1200 "$tmp/res.h5.log" | $PY -c 'import sys; b=sys.stdin.buffer.read(); i=b.rfind(b"CRSS"); sys.stdout.buffer.write(b[i:i+100])' >> "$tmp/res.h5.log"
n_torn=$("$SPECSWEEP" list "$tmp/sweep.yaml" -o "$tmp/res.h5" | grep -c '^ok')
check "a torn record at the end costs no committed run ($n_before -> $n_torn)" '[ "$n_torn" -eq "$n_before" ]'

"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/res.h5" --snapshot-interval 0.05 > "$tmp/run2.out" 2>&1; rc=$?
check "resumed sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'
n_resumed=$(sed -n 's/.* \([0-9]*\) done, [0-9]* to run.*/\1/p' "$tmp/run2.out")
check "resume keeps every committed run ($n_resumed >= $n_before done)" '[ "${n_resumed:-0}" -ge "$n_before" ]'
touch "$tmp/stop"; wait $watch; rc=$?
check "results file readable at every moment ($(tail -1 "$tmp/watch.out"))" '[ $rc -eq 0 ]'

$PY "$SS_TEST_DIR/h5compare.py" "$tmp/ref.h5" "$tmp/res.h5" > "$tmp/cmp.out"; rc=$?
check "interrupted+resumed /runs identical to uninterrupted ($(tail -1 "$tmp/cmp.out"))" '[ $rc -eq 0 ]'
[ "$fails" -eq 0 ] || { cat "$tmp/cmp.out" "$tmp/run1.out" "$tmp/run2.out" "$tmp/watch.out"; }

# Running again on a complete file does nothing and succeeds.
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/res.h5" > "$tmp/run3.out" 2>&1; rc=$?
check "re-running a complete sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'
check "re-running a complete sweep trains nothing" 'grep -q "8 done, 0 to run" "$tmp/run3.out"'

# The last committed record cut off from the log of the complete sweep: the snapshot holds
# a run the log lost. Writing the snapshot again from the log would drop it, so the run is
# refused (exit 2, nothing changed); --salvage commits it to the log again from the
# snapshot, without training, and the results equal the uninterrupted sweep's.
cp "$tmp/res.h5" "$tmp/lost.h5"; cp "$tmp/res.h5.log" "$tmp/lost.h5.log"
size=$(stat -c %s "$tmp/lost.h5.log")
truncate -s $((size - 7)) "$tmp/lost.h5.log"
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/lost.h5" > "$tmp/lost.out" 2>&1; rc=$?
check "a snapshot holding a run the log lost is refused (exit 2, got $rc)" '[ $rc -eq 2 ] && grep -q "salvage" "$tmp/lost.out"'
check "the refusal changed nothing" 'cmp -s "$tmp/lost.h5" "$tmp/res.h5" && [ $(stat -c %s "$tmp/lost.h5.log") -eq $((size - 7)) ]'
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/lost.h5" --salvage > "$tmp/salvage.out" 2>&1; rc=$?
check "--salvage reads the lost run back from the snapshot (exit $rc)" \
      '[ $rc -eq 0 ] && grep -q "read back 1 of the 1 run" "$tmp/salvage.out" && grep -q "8 done, 0 to run" "$tmp/salvage.out"'
$PY "$SS_TEST_DIR/h5compare.py" "$tmp/ref.h5" "$tmp/lost.h5" > "$tmp/lost.cmp"; rc=$?
check "salvaged results identical to the uninterrupted sweep ($(tail -1 "$tmp/lost.cmp"))" '[ $rc -eq 0 ]'

# A log written by specsweep 0.1.0 (tests/fixtures/log-0.1.0) resumes: nothing is left to
# run and the rebuilt snapshot equals the one 0.1.0 built, /runs, /summary and /datasets.
fx="$SS_TEST_DIR/fixtures/log-0.1.0"
mkdir -p "$tmp/legacy"
cp "$fx/sweep.yaml" "$fx/results.h5.log" "$tmp/legacy/"
n_legacy=$("$SPECSWEEP" list "$tmp/legacy/sweep.yaml" -o "$tmp/legacy/results.h5" | grep -c '^ok')
check "the 0.1.0 log lists its 6 runs as done (got $n_legacy)" '[ "$n_legacy" -eq 6 ]'
"$SPECSWEEP" run "$tmp/legacy/sweep.yaml" -o "$tmp/legacy/results.h5" > "$tmp/legacy.out" 2>&1; rc=$?
check "resuming the 0.1.0 log exits 0 (got $rc)" '[ $rc -eq 0 ]'
check "resuming the 0.1.0 log trains nothing" 'grep -q "6 done, 0 to run" "$tmp/legacy.out"'
$PY "$SS_TEST_DIR/h5compare.py" "$fx/expected.h5" "$tmp/legacy/results.h5" --all --additions > "$tmp/legacy.cmp"; rc=$?
check "snapshot rebuilt from the 0.1.0 log equals 0.1.0's ($(tail -1 "$tmp/legacy.cmp"))" '[ $rc -eq 0 ]'

checks_done
