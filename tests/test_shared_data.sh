#!/usr/bin/env bash
# One copy of the data per node (include/specsweep/nodedata.h), seen from outside:
#  - memory: 4 ranks on one node train on an 80 MB dataset; read from /proc, every rank
#    maps the same shared file read-only, the rows are counted once (the PSS of that
#    mapping summed over the ranks is its size), and no rank holds a private copy (its
#    anonymous memory is far below the dataset); the same check of a job with
#    SPECSWEEP_SHARED_DATA=0 must find the private copies (so the check can fail);
#  - bit-identity: /runs, /summary and /datasets of the shared path and of the forced
#    private path (SPECSWEEP_SHARED_DATA=0) are identical at 1, 2 and 3 ranks;
#  - a bad dataset at start-up on 3 ranks: exit 2, one message naming the file, nothing
#    written;
#  - a dataset file that disappears between two runs of a sweep (after rank 0's check,
#    before the node loads it): exit 1, one message naming the file, the committed runs
#    in the results file, and the same command completes once the file is back;
#  - a dataset file that disappears once the sweep has started, when rank 0's check has
#    handed its copy to the node: every run trains on that copy (exit 0);
#  - (as root) the node's shared memory on a small tmpfs: without room for the window at
#    the start, one copy per rank and a note (exit 0); filled up by someone else before a
#    dataset is loaded: exit 1 with a message saying so, not a crash.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-shared-data-XXXXXX)
bg=; small=
trap '[ -n "$bg" ] && pkill -9 -s $bg; [ -n "$small" ] && umount "$small" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"
committed() { "$SPECSWEEP" list "$1" -o "$2" 2>/dev/null | grep -cE '^(ok|diverged)'; }

# ---- memory, through /proc ------------------------------------------------------------
# 50000 x 400 float32 inputs + labels = 80 MB; 4 runs, one per rank, long enough to look.
cat > "$tmp/big.yaml" <<'YAML'
name: nodedata-memory
seeds: 4
datasets:
  big: {kind: gaussian, features: 400, relevant: 10, samples: 50000}
model: {hidden: [8], activations: [relu]}
training: {epochs: 60, batch_size: 2000}
relevance: {topk: [1]}
YAML
cat > "$tmp/maps.py" <<'PY'
# maps.py SID SHARED(1|0) OUT: waits (up to 60 s) until the 4 specsweep ranks of session
# SID have touched the dataset's training rows (80 % of its bytes; the test rows are read
# at the end of a run), then writes what /proc says of them to OUT: "ok: <details>" or
# "bad: <details>".
import os, sys, time
sid, shared, out = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
ROWS = 50000 * 400 * 4 + 50000 * 4          # the dataset's bytes (train + test)
TRAIN = 0.8 * ROWS                           # test_fraction 0.2

def ranks():
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            rest = st[st.rindex(")") + 2:].split()
            if st[st.index("(") + 1:st.rindex(")")] == "specsweep" and int(rest[3]) == sid:
                pids.append(int(d))
    return pids

def smaps(pid):
    """[(perms, dev, inode, size_kb, rss_kb, pss_kb)] and the Anonymous kB of pid."""
    maps, cur, anon = [], None, 0
    for line in open(f"/proc/{pid}/smaps"):
        f = line.split()
        if "-" in f[0] and len(f) >= 5 and ":" not in f[0]:
            cur = {"perms": f[1], "dev": f[3], "inode": f[4]}
            maps.append(cur)
        elif f[0] in ("Size:", "Rss:", "Pss:", "Anonymous:"):
            cur[f[0][:-1]] = int(f[1])
            if f[0] == "Anonymous:":
                anon += int(f[1])
    return maps, anon

def look():
    pids = ranks()
    if len(pids) != 4:
        return None
    big, anon = {}, {}
    for p in pids:
        maps, anon[p] = smaps(p)
        rows = [m for m in maps if m["perms"][3] == "s" and m["Size"] * 1024 >= ROWS]
        big[p] = rows[0] if rows else None
    return pids, big, anon

