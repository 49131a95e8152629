#!/usr/bin/env bash
# The dataset option `standardize`: the training statistics in /datasets against numpy on
# the same rows; an input in other units (x 1000) falls in the eigenvalue ranking of the
# raw data and comes back once standardized, as docs/COMPARISON.md says; the same bits on
# 1, 2 and 3 ranks, with one copy of the data per node or per rank; the same bits after a
# kill -9 and a resume, and after --salvage reads the dataset back from the results file;
# a bad value refused with FILE:LINE:COLUMN, exit 2, nothing written.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
MPIRUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-standardize-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"
cd "$tmp"

# Gaussian classes in 6 inputs: inputs 0-2 shift by 1 in class 1 (sigma 0.5), 3-5 are
# noise; input 0 is then given in units 1000 times smaller (x 1000). X is the training
# set as stored (the file has its own test set), so numpy sees exactly the training rows.
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(7)
def part(n):
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.5, (n, 6))
    x[:, :3] += y[:, None]
    x[:, 0] *= 1000.0
    return x.astype(np.float32), y.astype(np.float32)
X, y = part(4000)
Xt, yt = part(1000)
with h5py.File("units.h5", "w") as f:
    f["X"], f["y"], f["X_test"], f["y_test"] = X, y, Xt, yt
PY

sweep() { # name, seeds, epochs
  cat <<YAML
name: $1
seeds: $2
datasets:
  raw: {kind: hdf5, path: units.h5}
  std: {kind: hdf5, path: units.h5, standardize: true}
  gauss: {kind: gaussian, features: 8, relevant: 4, samples: 3000, standardize: true}
model: {hidden: [16], activations: [tanh]}
training: {epochs: $3, batch_size: 200}
relevance: {topk: [1, 3]}
YAML
}
sweep units 3 30 > units.yaml
"$SPECSWEEP" run units.yaml -o ref.h5 > ref.out 2>&1; rc=$?
check "a standardized sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'

$PY - ref.h5 > stats.check 2>&1 <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
X = h5py.File("units.h5")["X"][()].astype(np.float64)
raw, std = f["datasets/raw"], f["datasets/std"]
# the raw dataset's group is as before the option existed
assert "standardize" not in raw.attrs and "standardize_mean" not in raw, dict(raw.attrs)
assert std.attrs["standardize"] == 1
m, s = std["standardize_mean"][()], std["standardize_std"][()]
assert m.shape == (6,) and s.shape == (6,)
assert np.allclose(m, X.mean(axis=0), rtol=1e-12, atol=1e-12), (m, X.mean(axis=0))
assert np.allclose(s, X.std(axis=0), rtol=1e-12), (s, X.std(axis=0))
assert 400 < m[0] < 600 and 600 < s[0] < 800 and s[3] < 1, (m, s)
g = f["datasets/gauss"]
assert g.attrs["standardize"] == 1 and g["standardize_mean"].shape == (8,)
print("ok")
PY
check "standardize_mean/std are numpy's mean and std (ddof 0) of the training rows ($(tail -1 stats.check))" \
      '[ "$(tail -1 stats.check)" = ok ]'

# An eigenvalue weighs an input per unit: input 0, 1000 times larger, needs an eigenvalue
# about 1000 times smaller for the same effect. On the raw data it ranks below inputs 1
# and 2 in every run, although its eigenvalue times its std (its effect per standard
# deviation) is the largest; standardized, it is back among the top 3 in every run.
$PY - ref.h5 > rank.check 2>&1 <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
s = f["datasets/std/standardize_std"][()]
for rid, r in f["runs"].items():
    e = np.abs(r["eigenvalues"][()])
    top3 = set(np.argsort(-e)[:3])
    if r.attrs["dataset"] in ("raw", b"raw"):
        assert e[0] < min(e[1], e[2]) and 0 not in top3, (rid, e)
        assert np.argmax(e * s) == 0, (rid, e * s)
    elif r.attrs["dataset"] in ("std", b"std"):
        assert top3 == {0, 1, 2}, (rid, e)
    assert r.attrs["test_accuracy"] > 0.9, (rid, r.attrs["test_accuracy"])
