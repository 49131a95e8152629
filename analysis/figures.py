#!/usr/bin/env python3
"""Figures of the input-relevance papers from a specsweep results file.

    figures.py RESULTS.h5 --out DIR [--zero-threshold REL]

Reads only RESULTS.h5 (format_version 1 or 2); summary cells are found by their attributes
(dataset, the swept training keys), never by parsing group names. Figures, one PNG each:

  <cell>_eigenvalues.png  mean +- std |eigenvalue| per input over the realizations
                          (fig. 3 left, fig. 4 upper right)              every cell
  <cell>_truth.png        mean |eigenvalue| vs ground-truth relevance, Spearman rho
                          annotated; correlated pairs joined (fig. 3 right, fig. 4 lower
                          right)                          datasets with relevance_truth
  <cell>_histogram.png    histogram of |eigenvalue| (all realizations pooled), log counts
                          (fig. 5)                        image data (input_shape)
  <cell>_heatmap.png      mean |eigenvalue| as an image (figs. 8, 9)      image data
  <cell>_topk.png         test accuracy (regression: test MAE, lower is better) with the
                          k inputs of largest mean |eigenvalue| vs k random inputs, mean
                          +- std over realizations (figs. 6, 8b, 9 right)  cells with top-k
  <cell>_spectrum.png     mean |eigenvalue| vs wavelength, truth overlaid scaled (fig. 11)
                          1-D data whose feature names are wavelengths (kind spectra)
  <dataset>__regstudy.png number of non-zero eigenvalues and test accuracy (MAE) vs
                          reg_eigenvalues (log x), mean +- std bands over realizations, one
                          line per value of the other swept keys   datasets whose cells
                                                                   differ in reg_eigenvalues

An eigenvalue counts as non-zero when its |value| exceeds REL (--zero-threshold, default
1e-3) times the largest mean |eigenvalue| of its cell. DIR/figures.json lists every figure
with its cell(s), its kind and the numbers plotted; one line per figure is printed.
Exit 2 (message naming the file) when RESULTS.h5 is missing, not HDF5, not a specsweep
results file, of an unsupported format_version or malformed.
"""
import argparse
import json
import math
import os
import re
import sys

import h5py
import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

FORMAT = "specsweep-results"
FORMAT_VERSIONS = (1, 2)
CELL_META = ("dataset", "cell_id", "swept_keys", "n_realizations", "n_diverged", "n_failed")
REG_KEY = "reg_eigenvalues"
# specsweep's relevance methods in its order (relevance.methods' names)
METHOD_ORDER = ("spectral", "saliency", "input_x_gradient", "integrated_gradients",
                "smoothgrad", "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift",
                "permutation", "kernel_shap", "fourier")
# what load() keeps of a cell's /summary/<cell>/relevance/<method> (values stay on disk)
CELL_RELEVANCE_ARRAYS = ("abs_mean", "abs_std", "topk_accuracy", "seconds")
DEFAULT_ZERO_THRESHOLD = 1e-3
MIN_SPECTRUM_INPUTS = 10       # the spectra kind's minimum number of wavelengths
LIST_LIMIT = 100               # figures.json lists per-input numbers up to this many inputs
TOP_LIST = 10                  # ... and the top inputs beyond it
DPI = 120


class ResultsError(Exception):
    """The results file cannot be used (the message names the file)."""


# ---- reading ---------------------------------------------------------------------------

def _py(v):
    """An HDF5 attribute or string-dataset element as a plain Python value."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return _py(v[()]) if v.ndim == 0 else [_py(x) for x in v.tolist()]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load(path):
    """Read a results file: returns {"path", "sweep_name", "format_version", "datasets":
    {name: dict}, "cells": [cell]}. A cell is a dict with id, dataset, swept (swept key ->
    value), n_realizations, n_diverged, n_failed, attrs, the summary arrays and relevance
    (its /summary/<cell>/relevance methods as read_relevance reads them, without the values
    per realization).
    Raises ResultsError for anything that is not a usable results file."""
    if not os.path.lexists(path):
        raise ResultsError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ResultsError(f"{path}: is a directory, not a results file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise ResultsError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        is_h5 = h5py.is_hdf5(path)
    except Exception:  # noqa: BLE001 - any failure to recognise it means "not HDF5"
        is_h5 = False
    if not is_h5:
        raise ResultsError(f"{path}: not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ResultsError(f"{path}: cannot open as HDF5: {e}") from None
    with f:
        fmt = _py(f.attrs["format"]) if "format" in f.attrs else None
        if fmt != FORMAT:
            what = "no root attribute format" if fmt is None else f"root attribute format is {fmt!r}"
            raise ResultsError(f"{path}: not a specsweep results file ({what}, expected {FORMAT!r})")
        ver = _py(f.attrs["format_version"]) if "format_version" in f.attrs else None
        if not (isinstance(ver, int) and not isinstance(ver, bool) and ver in FORMAT_VERSIONS):
            raise ResultsError(f"{path}: format_version {ver!r} is not supported "
                               f"(figures.py reads format_version "
                               f"{', '.join(map(str, FORMAT_VERSIONS))})")
        try:
            return {"path": path, "format_version": ver,
                    "sweep_name": _py(f.attrs.get("sweep_name", "")),
                    "datasets": _read_datasets(f), "cells": _read_cells(f, path)}
        except ResultsError:
            raise
        except (KeyError, OSError, ValueError, TypeError) as e:
            raise ResultsError(f"{path}: malformed results file: {e}") from None


def attrs_of(o):
    """An HDF5 object's attributes as plain Python values."""
    return {k: _py(v) for k, v in o.attrs.items()}


