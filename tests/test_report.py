"""Tests of analysis/report.py in a real browser (run by /usr/bin/python3 -m pytest).

Three results files: two from real tiny sweeps run by $SPECSWEEP (ctest sets it), one
with relevance methods and runs that diverge, one with retraining runs; one built here
with h5py (tests/test_analysis.py's writer) that has every optional part: per-method
relevance stored with a cell and only with the runs, retraining runs (one failed, a k
with none finished), model keys and a bundle axis, runs that diverged and failed. Each
page is loaded from a file URL by headless Chromium (Debian's `chromium`; a missing
browser is a failure, not a skip): a screenshot of the page, and the DOM of a copy that
carries a probe script which writes what the browser saw (every image's natural size,
each image's laid-out width, the page's width) into the DOM that --dump-dom returns. The
tables are read from that DOM and compared with numbers computed here from the HDF5 file
with h5py and numpy, and, for the real sweeps, with what `specsweep summary` prints.
"""
import html.parser
import importlib.util
import json
import os
import shutil
import signal
import struct
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT_PY = os.path.join(HERE, "..", "analysis", "report.py")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ta = _load("test_analysis_writer", os.path.join(HERE, "test_analysis.py"))

WINDOW = (1280, 1800)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

# Written into a copy of the page: after every image has loaded, what the browser made of
# the page, as JSON in <pre id="probe">.
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.map.call(document.images, function (im) {
    var r = im.getBoundingClientRect();
    return {alt: im.alt, complete: im.complete, naturalWidth: im.naturalWidth,
            naturalHeight: im.naturalHeight, width: r.width, height: r.height,
            file: im.parentNode.getAttribute('data-file')};
  });
  var p = document.createElement('pre');
  p.id = 'probe';
  p.textContent = JSON.stringify({images: imgs, innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    tables: document.querySelectorAll('table').length,
    sweep_yaml: document.getElementById('sweep-yaml').textContent,
    scripts: document.scripts.length});
  document.body.appendChild(p);
});
</script>"""


# ---- the browser ------------------------------------------------------------------------

def chromium_path():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    pytest.fail("chromium is not installed: scripts/setup.sh installs Debian's chromium, "
                "which this test needs")


def chromium(args, profile, timeout=120):
    """Run headless Chromium with a fresh profile; returns stdout. The whole process group
    is ended on a timeout."""
    cmd = [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"chromium did not finish in {timeout} s: {' '.join(cmd)}")
    assert p.returncode == 0, f"chromium exited {p.returncode}: {err.decode()[-2000:]}"
    return out.decode("utf-8")


def browse(page, tmp):
    """The page in the browser: (screenshot PNG bytes, dumped DOM of the probed copy,
    the probe's JSON)."""
    shot = os.path.join(tmp, "screenshot.png")
    chromium([f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}",
              "file://" + os.path.abspath(page)], os.path.join(tmp, "profile-shot"))
    with open(shot, "rb") as f:
        png = f.read()
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert text.count("</body>") == 1
    probed = os.path.join(tmp, "probed.html")
    with open(probed, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", PROBE + "</body>"))
    dom = chromium([f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom",
                    "file://" + os.path.abspath(probed)], os.path.join(tmp, "profile-dom"))
    root = parse(dom)
    (probe,) = root.find_all("pre", id="probe")
    return png, root, json.loads(probe.text())


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_screenshot(png, name):
    """A PNG of the window's size that shows something: many colours, dark text."""
    assert png_size(png) == WINDOW
    import matplotlib.image as mimg
    import io
    img = mimg.imread(io.BytesIO(png), format="png")[..., :3]
    lum = img.mean(axis=2)
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    dark = float((lum < 0.4).mean())
    print(f"{name}: screenshot {WINDOW[0]}x{WINDOW[1]}, {len(png)} bytes, {colours} colours, "
          f"{100 * dark:.1f} % dark pixels")
    assert colours > 50 and dark > 0.002


def check_images(probe, page_text, fig_dir=None):
    imgs = probe["images"]
    assert imgs, "no image on the page"
    for im in imgs:
        assert im["complete"] and im["naturalWidth"] > 0 and im["naturalHeight"] > 0, im
        assert 0 < im["width"] <= im["naturalWidth"] and im["height"] > 0, im  # laid out
        if fig_dir:  # decoded to the size of the PNG figures.py wrote
            with open(os.path.join(fig_dir, im["file"]), "rb") as f:
                assert png_size(f.read(24)) == (im["naturalWidth"], im["naturalHeight"]), im
    # the page fits the window: wide tables scroll inside their own box
    assert probe["scrollWidth"] <= probe["innerWidth"], probe
    assert probe["scripts"] == 1  # the probe's own; the page has none
    assert page_text.count("<img ") == len(imgs)
    assert page_text.count('src="data:image/png;base64,') == len(imgs)
    for bad in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert bad not in page_text, bad
    return len(imgs)


# ---- reading the dumped DOM ---------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag, **attrs):
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == tag and all(c.attrs.get(k.replace("_", "-")) == v
                                        for k, v in attrs.items()):
                    out.append(c)
                out += c.find_all(tag, **attrs)
        return out


class TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text):
    b = TreeBuilder()
    b.feed(text)
    b.close()
    return b.root


def rows_of(table):
    """[(tr attrs, {data-col: td}, [td, ...])] of a table's body."""
    (body,) = table.find_all("tbody")
    out = []
    for tr in body.find_all("tr"):
        tds = tr.find_all("td")
        out.append((tr.attrs, {td.attrs.get("data-col"): td for td in tds}, tds))
    return out


def header(table):
    return [th.text() for th in table.find_all("th")]


def num(td):
    v = td.attrs["data-v"]
    return float(v)


# ---- independent expectations from the file ----------------------------------------------

def sval(v):
    """A setting's text as the page and `specsweep summary` show it."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode()
    if isinstance(v, str):
        return v
    a = np.asarray(v)
    if a.ndim == 1:
        return "[" + ", ".join(sval(x) for x in a.tolist()) + "]"
    if np.issubdtype(a.dtype, np.integer):
        return str(int(a))
    return "%g" % float(a)


def want_mean_std(values):
    a = np.asarray(values, float)
    a = a[np.isfinite(a)]
    m = a.mean()
    return m, np.sqrt(((a - m) ** 2).mean()), a.size


def want_top(mean, std, names=None, k=5):
    order = np.argsort(-np.asarray(mean), kind="stable")[:k]
    lab = (lambda i: names[i]) if names is not None else str
    return " ".join("%s(%.3g±%.2g)" % (lab(i), mean[i], std[i]) for i in order)


def attr(g, k):
    v = g.attrs[k]
    return v.decode() if isinstance(v, bytes) else v


def grid_cells(f):
    """{cell_id: group} of the /summary cells of the sweep's grid: the cells of retraining
    runs (attribute retrain_mode) left out, as the page leaves them out."""
    return {attr(g, "cell_id"): g for g in f["summary"].values() if "retrain_mode" not in g.attrs}


def grid_runs(f):
    """The /runs of the sweep's grid: retraining runs (attribute retrain_parent) left out."""
    return [g for g in f["runs"].values() if "retrain_parent" not in g.attrs]


