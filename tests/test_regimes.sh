#!/usr/bin/env bash
# The spectral-domain regimes end to end: a sweep of a bundle axis (the four regimes of
# Table 1) x an axis over model.hidden (no hidden layer, one, two linear ones), AdaMax,
# retraction into the equivalent perceptron: validate prints the plan with the bundles;
# every run records its regime, model and n_trainable; the subset trains exactly as many
# parameters as the eigenvalues; the retracted network's accuracy equals the full one's;
# summary and /summary name both axes; analysis/table1.py reads the file. The subset mask
# is the same at any layout: np 2 equals np 1 bit for bit, ranks_per_run 2 agrees within
# the float32 bound, and kill -9 then resume equals an uninterrupted sweep bit for bit.
# Bad input (adamax options, a subset on a spectral model, retraction across a non-linear
# layer, a bundle key that is also an axis, a dataset override of a bundled key) exits 2
# with FILE:LINE:COLUMN and writes nothing.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}" "${SS_SOURCE_DIR:?}"
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-regimes-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"

cat > "$tmp/sweep.yaml" <<'YAML'
name: regimes-test
seeds: 2
datasets:
  g:
    kind: gaussian
    features: 12
    relevant: 6
    samples: 3000
model:
  activations: linear
  retract: all
  histogram_bins: 20
  histogram_range: 2.0
training:
  optimizer: adamax
  learning_rate: 0.03
  batch_size: 100
  epochs: 4
  reg_eigenvalues: 0
  reg_eigenvectors: 0
sweep:
  regime:
    eigenvalues:   {model.train_lambda_out: true, train_eigenvectors: false}
    eigen_vectors: {model.train_lambda_out: true}
    direct:        {model.spectral: none}
    direct_subset: {model.spectral: none, model.trainable_weights: match_eigenvalues}
  model.hidden: [[], [16], [16, 8]]
relevance:
  topk: [12]
  random_repeats: 1
YAML

"$SPECSWEEP" validate "$tmp/sweep.yaml" > "$tmp/validate.out" 2>&1; rc=$?
check "validate exits 0 (got $rc)" '[ $rc -eq 0 ]'
check "validate prints the bundles and the axis" 'grep -q "sweep regime (bundles):" "$tmp/validate.out" && grep -q "direct_subset: model.spectral=none model.trainable_weights=match_eigenvalues" "$tmp/validate.out" && grep -q "sweep model.hidden: none 16 16-8" "$tmp/validate.out" && grep -q "24 runs = 12 cells x 2 seeds" "$tmp/validate.out"'

"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/ref.h5" > "$tmp/ref.out" 2>&1; rc=$?
check "the regimes sweep exits 0 (got $rc)" '[ $rc -eq 0 ]'
$PY - "$tmp/ref.h5" > "$tmp/attrs.out" 2>&1 <<'PY'; rc=$?
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
runs = f["runs"]
assert len(runs) == 24, len(runs)
n_train = {}
worst = 0.0
for name, g in runs.items():
    a = g.attrs
    assert a["status"] in ("ok", b"ok"), name
    regime = a["regime"]
    hidden = tuple(int(h) for h in np.atleast_1d(a["model.hidden"]))
    assert name.startswith(f"g__regime={regime}__model.hidden="), name
    n_train[(regime, hidden, int(a["seed"]))] = int(a["n_trainable"])
    assert a["optimizer"] in ("adamax", b"adamax") and a["adamax_beta1"] == 0.9
    # the compact network 12 -> 2 computes what the full one does
    assert list(g["retracted_shape"][()]) == [12, 2], name
    worst = max(worst, abs(a["test_accuracy"] - a["retracted_test_accuracy"]))
    h, e = g["weights_histogram"][()], g["weights_histogram_edges"][()]
    assert len(h) == 20 and len(e) == 21 and e[0] == -2.0 and e[-1] == 2.0 and h.sum() <= 24
n_test = f["datasets/g"].attrs["n_test"]
for (regime, hidden, seed), n in n_train.items():
    if regime == "eigenvalues":
        sizes = [12, *hidden, 2]
        eig = sum(a + b for a, b in zip(sizes, sizes[1:]))
        bias = sum(sizes[1:])
        assert n == eig + bias, (hidden, n, eig + bias)
        assert n_train[("direct_subset", hidden, seed)] == n, (hidden, n)
assert worst <= 2.0 / n_test, worst
cell = f["summary/g__regime=direct_subset__model.hidden=16-8"]
assert cell.attrs["swept_keys"] in ("regime,model.hidden", b"regime,model.hidden")
print(f"24 runs: regimes and models recorded; subset = eigenvalues in n_trainable; "
      f"|full - retracted accuracy| <= {worst:.4f} ({worst * n_test:.0f} of {n_test} test samples)")
PY
check "runs record regime, model, n_trainable and the retraction ($(tail -1 "$tmp/attrs.out"))" '[ $rc -eq 0 ]'
"$SPECSWEEP" summary "$tmp/ref.h5" > "$tmp/summary.out" 2>&1; rc=$?
check "summary names the bundle and the model axis" '[ $rc -eq 0 ] && grep -q "regime=direct_subset model.hidden=16-8" "$tmp/summary.out" && grep -q "regime=eigenvalues model.hidden=none" "$tmp/summary.out"'
$PY "$SS_SOURCE_DIR/analysis/table1.py" "$tmp/ref.h5" --out "$tmp/fig" > "$tmp/table1.out" 2>&1; rc=$?
check "analysis/table1.py prints the table and draws (exit $rc)" '[ $rc -eq 0 ] && grep -q "train Λ (eigenvalues only)" "$tmp/table1.out" && [ -s "$tmp/fig/table1.json" ] && ls "$tmp/fig"/*.png > /dev/null'

