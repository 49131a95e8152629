#!/usr/bin/env python3
"""One self-contained HTML page of a specsweep results file.

    report.py RESULTS.h5 -o report.html [--figures DIR] [--zero-threshold REL]

The page holds, from RESULTS.h5 alone:

  plan        the sweep's name, its sweep file, the datasets (kind, task, inputs, classes,
              sizes), the axes and their values, the counts of runs, cells and seeds, when
              the file was created and by which specsweep version
  summary     per cell, in the sweep's order (cell_index): dataset, the value of every
              axis, n, test accuracy mean +- std (MAE for regression), Spearman of the
              mean |eigenvalue| with the ground truth where the dataset has one, the
              stability of the |eigenvalue| ranking over pairs of realizations (Kendall's
              tau-b, the top-k Jaccard index at one k), the top inputs: the numbers
              `specsweep summary` prints
  stability   per cell of at least two realizations and per ranking (each relevance
              method; `spectral`: the eigenvalues where the cell stores no method):
              the pairs of realizations compared, Kendall's tau-b and the Jaccard index
              of the top-k inputs at every k, mean +- std over the pairs, as stored in
              /summary/<cell> (stability_*)
  methods     per cell and relevance method: its measures' mean +- std (Spearman,
              support recall, AUROC, seconds, passes, ...), its top inputs, its top-k
              accuracy beside k random inputs, its settings and checks
              (/summary/<cell>/relevance/<method>; else gathered from the runs'
              /runs/<id>/relevance/<method>)                    files that have them
  retraining  per parent cell, one table: a row per method (method order, random and
              truth last), a column per keep k and remove k, the test accuracy (MAE)
              mean +- std (realizations) as the file stores it
              (/summary/<cell>/retrain/<mode>/<method>), beside the cell's metric with
              all inputs, and a link to the cell's retraining figure; the cells of
              retraining runs (attribute retrain_mode) are in their parent's table,
              not rows of the summary nor in the figures      files that have them
  figures     every figure analysis/figures.py draws for the file, embedded as PNG
  problems    the runs that diverged or failed, with their messages; a retraining run
              (attribute retrain_parent) names its parent and sits beside its siblings

Axes are the cells' `swept_keys` (training keys, model keys, bundle axes alike); every
optional part is found by attributes and appears only when the file has it. The page
needs no network and no script: figures are data URIs, the style is in the page.
--figures DIR also keeps the PNG files and figures.json there (as figures.py --out DIR).
Exit 2 (message naming the file) when RESULTS.h5 cannot be used, as figures.py.
"""
import argparse
import base64
import datetime
import html
import importlib.util
import math
import os
import re
import struct
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("figures", os.path.join(HERE, "figures.py"))
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

_py = figures._py
_is_number = figures._is_number

TOP_INPUTS = 5                  # as `specsweep summary`
FIG_SCALE = 0.7                 # figures shown at 0.7 x their pixels (figures.DPI = 120):
                                # two of the usual ones side by side in the page's width
STATUSES = ("ok", "diverged", "failed")
# A relevance method's numbers shown as columns, in this order (and any X stored as X_mean
# with X_std); its other attributes are its settings.
MEASURES = ("spearman", "support_recall", "auroc", "completeness", "seconds",
            "forward_passes", "backward_passes", "passes")
# How a measure's mean and std are printed: as `specsweep summary` prints its method table
# (spearman, support_recall, auroc, seconds); passes as integers; any other "%.4g".
MEASURE_FORMAT = {"spearman": ("%+.3f", "%.3f"), "support_recall": ("%.2f", "%.2f"),
                  "auroc": ("%.3f", "%.3f"), "seconds": ("%.2g", "%.2g"),
                  "forward_passes": ("%.0f", "%.0f"), "backward_passes": ("%.0f", "%.0f"),
                  "passes": ("%.0f", "%.0f")}
# A method's checks (integrated gradients' completeness, LRP's conservation): listed with
# its settings when not zero.
CHECKS = ("check_mean", "check_max", "check_scale", "absorbed_mean")
# What a run records about itself; an attribute not listed here that varies across runs
# is a setting (used only when no summary cell names the axes).
RUN_OWN_ATTRS = {"dataset", "cell_id", "seed", "status", "message", "ranks", "train_seconds",
                 "samples_per_second", "test_accuracy", "test_loss", "n_trainable",
                 "retracted_test_accuracy", "retracted_test_loss", "retrain_parent",
                 "retrain_mode", "retrain_method", "retrain_k"}


# ---- reading what figures.load does not ------------------------------------------------

def read_file(path, res):
    """The root attributes, every run's id and attributes, every summary cell's own arrays
    (the grid's cells: retraining cells left out) and, per cell, its relevance methods
    reduced to what the page shows (cell_methods):
    the cell's own as figures.load read them (no vector per realization), its runs' read
    one cell at a time, so a large study's relevance vectors are never all in memory. res
    is figures.load's reading of the same file."""
    cells_by_id = {c["id"]: c for c in res["cells"]}
    with h5py.File(path, "r") as f:
        root = figures.attrs_of(f)
        runs, with_relevance = [], {}
        for rid, g, a in figures.member_groups(f, "runs"):
            runs.append({"id": rid, "attrs": a})
            if isinstance(g.get("relevance"), h5py.Group) and a.get("status") == "ok" \
                    and "retrain_parent" not in a:
                with_relevance.setdefault(str(a.get("cell_id")), []).append(g)
        cells, methods = {}, {}
        for gname, g, a in figures.member_groups(f, "summary"):
            if figures.is_retrain_cell(a):
                continue
            cid = str(a.get("cell_id", gname))
            arr = {k: np.asarray(g[k][()], float) for k in
                   ("eigenvalues_abs_mean", "eigenvalues_abs_std") if k in g}
            cells[cid] = {"attrs": a, "arrays": arr, "stability": read_cell_stability(g)}
            if cid in cells_by_id:
                c = cells_by_id[cid]
                methods[cid] = cell_methods(
                    c, res["datasets"].get(c["dataset"], {}), c["relevance"],
                    [figures.read_relevance(r) for r in with_relevance.get(cid, [])])
    return {"root": root, "runs": runs, "cells": cells, "methods": methods}


