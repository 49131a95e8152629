"""Tests of analysis/compare_tables.py (run by /usr/bin/python3 -m pytest).

A real tiny sweep ($SPECSWEEP, which ctest sets) over a spectral and a dense network
with a few relevance methods and retraining runs; every number of the printed tables is
compared, to its printed rounding, with values computed here from /runs alone (scipy's
Spearman and Kendall tau-b, the definitions of support recall, AUROC and the Jaccard
index, numpy means and stds with ddof 0).
"""
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "analysis", "compare_tables.py")
METHODS = ["spectral", "saliency", "integrated_gradients", "permutation", "fourier"]

SWEEP = """name: tables
seeds: 3
datasets:
  g: {kind: gaussian, features: 8, relevant: 4, samples: 3000}
model: {hidden: [16, 8], activations: [tanh, relu]}
training: {epochs: 4, batch_size: 200}
sweep:
  model.spectral: [all, none]
relevance:
  topk: [1, 2, 4, 8]
  methods: [%s]
  samples: 100
  retrain: {methods: [spectral, saliency, truth], keep: [2], remove: [2, 4]}
""" % ", ".join(METHODS)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    exe = os.environ.get("SPECSWEEP")
    if not exe:
        pytest.fail("SPECSWEEP must name the specsweep binary (ctest sets it)")
    d = tmp_path_factory.mktemp("tables")
    (d / "t.yaml").write_text(SWEEP)
    p = subprocess.run([exe, "run", str(d / "t.yaml"), "-o", str(d / "t.h5")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    out = subprocess.run([sys.executable, SCRIPT, str(d / "t.h5")], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return str(d / "t.h5"), out.stdout


def parse(text):
    """{title: (header, {method: [cells]})} of the printed tables."""
    tables, title = {}, None
    for line in text.splitlines():
        if line and not line.startswith("|"):
            title = line
            tables[title] = (None, {})
        elif line.startswith("| method"):
            tables[title] = ([c.strip() for c in line.strip("|").split("|")], {})
        elif line.startswith("| ") and title:
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables[title][1][cells[0]] = cells[1:]
    return tables


def half_unit(t):
    """Half a unit of the last printed digit of number text t ("0.0258", "1.2e-05", "3")."""
    mant, _, exp = t.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (int(exp or 0) - decimals) * 1.0001


def close(cell, mean, std):
    """The printed cell is mean ± std rounded to the digits it prints."""
    m_text, s_text = cell.split(" ± ")
    return abs(float(m_text) - mean) <= half_unit(m_text) and \
        abs(float(s_text) - std) <= half_unit(s_text)


def ref_recall(score, truth):
    s = int(np.sum(truth > 0))
    order = sorted(range(len(score)), key=lambda i: (-score[i], i))
    return np.mean([truth[i] > 0 for i in order[:s]])


def ref_auroc(score, truth):
    pos, neg = score[truth > 0], score[truth <= 0]
    wins = [(p > q) + 0.5 * (p == q) for p in pos for q in neg]
    return float(np.mean(wins))


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def runs_of(f, spectral):
    """The grid's runs (not the retraining runs) of one network kind, in seed order."""
    runs = [r for r in f["runs"].values() if "retrain_parent" not in r.attrs and
            r.attrs["model.spectral"] in (spectral, spectral.encode())]
    return sorted(runs, key=lambda r: int(r.attrs["seed"]))


def pair_stats(rankings, k):
    """Mean and std over pairs of Kendall's tau-b and of the top-k Jaccard index (ties
    to the lower index) of the rows of rankings."""
    tops = [set(sorted(range(len(v)), key=lambda i: (-v[i], i))[:k]) for v in rankings]
    tau, jac = [], []
    for a in range(len(rankings)):
        for b in range(a + 1, len(rankings)):
            tau.append(kendalltau(rankings[a], rankings[b]).correlation)
            jac.append(len(tops[a] & tops[b]) / len(tops[a] | tops[b]))
    return (np.mean(tau), np.std(tau)), (np.mean(jac), np.std(jac))


def test_one_table_per_network_with_every_method(results):
    _, text = results
    tables = parse(text)
    titles = list(tables)
    titles = [t for t in titles if not t.startswith("retraining")]
    assert len(titles) == 2 and "model.spectral=all" in titles[0] and \
        "model.spectral=none" in titles[1], titles
    for head, rows in (tables[t] for t in titles):
        assert head == ["method", "Spearman", "recall", "AUROC", "top-1 accuracy",
                        "Kendall tau", "Jaccard top-1", "seconds", "x training"], head
    assert list(tables[titles[0]][1]) == METHODS + ["random k"]
    assert list(tables[titles[1]][1]) == ["spectral", "row norms"] + METHODS[1:] + ["random k"]
    assert tables[titles[1]][1]["spectral"][0] == "skipped"


def test_scores_topk_and_cost_against_runs(results):
    path, text = results
    tables = parse(text)
    f = h5py.File(path, "r")
    truth = f["datasets/g/relevance_truth"][()]
    for title, (_, rows) in tables.items():
        if title.startswith("retraining"):
            continue
        net = "all" if "model.spectral=all" in title else "none"
        runs = runs_of(f, net)
        assert len(runs) == 3
        train = np.array([r.attrs["train_seconds"] for r in runs])
        printed = re.search(r"training (\S+ ± \S+) s per run", title).group(1)
        assert close(printed, train.mean(), train.std()), (title, train.mean())
        for m in METHODS:
            if net == "none" and m == "spectral":
                continue
            d = [r["relevance"][m] for r in runs]
            cells = rows[m]
            if m != "fourier":
                vals = [np.abs(x[()]) if m == "spectral" else x[()] for x in d]
                sp = [spearmanr(v, truth).correlation for v in vals]
                rc = [ref_recall(v, truth) for v in vals]
                au = [ref_auroc(v, truth) for v in vals]
                for cell, v in zip(cells[:3], (sp, rc, au)):
                    assert close(cell, np.mean(v), np.std(v)), (title, m, cell, np.mean(v))
            else:
                assert cells[:3] == ["-", "-", "-"], cells
            tk = [x.attrs["topk_accuracy"][0] for x in d]       # k = 1 >= 10 % of 8 inputs
            assert close(cells[3], np.mean(tk), np.std(tk)), (title, m, cells[3])
            vals = [np.abs(x[()]) if m == "spectral" else x[()] for x in d]
            tau, jac = pair_stats(vals, 1)
            assert close(cells[4], *tau) and close(cells[5], *jac), (title, m, cells[4:6])
            sec = np.array([x.attrs["seconds"] for x in d])
            assert close(cells[6], sec.mean(), sec.std()), (title, m, cells[6])
            assert close(cells[7], np.mean(sec / train), np.std(sec / train)), (title, m, cells[7])
        if net == "none":  # the row norms ||W_i,:|| a dense network records as eigenvalues
            norms = [np.abs(r["eigenvalues"][()]) for r in runs]
            cells = rows["row norms"]
            for cell, fn in zip(cells[:3], (lambda v: spearmanr(v, truth).correlation,
                                            lambda v: ref_recall(v, truth),
                                            lambda v: ref_auroc(v, truth))):
                v = [fn(n) for n in norms]
                assert close(cell, np.mean(v), np.std(v)), (cell, np.mean(v))
            tk = [r["topk_accuracy"][0] for r in runs]
            assert close(cells[3], np.mean(tk), np.std(tk)) and cells[6:] == ["-", "-"]
            tau, jac = pair_stats(norms, 1)
            assert close(cells[4], *tau) and close(cells[5], *jac), cells[4:6]
        rk = [r["randomk_accuracy"][0] for r in runs]
        assert close(rows["random k"][3], np.mean(rk), np.std(rk))


def test_retraining_tables_against_the_retraining_runs(results):
    path, text = results
    tables = parse(text)
    f = h5py.File(path, "r")
    for net, methods in (("all", ["spectral", "saliency", "random", "truth"]),
                         ("none", ["saliency", "random", "truth"])):
        title = [t for t in tables if t.startswith("retraining") and
                 f"model.spectral={net}:" in t]
        assert len(title) == 1, list(tables)
        head, rows = tables[title[0]]
        assert head == ["method", "keep 2", "remove 2", "remove 4"], head
        assert list(rows) == methods, list(rows)
        parents = {r.name.split("/")[-1] for r in runs_of(f, net)}
        acc = [f["runs"][p].attrs["test_accuracy"] for p in sorted(parents)]
        printed = re.search(r"every input (\S+ ± \S+)", title[0]).group(1)
        assert close(printed, np.mean(acc), np.std(acc)), printed
        for m in methods:
            for col, (mode, k) in enumerate((("keep", 2), ("remove", 2), ("remove", 4))):
                kids = [r for r in f["runs"].values()
                        if as_str(r.attrs.get("retrain_parent", "")) in parents and
                        as_str(r.attrs["retrain_mode"]) == mode and
                        as_str(r.attrs["retrain_method"]) == m and
                        int(r.attrs["retrain_k"]) == k]
                assert len(kids) == 3, (net, m, mode, k)
                v = [r.attrs["test_accuracy"] for r in kids]
                assert close(rows[m][col], np.mean(v), np.std(v)), (net, m, mode, k)


def test_k_option(results):
    path, _ = results
    out = subprocess.run([sys.executable, SCRIPT, path, "--k", "4"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and "top-4 accuracy" in out.stdout and "top-1" not in out.stdout
