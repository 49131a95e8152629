#!/usr/bin/env python3
"""Table 1 of "Machine learning in spectral domain" (Giambagli et al.) from specsweep
results files, with the paper's figures of accuracy against the hidden width and the
weight-distribution comparison.

    table1.py RESULTS.h5 [RESULTS.h5 ...] [--out DIR]

Reads the /runs of files written by sweeps that record their model (the
sweeps/spectral-domain-*.yaml files): every run carries model.* and init.* attributes,
n_trainable and, when retracted, the compact network's accuracy and weight histogram
(docs/FORMATS.md). Nothing is taken from group names: a run's

  family       from model.hidden and model.activations: no hidden layer = perceptron;
               every hidden layer linear = linear wide (one layer) or linear deep (more);
               otherwise non-linear;
  regime       from model.spectral, model.trainable_weights and train_eigenvectors:
               eigenvalues only (spectral, eigenvectors frozen), eigenvalues and
               eigenvectors, all weights (dense), a subset of the weights (dense,
               trainable_weights match_eigenvalues);
  initialisation  the bundle axis `initialisation` when there is one, else from init.*.

Prints Markdown on stdout, per data set and initialisation: Table 1 (the best mean test
accuracy over the architectures of each family, +- the std over realizations, with the
architecture that reached it) beside the paper's values, the perceptron's four regimes,
and the checks of the paper's claims (eigenvalues only above the subset of weights at an
equal number of trainable parameters, architecture by architecture; eigenvalues and
eigenvectors on par with all weights; the retracted networks' accuracy equal to the full
ones') and the spread of the equivalent perceptron's weights per regime (the paper
compares their distributions). With --out DIR: DIR/<dataset>_<init>_<family>.png (accuracy against the
architecture per regime), DIR/<dataset>_<init>_weights.png (the equivalent perceptron's
weight histograms per regime) and DIR/table1.json (every number printed and plotted).
Exit 2 with a message when a file cannot be read or holds no such runs.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

import h5py
import numpy as np

FORMAT = "specsweep-results"
FAMILIES = ("perceptron", "linear wide", "linear deep", "non-linear")
REGIMES = ("subset", "eigenvalues", "direct", "eigen_vectors")
REGIME_LABEL = {
    "subset": "constrained direct NN (a subset of the weights)",
    "eigenvalues": "train Λ (eigenvalues only)",
    "direct": "unconstrained direct NN (all weights)",
    "eigen_vectors": "train Λ and Φ (eigenvalues and eigenvectors)",
}
# The paper's Table 1 (MNIST, best mean accuracy in %) and its perceptron (mean +- std
# over 5 runs, %).
PAPER_TABLE = {
    "subset": {"linear wide": 87.8, "linear deep": 90.8, "non-linear": 88.9},
    "eigenvalues": {"linear wide": 90.9, "linear deep": 91.5, "non-linear": 93.5},
    "direct": {"linear wide": 91.0, "linear deep": 91.2, "non-linear": 96.4},
    "eigen_vectors": {"linear wide": 92.2, "linear deep": 91.8, "non-linear": 97.3},
}
PAPER_PERCEPTRON = {"eigenvalues": (82, 2), "subset": (79, 3), "direct": (92.7, 0.1),
                    "eigen_vectors": (92.5, 0.2)}
# "on par": best means within this many percentage points, or within one std
PAR_POINTS = 1.0


class ResultsError(Exception):
    """A results file cannot be used (the message names it)."""


def text(v):
    """An attribute as str (h5py gives bytes or numpy scalars for some writers)."""
    if isinstance(v, bytes):
        return v.decode()
    return str(v)


def family_of(hidden, acts):
    if len(hidden) == 0:
        return "perceptron"
    if all(a == "linear" for a in acts):
        return "linear wide" if len(hidden) == 1 else "linear deep"
    return "non-linear"


def regime_of(a):
    spectral = text(a["model.spectral"])
    if spectral == "none":
        return "subset" if text(a["model.trainable_weights"]) != "all" else "direct"
    if spectral != "all":
        return None          # spectral first: not one of the paper's regimes
    return "eigen_vectors" if int(a["train_eigenvectors"]) else "eigenvalues"


def init_of(a):
    if "initialisation" in a:
        return text(a["initialisation"])
    ev, lout = text(a["init.eigenvectors"]), np.asarray(a["init.lambda_out"])
    return "glorot" if ev == "glorot" and lout[0] == lout[1] == 0 else f"eigenvectors {ev}"


def load_runs(paths):
    """Every ok run of every file: a dict per run."""
    runs = []
    for path in paths:
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise ResultsError(f"{path}: cannot open as HDF5 ({e})")
        with f:
            if text(f.attrs.get("format", "")) != FORMAT:
                raise ResultsError(f"{path}: not a specsweep results file")
            for name, g in f.get("runs", {}).items():
                a = g.attrs
                if "model.hidden" not in a:
                    continue           # a sweep that does not record its model
                regime = regime_of(a)
                if regime is None or text(a["status"]) != "ok":
                    continue
                hidden = [int(h) for h in np.atleast_1d(a["model.hidden"])]
                acts = [s for s in text(a["model.activations"]).split(",") if s]
                r = dict(file=path, id=name, dataset=text(a["dataset"]),
                         cell=text(a["cell_id"]), seed=int(a["seed"]), regime=regime,
                         init=init_of(a), hidden=hidden,
                         family=family_of(hidden, acts),
                         acc=float(a["test_accuracy"]),
                         n_trainable=int(a["n_trainable"]) if "n_trainable" in a else None,
                         epochs=int(a["epochs"]), lr=float(a["learning_rate"]))
                if "retracted_test_accuracy" in a:
                    r["retracted_acc"] = float(a["retracted_test_accuracy"])
                    r["histogram"] = g["weights_histogram"][()]
                    r["edges"] = g["weights_histogram_edges"][()]
                    r["shape"] = [int(s) for s in g["retracted_shape"][()]]
                runs.append(r)
    if not runs:
        raise ResultsError(f"{', '.join(paths)}: no runs that record their model (sweeps "
                           "with model or bundle axes, e.g. sweeps/spectral-domain-*.yaml)")
    return runs


def arch_label(hidden, n_in=784, n_out=10):
    return "-".join(str(x) for x in [n_in] + list(hidden) + [n_out])


def cells(runs):
    """(dataset, init, family, regime, hidden) -> runs."""
    out = defaultdict(list)
    for r in runs:
        out[(r["dataset"], r["init"], r["family"], r["regime"], tuple(r["hidden"]))].append(r)
    return out


def stats(rs):
    acc = np.array([r["acc"] for r in rs]) * 100
    return float(acc.mean()), float(acc.std()), len(acc)


def fmt(m, s):
    return f"{m:.1f} ± {s:.1f}"


def best(cellmap, dataset, init, family, regime):
    """The architecture of best mean accuracy: (mean, std, n, hidden) or None."""
    found = None
    for (d, i, fam, reg, hidden), rs in cellmap.items():
        if (d, i, fam, reg) != (dataset, init, family, regime):
            continue
        m, s, n = stats(rs)
        if found is None or m > found[0]:
            found = (m, s, n, hidden)
    return found


def table(cellmap, dataset, init, out, report):
    """Table 1 of one data set and initialisation, beside the paper's."""
    fams = [f for f in FAMILIES[1:]
            if any(k[:3] == (dataset, init, f) for k in cellmap)]
    if fams:
        out.append(f"| regime | " + " | ".join(f"{f} (ours)" for f in fams) +
                   " | " + " | ".join(f"{f} (paper)" for f in fams) + " |")
        out.append("|---" * (1 + 2 * len(fams)) + "|")
        for reg in REGIMES:
            cells_ = []
            for fam in fams:
                b = best(cellmap, dataset, init, fam, reg)
                if b is None:
                    cells_.append("-")
                    continue
                m, s, n, hidden = b
                cells_.append(f"{fmt(m, s)} ({arch_label(hidden)}, n={n})")
                report["table"].setdefault(dataset, {}).setdefault(init, {}).setdefault(
                    fam, {})[reg] = dict(mean=m, std=s, n=n, hidden=list(hidden))
            paper = [f"{PAPER_TABLE[reg][f]:.1f}" for f in fams]
            out.append(f"| {REGIME_LABEL[reg]} | " + " | ".join(cells_) + " | " +
                       " | ".join(paper) + " |")
        out.append("")
    if any(k[:3] == (dataset, init, "perceptron") for k in cellmap):
        out.append("| perceptron 784-10 | ours (mean ± std) | n trainable | paper |")
        out.append("|---|---|---|---|")
        for reg in REGIMES:
            rs = cellmap.get((dataset, init, "perceptron", reg, ()), [])
            if not rs:
                continue
            m, s, n = stats(rs)
            nt = rs[0]["n_trainable"]
            pm, ps = PAPER_PERCEPTRON[reg]
            out.append(f"| {REGIME_LABEL[reg]} | {fmt(m, s)} (n={n}) | {nt} | {pm} ± {ps} |")
            report["perceptron"].setdefault(dataset, {}).setdefault(init, {})[reg] = dict(
                mean=m, std=s, n=n, n_trainable=nt)
        out.append("")


