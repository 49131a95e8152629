#!/usr/bin/env bash
# Retraining runs (relevance.retrain) end to end:
#  - fig. 3 data (20 Gaussian inputs, 11 relevant): retrained on the 11 true relevant
#    inputs (keep truth:11) a network reaches the full-input accuracy within 0.01; without
#    them (remove truth:11) it is at chance, within 0.05 of 0.5; the spectral ranking meets
#    the same keep bound and its remove is far below the random baseline's; the summary's
#    curves equal the runs' accuracies (numpy);
#  - the results are those of the grid, whatever the layout: np 1 = np 3 bit for bit;
#  - a parent killed (kill -9) before its commit: none of its children is committed (nor
#    printed); the same command resumes, and the file equals an uninterrupted sweep's;
#  - a diverged parent: its children are skipped (said on the progress, by list and in the
#    final line), exit 0;
#  - bad input: k beyond the inputs, an unknown method, a method the runs do not compute,
#    truth for a dataset without one -> FILE:LINE:COLUMN, exit 2, nothing written.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-retrain-XXXXXX)
bg=
trap '[ -n "$bg" ] && pkill -9 -s $bg; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"
cd "$tmp"

# ---- fig. 3 data ----------------------------------------------------------------------------
cat > f3.yaml <<'YAML'
name: retrain-fig3
seeds: 3
datasets:
  gauss20: {kind: gaussian, features: 20, relevant: 11, samples: 8000, sigma: 0.5,
            max_shift: 1.4, data_seed: 1}
model: {hidden: [32, 16], activations: [tanh, relu]}
training: {epochs: 40, batch_size: 200, reg_eigenvalues: 1.0e-3}
relevance:
  topk: [11]
  retrain: {methods: [spectral, truth], keep: [5, 11], remove: [11]}
YAML
"${MPIRUN[@]}" -np 3 "$SPECSWEEP" run f3.yaml -o f3.h5 > f3.out 2>&1; rc=$?
check "fig. 3 sweep, 3 ranks: exit 0 (got $rc)" '[ $rc -eq 0 ]'
check "3 parents + 3 x 9 children" 'grep -q "done: 30 runs (30 ok" f3.out'
cat > f3.py <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
full = f["summary/gauss20/test_accuracy"][()].mean()
def acc(mode, method, k):
    # in seed order, the cell's order (/runs lists runs in commit order)
    ids = sorted((r for r in f["runs"] if r.endswith(f"__{mode}={method}:{k}")),
                 key=lambda r: int(r.split("__seed=")[1].split("__")[0]))
    assert len(ids) == 3, ids
    a = np.array([f["runs"][r].attrs["test_accuracy"] for r in ids])
    g = f[f"summary/gauss20/retrain/{mode}/{method}"]
    j = list(g["k"][()]).index(k)
    assert g["metric_mean"][j] == a.mean() and abs(g["metric_std"][j] - a.std()) < 1e-15, mode
    assert g["n_realizations"][j] == 3 and g.attrs["metric"] == "test_accuracy"
    return a.mean()
# the kept inputs: truth's are the 11 relevant ones
truth = f["datasets/gauss20/relevance_truth"][()]
for r in f["runs"]:
    if r.endswith("__keep=truth:11"):
        kept = f["runs"][r]["retrain_inputs"][()]
        assert sorted(kept) == sorted(np.flatnonzero(truth > 0)), kept
        assert f["runs"][r].attrs["retrain_parent"] == r.split("__keep")[0]
res = {(m, me, k): acc(m, me, k) for m, me, k in
       [("keep", "truth", 11), ("remove", "truth", 11), ("keep", "spectral", 11),
        ("remove", "spectral", 11), ("remove", "random", 11), ("keep", "truth", 5),
        ("keep", "random", 5)]}
print(f"full {full:.4f}", " ".join(f"{m}={me}:{k} {v:.4f}" for (m, me, k), v in res.items()))
ok = (res["keep", "truth", 11] >= full - 0.01 and abs(res["remove", "truth", 11] - 0.5) < 0.05
      and res["keep", "spectral", 11] >= full - 0.01
      and res["remove", "spectral", 11] < res["remove", "random", 11] - 0.1
      and res["keep", "truth", 5] > res["keep", "random", 5])
sys.exit(0 if ok else 1)
PY
out=$($PY f3.py f3.h5 2>&1); rc=$?
check "KAR/ROAR on fig. 3 data ($out)" '[ $rc -eq 0 ]'
"$SPECSWEEP" summary f3.h5 > f3.sum 2>&1
check "summary: a keep and a remove table, no retraining cell among the cells" \
  'grep -q "retrained on the top-k (keep)" f3.sum && grep -q "retrained on all but the top-k" f3.sum && grep -q "1 cell with results" f3.sum'

