"""Tests of analysis/figures.py (run by /usr/bin/python3 -m pytest).

Results files are built here with h5py in the layout src/snapshot.c writes (write_results
below mirrors its snapshot writer), and, when $SPECSWEEP names the binary (ctest sets it),
one comes from a real tiny sweep; its layout is compared with the mirror's. The numbers a
figure shows are read back from the matplotlib artists (figures._save is replaced by a
recorder) and from figures.json, and compared with values computed here from the data the
test wrote, with numpy and without figures.py's helpers.
"""
import importlib.util
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

HERE = os.path.dirname(os.path.abspath(__file__))
FIGURES_PY = os.path.join(HERE, "..", "analysis", "figures.py")
spec = importlib.util.spec_from_file_location("figures", FIGURES_PY)
figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures)

import matplotlib.colors  # noqa: E402
import matplotlib.image  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# ---- a writer mirroring src/snapshot.c ---------------------------------------------------

TRAINING = {"learning_rate": 0.01, "batch_size": 500, "epochs": 100, "validation_fraction": 0.1,
            "reg_eigenvalues": 0.01, "reg_eigenvectors": 1e-4, "train_eigenvectors": 1,
            "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-7}
INT_KEYS = {"batch_size", "epochs", "train_eigenvectors"}
VLSTR = h5py.string_dtype("utf-8")


def a_str(o, name, v):
    o.attrs.create(name, v, dtype=VLSTR)


def a_i64(o, name, v):
    o.attrs.create(name, np.int64(v), dtype="<i8")


def a_f64(o, name, v):
    o.attrs.create(name, np.float64(v), dtype="<f8")


def a_key(o, name, v):
    (a_i64 if name in INT_KEYS else a_f64)(o, name, v)


def cell_id(ds, swept, axes):
    return ds + "".join(f"__{k}={float(swept[k]):.6g}" for k in axes)


def a_mean_std(o, name, v):
    """<name>_mean and <name>_std attributes: mean and std (ddof 0) of the finite values."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    a_f64(o, name + "_mean", v.mean() if v.size else np.nan)
    a_f64(o, name + "_std", v.std() if v.size else np.nan)


def ref_stability(rows, method, topk):
    """The stability of a cell's ranking over pairs of realizations (docs/FORMATS.md,
    "Ranking stability"), computed directly: rows [n, V] are the eigenvalues (method
    "spectral") or a method's values; the usable rows (no NaN, V > 0) are ranked by
    |value| for spectral, by the value for the others; every pair gives
    scipy.stats.kendalltau (tau-b) and, per k of topk up to V, the Jaccard index of the
    two top-k sets (numpy's stable argsort: ties by the lower index). Returns dict(pairs,
    tau (mean, std), k [K'], jaccard (mean [K'], std [K'])), mean and std (ddof 0) over
    the pairs with a defined value."""
    rows = np.asarray(rows, float)
    V = rows.shape[1]
    score = np.abs(rows) if method == "spectral" else rows
    usable = [r for r in score if V > 0 and not np.isnan(r).any()]
    ks = [int(k) for k in topk if 1 <= k <= V]
    taus, jac = [], []
    for i in range(len(usable)):
        for j in range(i + 1, len(usable)):
            a, b = usable[i], usable[j]
            with np.errstate(all="ignore"):
                taus.append(kendalltau(a, b)[0])  # NaN when one is constant
            oa, ob = np.argsort(-a, kind="stable"), np.argsort(-b, kind="stable")
            jac.append([len(set(oa[:k]) & set(ob[:k])) / len(set(oa[:k]) | set(ob[:k]))
                        for k in ks])

    def mean_std(v):
        v = np.asarray(v, float)
        v = v[~np.isnan(v)]
        return (v.mean(), v.std()) if v.size else (np.nan, np.nan)

    jac = np.asarray(jac, float).reshape(len(taus), len(ks))
    cols = [mean_std(jac[:, q]) for q in range(len(ks))]
    return dict(pairs=len(taus), tau=mean_std(taus), k=ks,
                jaccard=(np.array([c[0] for c in cols]), np.array([c[1] for c in cols])))


def write_stability(g, rows, method, topk):
    """The stability_* attributes and datasets of g as src/snapshot.c writes them (a cell of
    one realization has none)."""
    if np.asarray(rows).shape[0] < 2:
        return
    st = ref_stability(rows, method, topk)
    a_i64(g, "stability_pairs", st["pairs"])
    a_f64(g, "stability_kendall_tau_mean", st["tau"][0])
    a_f64(g, "stability_kendall_tau_std", st["tau"][1])
    g.create_dataset("stability_k", data=np.asarray(st["k"], "<i8").reshape(-1))
    g.create_dataset("stability_jaccard_mean", data=np.asarray(st["jaccard"][0], "<f8"))
    g.create_dataset("stability_jaccard_std", data=np.asarray(st["jaccard"][1], "<f8"))


def write_cell_method(top, method, m, truth, n_in, topk=()):
    """/summary/<cell>/relevance/<method> as src/snapshot.c writes it: m holds values
    [n, V] (V = 0: skipped in every run), tacc [n, K] and seconds [n]; with a truth, the
    scores of every realization's relevance (|values| for spectral) against it."""
    vals = np.asarray(m["values"], "<f8")
    n, V = vals.shape
    g = top.create_group(method)
    g.create_dataset("values", data=vals)
    mean = np.abs(vals).mean(axis=0)
    g.create_dataset("abs_mean", data=mean)
    g.create_dataset("abs_std", data=np.sqrt(((np.abs(vals) - mean) ** 2).sum(axis=0) / n))
    g.create_dataset("topk_accuracy", data=np.asarray(m["tacc"], "<f8").reshape(n, -1))
    g.create_dataset("seconds", data=np.asarray(m["seconds"], "<f8"))
    a_i64(g, "n_skipped", n if V == 0 else 0)
    a_mean_std(g, "seconds", m["seconds"])
    write_stability(g, vals, method, topk)
    if truth is not None:
        rows = [np.abs(r) if method == "spectral" else r for r in vals] if V == n_in else []
        a_mean_std(g, "spearman", [ref_spearman(r, truth) for r in rows])
        a_mean_std(g, "support_recall", [ref_support_recall(r, truth) for r in rows])
        a_mean_std(g, "auroc", [ref_auroc(r, truth) for r in rows])


def write_results(path, datasets, cells, axes, fmt="specsweep-results", version=1,
                  group_names=None):
    """datasets: name -> dict(kind, n_inputs, n_classes, truth, names, shape);
    cells: dicts (dataset, swept, eig [n, n_in], acc [n], loss [n], topk [K], tacc, racc
    [n, K], optional seeds, n_diverged, n_failed, train_seconds [n], relevance {method:
    write_cell_method's m}, retrain {(mode, method, k): the test metric of each
    realization's retraining run, NaN for one that failed}: see write_retrain).
    axes: swept keys in sweep order."""
    with h5py.File(path, "w") as f:
        a_str(f, "format", fmt)
        a_i64(f, "format_version", version)
        a_str(f, "specsweep_version", "0.1.0")
        a_str(f, "sweep_name", "test")
        a_str(f, "sweep_yaml", "name: test\n")
        a_str(f, "created_utc", "2026-01-01T00:00:00Z")
        top = f.create_group("datasets", track_order=True)
        for name, d in datasets.items():
            g = top.create_group(name)
            a_str(g, "kind", d["kind"])
            a_i64(g, "n_inputs", d["n_inputs"])
            a_i64(g, "n_classes", d["n_classes"])
            a_i64(g, "n_train", 100)
            a_i64(g, "n_test", 20)
            if d.get("shape") is not None:
                g.attrs.create("input_shape", np.array(d["shape"], "<i8"), dtype="<i8")
            if d.get("truth") is not None:
                g.create_dataset("relevance_truth", data=np.asarray(d["truth"], "<f8"))
            if d.get("names") is not None:
                g.create_dataset("feature_names", data=list(d["names"]), dtype=VLSTR)
        runs = f.create_group("runs", track_order=True)
        for c in cells:
            cid = cell_id(c["dataset"], c["swept"], axes)
            n = c["eig"].shape[0]
            seeds = c.get("seeds", list(range(n)))
            regression = datasets[c["dataset"]]["n_classes"] == 0
            for j in range(n):
                g = runs.create_group(f"{cid}__seed={seeds[j]}")
                a_str(g, "dataset", c["dataset"])
                a_i64(g, "seed", seeds[j])
                a_str(g, "cell_id", cid)
                for k, v in TRAINING.items():
                    a_key(g, k, c["swept"].get(k, v))
                a_str(g, "status", "ok")
                a_str(g, "message", "")
                a_i64(g, "ranks", 1)
                a_f64(g, "train_seconds", c.get("train_seconds", np.ones(n))[j])
                a_f64(g, "samples_per_second", 1e5)
                a_f64(g, "test_accuracy", c["acc"][j])
                a_f64(g, "test_loss", c["loss"][j])
                g.create_dataset("eigenvalues", data=np.asarray(c["eig"][j], "<f8"))
                g.create_dataset("eigenvalues_raw", data=np.asarray(c["eig"][j], "<f8"))
                g.create_dataset("train_loss", data=np.ones(3))
                g.create_dataset("val_loss" if regression else "val_accuracy", data=np.ones(3))
                g.create_dataset("topk", data=np.asarray(c["topk"], "<i8"))
                g.create_dataset("topk_accuracy", data=np.asarray(c["tacc"][j], "<f8"))
                g.create_dataset("randomk_accuracy", data=np.asarray(c["racc"][j], "<f8"))
        summ = f.create_group("summary", track_order=True)
        for i, c in enumerate(cells):
            cid = cell_id(c["dataset"], c["swept"], axes)
            write_cell(summ.create_group(group_names[i] if group_names else cid), cid, i, c,
                       datasets[c["dataset"]], axes)
        write_retrain(f, datasets, cells, axes)


def write_retrain(f, datasets, cells, axes):
    """The retraining runs of every cell with c["retrain"], as src/snapshot.c writes them:
    per parent run and (mode, method, k) a run <parent>__<mode>=<method>:<k> (attributes
    retrain_parent, retrain_mode, retrain_method, retrain_k, dataset retrain_inputs, empty
    top-k arrays), failed where its metric is NaN; per (mode, method, k) with an ok run a
    cell <cell>__<mode>=<method>:<k> (attributes retrain_parent_cell, _mode, _method, _k),
    numbered after the grid's cells; per parent cell /summary/<cell>/retrain/<mode>/<method>
    (k in the order given, metric_mean and metric_std over the ok runs, ddof 0,
    n_realizations; attribute metric)."""
    index = len(cells)
    for c in cells:
        cid, d = cell_id(c["dataset"], c["swept"], axes), datasets[c["dataset"]]
        n, n_in = c["eig"].shape[0], d["n_inputs"]
        seeds = c.get("seeds", list(range(n)))
        regression = d["n_classes"] == 0
        curves = {}
        for (mode, method, k), vals in c.get("retrain", {}).items():
            vals = np.asarray(vals, float)
            ok = np.isfinite(vals)
            child = f"{cid}__{mode}={method}:{k}"
            for j in range(n):
                parent = f["runs"][f"{cid}__seed={seeds[j]}"]
                g = f["runs"].create_group(f"{cid}__seed={seeds[j]}__{mode}={method}:{k}")
                for a in parent.attrs:
                    g.attrs.create(a, parent.attrs[a], dtype=parent.attrs.get_id(a).dtype)
                a_str(g, "cell_id", child)
                a_str(g, "status", "ok" if ok[j] else "failed")
                a_str(g, "message", "" if ok[j] else "retraining failed")
                a_f64(g, "test_loss" if regression else "test_accuracy", vals[j])
                a_str(g, "retrain_parent", parent.name.split("/")[-1])
                for a, v in (("retrain_mode", mode), ("retrain_method", method)):
                    a_str(g, a, v)
                a_i64(g, "retrain_k", k)
                for name in ("eigenvalues", "eigenvalues_raw", "train_loss",
                             "val_loss" if regression else "val_accuracy"):
                    g.create_dataset(name, data=parent[name][()])
                g.create_dataset("topk", data=np.zeros(0, "<i8"))
                for name in ("topk_accuracy", "randomk_accuracy"):
                    g.create_dataset(name, data=np.zeros(0, "<f8"))
                g.create_dataset("retrain_inputs", data=np.arange(k if mode == "keep" else n_in - k,
                                                                  dtype="<i8"))
            if ok.any():
                kid = dict(dataset=c["dataset"], swept=c["swept"], eig=c["eig"][ok],
                           seeds=np.asarray(seeds)[ok], n_failed=int((~ok).sum()), topk=[],
                           acc=np.where(regression, np.nan, vals)[ok],
                           loss=(vals if regression else c["loss"])[ok],
                           tacc=np.zeros((ok.sum(), 0)), racc=np.zeros((ok.sum(), 0)))
                g = f["summary"].create_group(child)
                write_cell(g, child, index, kid, d, axes)
                index += 1
                a_str(g, "retrain_parent_cell", cid)
                a_str(g, "retrain_mode", mode)
                a_str(g, "retrain_method", method)
                a_i64(g, "retrain_k", k)
            v = vals[ok]
            curves.setdefault((mode, method), []).append(
                (k, v.mean() if v.size else np.nan, v.std() if v.size else np.nan, v.size))
        for (mode, method), pts in curves.items():
            g = f["summary"][cid].require_group("retrain").require_group(mode).create_group(method)
            a_str(g, "metric", "test_mae" if regression else "test_accuracy")
            g.create_dataset("k", data=np.array([p[0] for p in pts], "<i8"))
            g.create_dataset("metric_mean", data=np.array([p[1] for p in pts], "<f8"))
            g.create_dataset("metric_std", data=np.array([p[2] for p in pts], "<f8"))
            g.create_dataset("n_realizations", data=np.array([p[3] for p in pts], "<i8"))


def write_cell(g, cid, i, c, d, axes):
    """/summary/<cell> of cell c (write_results), the i-th of the sweep, of dataset d."""
    eig = np.asarray(c["eig"], "<f8")
    n, K = eig.shape[0], len(c["topk"])
    a_str(g, "dataset", c["dataset"])
    a_str(g, "cell_id", cid)
    a_i64(g, "cell_index", i)
    a_str(g, "swept_keys", ",".join(axes))
    for k in axes:
        a_key(g, k, c["swept"][k])
    a_i64(g, "n_realizations", n)
    a_i64(g, "n_diverged", c.get("n_diverged", 0))
    a_i64(g, "n_failed", c.get("n_failed", 0))
    g.create_dataset("seeds", data=np.asarray(c.get("seeds", list(range(n))), "<i8"))
    g.create_dataset("eigenvalues", data=eig)
    m = np.abs(eig).mean(axis=0)  # as the writer: two passes, ddof 0
    g.create_dataset("eigenvalues_abs_mean", data=m)
    g.create_dataset("eigenvalues_abs_std",
                     data=np.sqrt(((np.abs(eig) - m) ** 2).sum(axis=0) / n))
    g.create_dataset("test_accuracy", data=np.asarray(c["acc"], "<f8"))
    g.create_dataset("test_loss", data=np.asarray(c["loss"], "<f8"))
    g.create_dataset("topk", data=np.asarray(c["topk"], "<i8"))
    g.create_dataset("topk_accuracy", data=np.asarray(c["tacc"], "<f8").reshape(n, K))
    g.create_dataset("randomk_accuracy", data=np.asarray(c["racc"], "<f8").reshape(n, K))
    write_stability(g, eig, "spectral", c["topk"])
    for method, m in c.get("relevance", {}).items():
        write_cell_method(g.require_group("relevance"), method, m, d.get("truth"), d["n_inputs"],
                          c["topk"])


# ---- the synthetic sweep ----------------------------------------------------------------

REGS = [1e-4, 1e-2]
EPOCHS = [10, 20]
SEEDS = 3
AXES = ["reg_eigenvalues", "epochs"]
WAVES = np.linspace(4000.0, 5000.0, 50)


def make_datasets():
    spec_truth = np.exp(-0.5 * ((WAVES - 4300) / 15) ** 2) + 0.5 * np.exp(-0.5 * ((WAVES - 4700) / 20) ** 2)
    spec_truth[spec_truth < 1e-3] = 0.0
    return {
        "g8": dict(kind="gaussian", n_inputs=8, n_classes=2,
                   truth=[1.2, 0.8, 0.5, 0.3, 0, 0, 0, 0], topk=[1, 2, 4, 8]),
        "cor": dict(kind="correlated", n_inputs=6, n_classes=2,
                    truth=[0.9, 0.9, 0.4, 0.4, 0, 0], topk=[1, 2, 4, 6]),
        "img": dict(kind="idx", n_inputs=784, n_classes=10, shape=[28, 28],
                    topk=[1, 10, 100, 784]),
        "spec": dict(kind="spectra", n_inputs=50, n_classes=0, truth=spec_truth,
                     names=[f"{w:.2f}" for w in WAVES], topk=[1, 5, 20, 50]),
        "tab": dict(kind="csv", n_inputs=5, n_classes=3,
                    names=["age", "height", "weight", "bmi", "score"], topk=[]),
    }


def make_eig(rng, n_in, truth, reg_index):
    """Signed eigenvalues, SEEDS rows: a profile (the truth where there is one) times noise;
    the last reg_index + 1 inputs are ~0 (1e-7 of the largest), and in seed 1 one more."""
    base = np.asarray(truth, float) + 0.05 if truth is not None else rng.uniform(0.2, 1.0, n_in)
    eig = base * rng.uniform(0.8, 1.2, (SEEDS, n_in)) * rng.choice([-1.0, 1.0], (SEEDS, n_in))
    z = reg_index + 1
    eig[:, n_in - z:] *= 1e-7
    eig[1, n_in - z - 1] *= 1e-6
    return eig


def make_cells(datasets, regs=REGS, epochs=EPOCHS, seed=7):
    rng = np.random.default_rng(seed)
    cells = []
    for name, d in datasets.items():
        for ri, reg in enumerate(regs):
            for ep in epochs:
                swept = {}
                if regs is not None and len(regs):
                    swept["reg_eigenvalues"] = reg
                if epochs is not None and len(epochs):
                    swept["epochs"] = ep
                n_in, K = d["n_inputs"], len(d["topk"])
                eig = make_eig(rng, n_in, d.get("truth"), ri)
                if d["n_classes"] == 0:
                    acc = np.full(SEEDS, np.nan)
                    loss = rng.uniform(0.1, 0.3, SEEDS)         # MAE
                else:
                    acc = rng.uniform(0.7, 1.0, SEEDS)
                    loss = rng.uniform(0.01, 0.5, SEEDS)        # cross-entropy
                tacc = rng.uniform(0.5, 1.0, (SEEDS, K))
                racc = rng.uniform(0.3, 0.8, (SEEDS, K))
                cells.append(dict(dataset=name, swept=swept, eig=eig, acc=acc, loss=loss,
                                  topk=d["topk"], tacc=tacc, racc=racc))
    return cells


def one_sweep(tmp, name, regs, epochs, axes, datasets=None, **kw):
    datasets = datasets or {"g8": make_datasets()["g8"]}
    cells = make_cells(datasets, regs=regs, epochs=epochs)
    path = os.path.join(tmp, name)
    write_results(path, datasets, cells, axes, **kw)
    return path, datasets, cells


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    datasets = make_datasets()
    cells = make_cells(datasets)
    path = str(d / "results.h5")
    write_results(path, datasets, cells, AXES)
    return path, datasets, cells


@pytest.fixture(scope="module")
def synth_cli(synth, tmp_path_factory):
    """figures.py run once on the synthetic file through the command line."""
    path = synth[0]
    out = str(tmp_path_factory.mktemp("figs"))
    p = run_cli(path, "--out", out)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "figures.json")) as f:
        doc = json.load(f)
    return out, p, doc


