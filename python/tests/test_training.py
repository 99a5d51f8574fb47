"""Training behaviour: history_, verbose lines, the callback (figures in, False stops), early stopping, the GIL
released during fit, and Ctrl-C (SIGINT) stopping fit promptly and leaving the estimator as it was."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import fasttab
from conftest import SMALL, make_binary, make_regression

X, Y = make_binary(rows=3000)


def test_history_and_verbose(capsys):
    est = fasttab.MLPClassifier(**{**SMALL, "verbose": True}).fit(X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:]))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch   1 ") and "samples/s  train loss" in lines[0]
    assert "test AUC" in lines[0]
    assert [h["epoch"] for h in est.history_] == [1, 2, 3]
    assert {"seconds", "samples_per_s", "train_loss", "lr", "test_loss", "test_auc", "test_accuracy"} <= set(est.history_[0])
    assert est.history_[-1]["test_auc"] > 0.7


def test_history_without_eval_set_has_no_test_figures():
    est = fasttab.MLPRegressor(**SMALL).fit(*make_regression())
    assert all(not k.startswith("test_") for k in est.history_[0])


def test_callback_sees_figures_and_stops_training():
    seen = []

    def callback(figures):
        seen.append(figures)
        return figures["epoch"] < 2

    est = fasttab.MLPClassifier(**{**SMALL, "epochs": 10, "callback": callback}).fit(X, Y)
    assert [f["epoch"] for f in seen] == [1, 2]
    assert len(est.history_) == 2 and est.stopped_by_callback_ and est.backend_ == "cpu"
    assert est._model.epochs_done == 2  # the model of epoch 2, as saved by the trainer
    assert est.score(X, Y) > 0.6


def test_callback_exception_propagates_and_leaves_the_estimator_unfitted():
    def callback(figures):
        raise ZeroDivisionError("from the callback")

    est = fasttab.MLPClassifier(**{**SMALL, "callback": callback})
    with pytest.raises(ZeroDivisionError, match="from the callback"):
        est.fit(X, Y)
    assert not hasattr(est, "classes_") and not hasattr(est, "history_")


def test_early_stopping():
    est = fasttab.MLPClassifier(**{**SMALL, "epochs": 200, "validation_fraction": 0.2, "patience": 2, "lr": 0.01})
    est.fit(X, Y)
    assert est.stopped_early_ and len(est.history_) < 200
    assert 1 <= est.best_epoch_ <= len(est.history_) - 2
    assert "val_loss" in est.history_[0]


def test_fit_releases_the_gil():
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    est = fasttab.MLPClassifier(**{**SMALL, "epochs": 8, "batch_size": 256, "hidden": (128, 128)})
    t.start()
    start = time.perf_counter()
    est.fit(X, Y)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # The other thread ran throughout fit (it would be starved if fit held the GIL).
    assert len(during) > 0.3 * (end - start) / 0.0011, (len(during), end - start)


def test_sigint_stops_fit_and_leaves_the_estimator_as_before():
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        est = fasttab.MLPClassifier(**{**SMALL, "epochs": 2}).fit(X, Y)
        before = est.predict_proba(X)
        history = list(est.history_)
        est.set_params(epochs=100_000, hidden=(256, 256), batch_size=32)
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            est.fit(X, Y)
        stopped_after = time.perf_counter() - start
        timer.join()
        assert stopped_after < 3.0, f"fit took {stopped_after:.2f} s to stop after SIGINT at 0.5 s"
        # The fitted state of the first fit is intact and usable.
        assert np.array_equal(est.predict_proba(X), before) and est.history_ == history
        # And a new fit works.
        est.set_params(epochs=1, hidden=(16,), batch_size=64)
        assert est.fit(X, Y).score(X, Y) > 0.5
    finally:
        signal.signal(signal.SIGINT, old)


def test_regressor_target_transform_predicts_in_y_units():
    # y around 5000: the standardised target (the default) learns it; predictions come back in y's units.
    Xr, yr = make_regression(rows=3000)
    y = 5000 + 100 * yr
    est = fasttab.MLPRegressor(**SMALL).fit(Xr[:2500], y[:2500], eval_set=(Xr[2500:], y[2500:]))
    assert est.get_params()["standardize_target"] is True and est.get_params()["log_target"] is False
    pred = est.predict(Xr[2500:])
    assert abs(pred.mean() - y[2500:].mean()) < 100
    assert est.score(Xr[2500:], y[2500:]) > 0.5
    # The history's test figures are those of y, as the predictions give them (float32 rounding aside).
    rmse = float(np.sqrt(np.mean((pred - y[2500:]) ** 2)))
    assert est.history_[-1]["test_rmse"] == pytest.approx(rmse, rel=1e-4)
    assert est.history_[-1]["test_mae"] == pytest.approx(float(np.mean(np.abs(pred - y[2500:]))), rel=1e-4)


def test_regressor_log_target():
    Xr, yr = make_regression(rows=3000)
    y = np.exp(0.3 * yr)
    est = fasttab.MLPRegressor(**SMALL, log_target=True).fit(Xr[:2500], y[:2500], eval_set=(Xr[2500:], y[2500:]))
    pred = est.predict(Xr[2500:])
    assert (pred > 0).all()
    # The test figures are those of log y.
    log_rmse = float(np.sqrt(np.mean((np.log(pred) - np.log(y[2500:])) ** 2)))
    assert est.history_[-1]["test_rmse"] == pytest.approx(log_rmse, rel=1e-3)
    bad = y[:2500].copy()
    bad[9] = -1.0
    with pytest.raises(fasttab.EngineError, match=r"row 10: label -1 is not a finite number > 0"):
        fasttab.MLPRegressor(**SMALL, log_target=True).fit(Xr[:2500], bad)


def test_cuda_graphs_gives_the_same_run():
    # On the CPU backend the captured step is called again each step: the same figures and predictions, bit for bit.
    runs = [fasttab.MLPClassifier(**{**SMALL, "dropout": 0.3, "cuda_graphs": graphs}).fit(
        X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:])) for graphs in (False, True)]
    assert runs[1].cuda_graphs and runs[1].get_params()["cuda_graphs"]
    assert [h["train_loss"] for h in runs[0].history_] == [h["train_loss"] for h in runs[1].history_]
    assert np.array_equal(runs[0].predict_proba(X[2500:]), runs[1].predict_proba(X[2500:]))


def test_pad_hidden_trains_the_same_model_and_survives_save_and_load(tmp_path):
    # Hidden widths 45 and 30 run at 48 and 32: the same figures up to the order of the GEMMs' sums (measured about
    # 1e-7 apart in the engine's tests), the same model shape out, and the setting kept by save/load.
    params = {**SMALL, "hidden": (45, 30), "dropout": 0.3}
    plain, padded = [fasttab.MLPClassifier(**{**params, "pad_hidden": n}).fit(
        X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:])) for n in (1, 8)]
    assert padded.get_params()["pad_hidden"] == 8
    for a, b in zip(plain.history_, padded.history_):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    np.testing.assert_allclose(padded.predict_proba(X[2500:]), plain.predict_proba(X[2500:]), atol=1e-4)
    path = tmp_path / "padded.ckpt"
    padded.save(path)
    loaded = fasttab.load(path)
    assert loaded.pad_hidden == 8
    assert np.array_equal(loaded.predict_proba(X[2500:]), padded.predict_proba(X[2500:]))
    for bad in (0, 257):
        with pytest.raises(ValueError, match=r"pad_hidden=.* is not in \[1, 256\]"):
            fasttab.MLPClassifier(**{**params, "pad_hidden": bad}).fit(X[:100], Y[:100])


def test_overlap_weight_gradients_gives_the_same_run():
    # On the CPU the side queue's work runs at the join: the same figures bit for bit.
    runs = [fasttab.MLPClassifier(**{**SMALL, "overlap_weight_gradients": on}).fit(
        X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:])) for on in (False, True)]
    assert runs[1].get_params()["overlap_weight_gradients"]
    assert [h["train_loss"] for h in runs[0].history_] == [h["train_loss"] for h in runs[1].history_]
    assert np.array_equal(runs[0].predict_proba(X[2500:]), runs[1].predict_proba(X[2500:]))


def test_gemm_library_is_a_parameter_kept_by_save_and_load(tmp_path):
    # The CPU runs OpenBLAS whatever gemm says: the same figures bit for bit. The checkpoint records the library (it
    # decides a GPU run's bits), load() gives it back, and a name that is not a library is refused before training.
    runs = [fasttab.MLPClassifier(**{**SMALL, "gemm": g}).fit(X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:]))
            for g in ("cublas", "cublaslt-timed")]
    assert runs[1].get_params()["gemm"] == "cublaslt-timed"
    assert [h["train_loss"] for h in runs[0].history_] == [h["train_loss"] for h in runs[1].history_]
    path = tmp_path / "lt.ckpt"
    runs[1].save(path)
    assert fasttab.load(path).gemm == "cublaslt-timed"
    with pytest.raises(ValueError, match=r"gemm='cutlass' is not one of 'cublas', 'cublaslt', 'cublaslt-timed'"):
        fasttab.MLPClassifier(**{**SMALL, "gemm": "cutlass"}).fit(X[:100], Y[:100])


def test_fused_mlp_trains_the_bf16_model_and_survives_save_and_load(tmp_path):
    # The fused bf16 passes (on the CPU the kernels' block code with scalar tiles) against the per-layer bf16 ones:
    # the same arithmetic up to the order of float32 sums (the engine's tests measure parameters 1e-5 apart after 3
    # epochs); the setting kept by save/load; refused, naming what to set, with another precision or pad_hidden.
    params = {**SMALL, "hidden": (45, 30), "dropout": 0.3, "precision": "bf16"}
    plain, fused = [fasttab.MLPClassifier(**{**params, "fused_mlp": on}).fit(
        X[:2500], Y[:2500], eval_set=(X[2500:], Y[2500:])) for on in (False, True)]
    assert fused.get_params()["fused_mlp"]
    for a, b in zip(plain.history_, fused.history_):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-3)
    np.testing.assert_allclose(fused.predict_proba(X[2500:]), plain.predict_proba(X[2500:]), atol=1e-2)
    path = tmp_path / "fused.ckpt"
    fused.save(path)
    loaded = fasttab.load(path)
    assert loaded.fused_mlp
    assert np.array_equal(loaded.predict_proba(X[2500:]), fused.predict_proba(X[2500:]))
    for bad in ({"precision": "fp32"}, {"pad_hidden": 8}):
        with pytest.raises(ValueError, match=r"fused_mlp=True runs the bf16 passes"):
            fasttab.MLPClassifier(**{**params, "fused_mlp": True, **bad}).fit(X[:100], Y[:100])


def test_no_warning_without_eval_set_and_a_clear_one_for_a_single_class_eval_set(capfd):
    # Without eval_set the engine evaluates a stand-in row that nobody reads: nothing may be said about it.
    fasttab.MLPClassifier(**SMALL).fit(X, Y)
    assert "warning" not in capfd.readouterr().err
    ones = Y == 1
    fasttab.MLPClassifier(**SMALL).fit(X, Y, eval_set=(X[ones][:50], Y[ones][:50]))
    err = capfd.readouterr().err
    assert "warning: the evaluation set holds only class 1: its AUC is undefined (nan); choose a test set holding " \
           "both classes" in err
    assert "--test-rows" not in err
