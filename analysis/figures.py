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
  <cell>_methods_relevance.png
                          one panel per relevance method: its mean |relevance| per input
                          over its maximum, the ground truth over its maximum as grey bars
                          beside it, and in the legend the Spearman rho of the mean
                          |relevance| with the truth; fourier, whose relevance is per
                          Fourier coefficient, on its own panel against the coefficient
                          (rfft) index, without truth         cells with post-hoc methods
  <cell>_quality_cost.png each post-hoc method's quality vs its seconds per run (log x),
                          mean +- std over realizations both ways. Quality: the Spearman of
                          each realization's relevance with the truth where the dataset
                          has one (fourier left out: not per input), else the test
                          accuracy (MAE) with the method's top-k inputs at the smallest k
                          of the curve keeping >= 10 % of the inputs (else the largest k).
                          spectral costs no extra seconds (its relevance comes with
                          training): a dashed line at its quality, a band of its std; a
                          dotted line marks the mean training time of the cell's runs;
                          methods without a quality or seconds are named below the plot
                                     cells with a post-hoc method that has a quality
  <cell>_methods_topk.png test accuracy (MAE) with each method's top-k inputs (fourier: its
                          top-k frequencies) and with k random inputs, mean +- std over
                          realizations                 cells with post-hoc methods and top-k
  <cell>_retrain.png      the runs retrained on each method's k top-ranked inputs (keep)
                          and on all but them (remove), one panel each: test accuracy
                          (MAE) against k, one line per method, mean +- std over
                          realizations as /summary/<cell>/retrain stores them; random
                          (k inputs at random) dashed grey, truth dotted black; the
                          cell's metric with all inputs as a horizontal line
                                     cells with retraining runs (relevance.retrain)
  <dataset>__regstudy.png number of non-zero eigenvalues and test accuracy (MAE) vs
                          reg_eigenvalues (log x), mean +- std bands over realizations, one
                          line per value of the other swept keys   datasets whose cells
                                                                   differ in reg_eigenvalues
  <dataset>__<key>[__<other key>=<value>...]_path.png
                          the relevance path: every input's mean |eigenvalue| against the
                          value of a numeric swept key (log x; symlog when 0 or a negative
                          value is swept), one line per input, coloured by its ground truth
                          (colour bar) where the dataset has one, else grey; thin
                          translucent lines beyond 100 inputs; one figure per value of the
                          other swept keys      datasets whose cells differ in a numeric key

A cell has post-hoc methods when /summary/<cell>/relevance holds a method other than
spectral; its spectral method is relevance/spectral, or its eigenvalues when the sweep
did not list spectral, and a method skipped in every run (spectral on a dense network) is
left out. The cells of retraining runs (attribute retrain_mode) have no figures and are
in no study or path: their numbers are their parent's <cell>_retrain.png. An eigenvalue
counts as non-zero when its |value| exceeds REL (--zero-threshold, default 1e-3) times the
largest mean |eigenvalue| of its cell. DIR/figures.json lists every figure with its
cell(s), its kind and the numbers plotted; one line per figure is printed. Exit 2
(message naming the file) when RESULTS.h5 is missing, not HDF5, not a specsweep results
file, of an unsupported format_version or malformed.
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
import matplotlib.collections  # noqa: E402
import matplotlib.colors  # noqa: E402
import matplotlib.ticker  # noqa: E402

FORMAT = "specsweep-results"
FORMAT_VERSIONS = (1, 2)
CELL_META = ("dataset", "cell_id", "swept_keys", "n_realizations", "n_diverged", "n_failed")
REG_KEY = "reg_eigenvalues"
# specsweep's relevance methods in its order (relevance.methods' names)
METHOD_ORDER = ("spectral", "saliency", "input_x_gradient", "integrated_gradients",
                "smoothgrad", "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift",
                "permutation", "kernel_shap", "fourier")