def run_cli(*args):
    return subprocess.run([sys.executable, FIGURES_PY, *args], capture_output=True, text=True,
                          timeout=600)


class Recorder:
    """Replaces figures._save: keeps what each figure shows (read from its artists)."""

    def __init__(self):
        self.figs = {}

    def __call__(self, fig, path):
        self.figs[os.path.basename(path)] = snapshot(fig)
        figures.plt.close(fig)


def snapshot(fig):
    axes = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        in_containers, ebs = set(), []
        for c in ax.containers:
            if isinstance(c, ErrorbarContainer):
                line, caps, bars = c.lines
                in_containers.add(line)
                in_containers.update(caps)
                bars, xerr, yerr = list(bars), None, None  # x's bars first, as matplotlib adds them
                if c.has_xerr:  # a NaN point's bar has no segment: NaN
                    xerr = np.array([(s[1][0] - s[0][0]) / 2 if len(s) == 2 else np.nan
                                     for s in bars.pop(0).get_segments()])
                if c.has_yerr:
                    yerr = np.array([(s[1][1] - s[0][1]) / 2 if len(s) == 2 else np.nan
                                     for s in bars.pop(0).get_segments()])
                ebs.append(dict(label=c.get_label(), x=np.asarray(line.get_xdata(), float),
                                y=np.asarray(line.get_ydata(), float), xerr=xerr, yerr=yerr,
                                linestyle=line.get_linestyle(),
                                color=matplotlib.colors.to_hex(line.get_color())))
        lines = [dict(label=ln.get_label(), x=np.asarray(ln.get_xdata(), float),
                      y=np.asarray(ln.get_ydata(), float))
                 for ln in ax.lines if ln not in in_containers]
        bar_cols = {id(b) for c in ax.containers if isinstance(c, ErrorbarContainer)
                    for b in c.lines[2]}
        paths = [dict(segments=[np.asarray(sg) for sg in lc.get_segments()], array=lc.get_array(),
                      colors=lc.get_colors(), linewidths=lc.get_linewidths(), alpha=lc.get_alpha())
                 for lc in ax.collections
                 if isinstance(lc, LineCollection) and id(lc) not in bar_cols]
        axes.append(dict(errorbars=ebs, lines=lines, line_collections=paths,
                         images=[np.asarray(im.get_array()) for im in ax.images],
                         bars=np.array([p.get_height() for p in ax.patches if isinstance(p, Rectangle)]),
                         texts=[t.get_text() for t in ax.texts], title=ax.get_title(),
                         xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(),
                         xscale=ax.get_xscale(), yscale=ax.get_yscale()))
    return dict(axes=axes, suptitle=fig._suptitle.get_text() if fig._suptitle else "")


