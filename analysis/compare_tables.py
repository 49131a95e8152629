#!/usr/bin/env python3
"""The relevance methods of a results file side by side, as Markdown tables.

    compare_tables.py RESULTS.h5 [--k K]

One table per summary cell that has post-hoc methods (docs/COMPARISON.md shows them for the
comparison sweeps), in the sweep's order (cell_index). One row per method, mean +- std
over the cell's realizations (ddof 0, as /summary stores them):

  Spearman, recall, AUROC  the method's scores against the dataset's relevance_truth
                           (support recall: the share of the true support among as many
                           top-ranked inputs); columns left out without a truth
  top-k                    test accuracy (regression: test MAE, lower is better) with the
                           method's k top-ranked inputs; k is --k, else the smallest k of
                           the curve keeping >= 10 % of the inputs (figures.py's rule); a
                           last row gives k random inputs
  Kendall tau, Jaccard     the stability of the method's ranking across the cell's
                           realizations: mean +- std over pairs of realizations of
                           Kendall's tau-b and of the Jaccard index of the top-k sets
                           (/summary's stability_*)
  seconds                  the method's seconds per run
  x training               those seconds over the run's training seconds (mean of the
                           per-run ratios): what the method costs on top of training
                           (spectral's eigenvalues come with training: only reading them)

On a dense network spectral is skipped; its row "row norms" ranks the inputs by the
norms of their first-layer weights ||W_i,:|| instead (what /runs/<id>/eigenvalues holds
for a dense network, and what the cell's own top-k curve uses), scored here against the
truth the same way.

After a cell's table, where the sweep retrains (relevance.retrain), a table of the
retraining runs' test accuracy (MAE): one row per method (random and truth last), one
column per mode and k, mean +- std over the realizations (/summary/<cell>/retrain), and
the accuracy with every input in the title. Reads only the results file; prints to
standard output.
"""
import argparse
import importlib.util
import os
import sys

import h5py
import numpy as np