def checks(cellmap, dataset, init, out, report):
    """The paper's claims, on our numbers."""
    lines, rec = [], {}
    # 1. eigenvalues only above the subset of weights, at equal trainable parameters
    wins = total = equal_counts = 0
    worst = None
    for (d, i, fam, reg, hidden), rs in sorted(cellmap.items()):
        if (d, i, reg) != (dataset, init, "eigenvalues"):
            continue
        sub = cellmap.get((d, i, fam, "subset", hidden))
        if not sub:
            continue
        total += 1
        me, _, _ = stats(rs)
        ms, _, _ = stats(sub)
        wins += me > ms
        equal_counts += rs[0]["n_trainable"] == sub[0]["n_trainable"]
        if worst is None or me - ms < worst[0]:
            worst = (me - ms, fam, hidden)
    if total:
        lines.append(f"- eigenvalues only above the subset of as many weights: {wins} of "
                     f"{total} architectures (equal n_trainable in {equal_counts} of them); "
                     f"smallest margin {worst[0]:+.1f} points ({worst[1]}, "
                     f"{arch_label(worst[2])})")
        rec["eigenvalues_above_subset"] = dict(wins=wins, of=total, equal_counts=equal_counts,
                                               smallest_margin=worst[0])
    # 2. eigenvalues and eigenvectors on par with all weights (best means per family)
    for fam in FAMILIES:
        be = best(cellmap, dataset, init, fam, "eigen_vectors")
        bd = best(cellmap, dataset, init, fam, "direct")
        if not be or not bd:
            continue
        diff = be[0] - bd[0]
        par = abs(diff) <= max(PAR_POINTS, be[1], bd[1])
        lines.append(f"- {fam}: Λ and Φ {fmt(be[0], be[1])} vs all weights "
                     f"{fmt(bd[0], bd[1])}: {diff:+.1f} points, "
                     f"{'on par' if par else 'not on par'} (within max({PAR_POINTS:g}, "
                     f"std))")
        rec.setdefault("eigenvectors_vs_direct", {})[fam] = dict(diff=diff, on_par=par)
    # 3. retraction: compact accuracy = full accuracy
    diffs = [abs(r["acc"] - r["retracted_acc"]) for rs in cellmap.values() for r in rs
             if r["dataset"] == dataset and r["init"] == init and "retracted_acc" in r]
    if diffs:
        lines.append(f"- retraction: |full - retracted test accuracy| at most "
                     f"{max(diffs):.2g} over {len(diffs)} runs")
        rec["retraction_max_diff"] = max(diffs)
    if lines:
        out.append("Checks of the paper's claims:")
        out.extend(lines)
        out.append("")
    report["checks"].setdefault(dataset, {})[init] = rec