@pytest.fixture(scope="module")
def drawn(synth):
    """make_figures on the synthetic file with the recorder: (records, recorder)."""
    mp = pytest.MonkeyPatch()
    rec = Recorder()
    mp.setattr(figures, "_save", rec)
    try:
        res = figures.load(synth[0])
        records = figures.make_figures(res, "/nonexistent-out", log=lambda s: None)
    finally:
        mp.undo()
    return records, rec


# ---- independent reference computations -------------------------------------------------

def ranks(x):
    """Ranks 1..n with ties given their average rank (a loop, unlike figures.rankdata)."""
    x = list(map(float, x))
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for q in range(i, j + 1):
            r[order[q]] = (i + j) / 2 + 1
        i = j + 1
    return np.array(r)


def ref_spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def ref_support_recall(score, truth):
    """The share of the true support among as many inputs of the largest score."""
    pos = np.asarray(truth) > 0
    if pos.all() or not pos.any():
        return np.nan
    best = sorted(range(len(score)), key=lambda i: (-score[i], i))[:pos.sum()]
    return pos[best].mean()


def ref_auroc(score, truth):
    """The chance that a relevant input scores above an irrelevant one (ties count half)."""
    pos = np.asarray(truth) > 0
    if pos.all() or not pos.any():
        return np.nan
    pairs = [(a > b) + 0.5 * (a == b) for a in np.asarray(score)[pos] for b in np.asarray(score)[~pos]]
    return float(np.mean(pairs))


def ref_abs_mean_std(eig):
    a = np.abs(np.asarray(eig, float))
    m = a.sum(axis=0) / a.shape[0]
    return m, np.sqrt(((a - m) ** 2).sum(axis=0) / a.shape[0])


def ref_nonzero(eig, rel=1e-3):
    """Per-seed counts of |eigenvalue| > rel * max_i mean_s |eig[s, i]| (plain loops)."""
    a = np.abs(np.asarray(eig, float))
    n, d = a.shape
    largest = max(sum(a[s, i] for s in range(n)) / n for i in range(d))
    return [sum(1 for i in range(d) if a[s, i] > rel * largest) for s in range(n)]


def cid(c):
    return cell_id(c["dataset"], c["swept"], AXES)


def expected_files(datasets, cells):
    files = set()
    for c in cells:
        d, stem = datasets[c["dataset"]], cid(c)
        files.add(f"{stem}_eigenvalues.png")
        if d.get("truth") is not None:
            files.add(f"{stem}_truth.png")
        if d.get("shape") is not None:
            files |= {f"{stem}_histogram.png", f"{stem}_heatmap.png"}
        if d["topk"]:
            files.add(f"{stem}_topk.png")
        if d["kind"] == "spectra":
            files.add(f"{stem}_spectrum.png")
    files |= {f"{name}__regstudy.png" for name in datasets}
    for name in datasets:  # a relevance path along each axis, one per value of the other
        files |= {f"{name}__reg_eigenvalues__epochs={ep}_path.png" for ep in EPOCHS}
        files |= {f"{name}__epochs__reg_eigenvalues={reg:.3g}_path.png" for reg in REGS}
    return files


def by_file(records):
    return {r["file"]: r for r in records}


def find(cells, dataset, reg, ep):
    (c,) = [c for c in cells if c["dataset"] == dataset and c["swept"]["reg_eigenvalues"] == reg
            and c["swept"]["epochs"] == ep]
    return c


# ---- files made for the right cells ------------------------------------------------------