PER_FREQUENCY = ("fourier",)   # methods whose relevance is per Fourier coefficient, not input
QUALITY_K_SHARE = 0.1          # without a truth, quality is the metric with >= 10 % of inputs
# a post-hoc method's colour and marker, by its place in METHOD_ORDER (grey is random-k's)
METHOD_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9", "navy", "magenta")
MARKERS = "osD^v<>PXh*"
# what load() keeps of a cell's /summary/<cell>/relevance/<method> (values stay on disk)
CELL_RELEVANCE_ARRAYS = ("abs_mean", "abs_std", "topk_accuracy", "seconds")
RETRAIN_MODES = ("keep", "remove")
# the pseudo-methods of retraining, after the relevance methods (specsweep's order)
RETRAIN_LAST = ("random", "truth")
RETRAIN_CURVE = ("k", "metric_mean", "metric_std", "n_realizations")
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
    {name: dict}, "cells": [cell], "retrain_cells": [retraining cell]}. A cell is a dict
    with id, dataset, swept (swept key -> value), n_realizations, n_diverged, n_failed,
    attrs, the summary arrays, relevance (its /summary/<cell>/relevance methods as
    read_relevance reads them, without the values per realization), retrain (its
    /summary/<cell>/retrain curves, read_retrain) and train_seconds (of its ok runs).
    "cells" are the cells of the sweep's grid; the cells of retraining runs (attribute
    retrain_mode) are not among them but in "retrain_cells", each only its id, parent
    cell, mode, method, k and counts (retrain_cell): their numbers are in their parent's
    curves. Raises ResultsError for anything that is not a usable results file."""
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
            cells, retrain_cells = _read_cells(f, path)
            return {"path": path, "format_version": ver,
                    "sweep_name": _py(f.attrs.get("sweep_name", "")),
                    "datasets": _read_datasets(f), "cells": cells,
                    "retrain_cells": retrain_cells}
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


def retrain_order(name):
    """Retraining methods as `specsweep summary` lists them: the relevance methods in
    method order, then random, then truth."""
    if name in RETRAIN_LAST:
        return (len(METHOD_ORDER) + 1 + RETRAIN_LAST.index(name), "")
    return method_order(name)


def is_retrain_cell(attrs):
    """A /summary cell of retraining runs (it names its mode: retrain_mode)."""
    return "retrain_mode" in attrs


def read_retrain(g):
    """The retraining curves of a parent cell, /summary/<cell>/retrain/<mode>/<method>:
    {mode: {method: {"k", "metric_mean", "metric_std", "n_realizations": arrays (file
    order), "metric": the attribute ("test_accuracy" | "test_mae")}}}; {} without."""
    out = {}
    top = g.get("retrain")
    if not isinstance(top, h5py.Group):
        return out
    for mode, mg in top.items():
        if not isinstance(mg, h5py.Group):
            continue
        for method, m in mg.items():
            if isinstance(m, h5py.Group) and all(isinstance(m.get(k), h5py.Dataset)
                                                 for k in RETRAIN_CURVE):
                c = {k: np.asarray(m[k][()]).ravel() for k in RETRAIN_CURVE}
                c["metric"] = _py(m.attrs.get("metric", ""))
                out.setdefault(mode, {})[method] = c
    return out


def retrain_cell(gname, attrs):
    """What load keeps of a retraining cell: its id, parent cell, mode, method, k and
    counts of realizations, diverged and failed runs."""
    return {"id": str(attrs.get("cell_id", gname)), "parent": str(attrs.get("retrain_parent_cell")),
            "mode": str(attrs.get("retrain_mode")), "method": str(attrs.get("retrain_method")),
            "k": attrs.get("retrain_k"), "dataset": attrs.get("dataset"),
            **{k: int(attrs.get(k, 0)) for k in ("n_realizations", "n_diverged", "n_failed")}}


def _read_train_seconds(f):
    """{cell_id: [train_seconds]} of the ok runs (retraining runs, which name their parent in
    retrain_parent, left out)."""
    out = {}
    top = f.get("runs")
    if not isinstance(top, h5py.Group):
        return out
    for g in top.values():
        a = g.attrs
        if isinstance(g, h5py.Group) and _py(a.get("status")) == "ok" \
                and "retrain_parent" not in a and _is_number(_py(a.get("train_seconds"))):
            out.setdefault(str(_py(a.get("cell_id"))), []).append(float(a["train_seconds"]))
    return out


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
    """The grid's cells (load) and the retraining cells (retrain_cell) of /summary."""
    cells, retrain_cells = [], []
    train_seconds = _read_train_seconds(f)
    top = f.get("summary")
    if not isinstance(top, h5py.Group):
        return cells, retrain_cells
    for gname, g in top.items():
        if not isinstance(g, h5py.Group):
            continue
        where = f"{path}: /summary/{gname}"
        attrs = attrs_of(g)
        if not isinstance(attrs.get("dataset"), str):
            raise ResultsError(f"{where} has no dataset attribute")
        if is_retrain_cell(attrs):  # its numbers are in its parent's curves
            retrain_cells.append(retrain_cell(gname, attrs))
            continue
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
        cid = str(attrs.get("cell_id", gname))
        cells.append({
            "id": cid,
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
            "retrain": read_retrain(g),
            "train_seconds": np.asarray(train_seconds.get(cid, []), float),
        })
    cells.sort(key=lambda c: (c["dataset"], _swept_sort_key(c["swept"]), c["id"]))
    return cells, retrain_cells


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