def check_summary_table(root, path):
    """Every /summary cell of the grid is a row whose numbers are those of the file; the
    cells of retraining runs are not rows."""
    (t,) = root.find_all("table", id="summary-table")
    rows = {a["data-cell"]: (cols, tds) for a, cols, tds in rows_of(t)}
    compared = 0
    with h5py.File(path, "r") as f:
        cells = grid_cells(f)
        assert set(rows) == set(cells)
        order = [a["data-cell"] for a, _, _ in rows_of(t)]
        assert order == sorted(cells, key=lambda c: int(cells[c].attrs["cell_index"]))
        for cid, g in cells.items():
            cols, _ = rows[cid]
            ds = f["datasets"][attr(g, "dataset")]
            regression = int(ds.attrs["n_classes"]) == 0
            assert cols["dataset"].text() == attr(g, "dataset")
            for k in attr(g, "swept_keys").split(","):
                assert cols["axis:" + k].text() == sval(g.attrs[k]), (cid, k)
                compared += 1
            n = int(g.attrs["n_realizations"])
            assert num(cols["n"]) == n and cols["n"].text().split()[0] == str(n)
            nd, nf = int(g.attrs["n_diverged"]), int(g.attrs["n_failed"])
            if nd or nf:
                assert cols["n"].text() == f"{n} (+{nd} diverged, {nf} failed)"
            m, s, _ = want_mean_std(g["test_loss" if regression else "test_accuracy"][()])
            assert cols["metric"].text() == ("MAE %.4f ± %.4f" if regression else "%.4f ± %.4f") % (m, s)
            assert num(cols["metric"]) == pytest.approx(m, rel=1e-12)
            assert float(cols["metric"].attrs["data-std"]) == pytest.approx(s, rel=1e-9, abs=1e-15)
            mean = g["eigenvalues_abs_mean"][()]
            std = g["eigenvalues_abs_std"][()]
            # the stored statistics are those of the stored eigenvalues
            np.testing.assert_allclose(mean, np.abs(g["eigenvalues"][()]).mean(axis=0), rtol=1e-12)
            if "relevance_truth" in ds:
                rho = ta.ref_spearman(mean, ds["relevance_truth"][()])
                assert cols["spearman"].text() == "%+.3f" % rho
                assert num(cols["spearman"]) == pytest.approx(rho, abs=1e-12)
                compared += 1
            names = ([x.decode() if isinstance(x, bytes) else x for x in ds["feature_names"][()]]
                     if "feature_names" in ds else None)
            assert cols["top"].text() == want_top(mean, std, names)
            compared += 4 + check_summary_stability(cols, g, ds)
    return compared