# The subset mask and everything else depend on the seed only: two ranks give the same
# bits as one; a group of two ranks agrees within the float32 bound (test_mpi.sh's).
"${MPIRUN[@]}" -np 2 "$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/np2.h5" > "$tmp/np2.out" 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" "$tmp/ref.h5" "$tmp/np2.h5" --all > "$tmp/np2.cmp"; crc=$?
check "np 2 exits 0 and equals np 1 bit for bit ($(tail -1 "$tmp/np2.cmp"))" '[ $rc -eq 0 ] && [ $crc -eq 0 ]'
"${MPIRUN[@]}" -np 2 "$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/g2.h5" --ranks-per-run 2 > "$tmp/g2.out" 2>&1; rc=$?
$PY - "$tmp/ref.h5" "$tmp/g2.h5" > "$tmp/g2.cmp" 2>&1 <<'PY'; crc=$?
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
worst_acc = worst_e = 0.0
for r in a["runs"]:
    ra, rb = a["runs"][r].attrs, b["runs"][r].attrs
    assert rb["ranks"] == 2 and ra["n_trainable"] == rb["n_trainable"], r
    worst_acc = max(worst_acc, abs(ra["test_accuracy"] - rb["test_accuracy"]))
    ea, eb = a["runs"][r]["eigenvalues"][()], b["runs"][r]["eigenvalues"][()]
    worst_e = max(worst_e, np.max(np.abs(ea - eb)) / np.max(np.abs(ea)))
print(f"max accuracy diff {worst_acc:.4f}, max eigenvalue diff / max {worst_e:.1e}")
sys.exit(0 if worst_acc <= 0.01 and worst_e < 2e-3 else 1)
PY
check "ranks_per_run 2 exits 0 and agrees with 1 within the bound ($(tail -1 "$tmp/g2.cmp"))" '[ $rc -eq 0 ] && [ $crc -eq 0 ]'

# kill -9 after a few runs, then the same command: the same bits as without the kill.
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/res.h5" > "$tmp/run1.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$("$SPECSWEEP" list "$tmp/sweep.yaml" -o "$tmp/res.h5" 2>/dev/null | grep -c '^ok')
  [ "${n:-0}" -ge 4 ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null; pid=
n_before=$("$SPECSWEEP" list "$tmp/sweep.yaml" -o "$tmp/res.h5" | grep -c '^ok')
"$SPECSWEEP" run "$tmp/sweep.yaml" -o "$tmp/res.h5" > "$tmp/run2.out" 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" "$tmp/ref.h5" "$tmp/res.h5" --all > "$tmp/res.cmp"; crc=$?
check "killed after $n_before of 24 runs, resumed: identical to uninterrupted ($(tail -1 "$tmp/res.cmp"))" '[ "$n_before" -ge 1 ] && [ $rc -eq 0 ] && [ $crc -eq 0 ]'

# Bad input: exit 2, the message at FILE:LINE:COLUMN, nothing written.
bad_case() {   # title, expected "LINE:COLUMN: phrase", YAML text
  local f="$tmp/bad.yaml" at="$2"
  printf '%s' "$3" > "$f"
  rm -f "$tmp/bad.h5" "$tmp/bad.h5.log" "$tmp/bad.h5.lock"
  "$SPECSWEEP" run "$f" -o "$tmp/bad.h5" > "$tmp/bad.out" 2>&1; local rc=$?
  check "$1: exit 2 at $2, nothing written (got $rc: $(head -1 "$tmp/bad.out"))" \
    '[ $rc -eq 2 ] && grep -qF "$f:$at" "$tmp/bad.out" && [ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.log" ]'
}
P=$'name: bad\ndatasets:\n  g: {kind: gaussian, samples: 1000}\n'
bad_case "adamax option out of range" "6:19: adamax_epsilon must be a positive number" \
  "$P"$'training:\n  optimizer: adamax\n  adamax_epsilon: -1\n'
bad_case "a subset regime on a spectral model" "6:39: trainable_weights: match_eigenvalues" \
  "$P"$'sweep:\n  regime:\n    subset: {model.trainable_weights: match_eigenvalues}\n'
bad_case "retraction across a non-linear layer" "7:12: retract: all multiplies" \
  "$P"$'model:\n  hidden: [8, 4]\n  activations: [linear, tanh]\n  retract: all\n'
bad_case "a bundle key that is also a plain axis" "7:9: model.hidden is set by the bundle axis regime" \
  "$P"$'sweep:\n  regime:\n    a: {model.spectral: none}\n    b: {model.hidden: [4]}\n  model.hidden: [[3], [5]]\n'
bad_case "a dataset override of a bundled key" "3:49: datasets.g.training sets learning_rate, which the bundle axis regime sets" \
  $'name: bad\ndatasets:\n  g: {kind: gaussian, samples: 1000, training: {learning_rate: 0.1}}\nsweep:\n  regime:\n    a: {learning_rate: 0.01}\n'

checks_done