def member_groups(f, name):
    """(name, group, attributes) of every group in f[name], when that is a group."""
    top = f.get(name)
    if isinstance(top, h5py.Group):
        for n, g in top.items():
            if isinstance(g, h5py.Group):
                yield n, g, attrs_of(g)


def read_relevance(g, arrays=None):
    """The relevance/<method> members of a run or summary group: {method: {"arrays":
    {name: array}, "attrs": {...}}}. A member that is a dataset (a run's) holds one vector,
    "values"; a group (a cell's) holds named arrays (abs_mean, abs_std, ...) and its
    attributes. arrays, when given, names the group arrays read; the others stay on disk."""
    top = g.get("relevance")
    out = {}
    if not isinstance(top, h5py.Group):
        return out
    for method, m in top.items():
        if isinstance(m, h5py.Dataset):
            out[method] = {"arrays": {"values": np.asarray(m[()], float)}, "attrs": attrs_of(m)}
        elif isinstance(m, h5py.Group):
            out[method] = {"arrays": {k: np.asarray(v[()]) for k, v in m.items()
                                      if isinstance(v, h5py.Dataset)
                                      and (arrays is None or k in arrays)},
                           "attrs": attrs_of(m)}
    return out


def method_order(name):
    """Methods in specsweep's order (as `specsweep summary` lists them), others after."""
    return (METHOD_ORDER.index(name), "") if name in METHOD_ORDER else (len(METHOD_ORDER), name)


def _read_datasets(f):
    datasets = {}
    top = f.get("datasets")
    if not isinstance(top, h5py.Group):
        return datasets
    for name, g in top.items():
        if not isinstance(g, h5py.Group):
            continue
        d = attrs_of(g)
        d["name"] = name
        d["relevance_truth"] = (np.asarray(g["relevance_truth"][()], float).ravel()
                                if "relevance_truth" in g else None)
        d["feature_names"] = ([str(_py(x)) for x in np.asarray(g["feature_names"][()]).ravel()]
                              if "feature_names" in g else None)
        datasets[name] = d
    return datasets


def _read_cells(f, path):
    cells = []
    top = f.get("summary")
    if not isinstance(top, h5py.Group):
        return cells
    for gname, g in top.items():
        if not isinstance(g, h5py.Group):
            continue
        where = f"{path}: /summary/{gname}"
        attrs = attrs_of(g)
        if not isinstance(attrs.get("dataset"), str):
            raise ResultsError(f"{where} has no dataset attribute")
        arrays = {k: g[k][()] for k in g.keys() if isinstance(g[k], h5py.Dataset)}
        if "eigenvalues" not in arrays:
            raise ResultsError(f"{where} has no eigenvalues dataset")
        eig = np.asarray(arrays["eigenvalues"], float)
        if eig.ndim == 1:
            eig = eig.reshape(1, -1)
        if eig.ndim != 2:
            raise ResultsError(f"{where}: eigenvalues has {eig.ndim} dimensions, not 2")
        n = eig.shape[0]

        def vec(name, dtype=float):
            a = np.asarray(arrays.get(name, np.full(n, np.nan)), dtype).ravel()
            return a

        topk = np.asarray(arrays.get("topk", np.zeros(0, np.int64)), np.int64).ravel()
        K = topk.size

        def mat(name):
            a = np.asarray(arrays.get(name, np.full((n, K), np.nan)), float)
            return a.reshape(-1, K) if K else np.zeros((n, 0))

        if "swept_keys" in attrs:  # the writer names the sweep axes
            names = [k for k in str(attrs["swept_keys"]).split(",") if k]
            swept = {k: attrs[k] for k in names if k in attrs}
        else:
            swept = {k: v for k, v in attrs.items() if k not in CELL_META and _is_number(v)}
        cells.append({
            "id": str(attrs.get("cell_id", gname)),
            "dataset": attrs["dataset"],
            "swept": swept,
            "attrs": attrs,
            "n_realizations": int(attrs.get("n_realizations", n)),
            "n_diverged": int(attrs.get("n_diverged", 0)),
            "n_failed": int(attrs.get("n_failed", 0)),
            "seeds": vec("seeds", np.int64) if "seeds" in arrays else np.arange(n),
            "eigenvalues": eig,
            "test_accuracy": vec("test_accuracy"),
            "test_loss": vec("test_loss"),
            "topk": topk,
            "topk_accuracy": mat("topk_accuracy"),
            "randomk_accuracy": mat("randomk_accuracy"),
            "relevance": read_relevance(g, CELL_RELEVANCE_ARRAYS),
        })
    cells.sort(key=lambda c: (c["dataset"], _swept_sort_key(c["swept"]), c["id"]))
    return cells