def want_shown_k(topk, ds):
    """The k `specsweep summary` shows a Jaccard index at: the first of the cell's k values
    that is at least the true support's size, the middle one without a truth."""
    topk = [int(k) for k in topk]
    if not topk:
        return None
    s = int((ds["relevance_truth"][()] > 0).sum()) if "relevance_truth" in ds else 0
    if s:
        return ([k for k in topk if k >= s] or topk[-1:])[0]
    return topk[len(topk) // 2]


def want_stability_text(g, k=None):
    """What the page and `specsweep summary` show of g's stored stability: the Kendall tau
    (k None) or the Jaccard index at k, as (text, mean) ("-", None where there is none)."""
    if "stability_pairs" not in g.attrs:
        return "-", None
    if k is None:
        m, sd = g.attrs["stability_kendall_tau_mean"], g.attrs["stability_kendall_tau_std"]
        return ("-", None) if np.isnan(m) else ("%+.3f ± %.3f" % (m, sd), m)
    ks = g["stability_k"][()].tolist()
    if k not in ks or np.isnan(g["stability_jaccard_mean"][ks.index(k)]):
        return "-", None
    m, sd = g["stability_jaccard_mean"][ks.index(k)], g["stability_jaccard_std"][ks.index(k)]
    return "%.3f ± %.3f" % (m, sd), m


def check_summary_stability(cols, g, ds):
    """The summary row's kendall tau and jaccard columns: the cell's stored stability of
    its eigenvalues, the Jaccard index at the k `specsweep summary` shows."""
    text, m = want_stability_text(g)
    assert cols["tau"].text() == text
    if m is not None:
        assert num(cols["tau"]) == pytest.approx(m, rel=1e-12)
    k = want_shown_k(g["topk"][()], ds)
    text, m = want_stability_text(g, k)
    assert cols["jaccard"].text() == (text if m is None else f"k={k} {text}")
    if m is not None:
        assert num(cols["jaccard"]) == pytest.approx(m, rel=1e-12)
    return 2


METHOD_ORDER = ["spectral", "saliency", "input_x_gradient", "integrated_gradients",
                "smoothgrad", "smoothgrad_squared", "spectrallens", "lrp_epsilon", "deeplift",
                "permutation", "kernel_shap", "fourier"]


def check_stability(root, path):
    """Every cell with a stored stability has its table: one row per relevance method in
    specsweep's order (spectral: the cell's eigenvalues where it stores no
    relevance/spectral), the pairs, the tau and the Jaccard index at every k as stored;
    a cell of one realization has none."""
    compared = 0
    tables = {t.attrs["data-cell"]: t for t in root.find_all("table", **{"class": "stability"})}
    with h5py.File(path, "r") as f:
        cells = grid_cells(f)
        assert set(tables) == {c for c, g in cells.items() if "stability_pairs" in g.attrs}
        for cid, t in tables.items():
            g = cells[cid]
            rel = g["relevance"] if "relevance" in g else {}
            groups = {m: rel[m] for m in rel if "stability_pairs" in rel[m].attrs}
            if "spectral" not in groups:
                groups["spectral"] = g
            rows = rows_of(t)
            order = sorted(groups, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER
                           else len(METHOD_ORDER))
            assert [a["data-method"] for a, _, _ in rows] == order
            ks = sorted({int(k) for m in groups.values() for k in m["stability_k"][()]})
            assert header(t) == ["method", "pairs", "kendall tau"] + [f"jaccard k = {k}" for k in ks]
            for a, c, _ in rows:
                grp = groups[a["data-method"]]
                assert num(c["pairs"]) == int(grp.attrs["stability_pairs"])
                for col, k in [("tau", None)] + [(f"jaccard:k={k}", k) for k in ks]:
                    text, m = want_stability_text(grp, k)
                    assert c[col].text() == text, (cid, a["data-method"], col)
                    if m is not None:
                        assert num(c[col]) == pytest.approx(m, rel=1e-12)
                    compared += 1
    return compared


MEASURED = ("spearman", "support_recall", "auroc", "seconds", "forward_passes",
            "backward_passes")
# as `specsweep summary` prints them (spearman, support_recall, auroc, seconds); passes are counts
MEASURE_FMT = {"spearman": ("%+.3f", "%.3f"), "support_recall": ("%.2f", "%.2f"),
               "auroc": ("%.3f", "%.3f"), "seconds": ("%.2g", "%.2g"),
               "forward_passes": ("%.0f", None), "backward_passes": ("%.0f", None)}


def fmt_measure(k, m, s):
    fm, fs = MEASURE_FMT[k]
    if not np.isfinite(m):
        return "-"
    if s is None or (s == 0 and fs is None):
        return fm % m
    return f"{fm % m} ± {(fs or fm) % s}"


def fmt_metric(m, s, regression):
    if np.isnan(m):
        return "-"
    return ("MAE %.4f ± %.4f" if regression else "%.4f ± %.4f") % (m, s)


def want_methods(f, g):
    """What the page must show of one summary cell's relevance methods, computed here:
    {method: dict(n, meas {k: (mean, std)}, top, topk [n, K] or None)}. Runs give the
    measures (mean, std over the ok runs), the cell's relevance group overrides what it
    stores."""
    cid = attr(g, "cell_id")
    ds = f["datasets"][attr(g, "dataset")]
    n_in = g["eigenvalues"].shape[1]
    names = ([x.decode() if isinstance(x, bytes) else x for x in ds["feature_names"][()]]
             if "feature_names" in ds else None)
    runs = [r for r in f["runs"].values() if attr(r, "cell_id") == cid and
            attr(r, "status") == "ok" and "retrain_parent" not in r.attrs and "relevance" in r]
    stored = g["relevance"] if "relevance" in g else {}
    want = {}
    for method in set(stored) | {k for r in runs for k in r["relevance"]}:
        dl = [r["relevance"][method] for r in runs if method in r["relevance"]]
        meas = {}
        for k in MEASURED:
            vals = [d.attrs[k] for d in dl if k in d.attrs]
            if vals:
                m, sd, _ = want_mean_std(vals)
                meas[k] = (m, sd)
        w = dict(n=len(dl), meas=meas)
        if dl:
            v = np.abs(np.vstack([d[()] for d in dl]))
            lab = names if v.shape[1] == n_in else [f"f{i}" for i in range(v.shape[1])]
            w["top"] = want_top(v.mean(0), v.std(0), lab)
            tk = [d.attrs["topk_accuracy"] for d in dl if "topk_accuracy" in d.attrs]
            w["topk"] = np.vstack(tk) if tk else None
        if method in stored:
            m = stored[method]
            meas.update({k: (m.attrs[k], None) for k in MEASURED if k in m.attrs})
            meas.update({k[:-5]: (m.attrs[k], m.attrs[k[:-5] + "_std"]) for k in m.attrs
                         if k.endswith("_mean") and not k.startswith("stability_")})
            w["n"] = int(g.attrs["n_realizations"])
            mean = m["abs_mean"][()]
            lab = names if len(mean) == n_in else [f"f{i}" for i in range(len(mean))]
            w["top"] = want_top(mean, m["abs_std"][()], lab)
            w["topk"] = m["topk_accuracy"][()]
        want[method] = w
    return want


def check_methods(root, path):
    """Every cell's relevance methods against want_methods."""
    compared = 0
    tables = {t.attrs["data-cell"]: t for t in root.find_all("table", **{"class": "methods"})}
    topks = {t.attrs["data-cell"]: t for t in root.find_all("table", **{"class": "methods-topk"})}
    with h5py.File(path, "r") as f:
        for cid, g in grid_cells(f).items():
            regression = int(f["datasets"][attr(g, "dataset")].attrs["n_classes"]) == 0
            want = want_methods(f, g)
            if not want:
                assert cid not in tables
                continue
            rows = {a["data-method"]: c for a, c, _ in rows_of(tables[cid])}
            assert set(rows) == set(want)
            for method, w in want.items():
                c = rows[method]
                assert num(c["n"]) == w["n"]
                for k, (m, sd) in w["meas"].items():
                    assert c["score:" + k].text() == fmt_measure(k, m, sd), (cid, method, k)
                    if np.isfinite(m):
                        assert num(c["score:" + k]) == pytest.approx(m, rel=1e-12)
                    compared += 1
                for k in set(c) - {"score:" + k for k in w["meas"]}:
                    if k.startswith("score:"):
                        assert c[k].text() == "-"
                assert c["top"].text() == w["top"]
                compared += 1
            if all(w["topk"] is None for w in want.values()):
                assert cid not in topks
                continue
            K = g["topk"][()]
            trows = {a["data-method"]: c for a, c, _ in rows_of(topks[cid])}
            want_rows = {m: w["topk"] for m, w in want.items() if w["topk"] is not None}
            want_rows[""] = g["randomk_accuracy"][()]
            assert set(trows) == set(want_rows)
            for method, acc in want_rows.items():
                for j, k in enumerate(K):
                    m, sd, _ = want_mean_std(acc[:, j])
                    assert trows[method][f"k={k}"].text() == fmt_metric(m, sd, regression)
                    assert num(trows[method][f"k={k}"]) == pytest.approx(m, rel=1e-12)
                    compared += 1
    return compared


def check_problems(root, path):
    with h5py.File(path, "r") as f:
        bad = {rid: g for rid, g in f["runs"].items() if attr(g, "status") != "ok"}
        if not bad:
            assert root.find_all("p", id="no-problems")
            return 0
        (t,) = root.find_all("table", id="problems-table")
        rows = {a["data-run"]: cols for a, cols, _ in rows_of(t)}
        assert set(rows) == set(bad)
        for rid, g in bad.items():
            assert rows[rid]["status"].text() == attr(g, "status")
            assert rows[rid]["message"].text() == attr(g, "message") and attr(g, "message")
            assert num(rows[rid]["seed"]) == int(g.attrs["seed"])
    return len(bad)


RETRAIN_ORDER = METHOD_ORDER + ["random", "truth"]


def want_retraining(f, cid, g):
    """What the page's retraining table of grid cell g (id cid) must show, read here: its
    columns (mode, k), keep then remove, k ascending; its methods in specsweep's order
    (random and truth last); per method and column the stored metric_mean, metric_std,
    n_realizations and how many of its retraining runs in /runs did not finish (None where
    the method has no such k); the cell's own metric (mean, std, n). None without
    curves."""
    if "retrain" not in g:
        return None
    parents = {rid for rid, r in f["runs"].items()
               if attr(r, "cell_id") == cid and "retrain_parent" not in r.attrs}
    not_ok = {}
    for r in f["runs"].values():
        if "retrain_parent" in r.attrs and attr(r, "retrain_parent") in parents \
                and attr(r, "status") != "ok":
            key = (attr(r, "retrain_mode"), attr(r, "retrain_method"), int(r.attrs["retrain_k"]))
            not_ok[key] = not_ok.get(key, 0) + 1
    rg = g["retrain"]
    cols = [(mode, k) for mode in ("keep", "remove") if mode in rg
            for k in sorted({int(k) for c in rg[mode].values() for k in c["k"][()]})]
    methods = sorted({m for mg in rg.values() for m in mg}, key=RETRAIN_ORDER.index)
    lines = {}
    for method in methods:
        lines[method] = []
        for mode, k in cols:
            c = rg[mode].get(method)
            ks = c["k"][()].tolist() if c is not None else []
            j = ks.index(k) if k in ks else None
            lines[method].append(None if j is None else (
                c["metric_mean"][j], c["metric_std"][j], int(c["n_realizations"][j]),
                not_ok.get((mode, method, k), 0)))
    regression = int(f["datasets"][attr(g, "dataset")].attrs["n_classes"]) == 0
    return dict(cols=cols, methods=methods, lines=lines, regression=regression,
                all=want_mean_std(g["test_loss" if regression else "test_accuracy"][()]))


def check_retraining(root, path):
    """Every grid cell with retraining curves has its table, in the summary's order, with
    want_retraining's columns, methods and numbers (data-v, data-std, data-n) and their
    text ("mean ± std (n=..., x not ok)", MAE for regression; "" where a method has no
    such k), the cell's metric with all inputs beside; below it a link to the figure of
    that id, the cell's retraining figure on the page. Returns the values compared."""
    tables = {t.attrs["data-cell"]: t for t in root.find_all("table", **{"class": "retrain"})}
    figs = {fg.attrs.get("id"): fg for fg in root.find_all("figure")}
    (sec,) = root.find_all("section", id="retraining") or [None]
    links = [a.attrs["href"] for a in sec.find_all("a")] if sec else []
    compared = 0
    with h5py.File(path, "r") as f:
        cells = grid_cells(f)
        want = {cid: want_retraining(f, cid, g) for cid, g in cells.items()}
        want = {cid: w for cid, w in want.items() if w}
        assert list(tables) == sorted(want, key=lambda c: int(cells[c].attrs["cell_index"]))
        for cid, w in want.items():
            t = tables[cid]
            assert header(t) == ["method"] + [f"{mode} {k}" for mode, k in w["cols"]] + \
                ["all inputs"]
            rows = rows_of(t)
            assert [a["data-method"] for a, _, _ in rows] == w["methods"]
            for a, c, _ in rows:
                for (mode, k), v in zip(w["cols"], w["lines"][a["data-method"]]):
                    td = c[f"{mode}:{k}"]
                    if v is None:
                        assert td.text() == "" and "data-v" not in td.attrs
                        continue
                    m, sd, n, bad = v
                    tail = f" (n={n}" + (f", {bad} not ok" if bad else "") + ")"
                    assert td.text() == fmt_metric(m, sd, w["regression"]) + tail, (cid, mode, k)
                    assert num(td) == pytest.approx(m, rel=1e-12, nan_ok=True)
                    assert float(td.attrs["data-std"]) == pytest.approx(sd, rel=1e-12, nan_ok=True)
                    assert int(td.attrs["data-n"]) == n
                    compared += 1
            m, sd, n = w["all"]
            (a0, c0, _) = rows[0]
            assert c0["all"].text() == fmt_metric(m, sd, w["regression"]) + f" (n={n})"
            assert num(c0["all"]) == pytest.approx(m, rel=1e-12)
            assert int(c0["all"].attrs["rowspan"]) == len(rows)
            fid = f"fig-{cid}_retrain.png"
            assert f"#{fid}" in links and figs[fid].attrs["data-figure"] == "retrain"
            assert figs[fid].find_all("img")
    return compared


def check_retraining_cli(root, summary_text):
    """The page's retraining tables hold the numbers `specsweep summary` prints: per parent
    cell and mode the same methods in the same order, each value the page's text without
    its "MAE " and "(n=...)". Returns the values compared."""
    cli = cli_retrain_tables(summary_text)
    cell_of = cells_by_title(root)
    tables = {t.attrs["data-cell"]: t for t in root.find_all("table", **{"class": "retrain"})}
    assert {cell_of[frozenset(title.split())] for title, _ in cli} == set(tables)
    compared = 0
    for (title, mode), crows in cli.items():
        rows = rows_of(tables[cell_of[frozenset(title.split())]])
        assert [r["method"] for r in crows] == [a["data-method"] for a, _, _ in rows]
        for r, (_, c, _) in zip(crows, rows):
            heads = [h for h in r if h != "method"]
            assert heads and all(h.startswith(mode + " ") for h in heads)
            for h in heads:
                shown = c[h.replace(" ", ":")].text().replace("MAE ", "").split(" (n=")[0]
                assert shown == r[h], (title, r["method"], h)
                compared += 1
    return compared


def check_plan(root, probe, path):
    with h5py.File(path, "r") as f:
        assert probe["sweep_yaml"] == attr(f, "sweep_yaml")  # the text in the browser's DOM
        runs = grid_runs(f)
        st = [attr(g, "status") for g in runs]
        (dd,) = root.find_all("dd", id="fact-runs-in-the-file")
        assert dd.text() == (f"{len(runs)} ({st.count('ok')} ok, {st.count('diverged')} diverged, "
                             f"{st.count('failed')} failed)")
        (dd,) = root.find_all("dd", id="fact-cells-with-results")
        assert dd.text() == str(len(grid_cells(f)))
        (dd,) = root.find_all("dd", id="fact-created-utc")
        assert dd.text() == attr(f, "created_utc")
        (dd,) = root.find_all("dd", id="fact-specsweep-version")
        assert dd.text() == attr(f, "specsweep_version")
        (t,) = root.find_all("table", id="datasets")
        rows = {a["data-dataset"]: cols for a, cols, _ in rows_of(t)}
        assert set(rows) == set(f["datasets"])
        for name, g in f["datasets"].items():
            assert rows[name]["kind"].text() == attr(g, "kind")
            for k in ("n_inputs", "n_train", "n_test"):
                assert num(rows[name][k]) == int(g.attrs[k])
            assert rows[name]["task"].text() == ("regression" if int(g.attrs["n_classes"]) == 0
                                                 else "classification")
        # the axes: every swept key with the values found in the cells and runs
        keys = {k for g in grid_cells(f).values() for k in attr(g, "swept_keys").split(",") if k}
        (t,) = root.find_all("table", id="axes")
        axes = {a["data-axis"]: cols for a, cols, _ in rows_of(t)}
        assert set(axes) == keys
        for k in keys:
            vals = {sval(g.attrs[k]) for g in list(grid_cells(f).values()) + runs if k in g.attrs}
            shown = [sp.text() for sp in axes[k]["values"].find_all("span")]
            assert len(shown) == len(vals) and set(shown) == vals
            assert num(axes[k]["count"]) == len(vals)


def report(path, out, *extra):
    p = subprocess.run([sys.executable, REPORT_PY, path, "-o", out, *extra],
                       capture_output=True, text=True, timeout=600)
    return p


# ---- a real sweep --------------------------------------------------------------------------

def _real_sweep():
    """test_analysis's tiny sweep with a learning-rate axis whose second value diverges and
    four relevance methods."""
    text = ta.REAL_SWEEP
    for old, new in (("name: analysis-tiny", "name: report-tiny"),
                     ("  reg_eigenvalues: [1.0e-4, 1.0e-2]\n",
                      "  reg_eigenvalues: [1.0e-4, 1.0e-2]\n  learning_rate: [1.0e-2, 1.0e+30]\n"),
                     ("methods: [spectral, saliency, permutation, fourier]",
                      "methods: [spectral, saliency, integrated_gradients, fourier]")):
        assert old in text, old
        text = text.replace(old, new)
    return text


REAL_SWEEP = _real_sweep()


def run_with_summary(d, sweep_text):
    """sweep_text run by $SPECSWEEP in directory d: (the results file, what `specsweep
    summary` prints of it, d)."""
    out, env = ta.run_real_sweep(d, sweep_text)
    s = subprocess.run([os.environ["SPECSWEEP"], "summary", out], env=env, capture_output=True,
                       text=True, timeout=60)
    assert s.returncode == 0, s.stderr
    return out, s.stdout, d


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The tiny sweep run by $SPECSWEEP, and what `specsweep summary` prints of it."""
    return run_with_summary(tmp_path_factory.mktemp("real"), REAL_SWEEP)


@pytest.fixture(scope="module")
def real_retrain(tmp_path_factory):
    """test_analysis's sweep with retraining runs (two datasets, four cells that finish and
    four that diverge, spectral, random and truth at keep 1, 4, 12 and remove 4) run by
    $SPECSWEEP, and what `specsweep summary` prints of it."""
    return run_with_summary(tmp_path_factory.mktemp("retrain"), ta.RETRAIN_SWEEP)


def cli_table(text):
    """The rows of `specsweep summary`'s table as {column header: text}, split at the
    header's column starts."""
    lines = text.splitlines()
    i = next(j for j, ln in enumerate(lines) if ln.startswith("dataset "))
    head = lines[i]
    names = ["dataset", "settings", "n", "test accuracy (MAE)", "spearman", "kendall tau",
             "jaccard", "top inputs"]
    starts, pos = [], 0
    for nm in names:
        if nm == "spearman" and nm not in head:
            continue
        pos = head.index(nm, pos)
        starts.append((nm, pos))
        pos += len(nm)
    out = []
    for ln in lines[i + 1:]:
        if not ln.strip():
            break
        row = {}
        for j, (nm, s) in enumerate(starts):
            e = starts[j + 1][1] if j + 1 < len(starts) else len(ln)
            row[nm] = ln[s:e].strip()
        out.append(row)
    return out