# ---- the layout does not matter ----------------------------------------------------------------
"$SPECSWEEP" run f3.yaml -o f3-1.h5 > f3-1.out 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" --all f3.h5 f3-1.h5 > cmp.out 2>&1
check "np 1 = np 3 ($(tail -1 cmp.out))" '[ $rc -eq 0 ] && grep -q ": identical" cmp.out'

# ---- kill -9 before the parent's commit ----------------------------------------------------------
# slow's one run trains for seconds; fast's run and its children end long before it
cat > kill.yaml <<'YAML'
name: retrain-kill
seeds: 1
datasets:
  fast: {kind: gaussian, features: 10, relevant: 3, samples: 2000}
  slow: {kind: gaussian, features: 10, relevant: 3, samples: 20000, training: {epochs: 600}}
model: {hidden: [16], activations: [tanh]}
training: {epochs: 20, batch_size: 100}
relevance:
  topk: [3]
  retrain: {methods: [spectral], keep: [3], remove: [3]}
YAML
"$SPECSWEEP" run kill.yaml -o ref.h5 > ref.out 2>&1
setsid "${MPIRUN[@]}" -np 3 "$SPECSWEEP" run kill.yaml -o k.h5 > k.out 2>&1 & bg=$!
for _ in $(seq 1 600); do
  [ "$("$SPECSWEEP" list kill.yaml -o k.h5 2>/dev/null | grep -c '^ok .*fast__')" -eq 5 ] && break
  sleep 0.05
done
pkill -9 -s $bg; wait $bg 2>/dev/null; bg=
"$SPECSWEEP" list kill.yaml -o k.h5 > k.list 2>&1
check "killed while slow trains: fast and its 4 children done, slow's parent and children not" \
  '[ $(grep -c "^ok .*fast__" k.list) -eq 5 ] && [ $(grep -c "^pending .*slow__" k.list) -eq 5 ]'
check "no child of slow ever started (none printed)" '! grep -q "slow__seed=0__" k.out'
"${MPIRUN[@]}" -np 3 "$SPECSWEEP" run kill.yaml -o k.h5 > k2.out 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" --all ref.h5 k.h5 > cmpk.out 2>&1
check "resumed (exit $rc): the file equals the uninterrupted sweep's ($(tail -1 cmpk.out))" \
  '[ $rc -eq 0 ] && grep -q ": identical" cmpk.out'

# ---- a diverged parent ----------------------------------------------------------------------------
cat > div.yaml <<'YAML'
name: retrain-diverged
seeds: 1
datasets:
  g: {kind: gaussian, features: 8, relevant: 2, samples: 1000}
model: {hidden: [8], activations: [tanh]}
training: {epochs: 5}
sweep:
  learning_rate: [1.0e-2, 1.0e+30]
relevance:
  retrain: {methods: [spectral], keep: [2]}
YAML
"$SPECSWEEP" run div.yaml -o div.h5 > div.out 2>&1; rc=$?
"$SPECSWEEP" list div.yaml -o div.h5 > div.list 2>&1
check "diverged parent: exit $rc, its 2 children skipped on the progress, by list and at the end" \
  '[ $rc -eq 0 ] && [ $(grep -c "^\[skipped\] g__learning_rate=1e+30__seed=0__keep=" div.out) -eq 2 ] && [ $(grep -c "^skipped .*diverged" div.list) -eq 2 ] && grep -q "2 retraining runs skipped" div.out && grep -q "2 skipped" div.list'

# ---- bad input ---------------------------------------------------------------------------------
printf 'x1,x2,label\n0.1,0.2,0\n0.3,0.1,1\n0.2,0.2,0\n0.9,0.8,1\n' > t.csv
bad() { # name, relevance.retrain line, expected "LINE:COL: text", dataset line
  cat > "$1.yaml" <<YAML
name: $1
seeds: 1
datasets:
  $4
model: {hidden: [4], activations: [tanh]}
training: {epochs: 2}
relevance:
  methods: [spectral, saliency]
  retrain: $2
YAML
  "$SPECSWEEP" run "$1.yaml" -o "$1.h5" > "$1.out" 2>&1; local rc=$?
  check "$1: exit 2, $3 ($(head -1 "$1.out")), nothing written" \
    "[ $rc -eq 2 ] && grep -q '$1.yaml:$3' '$1.out' && [ ! -e '$1.h5' ] && [ ! -e '$1.h5.log' ]"
}
G="g: {kind: gaussian, features: 8, relevant: 2, samples: 400}"
bad k_large "{methods: [spectral], keep: [2, 9]}" "9:44: retrain.keep: 9 inputs is more than dataset g has (8)" "$G"
bad unknown "{methods: [spectral, shap], keep: [2]}" "9:33: a retraining method must be one of" "$G"
bad not_run "{methods: [spectral, integrated_gradients], keep: [2]}" "9:33: retrain.methods lists integrated_gradients, which relevance.methods does not" "$G"
bad no_truth "{methods: [truth], remove: [1]}" "9:23: retrain.methods: truth needs a dataset whose relevance is known" "t: {kind: csv, path: $tmp/t.csv}"

checks_done