def _spectral_from_eigenvalues(cell, truth):
    """The spectral method of a cell whose sweep did not list it: the cell's mean
    |eigenvalues| and top-k curve, no extra seconds, and the mean and std over its
    realizations of the Spearman of |eigenvalues| with the truth."""
    mean, _, n = eigen_stats(cell)
    attrs = {}
    if truth is not None:
        rho = [spearman(row, truth) for row in np.abs(_finite_rows(cell["eigenvalues"]))]
        m, s, _ = mean_std(rho)
        attrs = {"spearman_mean": float(m[0]), "spearman_std": float(s[0])}
    return {"method": "spectral", "abs_mean": mean, "topk_accuracy": cell["topk_accuracy"],
            "seconds": np.zeros(n), "attrs": attrs, "per_input": True}


def relevance_methods(cell, truth=None):
    """The relevance methods of a cell with at least one post-hoc method, in specsweep's
    order ([] for any other cell): [{method, abs_mean, topk_accuracy [n, K], seconds [n],
    attrs, per_input}]. spectral is /summary/<cell>/relevance/spectral,
    or the cell's eigenvalues when the sweep did not list it; a method skipped in every run
    (spectral on a dense network) has no values and is left out. per_input is False for
    fourier, whose relevance is per Fourier coefficient. truth: the dataset's, or None."""
    n_in = cell["eigenvalues"].shape[1]
    out = []
    for method in sorted(cell["relevance"], key=method_order):
        arr = cell["relevance"][method]["arrays"]
        mean = np.asarray(arr.get("abs_mean", ()), float).ravel()
        if not np.isfinite(mean).any():
            continue
        out.append({"method": method, "abs_mean": mean,
                    "topk_accuracy": np.atleast_2d(np.asarray(arr.get("topk_accuracy", ()), float)),
                    "seconds": np.asarray(arr.get("seconds", [np.nan]), float).ravel(),
                    "attrs": cell["relevance"][method]["attrs"],
                    "per_input": method not in PER_FREQUENCY and mean.size == n_in})
    if all(e["method"] == "spectral" for e in out):
        return []
    if "spectral" not in cell["relevance"]:
        out.insert(0, _spectral_from_eigenvalues(cell, truth))
    return out


def method_relevance_stats(entries, truth):
    """Numbers of the per-method relevance figure: per method its mean |relevance| over its
    largest value (normalised), that largest value, and the Spearman of its mean
    |relevance| with the truth (per-input methods, where there is a truth, else None); the
    truth over its largest value (or None)."""
    scaled = None
    if truth is not None:
        tmax = float(np.nanmax(truth))
        scaled = np.asarray(truth, float) / tmax if tmax > 0 else np.asarray(truth, float)
    rows = []
    for e in entries:
        top = float(np.nanmax(e["abs_mean"]))
        rows.append({"method": e["method"], "per_input": e["per_input"], "max_abs_mean": top,
                     "normalised": e["abs_mean"] / top if top > 0 else e["abs_mean"],
                     "spearman_rho": (spearman(e["abs_mean"], truth)
                                      if scaled is not None and e["per_input"] else None)})
    return {"methods": rows, "truth": scaled}


def quality_k(topk, n_inputs):
    """The k at which a method's quality is read where there is no truth: the smallest k of
    the top-k curve that keeps at least QUALITY_K_SHARE (10 %) of the inputs, else the
    largest k; None without a curve."""
    k = np.sort(np.asarray(topk, np.int64))
    if k.size == 0:
        return None
    enough = k[k >= QUALITY_K_SHARE * n_inputs]
    return int(enough[0]) if enough.size else int(k[-1])


def _quality(e, with_truth, j):
    """A method's quality, mean and std over realizations, or (None, why not). With a truth:
    its stored Spearman with it (spearman_mean, spearman_std); without: the metric with
    its top-k inputs at the k of index j."""
    if with_truth:
        if not e["per_input"]:
            return None, "per frequency: no Spearman with the per-input truth"
        m, s = e["attrs"].get("spearman_mean"), e["attrs"].get("spearman_std")
    else:
        tk = e["topk_accuracy"]
        if j is None or tk.shape[1] <= j:
            return None, "no top-k curve"
        m, s, _ = mean_std(tk[:, j])
        m, s = float(m[0]), float(s[0])
    if not (_is_number(m) and math.isfinite(m)):
        return None, "no quality stored"
    return (float(m), float(s) if _is_number(s) else float("nan")), ""


