#!/usr/bin/env bash
# The post-hoc relevance methods end to end: every method in a run and in its cell, the
# scores against the truth, a dense network (spectral skipped), the same bits on any
# number of ranks, a bound between ranks_per_run 1 and 2 on the same network, a stop
# during the methods, input_shape for fourier's 2-D transform, bad settings refused with
# FILE:LINE:COLUMN and nothing written.
set -uo pipefail
: "${SPECSWEEP:?}" "${SS_TEST_DIR:?}"
PY=/usr/bin/python3
MPIRUN=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d /tmp/ss-relevance-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$SS_TEST_DIR/checks.sh"
cd "$tmp"

ALL="[spectral, saliency, input_x_gradient, integrated_gradients, smoothgrad, smoothgrad_squared, spectrallens, lrp_epsilon, deeplift, permutation, kernel_shap, fourier]"
sweep() { # name, model line, training line
  cat <<YAML
name: $1
seeds: 2
datasets:
  g: {kind: gaussian, features: 8, relevant: 4, samples: 3000}
model: $2
training: $3
relevance:
  topk: [1, 2, 4]
  methods: $ALL
  samples: 200
  masking: mean
YAML
}
sweep rel "{hidden: [16, 8], activations: [tanh, relu]}" "{epochs: 5, batch_size: 200}" > rel.yaml
sweep dense "{hidden: [16, 8], activations: [tanh, relu], spectral: none}" "{epochs: 5, batch_size: 200}" > dense.yaml
# a learning rate far below a float's resolution: the network stays at its initial
# values, whatever the group size, so the methods see the same network
sweep still "{hidden: [16, 8], activations: [tanh, relu]}" "{epochs: 2, batch_size: 200, learning_rate: 1.0e-12}" > still.yaml

"$SPECSWEEP" run rel.yaml -o rel.h5 > rel.out 2>&1; rc=$?
check "a sweep with every method exits 0 (got $rc)" '[ $rc -eq 0 ]'
$PY - rel.h5 > rel.check 2>&1 <<'PY'
import sys, h5py, numpy as np
from scipy.stats import spearmanr
f = h5py.File(sys.argv[1])
methods = ["spectral", "saliency", "input_x_gradient", "integrated_gradients", "smoothgrad",
           "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift", "permutation",
           "kernel_shap", "fourier"]
truth = f["datasets/g/relevance_truth"][()]
for rid, r in f["runs"].items():
    rel = r["relevance"]
    assert sorted(rel) == sorted(methods), sorted(rel)
    eig = r["eigenvalues"][()]
    assert np.array_equal(rel["spectral"][()], np.abs(eig)), "spectral is |eigenvalues|"
    for m in methods:
        d = rel[m]
        n = 5 if m == "fourier" else 8          # rfft of 8 inputs: 5 coefficients
        assert d.shape == (n,), (m, d.shape)
        assert d.attrs["skipped"] == 0 and d.attrs["topk_accuracy"].shape == (3,)
        assert d.attrs["masking"] in ("mean", b"mean")
        if m != "fourier":
            s = np.abs(d[()]) if m == "spectral" else d[()]
            # the stored scores are those of the stored relevance (scipy's Spearman)
            rho = spearmanr(s, truth).correlation
            assert abs(d.attrs["spearman"] - rho) < 1e-12, (m, d.attrs["spearman"], rho)
            assert 0.5 < d.attrs["auroc"] <= 1.0, (m, d.attrs["auroc"])
    assert rel["integrated_gradients"].attrs["ig_steps"] == 50
    ig = rel["integrated_gradients"].attrs
    assert ig["check_mean"] < 0.05 * ig["check_scale"], "IG completeness"
cell = f["summary/g/relevance"]
assert sorted(cell) == sorted(methods)
for m in methods:
    c = cell[m]
    assert c["values"].shape[0] == 2 and c["topk_accuracy"].shape == (2, 3)
    assert np.allclose(c["abs_mean"][()], np.abs(c["values"][()]).mean(axis=0))
print("ok")
PY
check "every method in /runs and /summary, scores of the stored relevance ($(tail -1 rel.check))" '[ "$(tail -1 rel.check)" = ok ]'
"$SPECSWEEP" summary rel.h5 > rel.summary 2>&1
check "summary prints the method table" 'grep -q "relevance methods of g" rel.summary && grep -q "kernel_shap" rel.summary && grep -q "top-4 accuracy" rel.summary'