# The PSS of a page is read in one rank after another: a page another rank maps in between
# counts twice. So the ranks are read until two readings in a row agree (every rank's
# resident sizes unchanged: no rows mapped in meanwhile).
deadline, before = time.time() + 60, None
while time.time() < deadline:
    try:
        got = look()
    except (OSError, KeyError, IndexError):
        got = None
    if got:
        pids, big, anon = got
        now = [(big[p]["Rss"] if big[p] else 0, anon[p]) for p in pids]
        held = (all(big[p] and big[p]["Rss"] * 1024 >= TRAIN for p in pids) if shared
                else all(anon[p] * 1024 >= TRAIN for p in pids))
        if held and now == before:
            break
        before = now if held else None
    time.sleep(0.1)
else:
    open(out, "w").write("bad: the ranks never held the rows (timeout)\n")
    sys.exit(0)

mb = lambda kb: f"{kb / 1024:.0f} MB"
files = {(big[p]["dev"], big[p]["inode"]) for p in pids if big[p]}
pss = sum(big[p]["Pss"] for p in pids if big[p])
rss = max((big[p]["Rss"] for p in pids if big[p]), default=0)
ok = (len(files) == 1 and all(big[p] for p in pids)                  # one file, every rank
      and all(big[p]["perms"].startswith("r-") for p in pids)        # mapped read-only
      and abs(pss - rss) <= 0.05 * rss                               # counted once
      and all(anon[p] * 1024 < ROWS / 2 for p in pids))              # no private copy
details = (f"{len(files)} shared file(s) of the rows, perms {[big[p]['perms'] if big[p] else None for p in pids]}, "
           f"its PSS summed over ranks {mb(pss)} vs its RSS {mb(rss)}, anonymous memory per rank "
           f"{[mb(anon[p]) for p in pids]} (rows {ROWS / 2**20:.0f} MB)")
open(out, "w").write(("ok: " if ok else "bad: ") + details + "\n")
PY
for shared in 1 0; do
  env_set=(); [ $shared = 0 ] && env_set=(env SPECSWEEP_SHARED_DATA=0)
  setsid "${env_set[@]}" "${MPIRUN[@]}" -np 4 "$SPECSWEEP" run "$tmp/big.yaml" -o "$tmp/big$shared.h5" > "$tmp/big$shared.out" 2>&1 & bg=$!
  $PY "$tmp/maps.py" $bg $shared "$tmp/maps$shared.txt"
  pkill -9 -s $bg; wait $bg 2>/dev/null; bg=
done
check "memory, 4 ranks: the rows are one read-only shared copy ($(cat "$tmp/maps1.txt"))" 'grep -q "^ok" "$tmp/maps1.txt"'
check "memory, SPECSWEEP_SHARED_DATA=0: the same check finds one copy per rank ($(cat "$tmp/maps0.txt"))" 'grep -q "^bad" "$tmp/maps0.txt"'

# ---- bit-identity: shared vs private at 1, 2 and 3 ranks ----------------------------------
cat > "$tmp/sweep.yaml" <<'YAML'
name: nodedata-identity
seeds: 2
datasets:
  g: {kind: gaussian, features: 21, relevant: 5, samples: 3000}
  c: {kind: correlated, samples: 2000, training: {epochs: 4}}
model:
  hidden: [24, 12]
  activations: [tanh, relu]
  batchnorm_after_first: true
  dropout_after_first: 0.1
training: {epochs: 6, batch_size: 128, validation_fraction: 0.3}
sweep:
  reg_eigenvalues: [1.0e-3, 1.0e-2]
relevance: {topk: [1, 5]}
YAML
for np in 1 2 3; do
  "${MPIRUN[@]}" -np $np "$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/s$np.h5" > "$tmp/s$np.out" 2>&1; rs=$?
  SPECSWEEP_SHARED_DATA=0 "${MPIRUN[@]}" -np $np "$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/p$np.h5" > "$tmp/p$np.out" 2>&1; rp=$?
  check "np=$np: both paths exit 0 (shared $rs, private $rp)" '[ $rs -eq 0 ] && [ $rp -eq 0 ]'
  $PY "$SS_TEST_DIR/h5compare.py" "$tmp/s$np.h5" "$tmp/p$np.h5" --all > "$tmp/cmp$np.out"; rc=$?
  check "np=$np: shared = private ($(tail -1 "$tmp/cmp$np.out"))" '[ $rc -eq 0 ]'
done
$PY "$SS_TEST_DIR/h5compare.py" "$tmp/s1.h5" "$tmp/s3.h5" --all > "$tmp/cmp13.out"; rc=$?
check "shared np=3 = np=1 ($(tail -1 "$tmp/cmp13.out"))" '[ $rc -eq 0 ]'