def summary_axes(t):
    """The axis columns of the page's summary table t, in its order."""
    return [h for h in header(t) if h not in ("dataset", "n", "test accuracy (MAE)", "spearman",
                                              "kendall tau", "jaccard")
            and not h.startswith("top inputs")]


def cells_by_title(root):
    """{the words of a cell's "dataset settings", as `specsweep summary` titles its tables:
    the cell's id}, from the page's summary table."""
    (t,) = root.find_all("table", id="summary-table")
    axes = summary_axes(t)
    out = {}
    for a, cols, _ in rows_of(t):
        title = cols["dataset"].text() + " " + " ".join(
            f"{k}={cols['axis:' + k].text()}" for k in axes)
        out[frozenset(title.split())] = a["data-cell"]
    return out


def cli_grid(lines, i):
    """A table of `specsweep summary` whose header is lines[i]: ([row {header: text}], the
    index of the line after it), split at the header's column starts."""
    head = lines[i]
    starts, pos = [], 0
    for nm in head.split():
        pos = head.index(nm, pos)
        starts.append(pos)
        pos += len(nm)
    # header words of one column ("top-4 accuracy (MAE)", "keep 4") share its start
    cols = [(head[s:e].strip(), s) for s, e in zip(starts, starts[1:] + [len(head)])]
    merged = []
    for name, s in cols:
        if merged and head[s - 2:s] != "  ":
            merged[-1] = (merged[-1][0] + " " + name, merged[-1][1])
        else:
            merged.append((name, s))
    rows = []
    i += 1
    while i < len(lines) and lines[i].strip():
        ln = lines[i]
        rows.append({nm: ln[s:(merged[j + 1][1] if j + 1 < len(merged) else len(ln))].strip()
                     for j, (nm, s) in enumerate(merged)})
        i += 1
    return rows, i