# ---- what is plotted (pure functions) --------------------------------------------------

def _finite_rows(m):
    """The realizations (rows) whose eigenvalues are all finite (the writer stores NaN for a
    run of another input count)."""
    m = np.asarray(m, float)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    return m[np.all(np.isfinite(m), axis=1)]


def mean_std(a):
    """Mean and std (ddof 0) over axis 0 ignoring NaN, and the count of finite values."""
    a = np.asarray(a, float)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    fin = np.isfinite(a)
    cnt = fin.sum(axis=0)
    z = np.where(fin, a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, z.sum(axis=0) / np.maximum(cnt, 1), np.nan)
        var = np.where(fin, (a - mean) ** 2, 0.0).sum(axis=0) / np.maximum(cnt, 1)
    std = np.where(cnt > 0, np.sqrt(var), np.nan)
    return mean, std, cnt


def eigen_stats(cell):
    """(mean, std, n): mean and std (ddof 0) of |eigenvalue| per input over the cell's
    realizations with finite eigenvalues, and their number n."""
    rows = np.abs(_finite_rows(cell["eigenvalues"]))
    n_in = np.asarray(cell["eigenvalues"]).shape[-1]
    if rows.shape[0] == 0:
        return np.full(n_in, np.nan), np.full(n_in, np.nan), 0
    return rows.mean(axis=0), rows.std(axis=0), rows.shape[0]


def rankdata(x):
    """Ranks 1..n, ties get their average rank."""
    x = np.asarray(x, float)
    sorter = np.argsort(x, kind="mergesort")
    xs = x[sorter]
    first = np.r_[True, xs[1:] != xs[:-1]]
    dense = np.cumsum(first)
    bounds = np.r_[np.nonzero(first)[0], len(x)]
    r = np.empty(len(x))
    r[sorter] = 0.5 * (bounds[dense] + bounds[dense - 1] + 1)
    return r


def spearman(a, b):
    """Spearman's rank correlation (average ranks for ties) over the pairs where both are
    finite; NaN when fewer than 2 pairs or either side is constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2:
        return float("nan")
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def correlated_pairs(truth):
    """Inputs (2n, 2n+1) with equal positive truth: the pairs of the correlated kind."""
    truth = np.asarray(truth, float)
    return [(i, i + 1) for i in range(0, len(truth) - 1, 2)
            if truth[i] > 0 and truth[i] == truth[i + 1]]


def truth_stats(cell, truth, kind=""):
    """Numbers of the eigenvalue vs truth figure."""
    mean, std, n = eigen_stats(cell)
    truth = np.asarray(truth, float)
    out = {"truth": truth, "mean": mean, "std": std, "n": n,
           "spearman_rho": spearman(truth, mean), "pairs": []}
    if kind == "correlated":
        for i, j in correlated_pairs(truth):
            hi = max(mean[i], mean[j])
            out["pairs"].append({"inputs": [i, j], "p": float(truth[i]),
                                 "eigenvalues": [float(mean[i]), float(mean[j])],
                                 "relative_difference":
                                     float(abs(mean[i] - mean[j]) / hi) if hi > 0 else 0.0})
    return out


def nonzero_count(eigenvalues, rel=DEFAULT_ZERO_THRESHOLD):
    """Non-zero eigenvalues of one cell: |eigenvalue| > rel * (largest mean |eigenvalue|).
    Returns threshold, per_seed counts, their mean and std (ddof 0), and of_mean (the count
    for the mean |eigenvalue| vector)."""
    rows = np.abs(_finite_rows(eigenvalues))
    if rows.shape[0] == 0:
        return {"threshold": float("nan"), "per_seed": np.zeros(0, int), "mean": float("nan"),
                "std": float("nan"), "of_mean": None}
    mean = rows.mean(axis=0)
    thr = rel * float(mean.max()) if mean.size else 0.0
    per = (rows > thr).sum(axis=1)
    return {"threshold": thr, "per_seed": per, "mean": float(per.mean()), "std": float(per.std()),
            "of_mean": int((mean > thr).sum())}


def is_regression(cell, datasets):
    """The task of the cell's dataset: /datasets/<name> n_classes = 0 is regression."""
    ds = datasets.get(cell["dataset"])
    if ds is None or not _is_number(ds.get("n_classes")):
        raise ValueError(f"dataset {cell['dataset']!r} has no /datasets entry with n_classes")
    return int(ds["n_classes"]) == 0


def metric_name(regression):
    return "test MAE (lower is better)" if regression else "test accuracy"