def quality_cost_stats(cell, entries, truth, regression):
    """Numbers of the quality vs cost figure. Per post-hoc method: quality mean and std
    over realizations (_quality) and its seconds' mean and std; spectral: its quality
    alone (its relevance comes with training: no extra seconds); the cell's training
    seconds, mean and std over its runs. Methods without a quality or positive seconds are
    in left_out, with the reason."""
    n_in = cell["eigenvalues"].shape[1]
    k = None if truth is not None else quality_k(cell["topk"], n_in)
    j = None if k is None else int(np.nonzero(np.asarray(cell["topk"]) == k)[0][0])
    rows, left_out, spectral = [], {}, None
    for e in entries:
        q, why = _quality(e, truth is not None, j)
        if q is None:
            left_out[e["method"]] = why
            continue
        if e["method"] == "spectral":
            spectral = {"quality_mean": q[0], "quality_std": q[1]}
            continue
        sm, ss, _ = mean_std(e["seconds"])
        if not (sm[0] > 0):
            left_out[e["method"]] = "no positive seconds"
            continue
        rows.append({"method": e["method"], "quality_mean": q[0], "quality_std": q[1],
                     "seconds_mean": float(sm[0]), "seconds_std": float(ss[0])})
    tm, ts, _ = mean_std(cell["train_seconds"])
    if truth is not None:
        label = "Spearman ρ with the ground truth"
    else:
        label = f"{metric_name(regression)} with the top {k} inputs"
    return {"quality": "spearman" if truth is not None else "topk", "k": k, "label": label,
            "methods": rows, "spectral": spectral, "left_out": left_out,
            "train_seconds_mean": float(tm[0]), "train_seconds_std": float(ts[0])}


def method_topk_stats(cell, entries, regression):
    """Numbers of the per-method top-k figure, k ascending: the metric with k random inputs
    and with each method's top-k inputs (fourier: its top-k frequencies), mean and std over
    realizations; None when the cell has no top-k curve."""
    cur = topk_curves(cell, regression)
    if cur is None:
        return None
    order = np.argsort(np.asarray(cell["topk"], np.int64), kind="mergesort")
    rows = []
    for e in entries:
        tk = e["topk_accuracy"]
        if tk.shape[1] != order.size or not np.isfinite(tk).any():
            continue
        m, s, n = mean_std(tk)
        rows.append({"method": e["method"], "mean": m[order], "std": s[order], "n": n[order]})
    return {"k": cur["k"], "metric": cur["metric"], "random_mean": cur["random_mean"],
            "random_std": cur["random_std"], "methods": rows}


def retrain_curves(cell, regression):
    """Numbers of the retraining figure, as the file stores them in
    /summary/<cell>/retrain: per mode (keep, then remove) and method (retrain_order), the
    k ascending with the metric's mean, std and realizations at each; and the cell's
    metric with all inputs, mean and std (ddof 0) over its realizations. The metric is the
    dataset's task's (regression: test_mae), as the curves' attribute names it. None for a
    cell without curves."""
    stored = cell.get("retrain") or {}
    modes = {}
    for mode in sorted(stored, key=lambda m: (RETRAIN_MODES.index(m), "")
                       if m in RETRAIN_MODES else (len(RETRAIN_MODES), m)):
        rows = []
        for method in sorted(stored[mode], key=retrain_order):
            c = stored[mode][method]
            order = np.argsort(np.asarray(c["k"], np.int64), kind="mergesort")
            n = np.asarray(c["n_realizations"], np.int64)[order]
            rows.append({"method": method, "k": np.asarray(c["k"], np.int64)[order],
                         "mean": np.asarray(c["metric_mean"], float)[order],
                         "std": np.asarray(c["metric_std"], float)[order], "n": n})
        if rows:
            modes[mode] = rows
    if not modes:
        return None
    m, s, n = mean_std(test_metric(cell, regression))
    return {"modes": modes, "metric": "test_mae" if regression else "test_accuracy",
            "label": metric_name(regression), "regression": regression,
            "all_mean": float(m[0]), "all_std": float(s[0]), "all_n": int(n[0])}


def _sortable(v):
    return (0, float(v), "") if _is_number(v) else (1, 0.0, str(v))


def _swept_sort_key(swept):
    return tuple((k, _sortable(v)) for k, v in sorted(swept.items()))


def axis_studies(cells, key):
    """Datasets whose cells differ in the numeric swept key: [{dataset, key, other_keys,
    lines: [(other values dict, cells sorted by key)]}]."""
    by_ds = {}
    for c in cells:
        if _is_number(c["swept"].get(key)):
            by_ds.setdefault(c["dataset"], []).append(c)
    studies = []
    for ds in sorted(by_ds):
        cs = by_ds[ds]
        if len({float(c["swept"][key]) for c in cs}) < 2:
            continue
        other = sorted({k for c in cs for k in c["swept"] if k != key})
        lines = {}
        for c in cs:
            vals = tuple(c["swept"].get(k) for k in other)
            # keyed by _sortable: hashable also for list values (model.hidden = [100, 50])
            lines.setdefault(tuple(_sortable(v) for v in vals), (vals, []))[1].append(c)
        out = []
        for line in sorted(lines):
            vals, group = lines[line]
            out.append((dict(zip(other, vals)),
                        sorted(group, key=lambda c: float(c["swept"][key]))))
        studies.append({"dataset": ds, "key": key, "other_keys": other, "lines": out})
    return studies


