"""Tests of analysis/table1.py (run by /usr/bin/python3 -m pytest).

Results files are built here with h5py in the layout of a sweep that records its models
(docs/FORMATS.md: model.* and init.* attributes, n_trainable, the retraction's fields),
with accuracies chosen so that the answers are known: which architecture is best per
family and regime, the mean and std over seeds, how many architectures put the
eigenvalues above the subset, whether eigenvectors are on par with all weights. The
family, regime and initialisation must come from the attributes (the bundle names here
are deliberately unhelpful), and runs of sweeps that record no model are ignored.
"""
import importlib.util
import json
import os

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "table1", os.path.join(HERE, "..", "analysis", "table1.py"))
table1 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(table1)

VLSTR = h5py.string_dtype("utf-8")
REGIMES = {  # regime -> (model.spectral, model.trainable_weights, train_eigenvectors)
    "eigenvalues": ("all", "all", 0), "eigen_vectors": ("all", "all", 1),
    "direct": ("none", "all", 1), "subset": ("none", "match_eigenvalues", 1)}


def write(path, runs, record_model=True):
    """runs: (dataset, regime, hidden, activations, init, seed, accuracy)."""
    with h5py.File(path, "w") as f:
        f.attrs.create("format", "specsweep-results", dtype=VLSTR)
        f.attrs["format_version"] = np.int64(1)
        g = f.create_group("runs")
        for i, (ds, regime, hidden, acts, init, seed, acc) in enumerate(runs):
            r = g.create_group(f"run{i}")
            spectral, weights, evec = REGIMES[regime]
            for k, v in [("dataset", ds), ("cell_id", f"{ds}-{regime}-{hidden}-{init}"),
                         ("status", "ok"), ("regime", f"bundle{i % 3}")]:
                r.attrs.create(k, v, dtype=VLSTR)
            r.attrs["seed"] = np.int64(seed)
            r.attrs["test_accuracy"] = np.float64(acc)
            r.attrs["train_eigenvectors"] = np.int64(evec)
            r.attrs["epochs"] = np.int64(20)
            r.attrs["learning_rate"] = np.float64(0.03)
            if not record_model:
                continue
            r.attrs["n_trainable"] = np.int64(804 if regime in ("eigenvalues", "subset")
                                              else 7850)
            r.attrs["model.hidden"] = np.array(hidden, dtype="<i8")
            r.attrs.create("model.activations", ",".join(acts), dtype=VLSTR)
            r.attrs.create("model.spectral", spectral, dtype=VLSTR)
            r.attrs.create("model.trainable_weights", weights, dtype=VLSTR)
            r.attrs.create("init.eigenvectors", "glorot" if init == "glorot" else "0.5",
                           dtype=VLSTR)
            r.attrs["init.lambda_out"] = np.array([0.0, 0.0] if init == "glorot"
                                                  else [-0.01, 0.01])
            r.attrs.create("initialisation", init, dtype=VLSTR)
            r.attrs["retracted_test_accuracy"] = np.float64(acc + (0.0005 if i == 3 else 0))
            r.create_dataset("weights_histogram", data=np.array([1, 2, 3, 4], dtype="<i8"))
            r.create_dataset("weights_histogram_edges", data=np.linspace(-1, 1, 5))
            r.create_dataset("retracted_shape", data=np.array([784, 10], dtype="<i8"))


ACC = {  # (regime, hidden) -> accuracies of seeds 0, 1 (wide family, mnist, glorot)
    ("eigenvalues", (20,)): (0.80, 0.82), ("eigenvalues", (100,)): (0.90, 0.92),
    ("subset", (20,)): (0.85, 0.85), ("subset", (100,)): (0.86, 0.88),
    ("direct", (20,)): (0.90, 0.90), ("direct", (100,)): (0.91, 0.93),
    ("eigen_vectors", (20,)): (0.91, 0.91), ("eigen_vectors", (100,)): (0.925, 0.925),
}