def test_metric(cell, regression):
    """Per-realization test metric: the MAE (test_loss) for regression, else accuracy."""
    return np.asarray(cell["test_loss" if regression else "test_accuracy"], float)


def topk_curves(cell, regression=False):
    """Mean and std (ddof 0, over realizations, NaN ignored) of the metric with the top-k
    and with k random inputs; None when the cell has no top-k numbers."""
    k = np.asarray(cell["topk"], np.int64)
    if k.size == 0:
        return None
    tm, ts, tn = mean_std(cell["topk_accuracy"])
    rm, rs, rn = mean_std(cell["randomk_accuracy"])
    if not (np.isfinite(tm).any() or np.isfinite(rm).any()):
        return None
    order = np.argsort(k, kind="mergesort")
    return {"k": k[order], "top_mean": tm[order], "top_std": ts[order], "top_n": tn[order],
            "random_mean": rm[order], "random_std": rs[order], "random_n": rn[order],
            "metric": metric_name(regression), "regression": regression}


def image_shape(ds, n_inputs):
    """(rows, cols) of image data whose pixel count matches, else None."""
    shape = ds.get("input_shape")
    if isinstance(shape, list) and len(shape) == 2 and all(_is_number(s) and s > 0 for s in shape):
        if int(shape[0]) * int(shape[1]) == n_inputs:
            return int(shape[0]), int(shape[1])
    return None


def heatmap(cell, shape):
    """Mean |eigenvalue| per pixel as a rows x cols image (inputs in row-major order)."""
    mean, _, _ = eigen_stats(cell)
    return mean.reshape(shape)


def eigen_histogram(cell, bins=50):
    """Histogram of |eigenvalue| over all inputs of all realizations: (counts, edges, n)."""
    vals = np.abs(_finite_rows(cell["eigenvalues"])).ravel()
    if vals.size == 0:
        return np.zeros(bins, int), np.linspace(0, 1, bins + 1), 0
    hi = float(vals.max())
    counts, edges = np.histogram(vals, bins=bins, range=(0.0, hi if hi > 0 else 1.0))
    return counts, edges, int(vals.size)


def parse_wavelengths(names):
    """Feature names as wavelengths: finite, strictly increasing numbers, else None."""
    if not names:
        return None
    try:
        wl = np.array([float(s) for s in names])
    except ValueError:
        return None
    return wl if np.all(np.isfinite(wl)) and np.all(np.diff(wl) > 0) else None


def wavelengths(ds, n_inputs):
    """The x axis of the spectrum figure, or None when the dataset is not a spectrum
    (images, fewer than 10 inputs, names that are not wavelengths). The kind spectra
    without usable names falls back to the input index."""
    if ds.get("input_shape") is not None or n_inputs < MIN_SPECTRUM_INPUTS:
        return None
    names = ds.get("feature_names")
    wl = parse_wavelengths(names) if names and len(names) == n_inputs else None
    if wl is None and ds.get("kind") == "spectra":
        wl = np.arange(n_inputs, dtype=float)
    return wl


def spectrum_stats(cell, wl, truth=None):
    """Numbers of the spectrum figure: mean/std |eigenvalue|, the truth scaled to the
    largest mean, and how well the largest eigenvalues fall on truth > 0."""
    mean, std, n = eigen_stats(cell)
    out = {"wavelength": np.asarray(wl, float), "mean": mean, "std": std, "n": n,
           "truth_scaled": None, "truth_scale": None, "spearman_rho": None,
           "top_fraction_in_truth": None, "mass_fraction_in_truth": None}
    top = np.argsort(-np.nan_to_num(mean, nan=-np.inf), kind="mergesort")[:TOP_LIST]
    out["top_wavelengths"] = [float(out["wavelength"][i]) for i in top]
    if truth is not None and len(truth) == len(mean):
        truth = np.asarray(truth, float)
        tmax = float(np.nanmax(truth)) if truth.size else 0.0
        mmax = float(np.nanmax(mean)) if np.isfinite(mean).any() else float("nan")
        scale = mmax / tmax if tmax > 0 else float("nan")
        out["truth_scale"] = scale
        out["truth_scaled"] = truth * scale
        out["spearman_rho"] = spearman(truth, mean)
        pos = truth > 0
        m = int(pos.sum())
        if m > 0:
            best = np.argsort(-np.nan_to_num(mean, nan=-np.inf), kind="mergesort")[:m]
            out["top_fraction_in_truth"] = float(pos[best].mean())
            tot = float(np.nansum(mean))
            out["mass_fraction_in_truth"] = float(np.nansum(mean[pos]) / tot) if tot > 0 else None
    return out


def _sortable(v):
    return (0, float(v), "") if _is_number(v) else (1, 0.0, str(v))


def _swept_sort_key(swept):
    return tuple((k, _sortable(v)) for k, v in sorted(swept.items()))


