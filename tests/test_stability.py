"""The stability of the rankings over pairs of realizations (docs/FORMATS.md, "Ranking
stability"), on real sweeps run by $SPECSWEEP (run by /usr/bin/python3 -m pytest).

A sweep of 3 seeds over two datasets and a spectral and a dense network, with seven
relevance methods: a Gaussian one and a CSV one whose inputs x5 and x6 are always zero, so
that several methods give those inputs exactly 0 (x * gradient, integrated gradients and
DeepLIFT from a zero baseline, a permutation that changes nothing): rankings with ties.
Every stored Kendall tau and Jaccard index, of the eigenvalues and of every method, is
compared with scipy.stats.kendalltau (tau-b) and numpy on the same stored rows
(test_analysis.ref_stability); a dense network's skipped `spectral` has no pair; a sweep
of one seed has no stability; `specsweep summary` prints the stored numbers.
"""
import importlib.util
import os
import subprocess

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("test_analysis_ref", os.path.join(HERE, "test_analysis.py"))
ta = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ta)

METHODS = ["spectral", "saliency", "input_x_gradient", "integrated_gradients", "deeplift",
           "permutation", "fourier"]
ZERO_COLUMNS = (5, 6)
SWEEP = f"""
name: stability
seeds: 3
datasets:
  g: {{kind: gaussian, features: 8, relevant: 4, samples: 3000}}
  z: {{kind: csv, path: z.csv, label: label, task: classification}}
model: {{hidden: [16, 8], activations: [tanh, relu]}}
training: {{epochs: 5, batch_size: 200}}
sweep:
  model.spectral: [all, none]
relevance:
  topk: [1, 2, 4, 8, 20]
  methods: [{", ".join(METHODS)}]
  samples: 200
"""
ONE_SEED = SWEEP.replace("name: stability\nseeds: 3", "name: one\nseeds: [5]")
STABILITY_DATASETS = ("stability_k", "stability_jaccard_mean", "stability_jaccard_std")


def write_csv(path):
    """2000 rows of 8 inputs x0..x7 (x5, x6 always 0) and a label from x0, x1, x2."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 8))
    x[:, list(ZERO_COLUMNS)] = 0.0
    y = (x[:, 0] + x[:, 1] - 0.5 * x[:, 2] > 0).astype(int)
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(8)) + ",label\n")
        for row, label in zip(x, y):
            f.write(",".join("%.6g" % v for v in row) + f",{label}\n")


def run(args, cwd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    exe = os.environ.get("SPECSWEEP")
    assert exe and os.access(exe, os.X_OK), "SPECSWEEP must name the specsweep binary"
    p = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p.stdout


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The two sweeps' results files and what `specsweep summary` prints of each."""
    d = tmp_path_factory.mktemp("stability")
    write_csv(d / "z.csv")
    out = {}
    for name, text in (("three", SWEEP), ("one", ONE_SEED)):
        (d / f"{name}.yaml").write_text(text)
        h5 = str(d / f"{name}.h5")
        run(["run", f"{name}.yaml", "-o", h5], d)
        out[name] = (h5, run(["summary", h5], d))
    return out


def rankings(g):
    """(name, group, stored rows, method) of a cell's rankings: its eigenvalues, then every
    method of relevance/."""
    out = [("eigenvalues", g, g["eigenvalues"][()], "spectral")]
    for m in METHODS:
        out.append((m, g["relevance"][m], g["relevance"][m]["values"][()], m))
    return out


def check_against_ref(grp, rows, method, topk, where):
    """The stored stability of grp equals ref_stability's of the same rows; returns it."""
    want = ta.ref_stability(rows, method, topk)
    assert int(grp.attrs["stability_pairs"]) == want["pairs"], where
    for stored, ref in zip((grp.attrs["stability_kendall_tau_mean"],
                            grp.attrs["stability_kendall_tau_std"]), want["tau"]):
        assert (np.isnan(stored) and np.isnan(ref)) or abs(stored - ref) < 1e-12, \
            (where, stored, ref)
    assert grp["stability_k"][()].tolist() == want["k"], where
    np.testing.assert_allclose(grp["stability_jaccard_mean"][()], want["jaccard"][0],
                               rtol=0, atol=1e-12, err_msg=where)
    np.testing.assert_allclose(grp["stability_jaccard_std"][()], want["jaccard"][1],
                               rtol=0, atol=1e-12, err_msg=where)
    return want


def tau_a(a, b):
    """Kendall's tau-a, (C - D) / (n (n - 1) / 2): ties counted in neither C nor D nor
    corrected for."""
    s = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
    n = len(a)
    return s.sum() / 2 / (n * (n - 1) / 2)