"$SPECSWEEP" run dense.yaml -o dense.h5 > dense.out 2>&1; rc=$?
$PY -c "
import sys, h5py
r = h5py.File('dense.h5')['runs/g__seed=0/relevance']
assert r['spectral'].attrs['skipped'] == 1 and r['spectral'].shape == (0,)
assert r['saliency'].attrs['skipped'] == 0 and r['saliency'].shape == (8,)
print('ok')" > dense.check 2>&1
check "a dense network: spectral skipped, the others computed (exit $rc, $(tail -1 dense.check))" '[ $rc -eq 0 ] && [ "$(tail -1 dense.check)" = ok ]'

# the same bits on 1 and 3 ranks (groups of one rank)
"${MPIRUN[@]}" -np 3 "$SPECSWEEP" run rel.yaml -o rel3.h5 > rel3.out 2>&1; rc=$?
$PY "$SS_TEST_DIR/h5compare.py" rel.h5 rel3.h5 --all > cmp3.out; c=$?
check "np 3 gives the bits of np 1 (exit $rc, $(tail -1 cmp3.out))" '[ $rc -eq 0 ] && [ $c -eq 0 ]'

# the methods' work split over a group of 2: the same network gives the same relevance
"$SPECSWEEP" run still.yaml -o still1.h5 > still1.out 2>&1
"${MPIRUN[@]}" -np 2 "$SPECSWEEP" run still.yaml -o still2.h5 --ranks-per-run 2 > still2.out 2>&1; rc=$?
$PY - still1.h5 still2.h5 > still.check 2>&1 <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p) for p in sys.argv[1:3])
worst = 0.0
for rid in a["runs"]:
    assert np.array_equal(a["runs"][rid]["eigenvalues"][()], b["runs"][rid]["eigenvalues"][()])
    for m, d in a["runs"][rid]["relevance"].items():
        x, y = d[()], b["runs"][rid]["relevance"][m][()]
        if m in ("lrp_epsilon", "deeplift"):
            # run in double precision: they see the biases' last bits, which the group's
            # sums of the gradient move by ~1e-12 even at this learning rate
            worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-30))))
        else:
            assert np.array_equal(x, y), (rid, m, np.max(np.abs(x - y)))
assert worst < 1e-9, worst
print("ok", worst)
PY
check "ranks_per_run 2 splits the methods' work: same relevance on the same network (exit $rc, $(tail -1 still.check))" '[ $rc -eq 0 ] && [ "$(tail -1 still.check | cut -d" " -f1)" = ok ]'

# a stop while the methods run: exit 3 with the run unfinished, long before the methods
# would have ended (about 17 s of KernelSHAP; the bound leaves room for a loaded machine)
cat > slow.yaml <<'YAML'
name: slow
seeds: 1
datasets:
  g: {kind: gaussian, features: 40, relevant: 10, samples: 12000}
model: {hidden: [32], activations: [tanh]}
training: {epochs: 1, batch_size: 500}
relevance: {topk: [1], methods: [spectral, kernel_shap], samples: 0, shap_samples: 60000}
YAML
"$SPECSWEEP" run slow.yaml -o slow.h5 --stop-deadline 1 > slow.out 2>&1 & pid=$!
for _ in $(seq 1 200); do [ -e slow.h5 ] && break; sleep 0.05; done
sleep 1
t0=$(date +%s.%N); kill -TERM $pid; wait $pid; rc=$?; t1=$(date +%s.%N)
took=$(echo "$t1 - $t0" | bc)
check "a stop during KernelSHAP: exit 3, the run unfinished, within the deadline (got $rc after $took s)" \
  '[ $rc -eq 3 ] && ! grep -q "^\[1/1\]" slow.out && [ "$(echo "$took < 10" | bc)" -eq 1 ]'