def read_stability(g):
    """The stability of a ranking stored in g, a summary cell or one of its
    relevance/<method> groups (docs/FORMATS.md, "Ranking stability"): dict(pairs, tau
    (mean, std), k [K'], jaccard_mean [K'], jaccard_std [K']); None when g has none (a
    cell of one realization, or a file written before)."""
    a = g.attrs
    if "stability_pairs" not in a or "stability_k" not in g:
        return None
    return {"pairs": int(a["stability_pairs"]),
            "tau": (float(a["stability_kendall_tau_mean"]),
                    float(a["stability_kendall_tau_std"])),
            "k": [int(k) for k in np.asarray(g["stability_k"][()]).ravel()],
            "jaccard_mean": np.asarray(g["stability_jaccard_mean"][()], float).ravel(),
            "jaccard_std": np.asarray(g["stability_jaccard_std"][()], float).ravel()}


def read_cell_stability(g):
    """A summary cell's stabilities: {"eigenvalues": ..., method: ...} (read_stability),
    the rankings that have one."""
    out = {"eigenvalues": read_stability(g)}
    rel = g.get("relevance")
    for method, m in (rel.items() if isinstance(rel, h5py.Group) else []):
        if isinstance(m, h5py.Group):
            out[method] = read_stability(m)
    return {k: v for k, v in out.items() if v is not None}


# ---- formatting ------------------------------------------------------------------------

def fmt_setting(v):
    """A setting as `specsweep summary` prints it (%g, integers as integers); lists in
    brackets, text as it is."""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%g" % v
    if isinstance(v, list):
        return "[" + ", ".join(fmt_setting(x) for x in v) + "]"
    return str(v)


def fmt_mean_std(mean, std, regression=False):
    if not np.isfinite(mean):
        return "-"
    return ("MAE %.4f ± %.4f" if regression else "%.4f ± %.4f") % (mean, std)


def fmt_score(name, mean, std=None):
    """A measure of a relevance method: "mean ± std" in the measure's format
    (MEASURE_FORMAT); the mean alone when there is no std, or for counts (passes) whose
    std is 0."""
    if mean is None or not np.isfinite(mean):
        return "-"
    fm, fs = MEASURE_FORMAT.get(name, ("%.4g", "%.2g"))
    if std is None or not np.isfinite(std) or (std == 0 and fm == "%.0f"):
        return fm % mean
    return f"{fm % mean} ± {fs % std}"


def _sort_value(v):
    if _is_number(v):
        return (0, float(v), "")
    return (1, 0.0, fmt_setting(v))


def mean_std(values):
    """Mean and std (ddof 0) of the finite values, and their count; NaN, NaN, 0 for none."""
    a = np.asarray(values, float).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return float("nan"), float("nan"), 0
    m = float(a.sum() / a.size)
    return m, float(math.sqrt(float(((a - m) ** 2).sum()) / a.size)), int(a.size)


def top_inputs(mean, std, names, k=TOP_INPUTS):
    """The k largest of mean (NaN skipped, ties to the lower index) as (label, mean, std)."""
    mean = np.asarray(mean, float)
    std = None if std is None or len(std) != len(mean) else np.asarray(std, float)
    names = names if names and len(names) == len(mean) else None
    out, used = [], np.zeros(len(mean), bool)
    for _ in range(min(k, len(mean))):
        best = -1
        for i in range(len(mean)):
            if not used[i] and not np.isnan(mean[i]) and (best < 0 or mean[i] > mean[best]):
                best = i
        if best < 0:
            break
        used[best] = True
        out.append((names[best] if names else str(best), float(mean[best]),
                    float(std[best]) if std is not None else float("nan")))
    return out


def fmt_top(top):
    return " ".join("%s(%.3g±%.2g)" % t for t in top) if top else "-"