def archs_of(cellmap, dataset, init, fam):
    """The architectures (hidden widths) of a family, shallow and narrow first."""
    return sorted({k[4] for k in cellmap if k[:3] == (dataset, init, fam)},
                  key=lambda h: (len(h), h))


def weight_stats(cellmap, dataset, init, fam, h):
    """The pooled histogram of the equivalent weights of the runs of each regime at
    architecture h: {regime: dict(centers, density, std, inside)}; std from the bin centres
    of the weights inside the range, inside the fraction of weights the range holds."""
    out = {}
    for reg in REGIMES:
        rs = [r for r in cellmap.get((dataset, init, fam, reg, h), []) if "histogram" in r]
        if not rs:
            continue
        counts = np.sum([r["histogram"] for r in rs], axis=0).astype(float)
        edges = rs[0]["edges"]
        centers = 0.5 * (edges[1:] + edges[:-1])
        total = max(counts.sum(), 1.0)
        mean = float((counts * centers).sum() / total)
        std = float(math.sqrt(max((counts * (centers - mean) ** 2).sum() / total, 0.0)))
        n_w = rs[0]["shape"][0] * rs[0]["shape"][1]
        out[reg] = dict(centers=centers, density=counts / total / np.diff(edges), std=std,
                        inside=float(counts.sum() / (n_w * len(rs))), range=float(edges[-1]))
    return out


def weight_lines(cellmap, dataset, init, out, report):
    """The equivalent perceptron's weights per regime (the paper's distribution
    comparison): their spread, for the perceptron and the widest linear network."""
    lines = []
    for fam in ("perceptron", "linear wide"):
        archs = archs_of(cellmap, dataset, init, fam)
        if not archs:
            continue
        ws = weight_stats(cellmap, dataset, init, fam, archs[-1])
        if not ws:
            continue
        parts = [f"{reg} {w['std']:.3f} ({100 * w['inside']:.0f} % inside ±{w['range']:g})"
                 for reg, w in ws.items()]
        lines.append(f"- {fam} {arch_label(archs[-1])}: std of the equivalent weights: "
                     + ", ".join(parts))
        report["weights"].setdefault(dataset, {}).setdefault(init, {})[fam] = {
            reg: dict(std=w["std"], inside=w["inside"]) for reg, w in ws.items()}
    if lines:
        out.append("Equivalent direct-space weights (784 -> 10), pooled over the realizations:")
        out.extend(lines)
        out.append("")