# input_shape: data without an image shape of its own gets fourier's 2-D transform; a
# shape whose product is not the inputs is refused at the input_shape value, exit 2,
# nothing written
shaped() { # name, input_shape line
  cat <<YAML
name: $1
seeds: 1
datasets:
  g:
    kind: gaussian
    features: 6
    relevant: 3
    samples: 2000
$2
model: {hidden: [8], activations: [tanh]}
training: {epochs: 2, batch_size: 200}
relevance: {topk: [1, 3], methods: [spectral, fourier], samples: 50}
YAML
}
shaped flat "" > flat.yaml
shaped grid "    input_shape: [3, 2]" > grid.yaml
shaped wrong "    input_shape: [4, 2]" > wrong.yaml
"$SPECSWEEP" run flat.yaml -o flat.h5 > flat.out 2>&1; rc1=$?
"$SPECSWEEP" run grid.yaml -o grid.h5 > grid.out 2>&1; rc2=$?
$PY - flat.h5 grid.h5 > shape.check 2>&1 <<'PY'
import sys, h5py, numpy as np
flat, grid = (h5py.File(p) for p in sys.argv[1:3])
assert "input_shape" not in flat["datasets/g"].attrs
assert list(grid["datasets/g"].attrs["input_shape"]) == [3, 2]
# rfft of 6 inputs: 6 // 2 + 1 = 4 coefficients; rfft2 of 3 x 2: 3 x (2 // 2 + 1) = 6
assert flat["runs/g__seed=0/relevance/fourier"].shape == (4,)
assert grid["runs/g__seed=0/relevance/fourier"].shape == (6,)
# the same network (the shape changes only the transform): the eigenvalues agree
assert np.array_equal(flat["runs/g__seed=0/eigenvalues"][()], grid["runs/g__seed=0/eigenvalues"][()])
print("ok")
PY
check "input_shape [3, 2]: fourier over 3 x 2 coefficients, 4 without it (exit $rc1 $rc2, $(tail -1 shape.check))" \
      '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ "$(tail -1 shape.check)" = ok ]'
"$SPECSWEEP" run wrong.yaml -o wrong.h5 > wrong.out 2>&1; rc=$?
check "input_shape [4, 2] for 6 inputs: exit 2 at its line:column, nothing written (got $rc: $(head -1 wrong.out))" \
      '[ $rc -eq 2 ] && grep -q "wrong.yaml:9:18: input_shape \[4, 2\] makes 8 inputs, but dataset g has 6" wrong.out && [ ! -e wrong.h5 ] && [ ! -e wrong.h5.log ]'
"$SPECSWEEP" validate wrong.yaml > wrongv.out 2>&1; rc=$?
check "validate reports it the same way (got $rc)" '[ $rc -eq 2 ] && grep -q "wrong.yaml:9:18:" wrongv.out'

# bad settings: FILE:LINE:COLUMN, exit 2, nothing written
bad() { # name, relevance line
  printf 'name: bad\ndatasets:\n  g: {kind: gaussian, features: 8, relevant: 4, samples: 300}\nrelevance:\n%s\n' "$2" > "bad-$1.yaml"
  "$SPECSWEEP" run "bad-$1.yaml" -o "bad-$1.h5" > "bad-$1.out" 2>&1; echo $?
}
rc=$(bad unknown "  methods: [spectral, gradcam]")
check "unknown method: exit 2 at its line:column (got $rc: $(head -1 bad-unknown.out))" \
      '[ $rc -eq 2 ] && grep -q "bad-unknown.yaml:5:23:" bad-unknown.out && [ ! -e bad-unknown.h5 ]'
rc=$(bad twice "  methods: [saliency, saliency]")
check "a method listed twice: exit 2 (got $rc)" '[ $rc -eq 2 ] && grep -q "bad-twice.yaml:5:23:" bad-twice.out'
rc=$(bad range "  ig_steps: 0")
check "a setting out of range: exit 2 at its line:column (got $rc: $(head -1 bad-range.out))" \
      '[ $rc -eq 2 ] && grep -q "bad-range.yaml:5:13:" bad-range.out && [ ! -e bad-range.h5 ]'
rc=$(bad baseline "  ig_baseline: median")
check "a baseline that is neither zero nor mean: exit 2 (got $rc)" '[ $rc -eq 2 ] && grep -q "bad-baseline.yaml:5:16:" bad-baseline.out'
rc=$(bad masking "  masking: noise")
check "masking that is neither zero nor mean: exit 2 (got $rc)" '[ $rc -eq 2 ] && grep -q "bad-masking.yaml:5:12:" bad-masking.out'

checks_done