def shown_k(topk, truth):
    """The k whose Jaccard index the summary table shows, as `specsweep summary` picks it:
    the first k of the cell's list at least the size of the true support (truth > 0), or
    without one the middle k; None for an empty list."""
    topk = [int(k) for k in topk]
    if not topk:
        return None
    n_true = int(np.count_nonzero(np.asarray(truth, float) > 0)) if truth is not None else 0
    if n_true > 0:
        return next((k for k in topk if k >= n_true), topk[-1])
    return topk[len(topk) // 2]


def fmt_tau(st):
    """A stability's Kendall tau as `specsweep summary` prints it, "+0.812 ± 0.050", or "-"."""
    if not st or not np.isfinite(st["tau"][0]):
        return "-"
    return "%+.3f ± %.3f" % st["tau"]


def jaccard_at(st, k):
    """(mean, std) of a stability's Jaccard index at k, or None where it has none."""
    if not st or k not in st["k"]:
        return None
    q = st["k"].index(k)
    m, s = float(st["jaccard_mean"][q]), float(st["jaccard_std"][q])
    return (m, s) if np.isfinite(m) else None


def spearman_like_summary(mean, truth):
    """Spearman of mean with truth as `specsweep summary` computes it: NaN when either has
    a NaN or fewer than 2 inputs."""
    mean, truth = np.asarray(mean, float), np.asarray(truth, float)
    if len(mean) < 2 or np.isnan(mean).any() or np.isnan(truth).any():
        return float("nan")
    return figures.spearman(mean, truth)


# ---- the model of the page -------------------------------------------------------------

def _is_child(run):
    """A retraining run: it names its parent run (retrain_parent)."""
    return "retrain_parent" in run["attrs"]


def axes_of(extra, runs):
    """The sweep's axes in order: the cells' swept_keys; with no cell, the attributes that
    vary across the (non-retraining) runs of a dataset."""
    names = []
    for c in sorted(extra["cells"].values(), key=lambda c: _cell_order(c["attrs"])):
        for k in str(c["attrs"].get("swept_keys", "")).split(","):
            if k and k not in names:
                names.append(k)
    if names or extra["cells"]:
        return names
    by_ds = {}
    for r in runs:
        by_ds.setdefault(r["attrs"].get("dataset"), []).append(r["attrs"])
    for rows in by_ds.values():
        for k in sorted({k for a in rows for k in a} - RUN_OWN_ATTRS):
            if len({fmt_setting(a.get(k)) for a in rows}) > 1 and k not in names:
                names.append(k)
    return names


def _cell_order(attrs):
    ci = attrs.get("cell_index")
    return (0, float(ci)) if _is_number(ci) else (1, 0.0)


def build(res, extra):
    """Everything the page shows, as plain values (no HTML)."""
    datasets, root = res["datasets"], extra["root"]
    runs = extra["runs"]
    parents = [r for r in runs if not _is_child(r)]
    children = [r for r in runs if _is_child(r)]
    axes = axes_of(extra, parents)

    cells = sorted(res["cells"], key=lambda c: _cell_order(c["attrs"]))  # stable: files
    # without cell_index keep figures.load's order
    has_truth = False
    rows = []
    for c in cells:
        ds = datasets.get(c["dataset"], {})
        regression = figures.is_regression(c, datasets)
        own = extra["cells"].get(c["id"], {"arrays": {}})
        if "eigenvalues_abs_mean" in own["arrays"]:
            am = own["arrays"]["eigenvalues_abs_mean"]
            asd = own["arrays"].get("eigenvalues_abs_std")
        else:
            am, asd, _ = figures.eigen_stats(c)
        m, s, _ = mean_std(figures.test_metric(c, regression))
        truth = ds.get("relevance_truth")
        rho = None
        if truth is not None and len(truth) == len(am) and len(am) > 0:
            has_truth = True
            rho = spearman_like_summary(am, truth)
        rows.append({"id": c["id"], "dataset": c["dataset"],
                     "settings": [c["attrs"].get(k) for k in axes],
                     "n": c["n_realizations"], "n_diverged": c["n_diverged"],
                     "n_failed": c["n_failed"], "regression": regression,
                     "metric": (m, s), "spearman": rho,
                     "top": top_inputs(am, asd, ds.get("feature_names")),
                     "stability": own.get("stability", {}),
                     "jaccard_k": shown_k(c["topk"], truth),
                     "k": [int(k) for k in c["topk"]],
                     "randomk": _topk_stats(list(c["randomk_accuracy"]), len(c["topk"]))})

    counts = {s: 0 for s in STATUSES}
    for r in parents:
        st = r["attrs"].get("status")
        counts[st] = counts.get(st, 0) + 1
    axis_values = {}
    for k in axes:
        vals = {}
        for a in [c["attrs"] for c in res["cells"]] + [r["attrs"] for r in parents]:
            if k in a:
                vals[fmt_setting(a[k])] = a[k]
        axis_values[k] = sorted(vals.values(), key=_sort_value)
    seeds = sorted({r["attrs"]["seed"] for r in parents if _is_number(r["attrs"].get("seed"))})
    grid = len(datasets) * len(seeds)
    for k in axes:
        grid *= max(1, len(axis_values[k]))

    problems = [r for r in runs if r["attrs"].get("status", "ok") != "ok"]
    # a retraining run beside its parent's other children: sorted by its parent's id
    problems.sort(key=lambda r: (r["attrs"].get("dataset", ""),
                                 str(r["attrs"].get("retrain_parent", r["id"])), r["id"]))
    has_retrain = bool(children or res.get("retrain_cells")
                       or any(c.get("retrain") for c in res["cells"]))
    return {
        "root": root, "path": res["path"], "sweep_name": res["sweep_name"],
        "datasets": datasets, "axes": axes, "axis_values": axis_values,
        "counts": counts, "n_runs": len(parents), "n_children": len(children),
        # parents that did not finish have no ranking: their retraining runs were skipped
        "n_skipped_parents": (counts.get("diverged", 0) + counts.get("failed", 0)
                              if has_retrain else 0),
        "seeds": seeds, "grid": grid, "cells": rows, "has_truth": has_truth,
        "methods": method_rows(extra, rows),
        "retraining": retraining(res, extra, rows),
        "problems": [{"id": r["id"], "dataset": r["attrs"].get("dataset", ""),
                      "settings": [r["attrs"].get(k) for k in axes],
                      "seed": r["attrs"].get("seed"),
                      "parent": r["attrs"].get("retrain_parent"),
                      "status": r["attrs"].get("status", ""),
                      "message": r["attrs"].get("message", "")} for r in problems],
    }


def _agg(values):
    """Mean and std (ddof 0) over runs of one number, or None when no run has it."""
    vals = [float(v) for v in values if _is_number(v)]
    if not vals:
        return None
    m, s, _ = mean_std(vals)
    return (m, s)


def _run_numbers(attrs_list):
    """What the page shows of a method from the attributes of its runs' relevance (one dict
    a run): (measures {name: (mean, std)}, checks {name: (mean, std)}, settings ["k=v"]).
    A number in MEASURES is a measure and one in CHECKS a check, mean +- std (ddof 0) over
    the runs that have it; `skipped` says how many runs skipped the method; every other
    attribute, number or text, is a setting of the method, shown with its value(s).
    Arrays (topk_accuracy) have a table of their own."""
    measures, checks, settings = {}, {}, []
    names = sorted({k for a in attrs_list for k in a})
    for k in names:
        vals = [a[k] for a in attrs_list if k in a]
        if any(isinstance(v, list) for v in vals):
            continue
        if k == "skipped":
            n_sk = sum(1 for v in vals if _is_number(v) and v)
            if n_sk:
                settings.append("skipped" if n_sk == len(attrs_list)
                                else f"skipped in {n_sk} of {len(attrs_list)} runs")
        elif k in MEASURES and all(_is_number(v) for v in vals):
            measures[k] = _agg(vals)
        elif k in CHECKS and all(_is_number(v) for v in vals):
            checks[k] = _agg(vals)
        else:
            shown = []
            for v in vals:
                if fmt_setting(v) not in shown:
                    shown.append(fmt_setting(v))
            settings.append(f"{k}={'/'.join(shown)}")
    return measures, checks, settings


def _cell_numbers(attrs):
    """The measures a cell stores for a method: X_mean with X_std as X (mean, std), a lone
    number named in MEASURES as (value, None). The stability over pairs of realizations
    (stability_*) has a table of its own."""
    out = {k: (float(v), None) for k, v in attrs.items() if k in MEASURES and _is_number(v)}
    for k, v in attrs.items():
        if k.startswith("stability_"):
            continue
        if k.endswith("_mean") and _is_number(v) and _is_number(attrs.get(k[:-5] + "_std")):
            out[k[:-5]] = (float(v), float(attrs[k[:-5] + "_std"]))
    return out


def _topk_stats(rows_of_acc, K):
    """Mean, std (ddof 0) and count per k of per-run top-k accuracies (each of length K);
    None when no run has K of them."""
    rows = [np.asarray(r, float).ravel() for r in rows_of_acc if r is not None]
    rows = [r for r in rows if r.size == K]
    if not rows or K == 0:
        return None
    m, s, n = figures.mean_std(np.vstack(rows))
    return {"mean": m, "std": s, "n": n}


def cell_methods(cell, ds, stored, run_relevance):
    """One cell's relevance methods: n, measures, checks, settings, top-k accuracy and top
    inputs of each. What the cell stores in /summary/<cell>/relevance (stored: the
    measures' mean and std over its realizations, |relevance| mean and std, top-k
    accuracy per realization) comes first; its ok runs' /runs/<id>/relevance
    (run_relevance, one figures.read_relevance() a run) give the rest, mean +- std over
    the runs (ddof 0), and everything for a cell that stores nothing. A vector of another
    length than the inputs (fourier: per frequency) names its entries f0, f1, ..."""
    n_in, K = cell["eigenvalues"].shape[1], len(cell["topk"])

    def labels(length):
        names = ds.get("feature_names")
        if length == n_in:
            return names if names and len(names) == n_in else None
        return [f"f{i}" for i in range(length)]

    rows = []
    for method in sorted(set(stored) | {m for r in run_relevance for m in r}, key=figures.method_order):
        have = [r[method] for r in run_relevance if method in r]
        measures, checks, settings = _run_numbers([h["attrs"] for h in have])
        n = len(have)
        vecs = [np.abs(np.asarray(h["arrays"]["values"], float)) for h in have
                if "values" in h["arrays"]]
        mean = std = None
        if vecs and len({v.shape for v in vecs}) == 1:
            v = np.vstack(vecs)
            mean, std = v.mean(axis=0), v.std(axis=0)
        tk = _topk_stats([h["attrs"].get("topk_accuracy") for h in have], K)
        source = "runs"
        if method in stored:
            m = stored[method]
            arr, attrs = m["arrays"], m["attrs"]
            measures.update(_cell_numbers(attrs))
            n = int(attrs.get("n_realizations", cell["n_realizations"]))
            if "abs_mean" in arr:
                mean, std = np.asarray(arr["abs_mean"], float), arr.get("abs_std")
            if "topk_accuracy" in arr:
                tk = _topk_stats(list(np.atleast_2d(arr["topk_accuracy"])), K)
            n_sk = attrs.get("n_skipped")
            if not have and _is_number(n_sk) and n_sk:
                settings.append(f"skipped in {int(n_sk)} runs")
            source = "summary"
        rows.append({"method": method, "n": n, "scores": measures, "checks": checks,
                     "method_settings": settings, "topk": tk,
                     "top": top_inputs(mean, std, labels(len(mean))) if mean is not None else [],
                     "source": source})
    return rows


def method_rows(extra, summary_rows):
    """The relevance methods of every cell (read_file's cell_methods), in the summary's
    order, each row with its cell's id, dataset and axis values."""
    return [{"cell": r["id"], "dataset": r["dataset"], "settings": r["settings"], **m}
            for r in summary_rows for m in extra["methods"].get(r["id"], [])]


def _retrain_not_ok(runs):
    """{(parent cell, mode, method, k): how many of its retraining runs diverged or failed},
    from /runs (a (mode, method, k) none of whose runs finished has no cell to count
    them)."""
    cell_of = {r["id"]: str(r["attrs"].get("cell_id")) for r in runs}
    out = {}
    for r in runs:
        a = r["attrs"]
        if _is_child(r) and a.get("status", "ok") != "ok":
            key = (cell_of.get(str(a["retrain_parent"])), a.get("retrain_mode"),
                   a.get("retrain_method"), a.get("retrain_k"))
            out[key] = out.get(key, 0) + 1
    return out


def _retrain_value(rows, method, k, not_ok):
    """A method's stored curve (figures.retrain_curves' rows of one mode) at k: the file's
    metric_mean, metric_std and n_realizations there, and not_ok (its retraining runs that
    diverged or failed); None where the method has no such k."""
    for r in rows:
        j = np.flatnonzero(r["k"] == k) if r["method"] == method else []
        if len(j):
            return {"mean": float(r["mean"][j[0]]), "std": float(r["std"][j[0]]),
                    "n": int(r["n"][j[0]]), "not_ok": not_ok}
    return None


def retraining(res, extra, summary_rows):
    """Per parent cell with retraining curves, in the summary's order: a table whose rows
    are the methods (figures.retrain_order: random and truth last) and columns (mode, k),
    keep then remove, k ascending; every value the file's (/summary/<cell>/retrain, read
    by figures.retrain_curves), with its retraining runs that diverged or failed
    (_retrain_not_ok); beside it the cell's metric with all inputs (mean, std,
    realizations)."""
    cells = {c["id"]: c for c in res["cells"]}
    bad = _retrain_not_ok(extra["runs"])
    tables = []
    for row in summary_rows:
        st = figures.retrain_curves(cells[row["id"]], row["regression"])
        if st is None:
            continue
        cols = [(mode, k) for mode, rows in st["modes"].items()
                for k in sorted({int(k) for r in rows for k in r["k"]})]
        methods = sorted({r["method"] for rows in st["modes"].values() for r in rows},
                         key=figures.retrain_order)
        lines = [{"method": method, "cells": [
            _retrain_value(st["modes"][mode], method, k, bad.get((row["id"], mode, method, k), 0))
            for mode, k in cols]} for method in methods]
        tables.append({"cell": row["id"], "dataset": row["dataset"],
                       "settings": row["settings"], "regression": st["regression"],
                       "columns": cols, "lines": lines,
                       "all_inputs": (st["all_mean"], st["all_std"], st["all_n"])})
    return tables


# ---- HTML ------------------------------------------------------------------------------

CSS = """
:root { --fg: #1d232a; --muted: #5b6570; --line: #d5dbe1; --bg2: #f4f6f8; --accent: #1f5f99;
        --bad: #a12a1b; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 0 20px 40px; }
header { background: var(--bg2); border-bottom: 1px solid var(--line); }
header .in { max-width: 1240px; margin: 0 auto; padding: 18px 20px 10px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05em; margin: 22px 0 8px; }
.muted, figcaption, .note { color: var(--muted); font-size: 0.9em; }
nav { margin-top: 8px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0; font-size: 0.92em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.top { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.88em;
         min-width: 26em; }
td.msg { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.88em;
         white-space: pre-wrap; word-break: break-word; }
.status-diverged, .status-failed { color: var(--bad); font-weight: 600; }
pre { background: var(--bg2); border: 1px solid var(--line); padding: 10px; overflow-x: auto;
      font-size: 0.85em; line-height: 1.35; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; border: 1px solid var(--line); padding: 6px; background: #fff;
         flex: 0 1 auto; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; }
details > summary { cursor: pointer; color: var(--accent); }
.ok { color: #1d6b35; }
ul.minfo { margin: 4px 0 0; padding-left: 18px; font-size: 0.85em; color: var(--muted); }
ul.minfo b { color: var(--fg); font-weight: 600; }
span.val { display: inline-block; margin: 1px 6px 1px 0; padding: 0 6px; border-radius: 3px;
           background: var(--bg2); border: 1px solid var(--line); white-space: nowrap; }
"""


def esc(s):
    return html.escape(str(s), quote=True)


def _num_attr(v):
    """A full-precision number for data-v (repr; NaN as "nan")."""
    if v is None:
        return ""
    v = float(v)
    return repr(v) if math.isfinite(v) else "nan"


def td_num(text, value=None, std=None, col="", attrs=None):
    """A number's cell: its text, and its full-precision value (data-v) and std (data-std)
    for readers of the page; attrs: more attributes (name -> value)."""
    a = f' data-col="{esc(col)}"' if col else ""
    if value is not None:
        a += f' data-v="{_num_attr(value)}"'
    if std is not None:
        a += f' data-std="{_num_attr(std)}"'
    a += "".join(f' {k}="{esc(v)}"' for k, v in (attrs or {}).items())
    return f'<td class="num"{a}>{esc(text)}</td>'


def td(text, col="", cls=""):
    a = f' data-col="{esc(col)}"' if col else ""
    a += f' class="{cls}"' if cls else ""
    return f"<td{a}>{esc(text)}</td>"


def table(head, rows, tid="", cls="", attrs=None):
    a = f' id="{esc(tid)}"' if tid else ""
    a += f' class="{esc(cls)}"' if cls else ""
    a += "".join(f' {k}="{esc(v)}"' for k, v in (attrs or {}).items())
    h = "".join(f"<th>{esc(x)}</th>" for x in head)
    return (f'<div class="scroll"><table{a}><thead><tr>{h}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def cell_heading(dataset, axes, values):
    """A cell's name for a heading: its dataset and the value of every axis it has."""
    return (dataset or "") + "".join(f", {k}={fmt_setting(v)}" for k, v in
                                     zip(axes, values or []) if v is not None)


def _setting_cells(axes, values):
    return "".join(td(fmt_setting(v) if v is not None else "-", col="axis:" + k)
                   for k, v in zip(axes, values))


def section_plan(p):
    root = p["root"]
    c = p["counts"]
    nruns = p["n_runs"]
    runs = f"{nruns} ({c.get('ok', 0)} ok, {c.get('diverged', 0)} diverged, {c.get('failed', 0)} failed)"
    seeds = p["seeds"]
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        seed_text = f"{len(seeds)} ({seeds[0]}–{seeds[-1]})"
    else:
        seed_text = f"{len(seeds)} (" + ", ".join(map(str, seeds)) + ")" if seeds else "0"
    axes_text = " × ".join([f"{len(p['datasets'])} dataset{'s' * (len(p['datasets']) != 1)}"]
                           + [f"{len(p['axis_values'][k])} {k}" for k in p["axes"]]
                           + [f"{len(seeds)} seed{'s' * (len(seeds) != 1)}"])
    facts = [
        ("sweep", p["sweep_name"]),
        ("results file", os.path.abspath(p["path"])),
        ("created (UTC)", root.get("created_utc", "-")),
        ("specsweep version", root.get("specsweep_version", "-")),
        ("format version", root.get("format_version", "-")),
        ("grid", f"{axes_text} = {p['grid']} runs"),
        ("runs in the file", runs),
    ]
    if p["n_children"]:
        facts.append(("retraining runs", str(p["n_children"])))
    if p["n_skipped_parents"]:
        k = p["n_skipped_parents"]
        facts.append(("retraining skipped", f"the retraining runs of the {k} run{'s' * (k != 1)} "
                      "that diverged or failed (no ranking to train on): not in the file"))
    facts += [("cells with results", str(len(p["cells"]))), ("seeds", seed_text)]
    dl = "".join(f'<dt>{esc(k)}</dt><dd id="fact-{esc(re.sub(r"[^a-z]+", "-", k.lower()).strip("-"))}">'
                 f"{esc(v)}</dd>" for k, v in facts)
    out = [f'<section id="plan"><h2>Plan</h2><dl class="facts">{dl}</dl>']

    rows = []
    for name, d in p["datasets"].items():
        n_cls = d.get("n_classes")
        task = "regression" if n_cls == 0 else "classification"
        shape = d.get("input_shape")
        truth = d.get("relevance_truth")
        tr = "-" if truth is None else f"{int(np.count_nonzero(np.asarray(truth) > 0))} of {len(truth)} relevant"
        fn = d.get("feature_names")
        fn_text = "-" if not fn else (", ".join(fn[:4]) + (f", … ({len(fn)})" if len(fn) > 4 else ""))
        rows.append(f'<tr data-dataset="{esc(name)}">' + td(name, "name") + td(d.get("kind", ""), "kind")
                    + td(task, "task")
                    + td_num(str(d.get("n_inputs", "-")), d.get("n_inputs"), col="n_inputs")
                    + td("×".join(map(str, shape)) if isinstance(shape, list) else "-", "input_shape")
                    + td_num(str(n_cls if n_cls else "-"), n_cls, col="n_classes")
                    + td_num(str(d.get("n_train", "-")), d.get("n_train"), col="n_train")
                    + td_num(str(d.get("n_test", "-")), d.get("n_test"), col="n_test")
                    + td(tr, "truth") + td(fn_text, "feature_names") + "</tr>")
    out.append("<h3>Datasets</h3>")
    out.append(table(["dataset", "kind", "task", "inputs", "input shape", "classes", "train",
                      "test", "ground truth", "feature names"], rows, tid="datasets"))
    if p["axes"]:
        rows = [f'<tr data-axis="{esc(k)}">' + td(k, "axis")
                + td_num(str(len(p["axis_values"][k])), len(p["axis_values"][k]), col="count")
                + '<td data-col="values">' + "".join(f'<span class="val">{esc(fmt_setting(v))}</span>'
                                                     for v in p["axis_values"][k]) + "</td></tr>"
                for k in p["axes"]]
        out.append("<h3>Axes</h3>")
        out.append(table(["axis", "count", "values"], rows, tid="axes"))
    else:
        out.append('<p class="note">No sweep axes: one cell per dataset.</p>')
    yaml = root.get("sweep_yaml", "")
    out.append('<details open><summary>The sweep file</summary>'
               f'<pre id="sweep-yaml">\n{esc(yaml)}</pre></details></section>')  # HTML drops that \n
    return "".join(out)


def section_summary(p):
    out = ['<section id="summary"><h2>Summary</h2>']
    if not p["cells"]:
        out.append('<p class="note">No cell has a finished run yet.</p></section>')
        return "".join(out)
    head = ["dataset"] + p["axes"] + ["n", "test accuracy (MAE)"]
    if p["has_truth"]:
        head.append("spearman")
    head += ["kendall tau", "jaccard", "top inputs by mean |eigenvalue| (mean±std)"]
    rows = []
    for r in p["cells"]:
        n = str(r["n"])
        if r["n_diverged"] or r["n_failed"]:
            n += f" (+{r['n_diverged']} diverged, {r['n_failed']} failed)"
        m, s = r["metric"]
        cells = [td(r["dataset"], "dataset"), _setting_cells(p["axes"], r["settings"]),
                 td_num(n, r["n"], col="n"),
                 td_num(fmt_mean_std(m, s, r["regression"]), m, s, col="metric")]
        if p["has_truth"]:
            rho = r["spearman"]
            cells.append(td_num("-" if rho is None or not np.isfinite(rho) else "%+.3f" % rho,
                                rho, col="spearman"))
        cells += _summary_stability_cells(r)
        cells.append(td(fmt_top(r["top"]), "top", "top"))
        rows.append(f'<tr data-cell="{esc(r["id"])}">' + "".join(cells) + "</tr>")
    out.append(table(head, rows, tid="summary-table"))
    notes = ["n: realizations that finished (diverged and failed runs in brackets); "
             "test accuracy and MAE: mean ± std over them (ddof 0)"]
    if p["has_truth"]:
        notes.append("spearman: rank correlation of mean |eigenvalue| with the dataset's "
                     "relevance_truth")
    notes.append("kendall tau, jaccard: the |eigenvalue| rankings of every two realizations "
                 "(tau-b; Jaccard index of the top-k inputs at the k shown), mean ± std over "
                 "the pairs; - with one realization")
    out.append("".join(f'<p class="note">{esc(x)}</p>' for x in notes) + "</section>")
    return "".join(out)


def _summary_stability_cells(r):
    """The summary table's kendall tau and jaccard cells of a cell: its eigenvalues'
    stability, the Jaccard index at the k `specsweep summary` shows."""
    st = r["stability"].get("eigenvalues")
    tau = st["tau"] if st else (None, None)
    j = jaccard_at(st, r["jaccard_k"])
    return [td_num(fmt_tau(st), *tau, col="tau"),
            td_num("k=%d %.3f ± %.3f" % (r["jaccard_k"], *j) if j else "-",
                   *(j or (None, None)), col="jaccard")]


def stability_rankings(r):
    """The rankings of a summary row's stability table, (method, stability) in method
    order: the cell's relevance methods, `spectral` being its eigenvalues where the cell
    stores no relevance/spectral."""
    st = r["stability"]
    out = [(m, st[m]) for m in sorted((m for m in st if m != "eigenvalues"),
                                      key=figures.method_order)]
    if "spectral" not in st and "eigenvalues" in st:
        out.insert(0, ("spectral", st["eigenvalues"]))
    return out


def section_stability(p):
    """Per cell of at least two realizations, the stability of each ranking: pairs, tau,
    the Jaccard index at every k of any of its rankings."""
    if not p["cells"]:
        return ""
    out = ['<section id="stability"><h2>Ranking stability</h2>']
    with_st = [r for r in p["cells"] if r["stability"]]
    for r in with_st:
        rankings = stability_rankings(r)
        ks = sorted({k for _, st in rankings for k in st["k"]})
        trs = []
        for method, st in rankings:
            cells = [td(method, "method"), td_num(str(st["pairs"]), st["pairs"], col="pairs"),
                     td_num(fmt_tau(st), *st["tau"], col="tau")]
            for k in ks:
                j = jaccard_at(st, k)
                cells.append(td_num("%.3f ± %.3f" % j if j else "-", *(j or (None, None)),
                                    col=f"jaccard:k={k}"))
            trs.append(f'<tr data-method="{esc(method)}">' + "".join(cells) + "</tr>")
        out.append(f"<h3>{esc(cell_heading(r['dataset'], p['axes'], r['settings']))}</h3>")
        out.append(table(["method", "pairs", "kendall tau"] + [f"jaccard k = {k}" for k in ks],
                         trs, cls="stability", attrs={"data-cell": r["id"]}))
    n_one = len(p["cells"]) - len(with_st)
    if not with_st:
        notes = ["No cell has two realizations: no pair to compare."]
    else:
        notes = ["Every two realizations of a cell compared: Kendall's tau-b of their "
                 "rankings (|eigenvalue| for spectral, the method's value for the others; "
                 "ties as scipy's tau-b) and the Jaccard index of their top-k inputs (ties to "
                 "the lower index, as the top-k curves take them), mean ± std (ddof 0) over "
                 "the pairs. pairs: those whose rankings are usable (none for a skipped "
                 "method, as spectral on a dense network). spectral is the cell's eigenvalues "
                 "where the cell stores no relevance methods."]
        if n_one:
            notes.append(f"{n_one} cell{'s' * (n_one != 1)} with one realization: no pair "
                         "to compare.")
    out.append("".join(f'<p class="note">{esc(x)}</p>' for x in notes) + "</section>")
    return "".join(out)


def _score_columns(names):
    known = [s for s in MEASURES if s in names]
    return known + sorted(n for n in names if n not in MEASURES)


def _checks_text(checks):
    """The non-zero checks (their mean over runs), or ""."""
    return ", ".join(f"{k} %.2g" % v[0] for k, v in checks.items() if v and v[0])


def _topk_row(label, attrs, st, ks, regression):
    """A row of a top-k table: the metric's mean +- std at every k."""
    cells = [td(label, "method")]
    for j, k in enumerate(ks):
        if st is None or not np.isfinite(st["mean"][j]):
            cells.append(td_num("-", col=f"k={k}"))
        else:
            cells.append(td_num(fmt_mean_std(st["mean"][j], st["std"][j], regression),
                                st["mean"][j], st["std"][j], col=f"k={k}"))
    return f"<tr {attrs}>" + "".join(cells) + "</tr>"


def section_methods(p):
    rows = p["methods"]
    if not rows:
        return ""
    out = ['<section id="methods"><h2>Relevance methods</h2>']
    by_cell = {}
    for r in rows:
        by_cell.setdefault(r["cell"], []).append(r)
    summary = {c["id"]: c for c in p["cells"]}
    for cid, rs in by_cell.items():
        cols = _score_columns({k for r in rs for k in r["scores"]})  # what this cell has
        head = ["method", "n"] + [c.replace("_", " ") for c in cols]
        head.append("top inputs by mean |relevance|")
        trs = []
        for r in rs:
            cells = [td(r["method"], "method"), td_num(str(r["n"]), r["n"], col="n")]
            for c in cols:
                if c in r["scores"]:
                    m, s = r["scores"][c]
                    cells.append(td_num(fmt_score(c, m, s), m, s, col="score:" + c))
                else:
                    cells.append(td_num("-", col="score:" + c))
            cells.append(td(fmt_top(r["top"]), "top", "top"))
            trs.append(f'<tr data-method="{esc(r["method"])}">' + "".join(cells) + "</tr>")
        out.append(f"<h3>{esc(cell_heading(rs[0]['dataset'], p['axes'], rs[0]['settings']))}</h3>")
        out.append(table(head, trs, cls="methods", attrs={"data-cell": cid}))
        c = summary[cid]
        if any(r["topk"] for r in rs) and c["k"]:
            name = "test MAE" if c["regression"] else "test accuracy"
            trs = [_topk_row(r["method"], f'data-method="{esc(r["method"])}"', r["topk"], c["k"],
                             c["regression"]) for r in rs if r["topk"]]
            trs.append(_topk_row("k random inputs", 'data-method=""', c["randomk"], c["k"],
                                 c["regression"]))
            out.append(f'<p class="note">{esc(name)} with the k inputs each method ranks '
                       "highest, the others masked:</p>")
            out.append(table(["method"] + [f"k = {k}" for k in c["k"]], trs, cls="methods-topk",
                             attrs={"data-cell": cid}))
        # settings and checks: what all methods share once, then each method's own
        common = [x for x in rs[0]["method_settings"]
                  if len(rs) > 1 and all(x in r["method_settings"] for r in rs)]
        items = [("", "every method", common)] if common else []
        for r in rs:
            own = [x for x in r["method_settings"] if x not in common]
            chk = _checks_text(r["checks"])
            if own or chk:
                items.append((r["method"], r["method"], own + ([f"checks: {chk}"] if chk else [])))
        if items:
            out.append(f'<ul class="minfo" data-cell="{esc(cid)}">' + "".join(
                f'<li data-method="{esc(m)}"><b>{esc(label)}</b>: {esc(", ".join(xs))}</li>'
                for m, label, xs in items) + "</ul>")
    src = {r["source"] for r in rows}
    note = ("Numbers as stored with each cell: mean ± std over its realizations"
            if src == {"summary"} else
            "Numbers: mean ± std (ddof 0) over the runs of the cell that computed the method"
            if src == {"runs"} else
            "Numbers as stored with the cell, or mean ± std (ddof 0) over its runs where "
            "the cell stores none")
    out.append(f'<p class="note">{esc(note)}; a vector per frequency (fourier) names its '
               "entries f0, f1, ...</p></section>")
    return "".join(out)


def _retrain_text(c, regression):
    """A value of a retraining table: "mean ± std (n=...)", with the runs not ok."""
    tail = f" (n={c['n']}" + (f", {c['not_ok']} not ok" if c["not_ok"] else "") + ")"
    return fmt_mean_std(c["mean"], c["std"], regression) + tail


def figure_id(record):
    """The page's id of a figure (figures.py's file names are safe in an id)."""
    return "fig-" + record["file"]


def section_retraining(p, records):
    """Per parent cell a table: a row per method, a column per (mode, k), the cell with
    all inputs beside (one cell spanning the rows); below it a link to the cell's
    retraining figure in the figures section."""
    tables = p["retraining"]
    if not tables:
        return ""
    shown = {r["cell"]: r for r in records if r["figure"] == "retrain"}
    out = ['<section id="retraining"><h2>Retraining</h2>'
           '<p class="note">The runs of each cell trained again on the k inputs a method ranks '
           'highest (keep k) or on all but them (remove k): test accuracy (MAE for '
           'regression), mean ± std over the realizations (n) as stored with the cell, '
           'beside the cell trained on all inputs; random: k inputs drawn at random, truth: '
           "the dataset's ground truth.</p>"]
    for t in tables:
        out.append(f"<h3>{esc(cell_heading(t['dataset'], p['axes'], t['settings']))}</h3>")
        head = ["method"] + [f"{mode} {k}" for mode, k in t["columns"]] + ["all inputs"]
        m, s, n = t["all_inputs"]
        rows = []
        for i, ln in enumerate(t["lines"]):
            cells = [td(ln["method"], "method")]
            for (mode, k), c in zip(t["columns"], ln["cells"]):
                col = f"{mode}:{k}"
                cells.append(td_num("", col=col) if c is None else
                             td_num(_retrain_text(c, t["regression"]), c["mean"], c["std"],
                                    col=col, attrs={"data-n": c["n"]}))
            if i == 0:
                cells.append(td_num(f"{fmt_mean_std(m, s, t['regression'])} (n={n})", m, s,
                                    col="all", attrs={"data-n": n, "rowspan": len(t["lines"])}))
            rows.append(f'<tr data-method="{esc(ln["method"])}">' + "".join(cells) + "</tr>")
        out.append(table(head, rows, cls="retrain", attrs={"data-cell": t["cell"]}))
        if t["cell"] in shown:
            r = shown[t["cell"]]
            out.append(f'<p class="note">Figure: <a href="#{esc(figure_id(r))}">'
                       f'{esc(r["file"])}</a></p>')
    out.append("</section>")
    return "".join(out)


def _png(path):
    """A PNG file as a data URI, and its width and height from its header."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise OSError(f"{path}: not a PNG file")
    w, h = struct.unpack(">II", data[16:24])
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii"), w, h


def section_figures(p, records, fig_dir):
    out = ['<section id="figures"><h2>Figures</h2>']
    if not records:
        out.append('<p class="note">No figures: no cell has a finished realization.</p></section>')
        return "".join(out)
    by_cell, multi = {}, []
    for r in records:
        if isinstance(r["cell"], str):
            by_cell.setdefault(r["cell"], []).append(r)
        else:
            multi.append(r)
    settings = {c["id"]: c for c in p["cells"]}

    def fig(r):
        kind = r["figure"]
        uri, w, h = _png(os.path.join(fig_dir, r["file"]))
        w, h = round(w * FIG_SCALE), round(h * FIG_SCALE)
        return (f'<figure id="{esc(figure_id(r))}" data-figure="{esc(kind)}" '
                f'data-file="{esc(r["file"])}">'
                f'<img src="{uri}" width="{w}" height="{h}" alt="{esc(kind)}: {esc(r["file"])}">'
                f'<figcaption>{esc(kind)} · {esc(r["file"])}</figcaption></figure>')

    for cid in [c["id"] for c in p["cells"]] + sorted(set(by_cell) - set(settings)):
        recs = by_cell.get(cid)
        if not recs:
            continue
        c = settings.get(cid)
        title = cell_heading(c["dataset"], p["axes"], c["settings"]) if c else cid
        out.append(f'<h3>{esc(title)}</h3><div class="figs">' + "".join(fig(r) for r in recs)
                   + "</div>")
    if multi:
        out.append("<h3>Across cells</h3><div class=\"figs\">" + "".join(fig(r) for r in multi)
                   + "</div>")
    out.append("</section>")
    return "".join(out)


def section_problems(p):
    out = ['<section id="problems"><h2>Runs that diverged or failed</h2>']
    if not p["problems"]:
        out.append('<p class="ok" id="no-problems">None: every run in the file finished.</p>'
                   "</section>")
        return "".join(out)
    has_parent = any(r["parent"] for r in p["problems"])
    head = ["run", "dataset"] + p["axes"] + ["seed"] + (["parent"] if has_parent else []) \
        + ["status", "message"]
    rows = []
    for r in p["problems"]:
        cells = [td(r["id"], "run"), td(r["dataset"], "dataset"),
                 _setting_cells(p["axes"], r["settings"]),
                 td_num(str(r["seed"]), r["seed"], col="seed")]
        if has_parent:
            cells.append(td(r["parent"] or "-", "parent"))
        cells += [td(r["status"], "status", f"status-{r['status']}"),
                  td(r["message"] or "-", "message", "msg")]
        rows.append(f'<tr data-run="{esc(r["id"])}">' + "".join(cells) + "</tr>")
    out.append(table(head, rows, tid="problems-table") + "</section>")
    return "".join(out)


def render(p, records, fig_dir):
    """The page as one HTML string."""
    nav = [("plan", "Plan"), ("summary", "Summary")]
    if p["cells"]:
        nav.append(("stability", "Stability"))
    if p["methods"]:
        nav.append(("methods", "Relevance methods"))
    if p["retraining"]:
        nav.append(("retraining", "Retraining"))
    nav += [("figures", "Figures"), ("problems", f"Diverged or failed ({len(p['problems'])})")]
    title = f"specsweep: {p['sweep_name']}"
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f'<header><div class="in"><h1>{esc(title)}</h1>',
        f'<div class="muted">{esc(os.path.basename(p["path"]))} · created {esc(p["root"].get("created_utc", "-"))}'
        f' · specsweep {esc(p["root"].get("specsweep_version", "-"))}</div>',
        "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav) + "</nav></div></header>",
        "<main>", section_plan(p), section_summary(p), section_stability(p), section_methods(p),
        section_retraining(p, records), section_figures(p, records, fig_dir), section_problems(p),
        f'<p class="note">Written by analysis/report.py at {made} from the results file alone.</p>',
        "</main></body></html>\n"])


def write_report(results, out, fig_dir=None, rel=figures.DEFAULT_ZERO_THRESHOLD):
    """Read results, draw the figures (into fig_dir, kept with figures.json, or a temporary
    directory) and write the page to out atomically. Returns (page model, figure records).
    Raises figures.ResultsError for a file that cannot be used."""
    res = figures.load(results)
    try:
        extra = read_file(results, res)
    except (KeyError, OSError, ValueError, TypeError) as e:
        raise figures.ResultsError(f"{results}: malformed results file: {e}") from None
    p = build(res, extra)
    with tempfile.TemporaryDirectory(prefix="report-figs-") as tmp:
        d = fig_dir or tmp
        os.makedirs(d, exist_ok=True)
        records = figures.make_figures(res, d, rel, log=lambda s: None)
        if fig_dir:
            figures.write_index(res, d, rel, records)
        page = render(p, records, d)
    tmp_out = out + ".tmp"
    with open(tmp_out, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp_out, out)
    return p, records


def main(argv=None):
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the specsweep results file (HDF5)")
    ap.add_argument("-o", "--output", required=True, help="the HTML file to write")
    ap.add_argument("--figures", metavar="DIR",
                    help="also keep the PNG files and figures.json in DIR")
    ap.add_argument("--zero-threshold", type=float, default=figures.DEFAULT_ZERO_THRESHOLD,
                    metavar="REL", help="as figures.py (default %(default)g)")
    a = ap.parse_args(argv)
    if not (a.zero_threshold >= 0 and math.isfinite(a.zero_threshold)):
        ap.error(f"--zero-threshold must be a finite number >= 0, not {a.zero_threshold}")
    outdir = os.path.dirname(os.path.abspath(a.output))
    if not os.path.isdir(outdir):
        print(f"report.py: the directory of {a.output} does not exist", file=sys.stderr)
        return 2
    try:
        p, records = write_report(a.results, a.output, a.figures, a.zero_threshold)
    except figures.ResultsError as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"report.py: cannot write {e.filename or a.output}: {e.strerror or e}",
              file=sys.stderr)
        return 2
    if a.figures:
        print(f"{len(records)} figures in {a.figures}")
    print(f"report: {os.path.abspath(a.output)} ({len(p['cells'])} cells, {len(records)} "
          f"figures, {len(p['problems'])} runs diverged or failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