def test_stored_stability_is_scipys(sweeps):
    """Every ranking of every cell: the stored tau-b and Jaccard indices are scipy's and
    numpy's on the stored rows, ties included."""
    h5, _ = sweeps["three"]
    compared = tied = 0
    with h5py.File(h5, "r") as f:
        assert len(f["summary"]) == 4
        for cid, g in f["summary"].items():
            assert int(g.attrs["n_realizations"]) == 3
            topk = g["topk"][()]
            for name, grp, rows, method in rankings(g):
                want = check_against_ref(grp, rows, method, topk, f"{cid} {name}")
                compared += 1
                score = np.abs(rows) if method == "spectral" else rows
                usable = [r for r in score if r.size and not np.isnan(r).any()]
                for i in range(len(usable)):
                    for j in range(i + 1, len(usable)):
                        a, b = usable[i], usable[j]
                        # ties in the stored rows: tau-b is not tau-a there
                        if len(np.unique(a)) < len(a) and abs(tau_a(a, b) - ta.kendalltau(a, b)[0]) > 1e-6:
                            tied += 1
                if name in ("eigenvalues", "spectral") and "none" not in cid:
                    assert want["pairs"] == 3 and np.isfinite(want["tau"][0])
    assert compared == 4 * (1 + len(METHODS))
    assert tied >= 10, f"only {tied} pairs of tied rankings"
    print(f"{compared} rankings compared with scipy, {tied} pairs of them with ties")


def test_ties_at_zero_and_skipped_methods(sweeps):
    """The always-zero inputs tie at 0 in the methods that multiply by the input; a dense
    network's `spectral` is skipped (no pair, NaN, no k) while its eigenvalues (the first
    layer's row norms) still compare; on a spectral network the eigenvalues and `spectral`
    rank alike."""
    h5, _ = sweeps["three"]
    with h5py.File(h5, "r") as f:
        for cid, g in f["summary"].items():
            rel = g["relevance"]
            if cid.startswith("z__"):
                for m in ("input_x_gradient", "integrated_gradients", "deeplift", "permutation"):
                    v = rel[m]["values"][()]
                    assert np.all(v[:, list(ZERO_COLUMNS)] == 0.0), (cid, m)
            if "spectral=none" in cid:
                s = rel["spectral"]
                assert int(s.attrs["stability_pairs"]) == 0
                assert np.isnan(s.attrs["stability_kendall_tau_mean"])
                assert s["stability_k"].shape == (0,)
                assert int(g.attrs["stability_pairs"]) == 3
            else:
                for k in ("stability_pairs", "stability_kendall_tau_mean",
                          "stability_kendall_tau_std"):
                    assert g.attrs[k] == pytest.approx(rel["spectral"].attrs[k], abs=1e-15), k
                np.testing.assert_array_equal(g["stability_jaccard_mean"][()],
                                              rel["spectral"]["stability_jaccard_mean"][()])
            # fourier: 5 coefficients of 8 inputs, so k = 8 is left out
            assert rel["fourier"]["stability_k"][()].tolist() == [1, 2, 4]
            assert g["stability_k"][()].tolist() == [1, 2, 4, 8]


def test_one_realization_has_no_stability(sweeps):
    h5, text = sweeps["one"]
    with h5py.File(h5, "r") as f:
        for g in f["summary"].values():
            assert int(g.attrs["n_realizations"]) == 1
            for grp in [g] + [g["relevance"][m] for m in METHODS]:
                assert not [k for k in grp.attrs if k.startswith("stability_")]
                assert not [k for k in STABILITY_DATASETS if k in grp]
    lines = [ln for ln in text.splitlines() if ln.startswith(("g ", "z "))]
    head = next(ln for ln in text.splitlines() if ln.startswith("dataset "))
    col = head.index("kendall tau")
    assert len(lines) == 4 and all(ln[col:].split()[0] == "-" for ln in lines)


def test_summary_prints_the_stored_numbers(sweeps):
    """`specsweep summary`: each cell's kendall tau (eigenvalues) and every method's in its
    table, as stored."""
    h5, text = sweeps["three"]
    lines = text.splitlines()
    head = next(ln for ln in lines if ln.startswith("dataset "))
    with h5py.File(h5, "r") as f:
        for cid, g in f["summary"].items():
            setting = "model.spectral=" + g.attrs["model.spectral"]
            (row,) = [ln for ln in lines if ln.startswith(g.attrs["dataset"] + " ")
                      and setting in ln and "±" in ln]
            tau = "%+.3f ± %.3f" % (g.attrs["stability_kendall_tau_mean"],
                                    g.attrs["stability_kendall_tau_std"])
            assert row[head.index("kendall tau"):].startswith(tau), (row, tau)
            title = f"relevance methods of {g.attrs['dataset']} {setting} ("
            i = next(j for j, ln in enumerate(lines) if ln.startswith(title))
            mhead = lines[i + 1]
            for ln in lines[i + 2:i + 2 + len(METHODS)]:
                m = ln.split()[0]
                a = g["relevance"][m].attrs
                shown = ln[mhead.index("kendall tau"):].split("  ")[0].strip()
                want = ("-" if np.isnan(a["stability_kendall_tau_mean"]) else
                        "%+.3f ± %.3f" % (a["stability_kendall_tau_mean"],
                                          a["stability_kendall_tau_std"]))
                assert shown == want, (cid, m, shown, want)
    print(text)