def reg_studies(cells):
    """Datasets whose cells differ in reg_eigenvalues (axis_studies)."""
    return axis_studies(cells, REG_KEY)


def path_stats(key, cells):
    """Numbers of a relevance path along the swept key: its values in cells (sorted by it),
    the mean |eigenvalue| of every input at each [values, inputs], the realizations and
    the cell id at each."""
    stats = [eigen_stats(c) for c in cells]
    return {"x": np.array([float(c["swept"][key]) for c in cells]),
            "mean_abs": np.vstack([m for m, _, _ in stats]),
            "n": [n for _, _, n in stats], "cells": [c["id"] for c in cells]}


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


def _axis_scale(ax, x):
    """A log x axis for positive values x, symlog (linear below the smallest |x| that is
    not 0) when 0 or a negative value appears."""
    x = np.asarray(x, float)
    if np.all(x > 0):
        ax.set_xscale("log")
    else:
        pos = np.abs(x[x != 0])
        ax.set_xscale("symlog", linthresh=float(pos.min()) if pos.size else 1e-6)


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
        _axis_scale(ax, regs)
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


def method_style(name):
    """A method's colour and marker, the same in every figure: spectral black circles, the
    others METHOD_COLOURS and MARKERS in specsweep's order."""
    if name == "spectral":
        return "k", "o"
    i = METHOD_ORDER.index(name) - 1 if name in METHOD_ORDER else len(METHOD_ORDER) - 1
    return METHOD_COLOURS[i % len(METHOD_COLOURS)], MARKERS[i % len(MARKERS)]


