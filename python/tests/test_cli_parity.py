"""The estimators against build/train and build/predict on the CPU backend: the same data, seed and flags give
the same figures bit for bit, and each side reads the other's model files."""

import numpy as np
import pytest

import fasttab
from conftest import (SMALL, make_binary, make_multiclass, make_regression, read_json, run_tool,
                      write_table_npy)

TEST_ROWS = 400
CLI_FLAGS = ["--device", "cpu", "--hidden", "32,32", "--batch-size", "64", "--epochs", "3", "--shuffle",
             "--standardize", "--seed", "7", "--dropout", "0.5", "--lr", "0.001", "--no-cache"]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_same_figures_as_build_train(tmp_path, task):
    X, y = {"binary": make_binary, "multiclass": make_multiclass, "regression": make_regression}[task]()
    write_table_npy(tmp_path / "t.npy", X.astype(np.float32), y)
    extra = [] if task == "binary" else ["--task", task]
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS,
             "--json", tmp_path / "run.json", *CLI_FLAGS, *extra)
    cli = read_json(tmp_path / "run.json")

    cls = fasttab.MLPRegressor if task == "regression" else fasttab.MLPClassifier
    est = cls(**SMALL).fit(X[:-TEST_ROWS], y[:-TEST_ROWS], eval_set=(X[-TEST_ROWS:], y[-TEST_ROWS:]))
    assert len(est.history_) == len(cli["epochs"]) == 3
    for mine, theirs in zip(est.history_, cli["epochs"]):
        assert mine["train_loss"] == theirs["train_loss"]
        assert mine["test_loss"] == theirs["test_loss"]
        if task == "binary":
            assert mine["test_auc"] == theirs["test_auc"]
        if task == "multiclass":
            assert mine["test_accuracy"] == theirs["test"]["accuracy"]
        if task == "regression":
            assert mine["test_r2"] == theirs["test"]["r2"]
    assert est.history_[-1]["test_loss"] == cli["test"]["loss"]
    if task == "binary":
        assert est.history_[-1]["test_auc"] == cli["test_auc"]


def test_build_predict_reads_a_model_saved_from_python(tmp_path):
    X, y = make_binary()
    est = fasttab.MLPClassifier(**SMALL).fit(X, y)
    est.save(tmp_path / "py.ckpt")
    write_table_npy(tmp_path / "x.npy", X.astype(np.float32), y)
    out = run_tool("predict", "--device", "cpu", "--model", tmp_path / "py.ckpt", "--data", tmp_path / "x.npy",
                   "--label-col", "0", "--out", tmp_path / "p.npy", "--no-cache")
    assert "binary model" in out
    from_cli = np.load(tmp_path / "p.npy")
    assert np.array_equal(from_cli, est.predict_proba(X)[:, 1].astype(np.float32))


def test_multiclass_model_saved_from_python_in_build_predict(tmp_path):
    X, y = make_multiclass()
    labels = np.array(["red", "green", "blue"])[y]  # classes_ sorted: blue, green, red
    est = fasttab.MLPClassifier(**SMALL).fit(X, labels)
    est.save(tmp_path / "py.ckpt")
    write_table_npy(tmp_path / "x.npy", X.astype(np.float32), y)
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "py.ckpt", "--data", tmp_path / "x.npy",
             "--label-col", "0", "--out", tmp_path / "p.npy", "--probabilities", "--no-cache")
    from_cli = np.load(tmp_path / "p.npy")
    assert np.array_equal(est.classes_[from_cli[:, 0].astype(int)], est.predict(X))
    assert np.array_equal(from_cli[:, 1:], est.predict_proba(X).astype(np.float32))


def test_python_loads_a_model_saved_by_build_train(tmp_path):
    X, y = make_regression()
    write_table_npy(tmp_path / "t.npy", X.astype(np.float32), y)
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS, "--task",
             "regression", "--save", tmp_path / "cli.ckpt", *CLI_FLAGS)
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "cli.ckpt", "--data", tmp_path / "t.npy",
             "--label-col", "0", "--out", tmp_path / "p.npy", "--no-cache")
    est = fasttab.load(tmp_path / "cli.ckpt", device="cpu")
    assert isinstance(est, fasttab.MLPRegressor)
    assert est.hidden == (32, 32) and est.seed == 7 and est.standardize and est.n_features_in_ == X.shape[1]
    assert np.array_equal(est.predict(X).astype(np.float32), np.load(tmp_path / "p.npy"))


def test_cli_binary_model_gets_labels_0_and_1(tmp_path):
    X, y = make_binary()
    write_table_npy(tmp_path / "t.npy", X.astype(np.float32), y)
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS,
             "--save", tmp_path / "cli.ckpt", *CLI_FLAGS)
    est = fasttab.load(tmp_path / "cli.ckpt", device="cpu")
    assert isinstance(est, fasttab.MLPClassifier)
    assert est.classes_.tolist() == [0, 1]
    assert est.score(X, y) > 0.6


def test_cli_model_with_early_stopping_loads_with_its_validation_split(tmp_path):
    X, y = make_binary()
    write_table_npy(tmp_path / "t.npy", X.astype(np.float32), y)
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS, "--val-rows", 320,
             "--patience", 2, "--save", tmp_path / "cli.ckpt", *CLI_FLAGS)
    est = fasttab.load(tmp_path / "cli.ckpt", device="cpu")
    assert est.patience == 2 and est.validation_fraction == pytest.approx(320 / (2000 - TEST_ROWS))
    est.set_params(epochs=2).fit(X, y)  # the loaded parameters are valid for a new fit


def test_bf16_same_figures_as_build_train_and_build_predict(tmp_path):
    """precision="bf16" (bfloat16 storage; the CPU widens the same bfloat16 values for OpenBLAS) through the binding:
    the same figures as build/train --precision bf16 bit for bit, and build/predict predicts the Python model in
    bf16 (the checkpoint's precision), as Python does."""
    X, y = make_binary()
    write_table_npy(tmp_path / "t.npy", X.astype(np.float32), y)
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS, "--json",
             tmp_path / "run.json", "--precision", "bf16", *CLI_FLAGS)
    cli = read_json(tmp_path / "run.json")
    est = fasttab.MLPClassifier(**{**SMALL, "precision": "bf16"})
    est.fit(X[:-TEST_ROWS], y[:-TEST_ROWS], eval_set=(X[-TEST_ROWS:], y[-TEST_ROWS:]))
    assert [h["train_loss"] for h in est.history_] == [e["train_loss"] for e in cli["epochs"]]
    assert est.history_[-1]["test_auc"] == cli["test_auc"]

    fp32 = fasttab.MLPClassifier(**SMALL).fit(X[:-TEST_ROWS], y[:-TEST_ROWS], eval_set=(X[-TEST_ROWS:], y[-TEST_ROWS:]))
    assert fp32.history_[-1]["train_loss"] != est.history_[-1]["train_loss"]  # bf16 did change the arithmetic
    assert abs(fp32.history_[-1]["test_auc"] - est.history_[-1]["test_auc"]) < 0.02

    est.save(tmp_path / "bf16.ckpt")
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "bf16.ckpt", "--data", tmp_path / "t.npy",
             "--label-col", "0", "--out", tmp_path / "p.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "p.npy"), est.predict_proba(X)[:, 1].astype(np.float32))