def reg_studies(cells):
    """Datasets whose cells differ in reg_eigenvalues: [{dataset, other_keys, lines:
    [(other values dict, cells sorted by reg_eigenvalues)]}]."""
    by_ds = {}
    for c in cells:
        if _is_number(c["swept"].get(REG_KEY)):
            by_ds.setdefault(c["dataset"], []).append(c)
    studies = []
    for ds in sorted(by_ds):
        cs = by_ds[ds]
        if len({float(c["swept"][REG_KEY]) for c in cs}) < 2:
            continue
        other = sorted({k for c in cs for k in c["swept"] if k != REG_KEY})
        lines = {}
        for c in cs:
            vals = tuple(c["swept"].get(k) for k in other)
            # keyed by _sortable: hashable also for list values (model.hidden = [100, 50])
            lines.setdefault(tuple(_sortable(v) for v in vals), (vals, []))[1].append(c)
        out = []
        for key in sorted(lines):
            vals, group = lines[key]
            out.append((dict(zip(other, vals)),
                        sorted(group, key=lambda c: float(c["swept"][REG_KEY]))))
        studies.append({"dataset": ds, "other_keys": other, "lines": out})
    return studies


def reg_study_curves(study, datasets, rel=DEFAULT_ZERO_THRESHOLD):
    """Per line: reg values, non-zero count mean/std over realizations (and of the mean
    vector), test metric mean/std, realization counts, cell ids."""
    regression = any(is_regression(c, datasets) for _, cs in study["lines"] for c in cs)
    lines = []
    for other, cs in study["lines"]:
        nz = [nonzero_count(c["eigenvalues"], rel) for c in cs]
        met = [test_metric(c, regression) for c in cs]
        ms = [mean_std(m) for m in met]
        lines.append({
            "other": other,
            "reg": np.array([float(c["swept"][REG_KEY]) for c in cs]),
            "nonzero_mean": np.array([z["mean"] for z in nz]),
            "nonzero_std": np.array([z["std"] for z in nz]),
            "nonzero_of_mean": [z["of_mean"] for z in nz],
            "threshold": [z["threshold"] for z in nz],
            "metric_mean": np.array([float(m[0][0]) for m in ms]),
            "metric_std": np.array([float(m[1][0]) for m in ms]),
            "n": [int(np.asarray(_finite_rows(c["eigenvalues"])).shape[0]) for c in cs],
            "cells": [c["id"] for c in cs],
        })
    return {"dataset": study["dataset"], "other_keys": study["other_keys"], "lines": lines,
            "metric": metric_name(regression), "regression": regression,
            "n_inputs": int(study["lines"][0][1][0]["eigenvalues"].shape[1])}


# ---- labels and file names -------------------------------------------------------------

def fmt_value(v):
    if isinstance(v, int):
        return str(v)
    if _is_number(v):
        return f"{v:.3g}"
    return str(v)


def swept_text(swept, skip=()):
    keys = sorted(k for k in swept if k not in skip)
    keys.sort(key=lambda k: k != REG_KEY)
    return ", ".join(f"{k}={fmt_value(swept[k])}" for k in keys)


def cell_title(cell, what, n=None):
    s = swept_text(cell["swept"])
    n = cell["n_realizations"] if n is None else n
    extra = [f"{cell['n_diverged']} diverged"] if cell["n_diverged"] else []
    extra += [f"{cell['n_failed']} failed"] if cell["n_failed"] else []
    tail = f"n = {n} realization{'s' if n != 1 else ''}" + (f" ({', '.join(extra)})" if extra else "")
    return f"{cell['dataset']}" + (f"  ({s})" if s else "") + f"\n{what}, {tail}"


def safe_name(s):
    """A file name part: no '/', no control or shell-awkward characters, no leading dot."""
    s = re.sub(r"[^A-Za-z0-9._=+,-]", "_", str(s))
    s = s.lstrip(".") or "cell"
    return s[:200]


class Namer:
    def __init__(self, out):
        self.out, self.used = out, set()

    def __call__(self, stem, kind):
        base = f"{safe_name(stem)}_{kind}"
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}.{i}", i + 1
        self.used.add(name)
        return os.path.join(self.out, name + ".png")


# ---- drawing ---------------------------------------------------------------------------

def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _log_x_if_wide(ax, x):
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size and x.max() / x.min() >= 20:
        ax.set_xscale("log")


def draw_eigenvalues(cell, mean, std, n, names, path):
    x = np.arange(len(mean))
    fig, ax = plt.subplots(figsize=(min(12, max(5.5, 0.3 * len(mean) + 2)), 3.8))
    if len(mean) <= LIST_LIMIT:
        ax.errorbar(x, mean, yerr=std, fmt="o", ms=4, capsize=2)
    else:
        ax.plot(x, mean, lw=0.8)
        ax.fill_between(x, mean - std, mean + std, alpha=0.3, lw=0)
    if len(mean) <= 40:
        ax.set_xticks(x)
        if names:
            ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_xlabel("input feature" if names and len(mean) <= 40 else "input feature (index)")
    ax.set_ylabel("|eigenvalue| (mean ± std)")
    ax.set_title(cell_title(cell, "input-layer |eigenvalue| per input", n), fontsize=9)
    ax.axhline(0, color="k", lw=0.5)
    _save(fig, path)