# ---- a bad dataset at start-up: exit 2 before any work ----------------------------------------
printf 'x1,label\n1,0\n2,oops\n' > "$tmp/bad.csv"
cat > "$tmp/bad.yaml" <<YAML
name: nodedata-bad
datasets:
  a: {kind: gaussian, features: 4, relevant: 2, samples: 400}
  bad: {kind: csv, path: $tmp/bad.csv}
model: {hidden: [4], activations: [tanh]}
training: {epochs: 1}
YAML
"${MPIRUN[@]}" -np 3 "$SPECSWEEP" run "$tmp/bad.yaml" -o "$tmp/bad.h5" > "$tmp/bad.out" 2>&1; rc=$?
check "bad dataset at start-up, 3 ranks: exit 2, one message naming the file, nothing written ($(head -1 "$tmp/bad.out"))" \
  '[ $rc -eq 2 ] && [ $(grep -c "bad.csv:" "$tmp/bad.out") -eq 1 ] && [ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.log" ]'

# ---- a dataset file that disappears before its node loads it --------------------------------
# Dataset a's runs are the long ones (about a second each, 2.4M samples: long against the
# 50 ms poll below even at 4M samples/s), so they go first on all 4 ranks; b is checked by rank
# 0 at start-up, then removed before any rank needs it: the 4 ranks then want b at about
# the same time, one of them loads it and fails, the others learn it from the node.
# 400 rows: x1 is the label plus noise, x2 and x3 noise
awk 'BEGIN { srand(1); print "x1,x2,x3,label";
             for (i = 0; i < 400; i++) printf "%.4f,%.4f,%.4f,%d\n", i % 2 + rand(), rand(), rand(), i % 2 }' > "$tmp/b.csv"
cp "$tmp/b.csv" "$tmp/b.csv.keep"
cat > "$tmp/gone.yaml" <<YAML
name: nodedata-gone
seeds: 4
datasets:
  a: {kind: gaussian, features: 10, relevant: 5, samples: 10000, training: {epochs: 300}}
  b: {kind: csv, path: $tmp/b.csv, training: {epochs: 2}}
model: {hidden: [24, 12], activations: [tanh, relu]}
training: {batch_size: 200}
relevance: {topk: [1]}
YAML
setsid "${MPIRUN[@]}" -np 4 "$SPECSWEEP" run "$tmp/gone.yaml" -o "$tmp/g.h5" > "$tmp/g.out" 2>&1 & bg=$!
# the results file appears when rank 0 has started (mpirun's forwarding of its start line
# to g.out may lag behind under load)
for _ in $(seq 1 300); do [ -e "$tmp/g.h5" ] && break; sleep 0.05; done
rm "$tmp/b.csv"
wait $bg; rc=$?; bg=
check "file gone: exit 1 (got $rc)" '[ $rc -eq 1 ]'
check "file gone: one message naming the file ($(grep -c "b.csv" "$tmp/g.out") lines: $(grep "b.csv" "$tmp/g.out" | head -1))" \
  '[ $(grep -c "b.csv: cannot" "$tmp/g.out") -eq 1 ]'
# a failure abandons the runs in progress: those committed are the progress lines printed
n=$($PY -c "import h5py,sys; print(len(h5py.File(sys.argv[1])['runs']))" "$tmp/g.h5")
k=$(grep -c '^\[.*/8\] a__' "$tmp/g.out")
check "file gone: the committed runs are in the results file ($n, $k committed)" '[ "$n" -ge 1 ] && [ "$n" -eq "$k" ]'
[ "$fails" -eq 0 ] || cat "$tmp/g.out"
cp "$tmp/b.csv.keep" "$tmp/b.csv"
"${MPIRUN[@]}" -np 4 "$SPECSWEEP" run "$tmp/gone.yaml" -o "$tmp/g.h5" > "$tmp/g2.out" 2>&1; rc=$?
check "file back: the same command completes (exit $rc, $(committed "$tmp/gone.yaml" "$tmp/g.h5") of 8 runs)" \
  '[ $rc -eq 0 ] && [ "$(committed "$tmp/gone.yaml" "$tmp/g.h5")" -eq 8 ]'