def cli_method_tables(text):
    """`specsweep summary`'s method tables: {title: [row {header: text}]}, the title being
    "dataset settings" of the cell."""
    lines, out, i = text.splitlines(), {}, 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("relevance methods of ") and ln.endswith(":"):
            title = ln[len("relevance methods of "):ln.index(" (mean ± std")]
            out[title], i = cli_grid(lines, i + 1)
        i += 1
    return out


def cli_retrain_tables(text):
    """`specsweep summary`'s retraining tables: {(title, mode): [row {header: text}]}, the
    title being "dataset settings" of the parent cell, mode keep or remove."""
    lines, out, i = text.splitlines(), {}, 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("retrained on ") and ln.endswith(":"):
            mode = "keep" if "(keep)" in ln else "remove"
            title = ln[ln.index(" inputs: ") + len(" inputs: "):ln.rindex(", test ")]
            out[(title, mode)], i = cli_grid(lines, i + 1)
        i += 1
    return out


def test_real_sweep_page_in_the_browser(real, tmp_path):
    path, summary_text, _ = real
    page = str(tmp_path / "report.html")
    figs = str(tmp_path / "figs")
    p = report(path, page, "--figures", figs)
    assert p.returncode == 0, p.stderr
    assert os.path.abspath(page) in p.stdout
    with open(page, encoding="utf-8") as f:
        text = f.read()
    png, root, probe = browse(page, str(tmp_path))
    check_screenshot(png, "real sweep")
    n_img = check_images(probe, text, figs)
    with open(os.path.join(figs, "figures.json")) as f:
        recs = json.load(f)["figures"]
    pngs = sorted(x for x in os.listdir(figs) if x.endswith(".png"))
    assert sorted(im["file"] for im in probe["images"]) == pngs == sorted(r["file"] for r in recs)
    # every cell has relevance methods and the sweep a numeric axis: the per-method
    # figures and the relevance paths are on the page
    shown = {(f.attrs["data-figure"], f.attrs["data-file"]) for f in root.find_all("figure")}
    kinds = {k for k, _ in shown}
    assert {"methods_relevance", "quality_cost", "methods_topk", "path"} <= kinds
    assert sum(k == "methods_relevance" for k, _ in shown) == 6
    compared = check_summary_table(root, path)
    n_stab = check_stability(root, path)
    assert n_stab > 0
    compared += n_stab
    check_plan(root, probe, path)
    n_bad = check_problems(root, path)
    assert n_bad > 0  # learning_rate 1e30 diverges
    # the same numbers as `specsweep summary`
    (t,) = root.find_all("table", id="summary-table")
    axes = summary_axes(t)
    page_rows = {}
    for _, cols, _ in rows_of(t):
        settings = frozenset(f"{k}={cols['axis:' + k].text()}" for k in axes)
        page_rows[(cols["dataset"].text(), settings)] = cols
    cli = cli_table(summary_text)
    assert len(cli) == len(page_rows) == 6
    for row in cli:
        cols = page_rows[(row["dataset"], frozenset(row["settings"].split()))]
        assert cols["n"].text() == row["n"]
        assert cols["metric"].text() == row["test accuracy (MAE)"]
        assert cols["spearman"].text() == row["spearman"]
        assert cols["tau"].text() == row["kendall tau"]
        assert cols["jaccard"].text() == row["jaccard"]
        assert cols["top"].text() == row["top inputs"]
        compared += 6
    n_methods = check_methods(root, path)
    assert n_methods > 0
    compared += n_methods
    # the method tables: the numbers and the order of `specsweep summary`'s
    cli_methods = cli_method_tables(summary_text)
    assert len(cli_methods) == 6
    cell_of = cells_by_title(root)
    tables = {x.attrs["data-cell"]: x for x in root.find_all("table", **{"class": "methods"})}
    topks = {x.attrs["data-cell"]: x for x in root.find_all("table", **{"class": "methods-topk"})}
    stabs = {x.attrs["data-cell"]: x for x in root.find_all("table", **{"class": "stability"})}
    for title, crows in cli_methods.items():
        cid = cell_of[frozenset(title.split())]
        prow = rows_of(tables[cid])
        assert [a["data-method"] for a, _, _ in prow] == [r["method"] for r in crows]
        trow = {a["data-method"]: c for a, c, _ in rows_of(topks[cid])}
        for (_, cols, _), r in zip(prow, crows):
            for cli, col in (("spearman", "spearman"), ("recall", "support_recall"),
                             ("auroc", "auroc"), ("seconds", "seconds")):
                shown = cols["score:" + col].text() if "score:" + col in cols else "-"
                assert shown == r[cli], (title, r["method"], cli)
                compared += 1
            (head,) = [h for h in r if h.startswith("top-") and "accuracy" in h]
            k = head.split()[0][len("top-"):]
            assert trow[r["method"]][f"k={k}"].text().replace("MAE ", "") == r[head]
            # the method's stability: the page's stability table at the same k
            srow = {a["data-method"]: c for a, c, _ in rows_of(stabs[cid])}[r["method"]]
            assert srow["tau"].text() == r["kendall tau"], (title, r["method"])
            jac = srow[f"jaccard:k={k}"].text() if f"jaccard:k={k}" in srow else "-"
            assert jac == r[f"top-{k} jaccard"], (title, r["method"])
            compared += 3
    assert not root.find_all("section", id="retraining")
    print(f"real sweep: {n_img} images decoded, {compared} table cells compared with the "
          f"file and specsweep summary ({n_methods} of the relevance methods), {n_bad} diverged "
          "runs listed")