TRUTH_LABEL = {
    "gaussian": "ground truth: class mean shift |s_i|",
    "correlated": "ground truth: pair probability p_n (0 = noise)",
    "spectra": "ground truth: −∂ ln F_i / ∂[Fe/H]",
}


def draw_truth(cell, st, kind, path):
    truth, mean, std = st["truth"], st["mean"], st["std"]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    if len(mean) <= LIST_LIMIT:
        ax.errorbar(truth, mean, yerr=std, fmt="o", ms=4, capsize=2, zorder=3)
        if len(mean) <= 30:  # label the relevant inputs (the irrelevant ones pile up at 0)
            for i in np.nonzero(truth != 0)[0]:
                ax.annotate(str(i), (truth[i], mean[i]), xytext=(4, 2),
                            textcoords="offset points", fontsize=6, color="0.35")
    else:
        ax.plot(truth, mean, ".", ms=2)
    for p in st["pairs"]:
        i, j = p["inputs"]
        ax.plot([truth[i], truth[j]], [mean[i], mean[j]], "-", color="C1", lw=2, alpha=0.6,
                zorder=2)
    rho = st["spearman_rho"]
    txt = f"Spearman ρ = {rho:.3f}" if np.isfinite(rho) else "Spearman ρ undefined"
    if st["pairs"]:
        txt += f"\n{len(st['pairs'])} pairs (joined)"
    ax.text(0.03, 0.97, txt, transform=ax.transAxes, va="top", fontsize=9,
            bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    ax.set_xlabel(TRUTH_LABEL.get(kind, "ground-truth relevance"))
    ax.set_ylabel("|eigenvalue| (mean ± std)")
    ax.set_title(cell_title(cell, "eigenvalue vs ground truth", st["n"]), fontsize=9)
    _save(fig, path)


def draw_histogram(cell, counts, edges, nvals, n, path):
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="k", lw=0.3)
    ax.set_yscale("log")
    ax.set_xlabel("|eigenvalue|")
    ax.set_ylabel("count (log scale)")
    ax.set_title(cell_title(cell, f"|eigenvalue| histogram, {nvals} values", n), fontsize=9)
    _save(fig, path)


def draw_heatmap(cell, img, n, path):
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    im = ax.imshow(img, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="mean |eigenvalue|")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(cell_title(cell, f"mean |eigenvalue| per pixel ({img.shape[0]}×{img.shape[1]})", n),
                 fontsize=8)
    _save(fig, path)


def draw_topk(cell, cur, n_inputs, path):
    k = cur["k"]
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    ax.errorbar(k, cur["top_mean"], yerr=cur["top_std"], fmt="o-", ms=4, capsize=2,
                label="top-k inputs by |eigenvalue|")
    ax.errorbar(k, cur["random_mean"], yerr=cur["random_std"], fmt="s--", ms=4, capsize=2,
                label="k random inputs")
    _log_x_if_wide(ax, k)
    ax.set_xlabel(f"number of inputs kept, k (of {n_inputs})")
    ax.set_ylabel(cur["metric"])
    ax.set_title(cell_title(cell, f"{cur['metric'].split(' (')[0]} vs inputs kept"), fontsize=9)
    ax.legend(fontsize=8)
    _save(fig, path)