# ---- a dataset file that disappears once the node holds it -----------------------------------
# One dataset: rank 0's check has read it and hands its copy to the node before any run
# is assigned; the file is removed as soon as the sweep has started, and nobody reads it
# again. (With one copy per rank the other ranks read it when their first run starts,
# which may come before or after the removal: no check of that here.)
cat > "$tmp/held.yaml" <<YAML
name: nodedata-held
seeds: 6
datasets:
  b: {kind: csv, path: $tmp/held.csv}
model: {hidden: [8], activations: [tanh]}
training: {epochs: 30, batch_size: 50}
relevance: {topk: [1]}
YAML
cp "$tmp/b.csv.keep" "$tmp/held.csv"
setsid "${MPIRUN[@]}" -np 3 "$SPECSWEEP" run "$tmp/held.yaml" -o "$tmp/h.h5" > "$tmp/h.out" 2>&1 & bg=$!
for _ in $(seq 1 300); do [ -e "$tmp/h.h5" ] && break; sleep 0.05; done
rm "$tmp/held.csv"
wait $bg; rc=$?; bg=
check "file gone after the start: every run trains on the node's copy (exit $rc, $(committed "$tmp/held.yaml" "$tmp/h.h5") of 6 runs)" \
  '[ $rc -eq 0 ] && [ "$(committed "$tmp/held.yaml" "$tmp/h.h5")" -eq 6 ]'

# ---- the node's shared memory on a small tmpfs -----------------------------------------------
# a: small and long, so its runs go first; b: 40 MB, loaded by the node after a's runs.
cat > "$tmp/room.yaml" <<'YAML'
name: nodedata-room
seeds: 4
datasets:
  a: {kind: gaussian, features: 10, relevant: 5, samples: 4000, training: {epochs: 150}}
  b: {kind: gaussian, features: 200, relevant: 5, samples: 50000, training: {epochs: 1}}
model: {hidden: [24, 12], activations: [tanh, relu]}
training: {batch_size: 200}
relevance: {topk: [1]}
YAML
small="$tmp/shm"
mkdir -p "$small"
if mount -t tmpfs -o size=20m tmpfs "$small" 2>/dev/null; then
  OMPI_MCA_osc_sm_backing_directory="$small" "${MPIRUN[@]}" -np 2 "$SPECSWEEP" run "$tmp/room.yaml" \
    -o "$tmp/r1.h5" > "$tmp/r1.out" 2>&1; rc=$?
  check "no room for the window: one copy per rank, said once, the sweep completes (exit $rc)" \
    '[ $rc -eq 0 ] && [ $(grep -c "one copy of the data per rank: the shared memory of a node $small has no room" "$tmp/r1.out") -eq 1 ]'
  umount "$small"; mount -t tmpfs -o size=60m tmpfs "$small"
  setsid env OMPI_MCA_osc_sm_backing_directory="$small" "${MPIRUN[@]}" -np 2 "$SPECSWEEP" run \
    "$tmp/room.yaml" -o "$tmp/r2.h5" > "$tmp/r2.out" 2>&1 & bg=$!
  # the first of a's runs is committed (the window exists); b is loaded after a's third
  for _ in $(seq 1 600); do grep -q '^\[1/8\]' "$tmp/r2.out" 2>/dev/null && break; sleep 0.05; done
  head -c 45M /dev/zero > "$small/filler"
  wait $bg; rc=$?; bg=
  check "shared memory full while loading: exit 1 with a message, not a crash (exit $rc: $(grep "shared memory" "$tmp/r2.out" | head -1))" \
    '[ $rc -eq 1 ] && [ $(grep -c "dataset b: the node.s shared memory ($small) is full" "$tmp/r2.out") -eq 1 ]'
  n=$($PY -c "import h5py,sys; print(len(h5py.File(sys.argv[1])['runs']))" "$tmp/r2.h5")
  check "shared memory full: the committed runs are in the results file ($n)" '[ "$n" -ge 1 ]'
  umount "$small"; small=
elif [ "$(id -u)" -eq 0 ]; then
  check "root can mount a small tmpfs for the shared-memory cases" 'false'
else
  echo "note: not root, the small shared-memory cases (a small tmpfs) are not run here"
fi

[ "$fails" -eq 0 ] || tail -n 5 "$tmp"/*.out
checks_done