def test_real_retrain_page_in_the_browser(real_retrain, tmp_path):
    """A real sweep with retraining runs: the summary holds the grid's cells alone; each
    parent cell has its retraining table with the file's curves and `specsweep summary`'s
    numbers, and its <cell>_retrain.png, written, on the page and decoded by the browser
    at the PNG's size; the retraining runs skipped for the diverged parents are said."""
    path, summary_text, _ = real_retrain
    page = str(tmp_path / "report.html")
    figs = str(tmp_path / "figs")
    p = report(path, page, "--figures", figs)
    assert p.returncode == 0, p.stderr
    with open(page, encoding="utf-8") as f:
        text = f.read()
    png, root, probe = browse(page, str(tmp_path))
    check_screenshot(png, "retraining sweep")
    n_img = check_images(probe, text, figs)
    with h5py.File(path, "r") as f:
        grid = grid_cells(f)
        n_kids = sum("retrain_mode" in g.attrs for g in f["summary"].values())
        n_child_runs = len(f["runs"]) - len(grid_runs(f))
    assert len(grid) == 4 and n_kids == 4 * 3 * 4 and n_child_runs == 2 * n_kids
    compared = check_summary_table(root, path) + check_stability(root, path)
    assert len(cli_table(summary_text)) == 4  # summary leaves the retraining cells out too
    check_plan(root, probe, path)
    assert check_problems(root, path) == 8  # learning_rate 1e30 diverges
    (dd,) = root.find_all("dd", id="fact-retraining-runs")
    assert dd.text() == str(n_child_runs)
    (dd,) = root.find_all("dd", id="fact-retraining-skipped")
    assert dd.text().startswith("the retraining runs of the 8 runs that diverged")
    n_retrain = check_retraining(root, path)
    assert n_retrain == 4 * 3 * 4
    n_cli = check_retraining_cli(root, summary_text)
    assert n_cli == 4 * 3 * 4
    retrain_pngs = sorted(f"{c}_retrain.png" for c in grid)
    assert sorted(x for x in os.listdir(figs) if x.endswith("_retrain.png")) == retrain_pngs
    shown = {fg.attrs["data-file"]: fg.attrs["data-figure"] for fg in root.find_all("figure")}
    assert sorted(x for x, kind in shown.items() if kind == "retrain") == retrain_pngs
    assert not [x for x in shown if "__keep=" in x or "__remove=" in x]
    assert {im["file"] for im in probe["images"]} >= set(retrain_pngs)
    print(f"retraining sweep: {n_img} images decoded, {compared + n_retrain + n_cli} table "
          "cells compared with the file and specsweep summary")


# ---- a file with the optional parts --------------------------------------------------------

