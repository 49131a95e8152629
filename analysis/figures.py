#!/usr/bin/env python3
"""Figures of the input-relevance papers from a specsweep results file.

    figures.py RESULTS.h5 --out DIR

Reads only RESULTS.h5 (format_version 1) and finds summary cells by their attributes.
For every cell it writes
  <cell>_eigenvalues.png   mean +- std |eigenvalue| per input (fig. 3 left, fig. 4 upper right)
  <cell>_truth.png         |eigenvalue| vs ground-truth relevance, synthetic data only
                           (fig. 3 right, fig. 4 lower right)
  <cell>_topk.png          test accuracy with only the top-k inputs vs k random ones
                           (figs. 6, 8b, 9 right)
and prints one line per figure. Exit 2 if the file is not a specsweep results file.
"""
import argparse
import os
import sys

import h5py
import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(msg):
    print(f"figures.py: {msg}", file=sys.stderr)
    sys.exit(2)


def attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path):
    """Return (datasets, cells): dicts of plain numpy/py values read from the file."""
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: not an HDF5 file ({e})")
    with f:
        if attr_str(f.attrs.get("format", "")) != "specsweep-results":
            fail(f"{path}: not a specsweep results file")
        if int(f.attrs.get("format_version", -1)) != 1:
            fail(f"{path}: format_version {f.attrs.get('format_version')} is not supported")
        datasets = {}
        for name, g in f.get("datasets", {}).items():
            d = {k: (attr_str(v) if isinstance(v, (bytes, str)) else v) for k, v in g.attrs.items()}
            d["relevance_truth"] = g["relevance_truth"][()] if "relevance_truth" in g else None
            datasets[name] = d
        cells = []
        for gname, g in f.get("summary", {}).items():
            c = {k: (attr_str(v) if isinstance(v, (bytes, str)) else v) for k, v in g.attrs.items()}
            for k in g.keys():
                c[k] = g[k][()]
            c["group"] = gname
            cells.append(c)
    return datasets, cells


def swept_label(cell, datasets):
    skip = {"dataset", "n_realizations", "n_diverged", "n_failed", "cell_id", "group"}
    keys = [k for k in cell if k not in skip and np.ndim(cell[k]) == 0 and not isinstance(cell[k], str)]
    keys = [k for k in keys if k not in ("seeds",)]
    parts = [f"{k}={float(cell[k]):.3g}" for k in sorted(keys)]
    return f"{cell['dataset']}" + (" (" + ", ".join(parts) + ")" if parts else "")


def fig_eigenvalues(cell, label, path):
    mean, std = cell["eigenvalues_abs_mean"], cell["eigenvalues_abs_std"]
    x = np.arange(len(mean))  # input index, as in the results file and `specsweep summary`
    fig, ax = plt.subplots(figsize=(min(12, max(5, 0.25 * len(mean) + 2)), 3.5))
    if len(mean) <= 100:
        ax.errorbar(x, mean, yerr=std, fmt="o", ms=4, capsize=2)
    else:
        ax.plot(x, mean, lw=0.8)
        ax.fill_between(x, mean - std, mean + std, alpha=0.3)
    if len(mean) <= 40:
        ax.set_xticks(x)
    ax.set_xlabel("input feature (index)")
    ax.set_ylabel("|eigenvalue| (mean ± std)")
    ax.set_title(f"{label}\n{int(cell['n_realizations'])} realizations", fontsize=9)
    ax.axhline(0, color="k", lw=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fig_truth(cell, truth, label, path):
    mean, std = cell["eigenvalues_abs_mean"], cell["eigenvalues_abs_std"]
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    ax.errorbar(truth, mean, yerr=std, fmt="o", ms=4, capsize=2)
    ax.set_xlabel("ground-truth relevance")
    ax.set_ylabel("|eigenvalue| (mean ± std)")
    ax.set_title(label, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fig_topk(cell, label, path):
    k = cell["topk"]
    top, rnd = np.atleast_2d(cell["topk_accuracy"]), np.atleast_2d(cell["randomk_accuracy"])
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for arr, name in ((top, "top-k by eigenvalue"), (rnd, "k random inputs")):
        m, s = arr.mean(axis=0), arr.std(axis=0)
        ax.errorbar(k, m, yerr=s, fmt="o-", ms=4, capsize=2, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("number of inputs kept (k)")
    ax.set_ylabel("test accuracy")
    ax.set_title(label, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    a = ap.parse_args(argv)
    datasets, cells = load(a.results)
    os.makedirs(a.out, exist_ok=True)
    written = []
    for cell in sorted(cells, key=lambda c: c["group"]):
        label = swept_label(cell, datasets)
        base = os.path.join(a.out, cell["group"])
        fig_eigenvalues(cell, label, base + "_eigenvalues.png")
        written.append(base + "_eigenvalues.png")
        truth = datasets.get(cell["dataset"], {}).get("relevance_truth")
        if truth is not None:
            fig_truth(cell, truth, label, base + "_truth.png")
            written.append(base + "_truth.png")
        if "topk" in cell and np.size(cell["topk"]) > 0 and int(datasets.get(cell["dataset"], {}).get("n_classes", 1)) > 0:
            fig_topk(cell, label, base + "_topk.png")
            written.append(base + "_topk.png")
    for w in written:
        print(f"wrote {w}")
    if not cells:
        print(f"figures.py: {a.results} has no finished cells yet; nothing to draw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
