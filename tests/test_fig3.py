#!/usr/bin/env python3
"""Fig. 3 in miniature: independent Gaussian data, 20 features of which the first 11 are
relevant, 3 realizations. The trained input eigenvalues must single out the relevant
features: the irrelevant ones' mean |eigenvalue| below 5 % of the largest, and the
Spearman rank correlation of mean |eigenvalue| with the ground truth (|mean shift|) at
least 0.85. The truth comes from the generator; the check reads only the results file."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

SWEEP = """
name: fig3-mini
seeds: 3
datasets:
  gauss20:
    kind: gaussian
    features: 20
    relevant: 11
    samples: 60000
    sigma: 0.5
    max_shift: 1.4
    data_seed: 1
model:
  hidden: [100, 100, 50]
  activations: [tanh, relu, relu]
training:
  learning_rate: 1.0e-2
  batch_size: 500
  epochs: 100
  reg_eigenvalues: 1.0e-2
  reg_eigenvectors: 1.0e-4
relevance:
  topk: [5, 11, 20]
"""


def ranks(x):
    """Ranks 1..n with ties given their average rank (as Spearman's rho needs)."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    exe = os.environ["SPECSWEEP"]
    with tempfile.TemporaryDirectory() as d:
        sweep = os.path.join(d, "fig3.yaml")
        out = os.path.join(d, "fig3.h5")
        with open(sweep, "w") as f:
            f.write(SWEEP)
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OPENBLAS_NUM_THREADS="1")
        cmd = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", exe, "run", sweep, "-o", out]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        print(p.stdout[-2000:], p.stderr[-2000:])
        if p.returncode != 0:
            print(f"specsweep exited {p.returncode}")
            print("0 passed, 1 failed")
            return 1
        with h5py.File(out, "r") as f:
            truth = f["datasets/gauss20/relevance_truth"][()]
            (cell,) = f["summary"].values()
            mean = cell["eigenvalues_abs_mean"][()]
            std = cell["eigenvalues_abs_std"][()]
            n = int(cell.attrs["n_realizations"])
            acc = cell["test_accuracy"][()]
    relevant = truth > 0
    largest = mean.max()
    worst_irrelevant = mean[~relevant].max()
    rho = spearman(mean, truth)
    print("feature  truth  |eigenvalue| mean ± std")
    for i in range(len(mean)):
        print(f"{i:7d}  {truth[i]:5.3f}  {mean[i]:.4f} ± {std[i]:.4f}")
    print(f"realizations {n}, test accuracy {acc.mean():.4f} ± {acc.std():.4f}")
    print(f"largest irrelevant / largest = {worst_irrelevant / largest:.4f} (must be < 0.05)")
    print(f"Spearman(mean |eigenvalue|, truth) = {rho:.4f} (must be >= 0.85)")
    checks = [n == 3, worst_irrelevant < 0.05 * largest, rho >= 0.85, relevant.sum() == 11]
    failed = checks.count(False)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