def test_cli_writes_exactly_the_expected_figures(synth, synth_cli):
    path, datasets, cells = synth
    out, p, doc = synth_cli
    want = expected_files(datasets, cells)
    pngs = {f for f in os.listdir(out) if f.endswith(".png")}
    assert pngs == want
    for f in pngs:
        with open(os.path.join(out, f), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n", f
    assert {r["file"] for r in doc["figures"]} == want
    # one printed line per figure, naming it
    lines = [ln for ln in p.stdout.splitlines() if ".png" in ln]
    assert len(lines) == len(want)
    assert all(any(f in ln for ln in lines) for f in want)


def test_figure_kinds_per_dataset(synth_cli):
    doc = synth_cli[2]
    kinds = {}
    for r in doc["figures"]:
        kinds.setdefault(r["dataset"], set()).add(r["figure"])
    assert kinds["g8"] == {"eigenvalues", "truth", "topk", "regstudy", "path"}
    assert kinds["cor"] == {"eigenvalues", "truth", "topk", "regstudy", "path"}
    assert kinds["img"] == {"eigenvalues", "histogram", "heatmap", "topk", "regstudy", "path"}
    assert kinds["spec"] == {"eigenvalues", "truth", "topk", "spectrum", "regstudy", "path"}
    assert kinds["tab"] == {"eigenvalues", "regstudy", "path"}  # no truth, not an image, no top-k,
    # feature names that are not wavelengths: no spectrum


def test_json_records_name_cells(synth, synth_cli):
    _, _, cells = synth
    doc = synth_cli[2]
    assert doc["format_version"] == 1 and doc["zero_threshold_rel"] == 1e-3
    ids = {cid(c) for c in cells}
    for r in doc["figures"]:
        if r["figure"] == "regstudy":
            assert set(r["cell"]) == {cid(c) for c in cells if c["dataset"] == r["dataset"]}
        elif r["figure"] == "path":  # the cells of one value of the other axis, in order
            (key,) = r["swept"]["varies"]
            (other,) = set(AXES) - {key}
            want = sorted((c for c in cells if c["dataset"] == r["dataset"] and
                           c["swept"][other] == r["swept"][other]), key=lambda c: c["swept"][key])
            assert r["cell"] == [cid(c) for c in want]
        else:
            assert r["cell"] in ids and r["file"].startswith(r["cell"] + "_")
            c = [c for c in cells if cid(c) == r["cell"]][0]
            assert r["dataset"] == c["dataset"] and r["swept"] == c["swept"]
            assert r["n_realizations"] == SEEDS


def test_no_regstudy_when_reg_eigenvalues_does_not_vary(tmp_path):
    # only epochs swept: cells carry no reg_eigenvalues attribute
    p1, _, _ = one_sweep(str(tmp_path), "epochs.h5", [0.01], EPOCHS, ["epochs"])
    # reg_eigenvalues swept with a single value
    p2, _, _ = one_sweep(str(tmp_path), "single.h5", [1e-3], EPOCHS, AXES)
    for p in (p1, p2):
        res = figures.load(p)
        assert figures.reg_studies(res["cells"]) == []
    # a single swept key (reg only): one line, no other key
    p3, _, cells = one_sweep(str(tmp_path), "regonly.h5", [1e-5, 1e-3, 1e-1], [100],
                             ["reg_eigenvalues"])
    (study,) = figures.reg_studies(figures.load(p3)["cells"])
    assert study["other_keys"] == [] and len(study["lines"]) == 1
    assert [c["swept"]["reg_eigenvalues"] for c in study["lines"][0][1]] == [1e-5, 1e-3, 1e-1]


def test_cells_found_by_attributes_not_group_names(tmp_path):
    datasets = {"g8": make_datasets()["g8"]}
    cells = make_cells(datasets)
    path = str(tmp_path / "opaque.h5")
    write_results(path, datasets, cells, AXES, group_names=[f"c{i}" for i in range(len(cells))])
    res = figures.load(path)
    got = {c["id"]: c for c in res["cells"]}
    assert set(got) == {cid(c) for c in cells}
    for c in cells:
        g = got[cid(c)]
        assert g["dataset"] == "g8" and g["swept"] == c["swept"]
        assert isinstance(g["swept"]["epochs"], int)
        np.testing.assert_array_equal(g["eigenvalues"], c["eig"])
    rec = Recorder()
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", rec)
    try:
        figures.make_figures(res, str(tmp_path), log=lambda s: None)
    finally:
        mp.undo()
    assert set(rec.figs) == expected_files(datasets, cells)


def test_safe_file_names():
    assert figures.safe_name("a/b") == "a_b"
    assert figures.safe_name("../x") == "_x"
    assert figures.safe_name("g__reg_eigenvalues=0.0001__epochs=10") == \
        "g__reg_eigenvalues=0.0001__epochs=10"
    for s in ("..", ".", "", "a b\n", "/abs/path"):
        n = figures.safe_name(s)
        assert n and "/" not in n and not n.startswith(".") and "\n" not in n
    namer = figures.Namer("/o")
    assert namer("x/y", "topk") == "/o/x_y_topk.png"
    assert namer("x_y", "topk") != "/o/x_y_topk.png"  # no overwrite on a collision


# ---- the numbers plotted -------------------------------------------------------------------

def test_eigen_stats_match_numpy_and_the_file(synth):
    path, _, cells = synth
    res = figures.load(path)
    with h5py.File(path, "r") as f:
        for c in res["cells"]:
            mean, std, n = figures.eigen_stats(c)
            ref = [x for x in cells if cid(x) == c["id"]][0]
            rm, rs = ref_abs_mean_std(ref["eig"])
            np.testing.assert_allclose(mean, rm, rtol=1e-12)
            np.testing.assert_allclose(std, rs, rtol=1e-9, atol=1e-300)
            assert n == SEEDS
            g = f["summary"][c["id"]]
            np.testing.assert_allclose(mean, g["eigenvalues_abs_mean"][()], rtol=1e-12)
            np.testing.assert_allclose(std, g["eigenvalues_abs_std"][()], rtol=1e-9, atol=1e-300)


def test_eigen_stats_skip_nan_rows():
    eig = np.array([[1.0, -2.0, 3.0], [np.nan, np.nan, np.nan], [-3.0, 2.0, 1.0]])
    mean, std, n = figures.eigen_stats({"eigenvalues": eig})
    assert n == 2
    np.testing.assert_allclose(mean, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(std, [1.0, 0.0, 1.0])


def test_spearman_against_reference():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(0, 5, 12).astype(float)   # many ties
        b = rng.normal(size=12)
        assert figures.spearman(a, b) == pytest.approx(ref_spearman(a, b), abs=1e-12)
    assert figures.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert figures.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(figures.spearman([1, 1, 1], [1, 2, 3]))


def test_nonzero_count_against_loops():
    rng = np.random.default_rng(5)
    for rel in (1e-3, 1e-1, 0.5):
        eig = rng.normal(size=(4, 30)) * np.where(rng.random(30) < 0.4, 1e-5, 1.0)
        got = figures.nonzero_count(eig, rel)
        want = ref_nonzero(eig, rel)
        assert list(got["per_seed"]) == want
        assert got["mean"] == pytest.approx(np.mean(want))
        assert got["std"] == pytest.approx(np.std(want))


def test_topk_curves_against_numpy():
    tacc = np.array([[0.5, 0.8, 0.9], [0.6, 0.7, np.nan], [0.7, 0.9, 0.95]])
    racc = np.array([[0.4, 0.5, 0.6], [0.5, 0.5, 0.7], [0.3, 0.6, 0.8]])
    cell = {"topk": np.array([10, 1, 5]), "topk_accuracy": tacc, "randomk_accuracy": racc}
    cur = figures.topk_curves(cell, regression=False)
    order = [1, 2, 0]  # sorted by k
    assert list(cur["k"]) == [1, 5, 10]
    np.testing.assert_allclose(cur["top_mean"], [np.nanmean(tacc[:, i]) for i in order])
    np.testing.assert_allclose(cur["top_std"], [np.nanstd(tacc[:, i]) for i in order])
    np.testing.assert_allclose(cur["random_mean"], racc.mean(axis=0)[order])
    np.testing.assert_allclose(cur["random_std"], racc.std(axis=0)[order])
    assert list(cur["top_n"]) == [3, 2, 3]
    assert cur["metric"] == "test accuracy"
    assert "MAE" in figures.topk_curves(cell, regression=True)["metric"]
    assert figures.topk_curves({"topk": np.zeros(0, int), "topk_accuracy": np.zeros((3, 0)),
                                "randomk_accuracy": np.zeros((3, 0))}) is None


def test_correlated_pairs_and_spectrum_detection():
    assert figures.correlated_pairs([0.7, 0.7, 0.8, 0.8, 0.0, 0.0]) == [(0, 1), (2, 3)]
    wl = figures.wavelengths({"kind": "csv", "feature_names": [f"{3500 + i}.5" for i in range(12)]}, 12)
    np.testing.assert_allclose(wl, 3500.5 + np.arange(12))
    assert figures.wavelengths({"kind": "csv", "feature_names": ["a"] * 12}, 12) is None
    assert figures.wavelengths({"kind": "csv", "feature_names": [str(i) for i in range(5)]}, 5) is None
    assert figures.wavelengths({"kind": "idx", "input_shape": [4, 4]}, 16) is None
    np.testing.assert_array_equal(figures.wavelengths({"kind": "spectra"}, 20), np.arange(20.0))


def test_plotted_eigenvalues_and_truth(synth, drawn):
    _, datasets, cells = synth
    records, rec = drawn
    for ds in ("g8", "cor"):
        c = find(cells, ds, 1e-2, 20)
        rm, rs = ref_abs_mean_std(c["eig"])
        (eb,) = rec.figs[f"{cid(c)}_eigenvalues.png"]["axes"][0]["errorbars"]
        np.testing.assert_allclose(eb["y"], rm, rtol=1e-12)
        np.testing.assert_allclose(eb["yerr"], rs, rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(eb["x"], np.arange(len(rm)))
        ax = rec.figs[f"{cid(c)}_truth.png"]["axes"][0]
        (eb,) = ax["errorbars"]
        np.testing.assert_allclose(eb["x"], datasets[ds]["truth"])
        np.testing.assert_allclose(eb["y"], rm, rtol=1e-12)
        rho = ref_spearman(datasets[ds]["truth"], rm)
        assert any(f"ρ = {rho:.3f}" in t for t in ax["texts"])
        assert f"n = {SEEDS} realizations" in ax["title"] and ds in ax["title"]
        assert "reg_eigenvalues=0.01" in ax["title"] and "epochs=20" in ax["title"]
        r = by_file(records)[f"{cid(c)}_truth.png"]
        assert r["numbers"]["spearman_rho"] == pytest.approx(rho, abs=1e-12)
    # correlated: the two pairs are joined, the json lists them with their p_n
    c = find(cells, "cor", 1e-4, 10)
    ax = rec.figs[f"{cid(c)}_truth.png"]["axes"][0]
    assert len(ax["lines"]) == 2
    rm, _ = ref_abs_mean_std(c["eig"])
    pairs = by_file(records)[f"{cid(c)}_truth.png"]["numbers"]["pairs"]
    assert [p["inputs"] for p in pairs] == [[0, 1], [2, 3]]
    assert [p["p"] for p in pairs] == [0.9, 0.4]
    np.testing.assert_allclose(pairs[0]["eigenvalues"], rm[:2])


def test_plotted_image_figures(synth, drawn):
    _, _, cells = synth
    records, rec = drawn
    c = find(cells, "img", 1e-4, 20)
    rm, rs = ref_abs_mean_std(c["eig"])
    (img,) = rec.figs[f"{cid(c)}_heatmap.png"]["axes"][0]["images"]
    assert img.shape == (28, 28)
    np.testing.assert_allclose(img, rm.reshape(28, 28), rtol=1e-12)
    r, col = divmod(int(np.argmax(rm)), 28)
    assert by_file(records)[f"{cid(c)}_heatmap.png"]["numbers"]["argmax_row_col"] == [r, col]
    ax = rec.figs[f"{cid(c)}_histogram.png"]["axes"][0]
    a = np.abs(c["eig"]).ravel()
    counts, _ = np.histogram(a, bins=50, range=(0, a.max()))
    np.testing.assert_array_equal(ax["bars"], counts)
    assert ax["yscale"] == "log"
    assert by_file(records)[f"{cid(c)}_histogram.png"]["numbers"]["counts"] == counts.tolist()
    # 784 inputs: a line with a band instead of error bars
    ax = rec.figs[f"{cid(c)}_eigenvalues.png"]["axes"][0]
    np.testing.assert_allclose(ax["lines"][0]["y"], rm, rtol=1e-12)


def test_plotted_topk(synth, drawn):
    _, _, cells = synth
    records, rec = drawn
    for ds, metric in (("g8", "test accuracy"), ("spec", "MAE")):
        c = find(cells, ds, 1e-4, 10)
        ax = rec.figs[f"{cid(c)}_topk.png"]["axes"][0]
        top, rnd = ax["errorbars"]
        assert "top" in top["label"] and "random" in rnd["label"]
        np.testing.assert_array_equal(top["x"], c["topk"])
        np.testing.assert_allclose(top["y"], c["tacc"].mean(axis=0))
        np.testing.assert_allclose(top["yerr"], c["tacc"].std(axis=0), atol=1e-15)
        np.testing.assert_allclose(rnd["y"], c["racc"].mean(axis=0))
        assert metric in ax["ylabel"]
        nums = by_file(records)[f"{cid(c)}_topk.png"]["numbers"]
        np.testing.assert_allclose(nums["top_mean"], c["tacc"].mean(axis=0))
        np.testing.assert_allclose(nums["random_std"], c["racc"].std(axis=0))
    assert "lower is better" in ax["ylabel"]


def test_plotted_spectrum(synth, drawn):
    _, datasets, cells = synth
    records, rec = drawn
    c = find(cells, "spec", 1e-2, 10)
    rm, _ = ref_abs_mean_std(c["eig"])
    ax = rec.figs[f"{cid(c)}_spectrum.png"]["axes"][0]
    eig_line, truth_line = ax["lines"]
    names = np.array([float(f"{w:.2f}") for w in WAVES])
    np.testing.assert_array_equal(eig_line["x"], names)  # the feature names "4000.00", ...
    np.testing.assert_allclose(eig_line["y"], rm, rtol=1e-12)
    truth = np.asarray(datasets["spec"]["truth"])
    np.testing.assert_allclose(truth_line["y"], truth * rm.max() / truth.max(), rtol=1e-12)
    assert "wavelength" in ax["xlabel"]
    nums = by_file(records)[f"{cid(c)}_spectrum.png"]["numbers"]
    assert nums["spearman_rho"] == pytest.approx(ref_spearman(truth, rm), abs=1e-12)
    assert nums["top_wavelengths"][0] == names[int(np.argmax(rm))]


def test_plotted_regstudy(synth, drawn):
    _, _, cells = synth
    records, rec = drawn
    for ds, regression in (("g8", False), ("spec", True), ("img", False)):
        fig = rec.figs[f"{ds}__regstudy.png"]
        nz_ax, met_ax = fig["axes"]
        assert nz_ax["xscale"] == "log" and met_ax["xscale"] == "log"
        assert ds in fig["suptitle"]
        assert [ln["label"].split(",")[0] for ln in nz_ax["lines"]] == ["epochs=10", "epochs=20"]
        nums = by_file(records)[f"{ds}__regstudy.png"]["numbers"]
        for ep, nz_line, met_line, jl in zip(EPOCHS, nz_ax["lines"], met_ax["lines"], nums["lines"]):
            cs = [find(cells, ds, r, ep) for r in REGS]
            want_nz = [np.mean(ref_nonzero(c["eig"])) for c in cs]
            want_met = [np.mean(c["loss"] if regression else c["acc"]) for c in cs]
            np.testing.assert_allclose(nz_line["x"], REGS)
            np.testing.assert_allclose(nz_line["y"], want_nz)
            np.testing.assert_allclose(met_line["y"], want_met)
            np.testing.assert_allclose(jl["nonzero_mean"], want_nz)
            np.testing.assert_allclose(jl["nonzero_std"], [np.std(ref_nonzero(c["eig"])) for c in cs])
            np.testing.assert_allclose(jl["metric_std"],
                                       [np.std(c["loss"] if regression else c["acc"]) for c in cs])
            assert jl["other"] == {"epochs": ep} and jl["cells"] == [cid(c) for c in cs]
        # the construction: reg index j zeroes j + 1 inputs (one more in seed 1)
        n_in = make_datasets()[ds]["n_inputs"]
        np.testing.assert_allclose(nums["lines"][0]["nonzero_mean"],
                                   [n_in - 1 - 1 / 3, n_in - 2 - 1 / 3])
        assert ("MAE" in met_ax["ylabel"]) == regression


def test_plotted_path(synth, drawn):
    """One line per input through its mean |eigenvalue| at each value of the axis (log x),
    coloured by the truth where there is one (the collection's array), grey otherwise;
    thin translucent lines for the 784 pixels."""
    _, datasets, cells = synth
    records, rec = drawn
    n = 0
    for ds, d in datasets.items():
        for key, other, values in (("reg_eigenvalues", "epochs", EPOCHS),
                                   ("epochs", "reg_eigenvalues", REGS)):
            for v in values:
                name = f"{ds}__{key}__{other}={v:.3g}_path.png"
                cs = sorted((c for c in cells if c["dataset"] == ds and c["swept"][other] == v),
                            key=lambda c: c["swept"][key])
                x = [c["swept"][key] for c in cs]
                mean = np.array([ref_abs_mean_std(c["eig"])[0] for c in cs])  # [values, inputs]
                ax = rec.figs[name]["axes"][0]
                (lc,) = ax["line_collections"]
                truth = d.get("truth")
                order = np.argsort(truth, kind="stable") if truth is not None else np.arange(d["n_inputs"])
                assert len(lc["segments"]) == d["n_inputs"]
                for seg, i in zip(lc["segments"], order):
                    np.testing.assert_array_equal(seg[:, 0], x)
                    np.testing.assert_allclose(seg[:, 1], mean[:, i], rtol=1e-12)
                if truth is not None:
                    np.testing.assert_allclose(lc["array"], np.asarray(truth)[order])
                else:
                    assert lc["array"] is None
                    np.testing.assert_allclose(lc["colors"][0][:3], [0.4] * 3)
                assert (lc["linewidths"][0] < 1) == (d["n_inputs"] > 100)
                assert ax["xscale"] == "log" and ax["xlabel"] == key
                nums = by_file(records)[name]["numbers"]
                assert nums["values"] == x and nums["coloured_by_truth"] == (truth is not None)
                if d["n_inputs"] <= 100:
                    np.testing.assert_allclose(nums["mean_abs"], mean.T, rtol=1e-12)
                else:
                    top = np.argsort(-mean.max(axis=0), kind="stable")[:10]
                    assert nums["top_inputs"] == top.tolist()
                    np.testing.assert_allclose(nums["top_mean_abs"], mean.T[top], rtol=1e-12)
                n += 1
    assert n == len(datasets) * 4


def test_path_symlog_when_zero_is_swept(tmp_path):
    path, _, cells = one_sweep(str(tmp_path), "zero.h5", [0.0, 1e-3, 1e-1], [10], AXES)
    rec = Recorder()
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", rec)
    try:
        figures.make_figures(figures.load(path), str(tmp_path), log=lambda s: None)
    finally:
        mp.undo()
    ax = rec.figs["g8__reg_eigenvalues__epochs=10_path.png"]["axes"][0]
    assert ax["xscale"] == "symlog"
    (lc,) = ax["line_collections"]
    np.testing.assert_array_equal(lc["segments"][0][:, 0], [0.0, 1e-3, 1e-1])


def test_zero_threshold_option(synth, tmp_path):
    path, _, cells = synth
    small = str(tmp_path / "g8.h5")  # only g8 at 10 epochs, to keep the run short
    datasets = {"g8": make_datasets()["g8"]}
    g8 = [c for c in cells if c["dataset"] == "g8" and c["swept"]["epochs"] == 10]
    write_results(small, datasets, g8, AXES)
    out = str(tmp_path / "o")
    p = run_cli(small, "--out", out, "--zero-threshold", "0.5")
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "figures.json")) as f:
        doc = json.load(f)
    assert doc["zero_threshold_rel"] == 0.5
    (r,) = [r for r in doc["figures"] if r["figure"] == "regstudy"]
    assert len(r["numbers"]["lines"]) == 1
    for jl in r["numbers"]["lines"]:
        cs = [find(g8, "g8", reg, jl["other"]["epochs"]) for reg in REGS]
        assert jl["nonzero_mean"] == pytest.approx([np.mean(ref_nonzero(c["eig"], 0.5)) for c in cs])
    assert run_cli(small, "--out", out, "--zero-threshold", "-1").returncode == 2


def test_title_reports_diverged_runs(tmp_path):
    datasets = {"g8": make_datasets()["g8"]}
    cells = make_cells(datasets, regs=[1e-3], epochs=[10])
    cells[0]["n_diverged"] = 1
    path = str(tmp_path / "div.h5")
    write_results(path, datasets, cells, AXES)
    rec = Recorder()
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", rec)
    try:
        figures.make_figures(figures.load(path), str(tmp_path), log=lambda s: None)
    finally:
        mp.undo()
    title = rec.figs[f"{cid(cells[0])}_eigenvalues.png"]["axes"][0]["title"]
    assert "n = 3 realizations (1 diverged)" in title


def test_regstudy_over_a_list_valued_axis(tmp_path):
    """A model key as an axis (model.hidden, an int64 array attribute) splits the
    regularization study into lines like any other axis."""
    datasets = {"g8": make_datasets()["g8"]}
    cells = make_cells(datasets, regs=REGS, epochs=[10, 20])  # epochs become model.hidden
    path = str(tmp_path / "hidden.h5")
    write_results(path, datasets, cells, AXES, group_names=[f"c{i}" for i in range(len(cells))])
    hidden = [[100, 50], [], [100, 50], []]
    with h5py.File(path, "a") as f:
        for i, h in enumerate(hidden):
            g = f["summary"][f"c{i}"]
            g.attrs.create("model.hidden", np.array(h, "<i8"), dtype="<i8")
            a_str(g, "swept_keys", "reg_eigenvalues,model.hidden")
            a_str(g, "cell_id", f"c{i}")
    res = figures.load(path)
    (study,) = figures.reg_studies(res["cells"])
    assert study["other_keys"] == ["model.hidden"]
    assert [(other, [c["id"] for c in cs]) for other, cs in study["lines"]] == [
        ({"model.hidden": [100, 50]}, ["c0", "c2"]), ({"model.hidden": []}, ["c1", "c3"])]
    cur = figures.reg_study_curves(study, res["datasets"])
    np.testing.assert_allclose(cur["lines"][0]["metric_mean"], [cells[0]["acc"].mean(),
                                                                cells[2]["acc"].mean()])


# ---- the relevance methods ---------------------------------------------------------------

# per cell (dataset, reg_eigenvalues): the methods its /summary/<cell>/relevance holds;
# "-" marks one skipped in every run (spectral on a dense network)
CELL_METHODS = {
    ("g8", 1e-4): ["spectral", "saliency", "permutation", "fourier"],
    ("g8", 1e-2): ["saliency", "kernel_shap"],              # spectral: the eigenvalues
    ("img", 1e-4): ["spectral", "saliency", "fourier"],
    ("img", 1e-2): ["-spectral", "saliency", "integrated_gradients"],
    ("tab", 1e-4): ["spectral", "saliency"],                # no top-k curve
    ("tab", 1e-2): ["spectral"],                            # no post-hoc method
}
# specsweep's order of the methods (include/specsweep/attrib_settings.h), the figures' order
METHOD_ORDER = ["spectral", "saliency", "input_x_gradient", "integrated_gradients",
                "smoothgrad", "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift",
                "permutation", "kernel_shap", "fourier"]
SECONDS = {"spectral": 1e-6, "saliency": 1e-3, "permutation": 0.3, "fourier": 0.05,
           "kernel_shap": 2.0, "integrated_gradients": 0.04}


def make_method(rng, c, method, n_in):
    """A method's relevance per realization for write_cell_method: |eigenvalues| (spectral),
    them times noise (permutation may go below 0), random per frequency (fourier)."""
    n, K = c["eig"].shape[0], len(c["topk"])
    tacc, sec = rng.uniform(0.5, 1.0, (n, K)), SECONDS[method.lstrip("-")] * rng.uniform(0.5, 2, n)
    if method.startswith("-"):
        return dict(values=np.zeros((n, 0)), tacc=np.full((n, K), np.nan), seconds=np.zeros(n))
    if method == "spectral":
        values = np.abs(c["eig"])
    elif method == "fourier":
        values = rng.uniform(0, 1, (n, n_in // 2 + 1))
    else:
        values = np.abs(c["eig"]) * rng.uniform(0.3, 1.7, (n, n_in))
        values -= 0.05 * (method == "permutation")
    return dict(values=values, tacc=tacc, seconds=sec)


@pytest.fixture(scope="module")
def methods_file(tmp_path_factory):
    """A results file whose cells hold the relevance methods of CELL_METHODS; runs with
    differing training seconds."""
    rng = np.random.default_rng(11)
    datasets = {k: v for k, v in make_datasets().items() if k in ("g8", "img", "tab")}
    cells = make_cells(datasets, regs=REGS, epochs=[10])
    for c in cells:
        n_in = datasets[c["dataset"]]["n_inputs"]
        c["train_seconds"] = rng.uniform(0.5, 2.0, SEEDS)
        c["relevance"] = {m.lstrip("-"): make_method(rng, c, m, n_in)
                          for m in CELL_METHODS[(c["dataset"], c["swept"]["reg_eigenvalues"])]}
    path = str(tmp_path_factory.mktemp("methods") / "methods.h5")
    write_results(path, datasets, cells, AXES, version=2)
    mp = pytest.MonkeyPatch()
    rec = Recorder()
    mp.setattr(figures, "_save", rec)
    try:
        records = figures.make_figures(figures.load(path), "/nonexistent-out", log=lambda s: None)
    finally:
        mp.undo()
    return path, cells, by_file(records), rec


def want_methods(g):
    """The methods a cell's figures show, in specsweep's order, with their mean |relevance|
    (h5py): the stored ones not skipped, and spectral from the eigenvalues where the cell
    stores no spectral."""
    rel = g["relevance"]
    out = [(m, rel[m]["abs_mean"][()]) for m in METHOD_ORDER
           if m in rel and rel[m]["abs_mean"].shape[0] > 0]
    if "spectral" not in rel:
        out.insert(0, ("spectral", g["eigenvalues_abs_mean"][()]))
    return out


def rank_rows(g, method):
    """Every realization's relevance as the scores rank it: |values| for spectral (|eigenvalues|
    when the cell does not store spectral), the values otherwise."""
    if method == "spectral" and "spectral" not in g["relevance"]:
        return np.abs(g["eigenvalues"][()])
    v = g["relevance"][method]["values"][()]
    return np.abs(v) if method == "spectral" else v


def method_source(g, method):
    """The group holding a method's topk_accuracy: its relevance group, or the cell's own
    for spectral from the eigenvalues."""
    return g["relevance"][method] if method in g["relevance"] else g


def check_methods_relevance(g, truth, nums):
    """figures.json's numbers of a methods_relevance figure: every method's stored abs_mean
    over its maximum, the Spearman of abs_mean with the truth (scipy), the truth over its
    maximum. Returns what the figure should draw: [(method, normalised, rho)]."""
    want = want_methods(g)
    assert [r["method"] for r in nums["methods"]] == [m for m, _ in want]
    out = []
    for r, (m, mean) in zip(nums["methods"], want):
        norm = mean / mean.max()
        if len(norm) <= 100:
            np.testing.assert_allclose(r["normalised"], norm, rtol=1e-12)
        else:
            top = np.argsort(-norm)[:10]
            assert r["top_inputs"] == top.tolist()
            np.testing.assert_allclose(r["top_normalised"], norm[top], rtol=1e-12)
        assert r["max_abs_mean"] == pytest.approx(mean.max(), rel=1e-12)
        assert r["axis"] == ("frequency" if m == "fourier" else "input")
        rho = None
        if truth is not None and m != "fourier":
            rho = spearmanr(mean, truth).correlation
            assert r["spearman_rho"] == pytest.approx(rho, abs=1e-12)
        else:
            assert r["spearman_rho"] is None
        out.append((m, norm, rho))
    if truth is not None:
        np.testing.assert_allclose(nums["truth_normalised"], truth / truth.max(), rtol=1e-12)
    return out


def check_quality_cost(f, g, truth, nums):
    """figures.json's numbers of a quality_cost figure. With a truth: each method's
    Spearman with it per realization (scipy), mean and std, and the writer's stored one
    equal to it; without: the metric with its top-k inputs at the smallest k >= 10 % of the
    inputs. Its seconds' mean and std; spectral without seconds; the training seconds of
    the cell's runs. Returns {method: (seconds, quality mean, quality std)} of the
    post-hoc methods drawn, and spectral's (None, mean, std)."""
    want = {}
    k = None
    if truth is None:
        k = min(k for k in g["topk"][()] if k >= 0.1 * g["eigenvalues"].shape[1])
        j = list(g["topk"][()]).index(k)
    for m, _ in want_methods(g):
        if truth is None:
            q = method_source(g, m)["topk_accuracy"][()][:, j]
        elif m == "fourier":
            assert "per frequency" in nums["left_out"]["fourier"]
            continue
        else:
            q = [spearmanr(r, truth).correlation for r in rank_rows(g, m)]
            if m in g["relevance"]:
                assert g["relevance"][m].attrs["spearman_mean"] == pytest.approx(np.mean(q), abs=1e-12)
        sec = g["relevance"][m]["seconds"][()] if m != "spectral" else None
        want[m] = (sec, np.mean(q), np.std(q))
    assert nums["k"] == k and nums["quality"] == ("topk" if truth is None else "spearman")
    sp = want.get("spectral")
    assert (nums["spectral"] is None) == (sp is None)
    if sp:
        assert (nums["spectral"]["quality_mean"], nums["spectral"]["quality_std"]) == \
            pytest.approx(sp[1:], abs=1e-12)
    assert [r["method"] for r in nums["methods"]] == [m for m in want if m != "spectral"]
    for r in nums["methods"]:
        sec, qm, qs = want[r["method"]]
        assert (r["quality_mean"], r["quality_std"]) == pytest.approx((qm, qs), abs=1e-12)
        assert (r["seconds_mean"], r["seconds_std"]) == pytest.approx((sec.mean(), sec.std()), rel=1e-12)
    train = [r.attrs["train_seconds"] for r in f["runs"].values()
             if r.attrs["cell_id"] == g.attrs["cell_id"] and r.attrs["status"] == "ok"]
    assert (nums["train_seconds_mean"], nums["train_seconds_std"]) == \
        pytest.approx((np.mean(train), np.std(train)), rel=1e-12)
    return want


def check_methods_topk(g, nums):
    """figures.json's numbers of a methods_topk figure: each method's metric with its top-k
    inputs, mean and std over the realizations, and the random-k curve, k ascending.
    Returns the means drawn: [(method, mean)] and the random one last."""
    order = np.argsort(g["topk"][()])
    assert nums["k"] == g["topk"][()][order].tolist()
    assert [r["method"] for r in nums["methods"]] == [m for m, _ in want_methods(g)]
    out = []
    for r in nums["methods"]:
        acc = method_source(g, r["method"])["topk_accuracy"][()][:, order]
        np.testing.assert_allclose(r["mean"], acc.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(r["std"], acc.std(axis=0), rtol=1e-9, atol=1e-15)
        out.append((r["method"], acc.mean(axis=0)))
    rnd = g["randomk_accuracy"][()][:, order]
    np.testing.assert_allclose(nums["random_mean"], rnd.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(nums["random_std"], rnd.std(axis=0), rtol=1e-9, atol=1e-15)
    return out + [("random", rnd.mean(axis=0))]


def truth_of(f, g):
    ds = f["datasets"][g.attrs["dataset"]]
    return ds["relevance_truth"][()] if "relevance_truth" in ds else None


def test_method_figures_for_cells_with_post_hoc_methods(methods_file):
    _, cells, recs, rec = methods_file
    for c in cells:
        kinds = {r["figure"] for f, r in recs.items() if r["cell"] == cid(c)}
        got = kinds & {"methods_relevance", "quality_cost", "methods_topk"}
        ds, reg = c["dataset"], c["swept"]["reg_eigenvalues"]
        if (ds, reg) == ("tab", 1e-2):
            assert got == set()          # spectral alone
        elif ds == "tab":
            assert got == {"methods_relevance"}   # no top-k curve: no quality without truth
        else:
            assert got == {"methods_relevance", "quality_cost", "methods_topk"}, (ds, reg)
        for kind in got:
            assert f"{cid(c)}_{kind}.png" in rec.figs


def test_methods_relevance_against_the_file(methods_file):
    """Each panel draws the method's stored abs_mean over its maximum, the truth over its
    maximum as bars, the Spearman with the truth in the legend; a method skipped in every
    run is left out, spectral comes from the eigenvalues where the cell stores none."""
    path, cells, recs, rec = methods_file
    checked = []
    with h5py.File(path, "r") as f:
        for c in cells:
            name = f"{cid(c)}_methods_relevance.png"
            if name not in recs:
                continue
            g = f["summary"][cid(c)]
            truth = truth_of(f, g)
            drawn = check_methods_relevance(g, truth, recs[name]["numbers"])
            panels = [ax for ax in rec.figs[name]["axes"] if ax["lines"]]
            assert len(panels) == len(drawn)
            for ax, (m, norm, rho) in zip(panels, drawn):
                np.testing.assert_allclose(ax["lines"][0]["y"], norm, rtol=1e-12)
                if rho is not None:
                    assert ax["lines"][0]["label"] == f"{m}, ρ = {rho:+.3f}"
                    np.testing.assert_allclose(ax["bars"], truth / truth.max(), rtol=1e-12)
                else:
                    assert ax["lines"][0]["label"] == m and len(ax["bars"]) == 0
            checked.append((c["dataset"], [m for m, _, _ in drawn]))
    assert checked == [("g8", ["spectral", "saliency", "permutation", "fourier"]),
                       ("g8", ["spectral", "saliency", "kernel_shap"]),
                       ("img", ["spectral", "saliency", "fourier"]),
                       ("img", ["saliency", "integrated_gradients"]),
                       ("tab", ["spectral", "saliency"])]


def test_quality_cost_against_the_file(methods_file):
    """Each post-hoc method drawn at its seconds and quality with both std as error bars
    (log x); spectral a line at its quality; the training time a line."""
    path, cells, recs, rec = methods_file
    n = 0
    with h5py.File(path, "r") as f:
        for c in cells:
            name = f"{cid(c)}_quality_cost.png"
            if name not in recs:
                continue
            g = f["summary"][cid(c)]
            nums = recs[name]["numbers"]
            want = check_quality_cost(f, g, truth_of(f, g), nums)
            ax = rec.figs[name]["axes"][0]
            assert len(ax["errorbars"]) == len(nums["methods"])
            for r, eb in zip(nums["methods"], ax["errorbars"]):
                sec, qm, qs = want[r["method"]]
                assert (eb["x"][0], eb["xerr"][0], eb["y"][0], eb["yerr"][0]) == pytest.approx(
                    (sec.mean(), sec.std(), qm, qs), rel=1e-9)
            lines = {ln["label"].split(":")[0]: ln for ln in ax["lines"]}
            assert lines["training"]["x"][0] == pytest.approx(nums["train_seconds_mean"], rel=1e-12)
            if "spectral" in want:
                assert lines["spectral"]["y"][0] == pytest.approx(want["spectral"][1], abs=1e-12)
                assert "no extra seconds" in lines["spectral"]["label"]
            assert ax["xscale"] == "log"
            n += 1
    assert n == 4


def test_methods_topk_against_the_file(methods_file):
    path, cells, recs, rec = methods_file
    n = 0
    with h5py.File(path, "r") as f:
        for c in cells:
            name = f"{cid(c)}_methods_topk.png"
            if name not in recs:
                continue
            drawn = check_methods_topk(f["summary"][cid(c)], recs[name]["numbers"])
            ebs = rec.figs[name]["axes"][0]["errorbars"]
            assert [eb["label"].split(" ")[0] for eb in ebs] == [m for m, _ in drawn[:-1]] + ["k"]
            for eb, (_, mean) in zip(ebs, drawn):
                np.testing.assert_allclose(eb["y"], mean, rtol=1e-12)
            n += 1
    assert n == 4


def test_quality_k():
    assert figures.quality_k([1, 2, 4], 16) == 2
    assert figures.quality_k([50, 5, 20], 100) == 20
    assert figures.quality_k([1, 2, 4], 100) == 4      # no k keeps 10 %: the largest
    assert figures.quality_k([], 100) is None


# ---- errors ------------------------------------------------------------------------------

def _bad_file(tmp_path, what):
    p = str(tmp_path / f"{what}.h5")
    if what == "missing":
        return p
    if what == "directory":
        os.mkdir(p)
        return p
    if what == "text":
        with open(p, "w") as f:
            f.write("format: specsweep-results\n")
        return p
    if what == "empty":
        open(p, "w").close()
        return p
    with h5py.File(p, "w") as f:
        if what == "noformat":
            f.create_group("summary")
        elif what == "otherformat":
            a_str(f, "format", "something-else")
            a_i64(f, "format_version", 1)
        elif what == "version3":
            a_str(f, "format", "specsweep-results")
            a_i64(f, "format_version", 3)
        elif what == "noversion":
            a_str(f, "format", "specsweep-results")
    return p


@pytest.mark.parametrize("what,message", [
    ("missing", "no such file"), ("directory", "directory"), ("text", "not an HDF5 file"),
    ("empty", "not an HDF5 file"), ("noformat", "not a specsweep results file"),
    ("otherformat", "not a specsweep results file"), ("version3", "format_version 3"),
    ("noversion", "format_version None"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, what, message):
    path = _bad_file(tmp_path, what)
    out = str(tmp_path / "out")
    p = run_cli(path, "--out", out)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert path in p.stderr and message in p.stderr
    assert "Traceback" not in p.stderr
    assert not os.path.exists(os.path.join(out, "figures.json"))


def test_malformed_cell_exits_2(tmp_path):
    path, _, cells = one_sweep(str(tmp_path), "m.h5", [1e-3], [10], AXES)
    with h5py.File(path, "a") as f:
        del f["summary"][cid(cells[0])]["eigenvalues"]
    p = run_cli(path, "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and path in p.stderr and "eigenvalues" in p.stderr


def test_no_cells_yet(tmp_path):
    path = str(tmp_path / "empty-sweep.h5")
    write_results(path, {"g8": make_datasets()["g8"]}, [], AXES)
    out = str(tmp_path / "o")
    p = run_cli(path, "--out", out)
    assert p.returncode == 0, p.stderr
    assert "no finished cells" in p.stdout
    with open(os.path.join(out, "figures.json")) as f:
        assert json.load(f)["figures"] == []


# ---- a real results file ------------------------------------------------------------------

REAL_SWEEP = """
name: analysis-tiny
seeds: 2
datasets:
  g6: {kind: gaussian, features: 6, relevant: 3, samples: 400}
  spec: {kind: spectra, features: 20, samples: 120, metal_lines: 1, nuisance_lines: 1}
  img: {kind: hdf5, path: img.h5, task: classification}
model: {hidden: [8]}
training: {epochs: 5, batch_size: 100}
sweep:
  reg_eigenvalues: [1.0e-4, 1.0e-2]
relevance: {topk: [1, 2, 4], samples: 40, methods: [spectral, saliency, permutation, fourier]}
"""
REAL_METHODS = ["spectral", "saliency", "permutation", "fourier"]


def run_real_sweep(d, sweep_text):
    """Run sweep_text with $SPECSWEEP in directory d, beside an image dataset img.h5 (120
    samples of 4 x 4) that it may use: returns (the results file, the environment). Skips
    when SPECSWEEP is not set."""
    exe = os.environ.get("SPECSWEEP")
    if not exe:
        pytest.skip("SPECSWEEP is not set (ctest sets it to the specsweep binary)")
    assert os.access(exe, os.X_OK), f"SPECSWEEP={exe} is not an executable"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 4, 4)).astype("f4")
    with h5py.File(d / "img.h5", "w") as f:
        f["X"] = x
        f["y"] = (x[:, 1, 2] > 0).astype("f8")
    (d / "tiny.yaml").write_text(sweep_text)
    out = str(d / "tiny.h5")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    p = subprocess.run([exe, "run", str(d / "tiny.yaml"), "-o", out], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return out, env


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return run_real_sweep(tmp_path_factory.mktemp("real"), REAL_SWEEP)[0]


@pytest.fixture(scope="module")
def real_figs(real, tmp_path_factory):
    """figures.py run on the real file: (the output directory, figures.json's records)."""
    out = str(tmp_path_factory.mktemp("real-figs"))
    p = run_cli(real, "--out", out)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "figures.json")) as fh:
        return out, by_file(json.load(fh)["figures"])


def test_real_file_figures(real, real_figs):
    out, recs = real_figs
    with h5py.File(real, "r") as f:
        cells = {g.attrs["cell_id"]: g for g in f["summary"].values()}
        assert len(cells) == 6
        want = set()
        for c, g in cells.items():
            ds = g.attrs["dataset"]
            want |= {f"{c}_eigenvalues.png", f"{c}_topk.png", f"{c}_methods_relevance.png",
                     f"{c}_quality_cost.png", f"{c}_methods_topk.png"}
            if ds in ("g6", "spec"):
                want.add(f"{c}_truth.png")
            if ds == "img":
                want |= {f"{c}_histogram.png", f"{c}_heatmap.png"}
            if ds == "spec":
                want.add(f"{c}_spectrum.png")
        want |= {f"{ds}__{k}.png" for ds in ("g6", "spec", "img")
                 for k in ("regstudy", "reg_eigenvalues_path")}
        assert {x for x in os.listdir(out) if x.endswith(".png")} == want
        for x in want:
            with open(os.path.join(out, x), "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n", x
        for c, g in cells.items():
            ds = g.attrs["dataset"]
            eig = g["eigenvalues"][()]
            rm, _ = ref_abs_mean_std(eig)
            if ds != "img":
                truth = f["datasets"][ds]["relevance_truth"][()]
                rho = recs[f"{c}_truth.png"]["numbers"]["spearman_rho"]
                assert rho == pytest.approx(ref_spearman(truth, rm), abs=1e-12)
            if ds == "g6":
                np.testing.assert_allclose(recs[f"{c}_eigenvalues.png"]["numbers"]["mean_abs"], rm)
            if ds == "spec":
                assert "MAE" in recs[f"{c}_topk.png"]["numbers"]["metric"]
                np.testing.assert_allclose(recs[f"{c}_topk.png"]["numbers"]["top_mean"],
                                           g["topk_accuracy"][()].mean(axis=0))
        r = recs["g6__regstudy.png"]["numbers"]["lines"][0]
        cs = sorted((g for g in cells.values() if g.attrs["dataset"] == "g6"),
                    key=lambda g: g.attrs["reg_eigenvalues"])
        assert r["reg_eigenvalues"] == [1e-4, 1e-2]
        assert r["nonzero_mean"] == pytest.approx([np.mean(ref_nonzero(g["eigenvalues"][()])) for g in cs])
        assert r["metric_mean"] == pytest.approx([g["test_accuracy"][()].mean() for g in cs])
        for ds in ("g6", "spec", "img"):  # the path: each cell's stored mean |eigenvalue|
            cs = sorted((g for g in cells.values() if g.attrs["dataset"] == ds),
                        key=lambda g: g.attrs["reg_eigenvalues"])
            nums = recs[f"{ds}__reg_eigenvalues_path.png"]["numbers"]
            assert nums["values"] == [1e-4, 1e-2]
            np.testing.assert_allclose(nums["mean_abs"],
                                       np.array([g["eigenvalues_abs_mean"][()] for g in cs]).T,
                                       rtol=1e-12)
            assert nums["coloured_by_truth"] == (ds != "img")


def test_real_file_method_figures(real, real_figs):
    """The per-method figures of the real sweep's cells against the file (h5py, numpy,
    scipy): relevance per input, quality vs cost (Spearman where the dataset has a truth,
    the metric at k = 2 of the 16 pixels where not), top-k curves."""
    _, recs = real_figs
    with h5py.File(real, "r") as f:
        for g in f["summary"].values():
            c, truth = g.attrs["cell_id"], truth_of(f, g)
            assert sorted(g["relevance"]) == sorted(REAL_METHODS)
            drawn = check_methods_relevance(g, truth, recs[f"{c}_methods_relevance.png"]["numbers"])
            assert [m for m, _, _ in drawn] == REAL_METHODS
            nums = recs[f"{c}_quality_cost.png"]["numbers"]
            want = check_quality_cost(f, g, truth, nums)
            assert set(want) == set(REAL_METHODS) - ({"fourier"} if truth is not None else set())
            assert nums["k"] == (None if truth is not None else 2)
            check_methods_topk(g, recs[f"{c}_methods_topk.png"]["numbers"])


def _layout(path):
    """Per kind of object: {name: (type class, size, shape)} of its attributes and
    datasets, for comparing two files' layouts."""
    def sig(x):
        t = x.dtype if hasattr(x, "dtype") else x
        s = h5py.check_string_dtype(t)
        return ("vlen-str", s.encoding) if s else (t.kind, t.itemsize)

    def attrs(o):
        return {k: (sig(o.attrs.get_id(k).dtype), o.attrs.get_id(k).shape) for k in o.attrs}

    def dsets(g):
        return {k: (sig(v.dtype), len(v.shape)) for k, v in g.items() if isinstance(v, h5py.Dataset)}

    out = {}
    with h5py.File(path, "r") as f:
        out["root"] = attrs(f)
        for name, g in f["datasets"].items():
            out[f"dataset:{g.attrs['kind']}"] = (attrs(g), dsets(g))
        for g in f["runs"].values():
            if g.attrs["status"] != "ok":  # a diverged run records less
                continue
            child = ":retrain" if "retrain_parent" in g.attrs else ""
            out[f"run:{g.attrs['dataset']}{child}"] = (attrs(g), dsets(g))
        for g in f["summary"].values():
            child = ":retrain" if "retrain_mode" in g.attrs else ""
            out[f"cell:{g.attrs['dataset']}{child}"] = (attrs(g), dsets(g))
            for method, m in g.get("relevance", {}).items():
                out[f"cell:{g.attrs['dataset']}:{method}"] = (attrs(m), dsets(m))
            for mode, mg in g.get("retrain", {}).items():
                for m in mg.values():
                    out[f"cell:{g.attrs['dataset']}:retrain/{mode}"] = (attrs(m), dsets(m))
    return out


def test_mirror_writer_matches_real_layout(real, tmp_path):
    """The helper above writes what src/snapshot.c writes: same names, types, ranks."""
    mirror = str(tmp_path / "mirror.h5")
    datasets = {
        "g6": dict(kind="gaussian", n_inputs=6, n_classes=2, truth=np.repeat([1.0, 0.0], 3),
                   topk=[1, 2, 4]),
        "spec": dict(kind="spectra", n_inputs=20, n_classes=0, truth=np.repeat([1.0, 0.0], 10),
                     names=[f"{w:.2f}" for w in np.linspace(3540, 7410, 20)], topk=[1, 2, 4]),
        "img": dict(kind="hdf5", n_inputs=16, n_classes=2, shape=[4, 4], topk=[1, 2, 4]),
    }
    cells = make_cells(datasets, regs=REGS, epochs=[5])
    rng = np.random.default_rng(2)
    for c in cells:
        del c["swept"]["epochs"]
        c["relevance"] = {m: make_method(rng, c, m, datasets[c["dataset"]]["n_inputs"])
                          for m in REAL_METHODS}
    write_results(mirror, datasets, cells, ["reg_eigenvalues"])
    got, want = _layout(mirror), _layout(real)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == want[k], k


# ---- retraining ------------------------------------------------------------------------------

# Two datasets (classification, regression), two cells each that finish and two whose runs
# diverge (learning_rate 1e30: their retraining runs are skipped); keep has three k (1 to
# 12: linear x, narrower than the top-k figures' log threshold), remove has one.
RETRAIN_SWEEP = """
name: retrain-tiny
seeds: 2
datasets:
  g12: {kind: gaussian, features: 12, relevant: 4, samples: 400}
  spec: {kind: spectra, features: 20, samples: 120, metal_lines: 1, nuisance_lines: 1}
model: {hidden: [8]}
training: {epochs: 5, batch_size: 100}
sweep:
  reg_eigenvalues: [1.0e-4, 1.0e-2]
  learning_rate: [1.0e-2, 1.0e+30]
relevance:
  topk: [2]
  retrain: {methods: [spectral, truth], keep: [1, 4, 12], remove: [4]}
"""
RETRAIN_ORDER = METHOD_ORDER + ["random", "truth"]
RETRAIN_STYLE = {"random": ("--", "#808080"), "truth": (":", "#000000")}


def is_retrain_cell(g):
    return "retrain_mode" in g.attrs


def want_retrain(f, g):
    """What a parent cell's retraining figure must show, read here with h5py: per mode it
    has (keep, then remove) its methods in specsweep's order (random, truth last), each with
    k ascending and the stored metric_mean, metric_std and n_realizations; the curves'
    metric attribute; the cell's stored metric with all inputs (mean, std with numpy)."""
    regression = int(f["datasets"][g.attrs["dataset"]].attrs["n_classes"]) == 0
    modes, metric = {}, None
    for mode in [m for m in ("keep", "remove") if m in g["retrain"]]:
        modes[mode] = []
        for method in sorted(g["retrain"][mode], key=RETRAIN_ORDER.index):
            c = g["retrain"][mode][method]
            o = np.argsort(c["k"][()], kind="stable")
            modes[mode].append(dict(method=method, k=c["k"][()][o], mean=c["metric_mean"][()][o],
                                    std=c["metric_std"][()][o], n=c["n_realizations"][()][o]))
            metric = c.attrs["metric"]
    full = g["test_loss" if regression else "test_accuracy"][()]
    return modes, metric, full.mean(), full.std()


def _json_list(a):
    return [None if np.isnan(v) else v for v in np.asarray(a, float).tolist()]


def check_retrain_numbers(f, g, nums):
    """figures.json's numbers of a parent cell's retraining figure against the file
    (want_retrain): the stored curves exactly, in specsweep's order of methods, k
    ascending; the curves' metric; the metric with all inputs. Returns want_retrain's
    modes and that mean."""
    modes, metric, full_mean, full_std = want_retrain(f, g)
    assert nums["metric"] == metric
    assert list(nums["modes"]) == list(modes)
    assert nums["all_inputs_mean"] == pytest.approx(full_mean, rel=1e-12)
    assert nums["all_inputs_std"] == pytest.approx(full_std, rel=1e-9, abs=1e-15)
    for mode, rows in modes.items():
        got = nums["modes"][mode]
        assert [r["method"] for r in got] == [r["method"] for r in rows]
        for r, j in zip(rows, got):
            assert j["k"] == r["k"].tolist() and j["n_realizations"] == r["n"].tolist()
            assert j["metric_mean"] == _json_list(r["mean"])
            assert j["metric_std"] == _json_list(r["std"])
    return modes, full_mean


def check_retrain_figure(f, g, nums, snap):
    """A parent cell's retraining figure against the file: its numbers
    (check_retrain_numbers); the drawing (the recorder) has a panel per mode with a line
    per method at the stored k and means, the stds as error bars, random dashed grey,
    truth dotted black, the others solid; the metric with all inputs as a horizontal line;
    log x where the panel's k are as wide as the top-k figures' (largest / smallest >=
    20). Returns the number of points compared."""
    modes, full_mean = check_retrain_numbers(f, g, nums)
    assert len(snap["axes"]) == len(modes)
    compared = 0
    for ax, (mode, rows) in zip(snap["axes"], modes.items()):
        assert ax["title"].startswith(mode + ":")
        assert [e["label"] for e in ax["errorbars"]] == [r["method"] for r in rows]
        for r, e in zip(rows, ax["errorbars"]):
            np.testing.assert_array_equal(e["x"], r["k"])
            np.testing.assert_array_equal(e["y"], r["mean"])
            np.testing.assert_allclose(e["yerr"], r["std"], rtol=1e-9, atol=1e-15)
            ls, colour = RETRAIN_STYLE.get(r["method"], ("-", None))
            assert e["linestyle"] == ls and (colour is None or e["color"] == colour)
            compared += len(r["k"])
        (h,) = [ln for ln in ax["lines"] if ln["label"].startswith("all ")]
        np.testing.assert_allclose(h["y"], [full_mean, full_mean], rtol=1e-12)
        ks = np.concatenate([r["k"] for r in rows])
        assert ax["xscale"] == ("log" if ks.max() / ks.min() >= 20 else "linear")
    return compared


def check_retrain_cells_apart(f, res, recs):
    """load() holds the grid's cells; the retraining cells are apart (their parent, mode,
    method and k as the file says), have no figure, and are in no study or path."""
    grid = {g.attrs["cell_id"]: g for g in f["summary"].values() if not is_retrain_cell(g)}
    kids = {g.attrs["cell_id"]: g for g in f["summary"].values() if is_retrain_cell(g)}
    assert sorted(c["id"] for c in res["cells"]) == sorted(grid)
    assert {c["id"]: (c["parent"], c["mode"], c["method"], c["k"]) for c in res["retrain_cells"]} \
        == {c: tuple(g.attrs[a] for a in ("retrain_parent_cell", "retrain_mode",
                                          "retrain_method", "retrain_k")) for c, g in kids.items()}
    for name, r in recs.items():
        cells = [r["cell"]] if isinstance(r["cell"], str) else r["cell"]
        assert set(cells) <= set(grid), name
        assert "__keep=" not in name and "__remove=" not in name, name
    return grid, kids


def _draw_recorded(path, out):
    """make_figures on path with the recorder, the index written to out: (load's reading,
    figures.json's records by file, the recorder)."""
    mp = pytest.MonkeyPatch()
    rec = Recorder()
    mp.setattr(figures, "_save", rec)
    try:
        res = figures.load(path)
        records = figures.make_figures(res, out, log=lambda s: None)
    finally:
        mp.undo()
    with open(figures.write_index(res, out, figures.DEFAULT_ZERO_THRESHOLD, records)) as fh:
        return res, by_file(json.load(fh)["figures"]), rec


@pytest.fixture(scope="module")
def real_retrain(tmp_path_factory):
    """RETRAIN_SWEEP run by $SPECSWEEP and drawn with the recorder: (the file, load's
    reading, figures.json's records by file, the recorder)."""
    d = tmp_path_factory.mktemp("retrain")
    path = run_real_sweep(d, RETRAIN_SWEEP)[0]
    os.makedirs(d / "figs")
    return (path, *_draw_recorded(path, str(d / "figs")))


def test_real_retrain_figures(real_retrain):
    """The real sweep: a retraining figure per cell with the file's curves; the retraining
    cells out of every other figure, the regularization studies and relevance paths
    made of the grid's cells alone."""
    path, res, recs, rec = real_retrain
    with h5py.File(path, "r") as f:
        grid, kids = check_retrain_cells_apart(f, res, recs)
        assert len(grid) == 4 and len(kids) == 4 * 3 * 4  # (spectral, random, truth) x 4 k
        compared = 0
        for cid, g in grid.items():
            assert recs[f"{cid}_retrain.png"]["cell"] == cid
            compared += check_retrain_figure(f, g, recs[f"{cid}_retrain.png"]["numbers"],
                                             rec.figs[f"{cid}_retrain.png"])
            want = {"eigenvalues", "truth", "topk", "retrain"} | (
                {"spectrum"} if g.attrs["dataset"] == "spec" else set())
            assert {r["figure"] for r in recs.values() if r["cell"] == cid} == want
        assert compared == 4 * 3 * 4
        for ds in ("g12", "spec"):
            cs = sorted((c for c, g in grid.items() if g.attrs["dataset"] == ds),
                        key=lambda c: grid[c].attrs["reg_eigenvalues"])
            assert recs[f"{ds}__regstudy.png"]["cell"] == cs
            p = recs[f"{ds}__reg_eigenvalues__learning_rate=0.01_path.png"]
            assert p["cell"] == cs and p["numbers"]["values"] == [1e-4, 1e-2]
        assert {r["figure"] for r in recs.values() if not isinstance(r["cell"], str)} == \
            {"regstudy", "path"}


def test_real_retrain_pngs_of_the_command(real_retrain, tmp_path):
    """figures.py as a command on the real sweep: every grid cell's <cell>_retrain.png is
    written and decodes (matplotlib's PNG reader) to an image with something drawn in it,
    figures.json holds the file's curves; no PNG of a retraining cell."""
    path = real_retrain[0]
    out = str(tmp_path / "figs")
    p = run_cli(path, "--out", out)
    assert p.returncode == 0, p.stderr
    with open(os.path.join(out, "figures.json")) as fh:
        recs = by_file(json.load(fh)["figures"])
    pngs = sorted(x for x in os.listdir(out) if x.endswith(".png"))
    assert pngs == sorted(recs)
    assert not [x for x in pngs if "__keep=" in x or "__remove=" in x]
    with h5py.File(path, "r") as f:
        grid = {g.attrs["cell_id"]: g for g in f["summary"].values() if not is_retrain_cell(g)}
        assert sorted(x for x in pngs if x.endswith("_retrain.png")) == \
            sorted(f"{c}_retrain.png" for c in grid)
        for cid, g in grid.items():
            name = f"{cid}_retrain.png"
            img = matplotlib.image.imread(os.path.join(out, name))
            assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600, (name, img.shape)
            assert len(np.unique(img.reshape(-1, img.shape[2]), axis=0)) > 50, name
            check_retrain_numbers(f, g, recs[name]["numbers"])
            assert f"{name}  [keep k=[1, 4, 12]: spectral " in p.stdout


def retrain_mirror(path):
    """A mirror file (write_results) whose first g8 and first spec cells have retraining
    runs: five methods written out of order, k out of order (g8 keep 4, 1, 2: linear x;
    spec keep 20, 1, 5: log x), one failed run (keep saliency 1, seed 1) and one k with
    none ok (remove random at the first k: NaN, n 0). Returns the cells."""
    datasets = {k: v for k, v in make_datasets().items() if k in ("g8", "spec")}
    cells = make_cells(datasets, regs=REGS, epochs=[10])
    rng = np.random.default_rng(5)
    ks = {"g8": (4, 1, 2), "spec": (20, 1, 5)}
    for c in cells:
        del c["swept"]["epochs"]
        if c["swept"]["reg_eigenvalues"] != REGS[0]:
            continue
        c["retrain"] = {}
        for method in ("truth", "saliency", "random", "spectral", "integrated_gradients"):
            for mode in ("remove", "keep"):
                for k in ks[c["dataset"]][:2 if mode == "remove" else 3]:
                    c["retrain"][(mode, method, k)] = rng.uniform(0.3, 1.0, SEEDS)
        c["retrain"][("keep", "saliency", 1)][1] = np.nan
        c["retrain"][("remove", "random", ks[c["dataset"]][0])][:] = np.nan
    write_results(path, datasets, cells, ["reg_eigenvalues"], version=2)
    return cells


def test_retrain_figure_of_the_mirror(tmp_path):
    """Methods in specsweep's order whatever the file's order, k ascending, a failed run
    and a k without an ok run (NaN, n = 0) as stored, test MAE for regression; no figure
    for a cell without retraining runs nor for a retraining cell."""
    path = str(tmp_path / "mirror.h5")
    cells = retrain_mirror(path)
    os.makedirs(tmp_path / "figs")
    res, recs, rec = _draw_recorded(path, str(tmp_path / "figs"))
    with h5py.File(path, "r") as f:
        grid, kids = check_retrain_cells_apart(f, res, recs)
        assert len(grid) == 4 and len(kids) == 2 * (5 * 5 - 1)  # a k with no ok run: no cell
        drawn = sorted(r["cell"] for r in recs.values() if r["figure"] == "retrain")
        assert drawn == sorted(cell_id(c["dataset"], c["swept"], ["reg_eigenvalues"])
                               for c in cells if "retrain" in c)
        for c in drawn:
            g = grid[c]
            nums, snap = recs[f"{c}_retrain.png"]["numbers"], rec.figs[f"{c}_retrain.png"]
            check_retrain_figure(f, g, nums, snap)
            assert [r["method"] for r in nums["modes"]["keep"]] == [
                "spectral", "saliency", "integrated_gradients", "random", "truth"]
            spec = g.attrs["dataset"] == "spec"
            assert nums["metric"] == ("test_mae" if spec else "test_accuracy")
            assert ("MAE" in snap["axes"][0]["ylabel"]) == spec
            assert [ax["xscale"] for ax in snap["axes"]] == ["log" if spec else "linear"] * 2
            sal = nums["modes"]["keep"][1]
            assert sal["n_realizations"] == [SEEDS - 1, SEEDS, SEEDS]
            rnd = nums["modes"]["remove"][3]
            assert rnd["method"] == "random" and rnd["n_realizations"][1] == 0
            assert rnd["metric_mean"][1] is None


def test_mirror_writer_matches_real_retrain_layout(real_retrain, tmp_path):
    """write_results writes the retraining runs, cells and curves as src/snapshot.c does:
    same names, types and ranks as the real sweep's."""
    mirror = str(tmp_path / "mirror.h5")
    truth = np.r_[np.ones(4), np.zeros(8)]
    datasets = {
        "g12": dict(kind="gaussian", n_inputs=12, n_classes=2, truth=truth, topk=[2]),
        "spec": dict(kind="spectra", n_inputs=20, n_classes=0, truth=np.repeat([1.0, 0.0], 10),
                     names=[f"{w:.2f}" for w in np.linspace(3540, 7410, 20)], topk=[2]),
    }
    cells = make_cells(datasets, regs=REGS, epochs=[5])
    rng = np.random.default_rng(4)
    for c in cells:
        del c["swept"]["epochs"]
        c["swept"]["learning_rate"] = 0.01
        c["retrain"] = {(mode, m, k): rng.uniform(0.5, 1.0, SEEDS)
                        for mode, ks in (("keep", (1, 4, 12)), ("remove", (4,)))
                        for m in ("spectral", "random", "truth") for k in ks}
    write_results(mirror, datasets, cells, ["reg_eigenvalues", "learning_rate"], version=2)
    got, want = _layout(mirror), _layout(real_retrain[0])
    assert set(got) == set(want)
    for k in want:
        assert got[k] == want[k], k