# figures.py's method order, k rule and ranks, so that tables and figures agree
_spec = importlib.util.spec_from_file_location(
    "figures", os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures.py"))
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

SCORES = (("spearman", "Spearman", "%+.3f"), ("support_recall", "recall", "%.2f"),
          ("auroc", "AUROC", "%.3f"))


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def pm(mean, std, fmt):
    """'mean ± std', or '-' when the mean is not a number."""
    if mean is None or not np.isfinite(mean):
        return "-"
    return (fmt % mean) + " ± " + (fmt % std).lstrip("+")


def mean_std(v):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return (v.mean(), v.std()) if v.size else (np.nan, np.nan)


def train_seconds(f, cell):
    """Training seconds of the cell's ok runs, by seed."""
    out = {}
    for r in f["runs"].values():
        a = r.attrs
        if text(a.get("cell_id", "")) == cell and text(a.get("status", "")) == "ok":
            out[int(a["seed"])] = float(a["train_seconds"])
    return out


def cell_title(g):
    a = g.attrs
    keys = [k for k in text(a.get("swept_keys", "")).split(",") if k]
    where = ", ".join(f"{k}={text(a[k])}" for k in keys if k in a)
    return text(a["dataset"]) + (f", {where}" if where else "")


def scores(score, truth):
    """Spearman, support recall (ties to the lower index) and AUROC (ties half) of score
    against truth > 0, as src/stats.c computes them."""
    rs, rt = figures.rankdata(score), figures.rankdata(truth)
    sp = np.corrcoef(rs, rt)[0, 1] if rs.std() > 0 and rt.std() > 0 else np.nan
    pos = truth > 0
    s = int(pos.sum())
    if s in (0, len(truth)):
        return sp, np.nan, np.nan
    top = sorted(range(len(score)), key=lambda i: (-score[i], i))[:s]
    recall = pos[top].mean()
    auroc = (rs[pos].sum() - s * (s + 1) / 2.0) / (s * (len(truth) - s))
    return sp, recall, auroc


def norms_row(g, col, k, truth_v):
    """The row of a dense cell's first-layer row norms (g/eigenvalues, g/topk_accuracy;
    their stability is the cell's own)."""
    eig = np.abs(g["eigenvalues"][()])
    cells = ["row norms"]
    if truth_v is not None:
        per = np.array([scores(e, truth_v) for e in eig])
        cells += [pm(*mean_std(per[:, j]), fmt) for j, (_, _, fmt) in enumerate(SCORES)]
    cells += [pm(*mean_std(g["topk_accuracy"][:, col]), "%.4f")] + stability(g, k)
    return cells + ["-", "-"]


def stability(g, k):
    """Kendall's tau and the top-k Jaccard index of group g (a cell, or one of its
    methods), mean ± std over the pairs of realizations, as cells."""
    a = g.attrs
    if int(a.get("stability_pairs", 0)) == 0:
        return ["-", "-"]
    tau = pm(a.get("stability_kendall_tau_mean"), a.get("stability_kendall_tau_std"), "%+.3f")
    ks = [int(v) for v in g["stability_k"][()]] if "stability_k" in g else []
    if k not in ks:
        return [tau, "-"]
    j = ks.index(k)
    return [tau, pm(g["stability_jaccard_mean"][j], g["stability_jaccard_std"][j], "%.3f")]


def method_row(name, m, col, k, truth, ratios):
    """One table row of method group m (col: the top-k column index, k its k)."""
    if int(m.attrs.get("n_skipped", 0)) == m["values"].shape[0]:
        return [name, "skipped"] + [""] * (len(SCORES) * bool(truth) + 4)
    cells = [name]
    if truth:
        cells += [pm(m.attrs.get(k + "_mean"), m.attrs.get(k + "_std"), fmt)
                  for k, _, fmt in SCORES]
    cells.append(pm(*mean_std(m["topk_accuracy"][:, col]), "%.4f"))
    cells += stability(m, k)
    sec = m["seconds"][()]
    cells.append(pm(*mean_std(sec), "%.3g"))
    cells.append(pm(*mean_std(sec / ratios), "%.2g"))
    return cells


def cell_table(f, cid, g, k_wanted):
    """The Markdown lines of summary cell g (id cid)."""
    ds = f["datasets"][text(g.attrs["dataset"])]
    n_in = int(ds.attrs["n_inputs"])
    truth = "relevance_truth" in ds
    reg = int(ds.attrs["n_classes"]) == 0
    topk = [int(k) for k in g["topk"][()]]
    k = k_wanted if k_wanted in topk else figures.quality_k(topk, n_in)
    col = topk.index(k)
    seeds = [int(s) for s in g["seeds"][()]]
    tsec = train_seconds(f, cid)
    ratios = np.array([tsec.get(s, np.nan) for s in seeds])
    metric = "MAE" if reg else "accuracy"
    acc = g["test_loss"][()] if reg else g["test_accuracy"][()]
    lines = [f"{cell_title(g)}: {len(seeds)} realizations, training "
             f"{pm(*mean_std(ratios), '%.3g')} s per run, test {metric} "
             f"{pm(*mean_std(acc), '%.4f')}", ""]
    head = ["method"] + ([h for _, h, _ in SCORES] if truth else [])
    head += [f"top-{k} {metric}", "Kendall tau", f"Jaccard top-{k}", "seconds", "x training"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    rel = g["relevance"]
    order = sorted(rel, key=figures.method_order)
    for name in order:
        lines.append("| " + " | ".join(method_row(name, rel[name], col, k, truth, ratios)) +
                     " |")
        if name == "spectral" and "skipped" in lines[-1]:
            truth_v = ds["relevance_truth"][()] if truth else None
            lines.append("| " + " | ".join(norms_row(g, col, k, truth_v)) + " |")
    rnd = ["random k"] + ["-"] * (len(SCORES) * truth)
    rnd += [pm(*mean_std(g["randomk_accuracy"][:, col]), "%.4f"), "-", "-", "-", "-"]
    lines.append("| " + " | ".join(rnd) + " |")
    if "retrain" in g:
        lines += [""] + retrain_table(g, metric, acc)
    return lines


def retrain_table(g, metric, acc):
    """The Markdown lines of cell g's retraining curves (g/retrain/<mode>/<method>)."""
    cols, rows = [], {}
    for mode in ("keep", "remove"):
        if mode not in g["retrain"]:
            continue
        for method, c in g["retrain"][mode].items():
            for k, m, s in zip(c["k"][()], c["metric_mean"][()], c["metric_std"][()]):
                if (mode, int(k)) not in cols:
                    cols.append((mode, int(k)))
                rows.setdefault(method, {})[(mode, int(k))] = pm(m, s, "%.4f")
    order = sorted(rows, key=figures.retrain_order)
    lines = [f"retraining, {cell_title(g)}: test {metric} with every input "
             f"{pm(*mean_std(acc), '%.4f')}", ""]
    lines.append("| method | " + " | ".join(f"{mode} {k}" for mode, k in cols) + " |")
    lines.append("|" + "---|" * (len(cols) + 1))
    for m in order:
        lines.append("| " + " | ".join([m] + [rows[m].get(c, "-") for c in cols]) + " |")
    return lines


def tables(path, k_wanted=None):
    """Every table of the results file at path, as one string."""
    out = []
    with h5py.File(path, "r") as f:
        cells = [(int(g.attrs.get("cell_index", 0)), cid, g) for cid, g in f["summary"].items()
                 if "relevance" in g and any(m != "spectral" for m in g["relevance"])]
        for _, cid, g in sorted(cells, key=lambda c: c[0]):
            out += cell_table(f, cid, g, k_wanted) + [""]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="compare_tables.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the specsweep results file (HDF5)")
    ap.add_argument("--k", type=int, help="the k of the top-k column")
    a = ap.parse_args(argv)
    sys.stdout.write(tables(a.results, a.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