def draw_spectrum(cell, st, is_wavelength, path):
    wl, mean, std = st["wavelength"], st["mean"], st["std"]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.plot(wl, mean, lw=0.8, color="C0", label="mean |eigenvalue|")
    ax.fill_between(wl, mean - std, mean + std, alpha=0.3, lw=0, color="C0", label="± std")
    if st["truth_scaled"] is not None:
        ax.plot(wl, st["truth_scaled"], lw=0.8, color="C3", alpha=0.8,
                label=f"ground truth × {st['truth_scale']:.3g}")
        rho = st["spearman_rho"]
        if rho is not None and np.isfinite(rho):
            ax.text(0.01, 0.97, f"Spearman ρ = {rho:.3f}", transform=ax.transAxes, va="top",
                    fontsize=9, bbox=dict(boxstyle="round", fc="white", ec="0.7"))
    ax.set_xlabel("wavelength (Å)" if is_wavelength else "input feature (index)")
    ax.set_ylabel("|eigenvalue|")
    ax.set_title(cell_title(cell, "input-layer |eigenvalue| along the spectrum", st["n"]), fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    _save(fig, path)


def draw_regstudy(cur, rel, path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    regs = np.concatenate([ln["reg"] for ln in cur["lines"]])
    for i, ln in enumerate(cur["lines"]):
        lab = swept_text(ln["other"]) or None
        ns = sorted(set(ln["n"]))
        nlab = f"n = {ns[0]}" if len(ns) == 1 else f"n = {min(ns)}–{max(ns)}"
        lab = f"{lab}, {nlab}" if lab else nlab
        for ax, m, s in ((axes[0], ln["nonzero_mean"], ln["nonzero_std"]),
                         (axes[1], ln["metric_mean"], ln["metric_std"])):
            ax.plot(ln["reg"], m, "o-", color=f"C{i % 10}", ms=4, label=lab)
            ax.fill_between(ln["reg"], m - s, m + s, color=f"C{i % 10}", alpha=0.2, lw=0)
    for ax in axes:
        if np.all(regs > 0):
            ax.set_xscale("log")
        else:
            pos = regs[regs > 0]
            ax.set_xscale("symlog", linthresh=float(pos.min()) if pos.size else 1e-6)
        ax.set_xlabel("eigenvalue regularization (reg_eigenvalues)")
    axes[0].set_ylim(0, cur["n_inputs"] * 1.05 + 0.5)
    axes[0].yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0].set_ylabel(f"non-zero eigenvalues (of {cur['n_inputs']})")
    axes[0].set_title(f"|eigenvalue| > {rel:g} × largest mean", fontsize=9)
    axes[1].set_ylabel(cur["metric"])
    axes[1].set_title(cur["metric"].split(" (")[0], fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{cur['dataset']}: regularization study (mean ± std over realizations)",
                 fontsize=10)
    _save(fig, path)


# ---- the run ---------------------------------------------------------------------------

def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _per_input(mean, std):
    """Per-input numbers for figures.json: all of them for small inputs, else the top ones."""
    if len(mean) <= LIST_LIMIT:
        return {"mean_abs": mean, "std_abs": std}
    top = np.argsort(-np.nan_to_num(mean, nan=-np.inf), kind="mergesort")[:TOP_LIST]
    return {"top_inputs": top, "top_mean_abs": mean[top], "top_std_abs": std[top]}


def make_figures(res, out, rel=DEFAULT_ZERO_THRESHOLD, log=print):
    """Draw every figure of a loaded results file into out; return the figures.json list
    (plain JSON values: lists, numbers, None for NaN)."""
    datasets, cells = res["datasets"], res["cells"]
    name = Namer(out)
    records = []

    def record(kind, path, cell_ids, dataset, swept, n, numbers, note=""):
        records.append(_jsonable({"file": os.path.basename(path), "figure": kind,
                                  "cell": cell_ids, "dataset": dataset, "swept": swept,
                                  "n_realizations": n, "numbers": numbers}))
        who = cell_ids if isinstance(cell_ids, str) else f"{dataset} ({len(cell_ids)} cells)"
        log(f"{kind:<11} {who}: {path}" + (f"  [{note}]" if note else ""))

    for cell in cells:
        ds = datasets.get(cell["dataset"], {})
        n_in = cell["eigenvalues"].shape[1]
        kind = ds.get("kind", "")
        names = ds.get("feature_names")
        names = names if names and len(names) == n_in else None
        mean, std, n = eigen_stats(cell)
        base = dict(cell_ids=cell["id"], dataset=cell["dataset"], swept=cell["swept"], n=n)
        if n == 0 or n_in == 0:
            log(f"{'skipped':<11} {cell['id']}: no realization with finite eigenvalues")
            continue

        p = name(cell["id"], "eigenvalues")
        draw_eigenvalues(cell, mean, std, n, names, p)
        nz = nonzero_count(cell["eigenvalues"], rel)
        record("eigenvalues", p, numbers={**_per_input(mean, std), "n_inputs": n_in,
                                          "nonzero_of_mean": nz["of_mean"],
                                          "zero_threshold_abs": nz["threshold"]},
               note=f"max mean |eig| {np.nanmax(mean):.4g} at input {int(np.nanargmax(mean))}",
               **base)

        truth = ds.get("relevance_truth")
        if truth is not None and len(truth) == n_in:
            st = truth_stats(cell, truth, kind)
            p = name(cell["id"], "truth")
            draw_truth(cell, st, kind, p)
            nums = {"spearman_rho": st["spearman_rho"], "n_inputs": n_in}
            if n_in <= LIST_LIMIT:
                nums.update(truth=truth, mean_abs=mean, std_abs=std)
            if st["pairs"]:
                nums["pairs"] = st["pairs"]
            record("truth", p, numbers=nums, note=f"Spearman rho {st['spearman_rho']:.3f}", **base)

        shape = image_shape(ds, n_in)
        if shape:
            counts, edges, nvals = eigen_histogram(cell)
            p = name(cell["id"], "histogram")
            draw_histogram(cell, counts, edges, nvals, n, p)
            record("histogram", p, numbers={"counts": counts, "edges": edges, "n_values": nvals},
                   note=f"{nvals} values, {int(counts[0])} in the lowest bin", **base)
            img = heatmap(cell, shape)
            p = name(cell["id"], "heatmap")
            draw_heatmap(cell, img, n, p)
            r, c = np.unravel_index(int(np.nanargmax(img)), shape)
            record("heatmap", p, numbers={"shape": list(shape), "max": float(np.nanmax(img)),
                                          "argmax_row_col": [int(r), int(c)],
                                          "nonzero_pixels_of_mean": nz["of_mean"],
                                          "zero_threshold_abs": nz["threshold"]},
                   note=f"max at row {r}, col {c}; {nz['of_mean']} of {n_in} pixels non-zero", **base)

        reg = is_regression(cell, datasets)
        cur = topk_curves(cell, reg)
        if cur is not None:
            p = name(cell["id"], "topk")
            draw_topk(cell, cur, n_in, p)
            record("topk", p, numbers={"metric": cur["metric"], "k": cur["k"],
                                       "top_mean": cur["top_mean"], "top_std": cur["top_std"],
                                       "random_mean": cur["random_mean"],
                                       "random_std": cur["random_std"], "top_n": cur["top_n"]},
                   note=f"{'MAE' if reg else 'acc'} top-k {_short(cur['top_mean'])}, "
                        f"random {_short(cur['random_mean'])} at k={_short(cur['k'])}", **base)

        wl = wavelengths(ds, n_in)
        if wl is not None:
            st = spectrum_stats(cell, wl, truth)
            p = name(cell["id"], "spectrum")
            draw_spectrum(cell, st, parse_wavelengths(names) is not None, p)
            record("spectrum", p, numbers={k: st[k] for k in (
                "spearman_rho", "truth_scale", "top_wavelengths", "top_fraction_in_truth",
                "mass_fraction_in_truth")},
                   note=("Spearman rho %.3f" % st["spearman_rho"]) if st["spearman_rho"] is not None
                   else "", **base)

    for study in reg_studies(cells):
        cur = reg_study_curves(study, datasets, rel)
        p = name(study["dataset"] + "_", "regstudy")
        draw_regstudy(cur, rel, p)
        lines = [{"other": ln["other"], "reg_eigenvalues": ln["reg"],
                  "nonzero_mean": ln["nonzero_mean"], "nonzero_std": ln["nonzero_std"],
                  "nonzero_of_mean": ln["nonzero_of_mean"], "metric_mean": ln["metric_mean"],
                  "metric_std": ln["metric_std"], "n_realizations": ln["n"],
                  "cells": ln["cells"]} for ln in cur["lines"]]
        ids = [c for ln in cur["lines"] for c in ln["cells"]]
        note = "; ".join(
            (swept_text(ln["other"]) + ": " if ln["other"] else "") + "n_nonzero " +
            ", ".join(f"{fmt_value(float(r))}→{m:.3g}" for r, m in zip(ln["reg"], ln["nonzero_mean"]))
            for ln in cur["lines"])
        record("regstudy", p, ids, study["dataset"], {"varies": [REG_KEY] + cur["other_keys"]},
               sorted({x for ln in cur["lines"] for x in ln["n"]}),
               {"metric": cur["metric"], "zero_threshold_rel": rel, "n_inputs": cur["n_inputs"],
                "lines": lines}, note=note)
    return records


def _short(a):
    return "[" + ", ".join(fmt_value(float(x)) if isinstance(x, (float, np.floating)) else str(x)
                           for x in np.asarray(a).tolist()) + "]"


def write_index(res, out, rel, records):
    """Write out/figures.json (the results file, the threshold and make_figures' records);
    returns its path."""
    doc = {"results": os.path.abspath(res["path"]), "sweep_name": res["sweep_name"],
           "format_version": res["format_version"], "zero_threshold_rel": rel,
           "figures": records}
    jpath = os.path.join(out, "figures.json")
    with open(jpath + ".tmp", "w") as f:
        json.dump(_jsonable(doc), f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(jpath + ".tmp", jpath)
    return jpath


def main(argv=None):
    ap = argparse.ArgumentParser(prog="figures.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the specsweep results file (HDF5)")
    ap.add_argument("--out", required=True, help="directory for the PNG files and figures.json")
    ap.add_argument("--zero-threshold", type=float, default=DEFAULT_ZERO_THRESHOLD, metavar="REL",
                    help="an eigenvalue is non-zero when |eigenvalue| > REL x the largest mean "
                         "|eigenvalue| of its cell (default %(default)g)")
    a = ap.parse_args(argv)
    if not (a.zero_threshold >= 0 and math.isfinite(a.zero_threshold)):
        ap.error(f"--zero-threshold must be a finite number >= 0, not {a.zero_threshold}")
    try:
        res = load(a.results)
    except ResultsError as e:
        print(f"figures.py: {e}", file=sys.stderr)
        return 2
    try:
        os.makedirs(a.out, exist_ok=True)
    except OSError as e:
        print(f"figures.py: cannot create the output directory {a.out}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    records = make_figures(res, a.out, a.zero_threshold)
    jpath = write_index(res, a.out, a.zero_threshold, records)
    if not res["cells"]:
        print(f"figures.py: {a.results} has no finished cells yet; nothing to draw")
    print(f"{len(records)} figures; index in {jpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