def runs_of():
    rs = []
    for (regime, hidden), accs in ACC.items():
        for seed, acc in enumerate(accs):
            rs.append(("mnist", regime, list(hidden), ["linear"], "glorot", seed, acc))
    # non-linear, perceptron and another initialisation
    rs.append(("mnist", "direct", [50, 120], ["linear", "relu"], "glorot", 0, 0.95))
    rs.append(("mnist", "eigenvalues", [], [], "glorot", 0, 0.81))
    rs.append(("mnist", "eigenvalues", [20], ["linear"], "paper", 0, 0.70))
    return rs


def test_table_from_attributes(tmp_path, capsys):
    path = str(tmp_path / "r.h5")
    write(path, runs_of())
    other = str(tmp_path / "old.h5")          # a sweep that records no model: ignored
    write(other, [("mnist", "direct", [20], ["linear"], "glorot", 0, 0.99)],
          record_model=False)
    out = tmp_path / "fig"
    assert table1.main([path, other, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rep = json.loads((out / "table1.json").read_text())
    wide = rep["table"]["mnist"]["glorot"]["linear wide"]
    # best architecture per regime, mean and std over the two seeds in percent
    assert wide["eigenvalues"]["hidden"] == [100]
    assert wide["eigenvalues"]["mean"] == pytest.approx(91.0)
    assert wide["eigenvalues"]["std"] == pytest.approx(1.0)
    assert wide["subset"]["hidden"] == [100] and wide["subset"]["mean"] == pytest.approx(87.0)
    assert wide["direct"]["mean"] == pytest.approx(92.0) and wide["direct"]["n"] == 2
    assert wide["eigen_vectors"]["mean"] == pytest.approx(92.5)
    assert rep["table"]["mnist"]["glorot"]["non-linear"]["direct"]["mean"] == \
        pytest.approx(95.0)
    assert rep["perceptron"]["mnist"]["glorot"]["eigenvalues"]["mean"] == pytest.approx(81.0)
    assert "paper" in rep["table"]["mnist"]          # the other initialisation apart
    assert rep["table"]["mnist"]["paper"]["linear wide"]["eigenvalues"]["mean"] == \
        pytest.approx(70.0)
    # the checks: eigenvalues above the subset at (100,) only, on par at 0.5 points
    chk = rep["checks"]["mnist"]["glorot"]
    assert chk["eigenvalues_above_subset"]["wins"] == 1
    assert chk["eigenvalues_above_subset"]["of"] == 2
    assert chk["eigenvalues_above_subset"]["smallest_margin"] == pytest.approx(-4.0)
    assert chk["eigenvectors_vs_direct"]["linear wide"]["on_par"]
    assert chk["retraction_max_diff"] == pytest.approx(0.0005)
    # the Markdown: the paper's column beside ours, the architecture named
    assert "| train Λ (eigenvalues only) | 91.0 ± 1.0 (784-100-10, n=2)" in text
    assert "90.9" in text and "97.3" in text
    # figures: accuracy against the architecture for the wide family, histograms
    series = rep["figures"]["mnist_glorot_linear-wide.png"]
    assert series["eigenvalues"]["x"] == ["784-20-10", "784-100-10"]
    assert series["eigenvalues"]["mean"] == pytest.approx([81.0, 91.0])
    assert (out / "mnist_glorot_perceptron_weights.png").exists()


def test_no_model_runs(tmp_path, capsys):
    path = str(tmp_path / "old.h5")
    write(path, [("mnist", "direct", [20], ["linear"], "glorot", 0, 0.99)],
          record_model=False)
    assert table1.main([path]) == 2
    assert "no runs that record their model" in capsys.readouterr().err


def test_not_a_results_file(tmp_path, capsys):
    path = tmp_path / "x.h5"
    path.write_bytes(b"not hdf5")
    assert table1.main([str(path)]) == 2
    assert "cannot open" in capsys.readouterr().err