METHOD_SCORES = ("spearman", "support_recall", "auroc", "seconds")
METHODS = ("spectral", "saliency", "integrated_gradients")
RETRAIN_METHODS = ("spectral", "random")
KEEP_K = (1, 2, 4)


def build_optional(path):
    """A results file with every optional part (see the module's docstring). Returns the
    cell ids (stored relevance, relevance in the runs only)."""
    datasets = {"g8": ta.make_datasets()["g8"]}
    cells = ta.make_cells(datasets, regs=[1e-4, 1e-2], epochs=[10])
    for c in cells:
        del c["swept"]["epochs"]
    cells[1]["n_diverged"] = 1
    # retraining runs of the first cell's runs, as src/snapshot.c writes them (test_analysis's
    # write_retrain): spectral and random, keep and remove; one failed run (remove spectral
    # 2, the second seed) and a k none of whose runs finished (keep random 4: no cell)
    rrng = np.random.default_rng(4)
    cells[0]["retrain"] = {(mode, method, k): rrng.uniform(0.4, 1, ta.SEEDS)
                           for mode in ("keep", "remove") for method in RETRAIN_METHODS
                           for k in KEEP_K}
    cells[0]["retrain"][("remove", "spectral", 2)][1] = np.nan
    cells[0]["retrain"][("keep", "random", 4)][:] = np.nan
    ta.write_results(path, datasets, cells, ["reg_eigenvalues"], version=2)
    rng = np.random.default_rng(3)
    model = [(np.array([100, 50], "<i8"), "eigenvalues"), (np.zeros(0, "<i8"), "direct")]
    with h5py.File(path, "a") as f:
        summ = grid_cells(f)
        ids = sorted(summ, key=lambda c: int(summ[c].attrs["cell_index"]))
        runs_of = {c: [g for g in f["runs"].values() if attr(g, "cell_id") == c] for c in ids}
        for (hidden, regime), cid in zip(model, ids):
            kids = [g for g in list(f["summary"].values()) + list(f["runs"].values())
                    if "retrain_mode" in g.attrs and attr(g, "cell_id").startswith(cid + "__")]
            for g in [summ[cid]] + runs_of[cid] + kids:
                g.attrs.create("model.hidden", hidden, dtype="<i8")
                ta.a_str(g, "regime", regime)
                if "swept_keys" in g.attrs:
                    ta.a_str(g, "swept_keys", "model.hidden,regime,reg_eigenvalues")
        # relevance in every run as src/snapshot.c writes it (the second cell's network
        # is dense: spectral skipped there); the first cell also stores it in its summary
        for cid in ids:
            for g in runs_of[cid]:
                rel = g.create_group("relevance")
                for method in METHODS:
                    skipped = method == "spectral" and cid == ids[1]
                    d = rel.create_dataset(method, data=rng.normal(size=8))
                    ta.a_i64(d, "skipped", int(skipped))
                    ta.a_i64(d, "n_samples", 0 if method == "spectral" else 50)
                    ta.a_f64(d, "seconds", rng.uniform(0, 1))
                    ta.a_i64(d, "forward_passes", 0 if method == "spectral" else 100)
                    ta.a_i64(d, "backward_passes", 0 if method == "spectral" else 50)
                    ig = method == "integrated_gradients"
                    for k in ("check_mean", "check_max", "check_scale", "absorbed_mean"):
                        ta.a_f64(d, k, rng.uniform(1e-8, 1e-7) if ig and k != "absorbed_mean" else 0)
                    d.attrs.create("topk_accuracy", rng.uniform(0.5, 1, 4), dtype="<f8")
                    if ig:
                        ta.a_str(d, "ig_baseline", "mean")
                        ta.a_i64(d, "ig_steps", 50)
                    ta.a_str(d, "masking", "zero")
                    if not skipped:
                        for k in ("spearman", "support_recall", "auroc"):
                            ta.a_f64(d, k, rng.uniform(0, 1))
        g = summ[ids[0]].create_group("relevance")
        for method in METHODS:
            m = g.create_group(method)
            m["abs_mean"] = rng.uniform(0, 1, 8)
            m["abs_std"] = rng.uniform(0, 0.1, 8)
            m["topk_accuracy"] = rng.uniform(0.5, 1, (3, 4))
            for k in METHOD_SCORES:
                ta.a_f64(m, k + "_mean", rng.uniform(0, 1))
                ta.a_f64(m, k + "_std", rng.uniform(0, 0.1))
            # the stability of 3 realizations' relevance, with ties
            rows = np.round(rng.normal(size=(3, 8)), 1)
            ta.write_stability(m, rows, method, [1, 2, 4, 8])
        # a diverged run of the second cell
        r = f["runs"].create_group(f"{ids[1]}__seed=9")
        for k in ("dataset", "cell_id", "regime"):
            ta.a_str(r, k, attr(runs_of[ids[1]][0], k))
        r.attrs.create("model.hidden", model[1][0], dtype="<i8")
        ta.a_f64(r, "reg_eigenvalues", 1e-2)
        ta.a_i64(r, "seed", 9)
        ta.a_str(r, "status", "diverged")
        ta.a_str(r, "message", "training loss became NaN at epoch 3")
        ta.a_f64(r, "test_accuracy", np.nan)
    return ids