def _legend_right(ax):
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def draw_method_relevance(cell, st, path):
    """One panel per method: its mean |relevance| per input over its largest (line), the
    ground truth over its largest as grey bars where the dataset has one, the Spearman of
    the mean |relevance| with the truth in the legend; fourier against the frequency
    index, without truth."""
    rows, truth = st["methods"], st["truth"]
    ncol = 1 if len(rows) == 1 else 2
    nrow = -(-len(rows) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 1.9 * nrow + 0.9), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        y = r["normalised"]
        x = np.arange(len(y))
        few = len(y) <= LIST_LIMIT
        if r["per_input"] and truth is not None:
            if few:
                ax.bar(x, truth, width=0.8, color="0.82", label="ground truth")
            else:
                ax.fill_between(x, truth, step="mid", color="0.82", lw=0, label="ground truth")
        colour, marker = method_style(r["method"])
        rho = r["spearman_rho"]
        label = r["method"] + (f", ρ = {rho:+.3f}" if rho is not None and np.isfinite(rho) else "")
        ax.plot(x, y, "-", marker=marker if few else None, ms=3, lw=1.0 if few else 0.6,
                color=colour, label=label)
        ax.set_ylim(0, 1.35)  # the legend's row above the curves
        ax.set_yticks([0, 0.5, 1])
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("input feature (index)" if r["per_input"]
                      else "Fourier coefficient (rfft index)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    fig.supylabel("mean |relevance| / its maximum", fontsize=9)
    fig.suptitle(cell_title(cell, "relevance per input, each method over its maximum"),
                 fontsize=9)
    _save(fig, path)


def draw_quality_cost(cell, st, path):
    """Each post-hoc method's quality against its seconds (log x), error bars the std over
    realizations both ways; spectral, which costs no extra seconds, as a dashed line at its
    quality with a band of its std; the training time as a dotted line; methods left out
    named below the plot."""
    fig, ax = plt.subplots(figsize=(8.2, 4.6))
    for r in st["methods"]:
        colour, marker = method_style(r["method"])
        ax.errorbar(r["seconds_mean"], r["quality_mean"], xerr=r["seconds_std"],
                    yerr=r["quality_std"], fmt=marker, color=colour, ms=6, capsize=2,
                    label=r["method"])
    sp = st["spectral"]
    if sp is not None:
        ax.axhline(sp["quality_mean"], color="k", ls="--", lw=1,
                   label="spectral: no extra seconds (comes with training)")
        ax.axhspan(sp["quality_mean"] - sp["quality_std"], sp["quality_mean"] + sp["quality_std"],
                   color="k", alpha=0.08, lw=0)
    if np.isfinite(st["train_seconds_mean"]) and st["train_seconds_mean"] > 0:
        ax.axvline(st["train_seconds_mean"], color="0.45", ls=":", lw=1,
                   label=f"training: {st['train_seconds_mean']:.2g} s")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per run (mean ± std over realizations)")
    ax.set_ylabel(st["label"] + " (mean ± std)", fontsize=9)
    if st["left_out"]:
        ax.text(0.0, -0.2, "not shown: " + "; ".join(f"{m} ({why})" for m, why in
                                                     st["left_out"].items()),
                transform=ax.transAxes, fontsize=7, va="top", wrap=True)
    _legend_right(ax)
    ax.set_title(cell_title(cell, "relevance quality vs its cost"), fontsize=9)
    _save(fig, path)


def draw_methods_topk(cell, st, n_inputs, path):
    """The metric with each method's top-k inputs against k, and with k random inputs
    (grey, dashed), mean ± std over realizations."""
    k = st["k"]
    fig, ax = plt.subplots(figsize=(8.2, 4.6))
    for r in st["methods"]:
        colour, marker = method_style(r["method"])
        label = r["method"] + (" (k frequencies)" if r["method"] in PER_FREQUENCY else "")
        top = r["method"] == "spectral"  # drawn over the others, which often coincide with it
        ax.errorbar(k, r["mean"], yerr=r["std"], fmt="-", marker=marker, color=colour, ms=4,
                    capsize=2, lw=1.6 if top else 1, zorder=3 if top else 2, label=label)
    ax.errorbar(k, st["random_mean"], yerr=st["random_std"], fmt="--", marker="s", color="0.5",
                ms=4, capsize=2, lw=1, label="k random inputs")
    _log_x_if_wide(ax, k)
    ax.set_xlabel(f"number of inputs kept, k (of {n_inputs})")
    ax.set_ylabel(st["metric"])
    _legend_right(ax)
    ax.set_title(cell_title(cell, "top-k inputs of each method vs k random inputs"), fontsize=9)
    _save(fig, path)


def retrain_style(name):
    """A retraining method's line: (colour, marker, line style). random dashed grey, truth
    dotted black, a relevance method solid in its colour and marker (method_style)."""
    if name == "random":
        return "0.5", "s", "--"
    if name == "truth":
        return "k", "*", ":"
    colour, marker = method_style(name)
    return colour, marker, "-"


RETRAIN_TITLE = {"keep": "keep: trained on the k top-ranked inputs",
                 "remove": "remove: trained on all but the k top-ranked inputs"}


def draw_retrain(cell, st, n_inputs, path):
    """One panel per mode (keep, remove): the metric of the runs retrained on each method's
    k top-ranked inputs (keep) or without them (remove) against k, one line per method
    with its std as error bars (random dashed grey, truth dotted black), the cell's
    metric with all inputs as a horizontal line; log x where k is wide (_log_x_if_wide,
    as the top-k figures)."""
    modes = list(st["modes"])
    fig, axes = plt.subplots(1, len(modes), figsize=(5.0 * len(modes) + 1.6, 4.2),
                             squeeze=False)
    for ax, mode in zip(axes[0], modes):
        ks = np.concatenate([r["k"] for r in st["modes"][mode]])
        for r in st["modes"][mode]:
            colour, marker, ls = retrain_style(r["method"])
            truth = r["method"] == "truth"  # hollow, over the method it may coincide with
            ax.errorbar(r["k"], r["mean"], yerr=r["std"], fmt=ls, marker=marker, color=colour,
                        ms=8 if truth else 5, mfc="white" if truth else colour, capsize=2,
                        lw=1.2, zorder=4 if truth else 3, label=r["method"])
        ax.axhline(st["all_mean"], color="C3", lw=1, ls="-.",
                   label=f"all {n_inputs} inputs (n = {st['all_n']})")
        _log_x_if_wide(ax, ks)
        if 0 < len(set(ks.tolist())) <= 12:  # the k of the sweep as ticks, as integers
            ax.set_xticks(sorted(set(ks.tolist())))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%d"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(f"k (of {n_inputs} inputs)")
        ax.set_ylabel(st["label"] + " (mean ± std)", fontsize=9)
        ax.set_title(RETRAIN_TITLE.get(mode, mode), fontsize=9)
    _legend_right(axes[0][-1])
    fig.suptitle(cell_title(cell, "retrained on each ranking's top-k inputs (keep) or "
                                  "without them (remove)"), fontsize=9)
    _save(fig, path)


# the truth's colours on a path: viridis without its palest yellow, which white hides
TRUTH_CMAP = matplotlib.colors.ListedColormap(plt.get_cmap("viridis")(np.linspace(0, 0.85, 256)))


def draw_path(dataset, key, other, st, truth, kind, path):
    """The relevance path: every input's mean |eigenvalue| against the axis value (log x,
    symlog when 0 appears), one line per input, coloured by its ground truth (colour bar)
    where the dataset has one, grey otherwise; thin and translucent for many inputs."""
    x, y = st["x"], st["mean_abs"]
    many = y.shape[1] > LIST_LIMIT
    order = np.argsort(truth, kind="mergesort") if truth is not None else np.arange(y.shape[1])
    lines = matplotlib.collections.LineCollection(
        [np.column_stack([x, y[:, i]]) for i in order],
        linewidths=0.5 if many else 1.3, alpha=0.25 if many else 0.9)
    fig, ax = plt.subplots(figsize=(6.6, 4.4))
    ax.add_collection(lines)
    _axis_scale(ax, x)
    ax.autoscale_view()
    if truth is not None:
        lines.set_array(np.asarray(truth, float)[order])
        lines.set_cmap(TRUTH_CMAP)
        fig.colorbar(lines, ax=ax, label=TRUTH_LABEL.get(kind, "ground-truth relevance"))
    else:
        lines.set_color("0.4")
    ax.set_ylim(bottom=0)
    ax.set_xlabel(key)
    ax.set_ylabel("mean |eigenvalue| over realizations")
    ns = sorted(set(st["n"]))
    tail = f"{y.shape[1]} inputs, n = " + (f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}")
    other_text = swept_text(other)
    ax.set_title(f"{dataset}" + (f"  ({other_text})" if other_text else "")
                 + f"\nrelevance path along {key}, {tail}", fontsize=9)
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


def _listed(key, **vectors):
    """Per-input vectors for figures.json: whole up to LIST_LIMIT inputs, else at the
    TOP_LIST inputs of largest key, as top_<name>, with their indices as top_inputs."""
    key = np.asarray(key, float)
    if len(key) <= LIST_LIMIT:
        return vectors
    top = np.argsort(-np.nan_to_num(key, nan=-np.inf), kind="mergesort")[:TOP_LIST]
    return {"top_inputs": top, **{f"top_{k}": np.asarray(v)[top] for k, v in vectors.items()}}


def _per_input(mean, std):
    """Per-input numbers for figures.json: all of them for small inputs, else the top ones."""
    return _listed(mean, mean_abs=mean, std_abs=std)


def _method_figures(cell, truth, regression, name, record, base):
    """The per-method figures of a cell with post-hoc methods (relevance_methods): relevance
    per input vs the truth, quality vs cost, top-k curves; nothing for another cell."""
    entries = relevance_methods(cell, truth)
    if not entries:
        return
    n_in = cell["eigenvalues"].shape[1]
    st = method_relevance_stats(entries, truth)
    p = name(cell["id"], "methods_relevance")
    draw_method_relevance(cell, st, p)
    nums = {"n_inputs": n_in, "methods": [
        {"method": r["method"], "axis": "input" if r["per_input"] else "frequency",
         "max_abs_mean": r["max_abs_mean"], "spearman_rho": r["spearman_rho"],
         **_listed(r["normalised"], normalised=r["normalised"])} for r in st["methods"]]}
    if st["truth"] is not None:
        nums.update(_listed(st["truth"], truth_normalised=st["truth"]))
    record("methods_relevance", p, numbers=nums, note=", ".join(
        r["method"] + (f" rho {r['spearman_rho']:+.3f}" if r["spearman_rho"] is not None else "")
        for r in st["methods"]), **base)

    qc = quality_cost_stats(cell, entries, truth, regression)
    if qc["methods"]:
        p = name(cell["id"], "quality_cost")
        draw_quality_cost(cell, qc, p)
        record("quality_cost", p, numbers=qc, note=f"{qc['quality']} vs seconds of "
               f"{len(qc['methods'])} methods" + (f"; left out {', '.join(qc['left_out'])}"
                                                  if qc["left_out"] else ""), **base)

    mt = method_topk_stats(cell, entries, regression)
    if mt is not None:
        p = name(cell["id"], "methods_topk")
        draw_methods_topk(cell, mt, n_in, p)
        record("methods_topk", p, numbers=mt, note=f"{len(mt['methods'])} methods and random "
               f"at k={_short(mt['k'])}", **base)


def _retrain_figure(cell, regression, name, record, base):
    """The retraining figure of a parent cell (retrain_curves), recorded with the file's
    curves; nothing for a cell without them."""
    st = retrain_curves(cell, regression)
    if st is None:
        return
    n_in = cell["eigenvalues"].shape[1]
    p = name(cell["id"], "retrain")
    draw_retrain(cell, st, n_in, p)
    modes = {mode: [{"method": r["method"], "k": r["k"], "metric_mean": r["mean"],
                     "metric_std": r["std"], "n_realizations": r["n"]} for r in rows]
             for mode, rows in st["modes"].items()}
    record("retrain", p, numbers={"metric": st["metric"], "n_inputs": n_in, "modes": modes,
                                  "all_inputs_mean": st["all_mean"],
                                  "all_inputs_std": st["all_std"],
                                  "all_inputs_n": st["all_n"]},
           note="; ".join(f"{mode} k={_short(rows[0]['k'])}: " + ", ".join(
               f"{r['method']} {_short(r['mean'])}" for r in rows)
               for mode, rows in st["modes"].items()), **base)


def _image_figures(cell, shape, nz, name, record, base):
    """The histogram and heat map of a cell of image data."""
    n, n_in = base["n"], cell["eigenvalues"].shape[1]
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


def _spectrum_figure(cell, wl, truth, names, name, record, base):
    """The spectrum figure of a cell of 1-D data along wavelengths wl."""
    st = spectrum_stats(cell, wl, truth)
    p = name(cell["id"], "spectrum")
    draw_spectrum(cell, st, parse_wavelengths(names) is not None, p)
    record("spectrum", p, numbers={k: st[k] for k in (
        "spearman_rho", "truth_scale", "top_wavelengths", "top_fraction_in_truth",
        "mass_fraction_in_truth")},
           note=("Spearman rho %.3f" % st["spearman_rho"]) if st["spearman_rho"] is not None
           else "", **base)


def _cell_figures(cell, datasets, rel, name, record, log):
    """Every figure of one cell (the module's list), as its data allows."""
    ds = datasets.get(cell["dataset"], {})
    n_in = cell["eigenvalues"].shape[1]
    kind = ds.get("kind", "")
    names = ds.get("feature_names")
    names = names if names and len(names) == n_in else None
    mean, std, n = eigen_stats(cell)
    base = dict(cell_ids=cell["id"], dataset=cell["dataset"], swept=cell["swept"], n=n)
    if n == 0 or n_in == 0:
        log(f"{'skipped':<11} {cell['id']}: no realization with finite eigenvalues")
        return

    p = name(cell["id"], "eigenvalues")
    draw_eigenvalues(cell, mean, std, n, names, p)
    nz = nonzero_count(cell["eigenvalues"], rel)
    record("eigenvalues", p, numbers={**_per_input(mean, std), "n_inputs": n_in,
                                      "nonzero_of_mean": nz["of_mean"],
                                      "zero_threshold_abs": nz["threshold"]},
           note=f"max mean |eig| {np.nanmax(mean):.4g} at input {int(np.nanargmax(mean))}",
           **base)

    truth = ds.get("relevance_truth")
    truth = truth if truth is not None and len(truth) == n_in else None
    if truth is not None:
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
        _image_figures(cell, shape, nz, name, record, base)

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

    _method_figures(cell, truth, reg, name, record, base)
    _retrain_figure(cell, reg, name, record, base)

    wl = wavelengths(ds, n_in)
    if wl is not None:
        _spectrum_figure(cell, wl, truth, names, name, record, base)


def _regstudy_figure(study, datasets, rel, name, record):
    """The regularization study of one dataset (reg_studies)."""
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


def _path_figures(cells, datasets, name, record):
    """A relevance path per dataset, numeric swept key and values of the other keys."""
    for key in sorted({k for c in cells for k in c["swept"]}):
        for study in axis_studies(cells, key):
            ds = datasets.get(study["dataset"], {})
            for other, cs in study["lines"]:
                st = path_stats(key, cs)
                n_in = st["mean_abs"].shape[1]
                truth = ds.get("relevance_truth")
                truth = truth if truth is not None and len(truth) == n_in else None
                p = name(f"{study['dataset']}__{key}" + "".join(
                    f"__{k}={fmt_value(v)}" for k, v in sorted(other.items())), "path")
                draw_path(study["dataset"], key, other, st, truth, ds.get("kind", ""), p)
                top = np.nanmax(st["mean_abs"], axis=0)
                record("path", p, st["cells"], study["dataset"], {"varies": [key], **other},
                       st["n"], {"axis": key, "values": st["x"], "n_inputs": n_in,
                                 "coloured_by_truth": truth is not None,
                                 **_listed(top, mean_abs=st["mean_abs"].T)},
                       note=f"{n_in} inputs along {key} = {_short(st['x'])}")


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
        _cell_figures(cell, datasets, rel, name, record, log)
    for study in reg_studies(cells):
        _regstudy_figure(study, datasets, rel, name, record)
    _path_figures(cells, datasets, name, record)
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