print("ok")
PY
check "the x1000 input: last among the relevant ones raw, in the top 3 standardized ($(tail -1 rank.check))" \
      '[ "$(tail -1 rank.check)" = ok ]'

# the same bits on 2 and 3 ranks, one copy per node and one per rank
"${MPIRUN[@]}" -np 2 "$SPECSWEEP" run units.yaml -o np2.h5 > np2.out 2>&1; rc2=$?
"${MPIRUN[@]}" -np 3 "$SPECSWEEP" run units.yaml -o np3.h5 > np3.out 2>&1; rc3=$?
SPECSWEEP_SHARED_DATA=0 "${MPIRUN[@]}" -np 3 "$SPECSWEEP" run units.yaml -o np3p.h5 > np3p.out 2>&1; rc3p=$?
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 np2.h5 --all > cmp2.out; c2=$?
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 np3.h5 --all > cmp3.out; c3=$?
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 np3p.h5 --all > cmp3p.out; c3p=$?
check "np 2 and np 3 (shared data) give the bits of np 1 (exit $rc2 $rc3; $(tail -1 cmp2.out); $(tail -1 cmp3.out))" \
      '[ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && [ $c2 -eq 0 ] && [ $c3 -eq 0 ]'
check "np 3 with one copy per rank gives the same bits (exit $rc3p; $(tail -1 cmp3p.out))" \
      '[ $rc3p -eq 0 ] && [ $c3p -eq 0 ]'

# kill -9 after a few runs, then resume: the same bits as uninterrupted
sweep slow 3 600 > slow.yaml
"$SPECSWEEP" run slow.yaml -o slowref.h5 > slowref.out 2>&1
"$SPECSWEEP" run slow.yaml -o slow.h5 > slow1.out 2>&1 & pid=$!
for _ in $(seq 1 600); do
  n=$("$SPECSWEEP" list slow.yaml -o slow.h5 2>/dev/null | grep -c '^ok')
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null; pid=
n_before=$("$SPECSWEEP" list slow.yaml -o slow.h5 | grep -c '^ok')
"$SPECSWEEP" run slow.yaml -o slow.h5 > slow2.out 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" slowref.h5 slow.h5 --all > cmpslow.out; c=$?
check "killed after $n_before of 9 runs, resumed: exit $rc, the bits of an uninterrupted sweep ($(tail -1 cmpslow.out))" \
      '[ "$n_before" -ge 2 ] && [ "$n_before" -lt 9 ] && [ $rc -eq 0 ] && [ $c -eq 0 ]'

# without its log, --salvage reads the runs and the datasets (their standardization
# vectors included) back from the results file and writes the same file again
cp ref.h5 salv.h5
"$SPECSWEEP" run units.yaml -o salv.h5 --salvage > salv.out 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" ref.h5 salv.h5 --all > cmpsalv.out; c=$?
check "--salvage from the results file alone: exit $rc, the same /datasets, /runs, /summary ($(tail -1 cmpsalv.out))" \
      '[ $rc -eq 0 ] && [ $c -eq 0 ] && grep -q "salvage\|recovered\|read back" salv.out'

# a bad value: FILE:LINE:COLUMN, exit 2, nothing written
sweep units 1 1 | sed 's/standardize: true}/standardize: 3}/' > bad.yaml
"$SPECSWEEP" run bad.yaml -o bad.h5 > bad.out 2>&1; rc=$?
check "standardize: 3 is refused at its line:column, exit 2, nothing written (got $rc: $(head -1 bad.out))" \
      '[ $rc -eq 2 ] && grep -q "bad.yaml:5:50: standardize must be true or false, got 3" bad.out && [ ! -e bad.h5 ] && [ ! -e bad.h5.log ]'

checks_done