def test_optional_parts_in_the_browser(tmp_path):
    path = str(tmp_path / "optional.h5")
    ids = build_optional(path)
    page = str(tmp_path / "report.html")
    p = report(path, page)
    assert p.returncode == 0, p.stderr
    with open(page, encoding="utf-8") as f:
        text = f.read()
    png, root, probe = browse(page, str(tmp_path))
    check_screenshot(png, "optional parts")
    n_img = check_images(probe, text)
    compared = check_summary_table(root, path)
    # the first cell's stored methods and the second's eigenvalues as spectral
    compared += check_stability(root, path)
    stabs = [t.attrs["data-cell"] for t in root.find_all("table", **{"class": "stability"})]
    assert stabs == ids
    check_plan(root, probe, path)
    n_bad = check_problems(root, path)
    # the axes in the sweep's order, model key and bundle axis included
    (t,) = root.find_all("table", id="summary-table")
    assert header(t)[:4] == ["dataset", "model.hidden", "regime", "reg_eigenvalues"]
    cols = {a["data-cell"]: c for a, c, _ in rows_of(t)}
    assert cols[ids[0]]["axis:model.hidden"].text() == "[100, 50]"
    assert cols[ids[1]]["axis:model.hidden"].text() == "[]"
    assert cols[ids[1]]["axis:regime"].text() == "direct"
    assert cols[ids[1]]["n"].text() == "3 (+1 diverged, 0 failed)"

    with h5py.File(path, "r") as f:
        # per-method relevance: stored with the first cell, gathered from the runs of the second
        compared += check_methods(root, path)
        tables = root.find_all("table", **{"class": "methods"})
        assert [t.attrs["data-cell"] for t in tables] == ids
        first = ["method", "n", "spearman", "support recall", "auroc"]
        assert header(tables[0])[:-1] == first + ["seconds", "forward passes", "backward passes"]
        assert header(tables[1])[:-1] == first + ["seconds", "forward passes", "backward passes"]
        info = {(u.attrs["data-cell"], li.attrs["data-method"]): li.text()
                for u in root.find_all("ul", **{"class": "minfo"}) for li in u.find_all("li")}
        assert info[(ids[1], "")] == "every method: masking=zero"
        assert info[(ids[1], "spectral")] == "spectral: n_samples=0, skipped"
        ig = info[(ids[1], "integrated_gradients")]
        assert ig.startswith("integrated_gradients: ig_baseline=mean, ig_steps=50, n_samples=50, "
                             "checks: check_max ")
        assert info[(ids[0], "")] == "every method: masking=zero"  # from the runs

        # retraining: one table, the first cell's, as the file stores it and linked to its
        # figure; a failed run and a k without a finished run; the retraining cells in no
        # other table
        compared += check_retraining(root, path)
        (rt,) = root.find_all("table", **{"class": "retrain"})
        assert rt.attrs["data-cell"] == ids[0]
        assert header(rt) == ["method"] + [f"{mode} {k}" for mode in ("keep", "remove")
                                           for k in KEEP_K] + ["all inputs"]
        cols = {a["data-method"]: c for a, c, _ in rows_of(rt)}
        assert list(cols) == list(RETRAIN_METHODS)
        assert cols["spectral"]["remove:2"].text().endswith(" (n=2, 1 not ok)")
        assert cols["random"]["keep:4"].text() == "- (n=0, 3 not ok)"
        kids = [g for g in f["runs"].values() if "retrain_parent" in g.attrs]
        assert len(kids) == 2 * len(RETRAIN_METHODS) * len(KEEP_K) * ta.SEEDS
        (dd,) = root.find_all("dd", id="fact-retraining-runs")
        assert dd.text() == str(len(kids))
        assert len([g for g in f["summary"].values() if "retrain_mode" in g.attrs]) == \
            2 * len(RETRAIN_METHODS) * len(KEEP_K) - 1
        shown = {fg.attrs["data-file"]: fg.attrs["data-figure"] for fg in root.find_all("figure")}
        assert [x for x, kind in shown.items() if kind == "retrain"] == [f"{ids[0]}_retrain.png"]
        assert not [x for x in shown if "__keep=" in x or "__remove=" in x]
    assert n_bad == 5  # the diverged run and the retraining runs that failed
    (t,) = root.find_all("table", id="problems-table")
    par = {a["data-run"]: c["parent"].text() for a, c, _ in rows_of(t)}
    assert sorted(par.values()) == ["-", f"{ids[0]}__seed=0", f"{ids[0]}__seed=1",
                                    f"{ids[0]}__seed=1", f"{ids[0]}__seed=2"]
    print(f"optional parts: {n_img} images decoded, {compared} table cells compared with the file")


# ---- without a browser ----------------------------------------------------------------------

def test_no_finished_cell_yet(tmp_path):
    """Every run diverged: the page says so, lists them, and finds the axes in the runs."""
    path = str(tmp_path / "none.h5")
    ta.write_results(path, {"g8": ta.make_datasets()["g8"]}, [], ["learning_rate"])
    with h5py.File(path, "a") as f:
        for lr in (1e3, 1e4):
            r = f["runs"].create_group(f"g8__learning_rate={lr:g}__seed=0")
            ta.a_str(r, "dataset", "g8")
            ta.a_str(r, "cell_id", f"g8__learning_rate={lr:g}")
            ta.a_i64(r, "seed", 0)
            for k, v in ta.TRAINING.items():
                ta.a_key(r, k, lr if k == "learning_rate" else v)
            ta.a_str(r, "status", "diverged")
            ta.a_str(r, "message", f"training loss became NaN at epoch {int(lr) // 1000}")
    page = str(tmp_path / "r.html")
    p = report(path, page)
    assert p.returncode == 0, p.stderr
    with open(page, encoding="utf-8") as f:
        root = parse(f.read())
    (t,) = root.find_all("table", id="axes")
    (a, cols, _), = rows_of(t)
    assert a["data-axis"] == "learning_rate"
    assert [sp.text() for sp in cols["values"].find_all("span")] == ["1000", "10000"]
    assert "No cell has a finished run yet" in root.find_all("section", id="summary")[0].text()
    (t,) = root.find_all("table", id="problems-table")
    msgs = sorted(c["message"].text() for _, c, _ in rows_of(t))
    assert msgs == ["training loss became NaN at epoch 1", "training loss became NaN at epoch 10"]


def test_one_realization_has_no_stability_table(tmp_path):
    """Cells of one realization store no stability: the summary shows "-", the stability
    section says that no cell has two realizations and has no table."""
    path = str(tmp_path / "one.h5")
    datasets = {"g8": ta.make_datasets()["g8"]}
    cells = ta.make_cells(datasets, regs=[1e-4, 1e-2], epochs=[10])
    for c in cells:
        del c["swept"]["epochs"]
        for k in ("eig", "acc", "loss", "tacc", "racc"):
            c[k] = c[k][:1]
    ta.write_results(path, datasets, cells, ["reg_eigenvalues"])
    page = str(tmp_path / "r.html")
    p = report(path, page)
    assert p.returncode == 0, p.stderr
    with open(page, encoding="utf-8") as f:
        root = parse(f.read())
    assert check_summary_table(root, path) > 0
    assert check_stability(root, path) == 0
    (sec,) = root.find_all("section", id="stability")
    assert "No cell has two realizations" in sec.text() and not sec.find_all("table")
    (t,) = root.find_all("table", id="summary-table")
    assert {c["tau"].text() for _, c, _ in rows_of(t)} == {"-"}


@pytest.mark.parametrize("what", ["missing", "text", "otherformat"])
def test_bad_input_exits_2(tmp_path, what):
    path = str(tmp_path / f"{what}.h5")
    if what == "text":
        with open(path, "w") as f:
            f.write("not hdf5\n")
    elif what == "otherformat":
        with h5py.File(path, "w") as f:
            ta.a_str(f, "format", "something-else")
    page = str(tmp_path / "r.html")
    p = report(path, page)
    assert p.returncode == 2 and path in p.stderr and "Traceback" not in p.stderr
    assert not os.path.exists(page)


def test_output_directory_missing_exits_2(tmp_path):
    path = str(tmp_path / "r.h5")
    ta.write_results(path, {"g8": ta.make_datasets()["g8"]}, [], [])
    p = report(path, str(tmp_path / "no" / "such" / "r.html"))
    assert p.returncode == 2 and "does not exist" in p.stderr