def save(fig, ax, title, outdir, name, series, report):
    """Title, legend and write one figure; its numbers go to report["figures"][name]."""
    import matplotlib.pyplot as plt
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, name), dpi=110)
    plt.close(fig)
    report["figures"][name] = series
    print(f"figure {os.path.join(outdir, name)}", file=sys.stderr)


def figures(cellmap, outdir, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(outdir, exist_ok=True)
    colors = {"subset": "tab:gray", "eigenvalues": "tab:red", "direct": "tab:blue",
              "eigen_vectors": "tab:green"}
    keys = sorted({k[:3] for k in cellmap})
    for dataset, init, fam in keys:
        if fam == "perceptron":
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        archs = archs_of(cellmap, dataset, init, fam)
        xs = list(range(len(archs)))
        series = {}
        for reg in REGIMES:
            pts = [(x, stats(cellmap[(dataset, init, fam, reg, h)]))
                   for x, h in zip(xs, archs) if (dataset, init, fam, reg, h) in cellmap]
            if not pts:
                continue
            x = [p[0] for p in pts]
            m = [p[1][0] for p in pts]
            s = [p[1][1] for p in pts]
            ax.errorbar(x, m, yerr=s, marker="o", capsize=3, color=colors[reg],
                        label=REGIME_LABEL[reg])
            series[reg] = dict(x=[arch_label(archs[i]) for i in x], mean=m, std=s)
        ax.set_xticks(xs)
        ax.set_xticklabels([arch_label(h)[4:-3] for h in archs], rotation=30)
        ax.set_xlabel("hidden layers (N2, N3, ...)")
        ax.set_ylabel("test accuracy (%)")
        save(fig, ax, f"{dataset}, {fam}, init {init}", outdir,
             f"{dataset}_{init}_{fam.replace(' ', '-')}.png", series, report)
    # the equivalent perceptrons' weights, pooled over the runs of each regime, for the
    # perceptron and for the widest linear network
    for dataset, init in sorted({k[:2] for k in cellmap}):
        for fam in ("perceptron", "linear wide"):
            archs = archs_of(cellmap, dataset, init, fam)
            if not archs:
                continue
            h = archs[-1]
            fig, ax = plt.subplots(figsize=(6, 4))
            series = {}
            for reg, w in weight_stats(cellmap, dataset, init, fam, h).items():
                ax.plot(w["centers"], w["density"], color=colors[reg], label=REGIME_LABEL[reg])
                series[reg] = dict(centers=w["centers"].tolist(),
                                   density=w["density"].tolist(), std=w["std"],
                                   inside=w["inside"])
            ax.set_yscale("log")
            ax.set_xlabel("equivalent weight w (784 -> 10)")
            ax.set_ylabel("density")
            save(fig, ax, f"{dataset}, {fam} {arch_label(h)}, init {init}", outdir,
                 f"{dataset}_{init}_{fam.replace(' ', '-')}_weights.png", series, report)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--out", help="directory for the figures and table1.json")
    args = ap.parse_args(argv)
    try:
        runs = load_runs(args.results)
    except ResultsError as e:
        print(f"table1: {e}", file=sys.stderr)
        return 2
    cellmap = cells(runs)
    report = dict(table={}, perceptron={}, checks={}, weights={}, figures={})
    out = ["# Table 1 of \"Machine learning in spectral domain\" from specsweep results", ""]
    for dataset in sorted({r["dataset"] for r in runs}):
        for init in sorted({r["init"] for r in runs if r["dataset"] == dataset}):
            rs = [r for r in runs if r["dataset"] == dataset and r["init"] == init]
            epochs = sorted({r["epochs"] for r in rs})
            seeds = sorted({r["seed"] for r in rs})
            out.append(f"## {dataset}, initialisation {init}")
            out.append("")
            out.append(f"{len(rs)} runs; epochs {', '.join(map(str, epochs))}; seeds "
                       f"{', '.join(map(str, seeds))}. Best mean test accuracy (%) over "
                       f"the architectures of each family, ± std over realizations, with "
                       f"the architecture; the paper's values are for the 60,000 MNIST "
                       f"digits.")
            out.append("")
            table(cellmap, dataset, init, out, report)
            checks(cellmap, dataset, init, out, report)
            weight_lines(cellmap, dataset, init, out, report)
    print("\n".join(out))
    if args.out:
        figures(cellmap, args.out, report)
        with open(os.path.join(args.out, "table1.json"), "w") as f:
            json.dump(report, f, indent=1, default=lambda o: o.tolist()
                      if hasattr(o, "tolist") else str(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
