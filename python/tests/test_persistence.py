"""save/load, pickle and joblib round trips give the same predictions; the estimator API (clone, params,
Pipeline) works on fitted and unfitted estimators."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fasttab
from conftest import SMALL, make_binary, make_multiclass, make_regression


@pytest.fixture(scope="module")
def fitted():
    X, y = make_multiclass()
    labels = np.array(["cat", "dog", "emu"], dtype=object)[y]
    est = fasttab.MLPClassifier(**SMALL).fit(X[:1600], labels[:1600], eval_set=(X[1600:], labels[1600:]))
    return est, X


def same_predictions(a, b, X):
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert np.array_equal(a.predict(X), b.predict(X))
    assert a.classes_.tolist() == b.classes_.tolist()
    assert a.n_features_in_ == b.n_features_in_
    assert a.history_ == b.history_


def test_save_load(fitted, tmp_path):
    est, X = fitted
    est.save(tmp_path / "m.ckpt")
    back = fasttab.load(tmp_path / "m.ckpt", device="cpu")
    same_predictions(est, back, X)
    assert back.get_params() == {**est.get_params(), "callback": None}


def test_pickle(fitted):
    est, X = fitted
    same_predictions(est, pickle.loads(pickle.dumps(est)), X)


def test_joblib(fitted, tmp_path):
    joblib = pytest.importorskip("joblib")
    est, X = fitted
    joblib.dump(est, tmp_path / "m.joblib")
    same_predictions(est, joblib.load(tmp_path / "m.joblib"), X)


def test_save_keeps_feature_names_and_numeric_labels(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_binary()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = fasttab.MLPClassifier(**SMALL).fit(df, y + 10)
    est.save(tmp_path / "m.ckpt")
    back = fasttab.load(tmp_path / "m.ckpt", device="cpu")
    assert back.feature_names_in_.tolist() == df.columns.tolist()
    assert back.classes_.tolist() == [10, 11] and back.classes_.dtype == est.classes_.dtype
    assert np.array_equal(back.predict(df), est.predict(df))


def test_regressor_round_trips(tmp_path):
    X, y = make_regression()
    est = fasttab.MLPRegressor(**SMALL).fit(X, y)
    est.save(tmp_path / "r.ckpt")
    for back in (fasttab.load(tmp_path / "r.ckpt", device="cpu"), pickle.loads(pickle.dumps(est))):
        assert isinstance(back, fasttab.MLPRegressor)
        assert np.array_equal(back.predict(X), est.predict(X))


def test_log_target_regressor_round_trips(tmp_path):
    X, y = make_regression()
    est = fasttab.MLPRegressor(**SMALL, log_target=True).fit(X, np.exp(0.2 * y))
    est.save(tmp_path / "log.ckpt")
    back = fasttab.load(tmp_path / "log.ckpt", device="cpu")
    assert back.log_target is True
    assert np.array_equal(back.predict(X), est.predict(X))


def test_clone_and_params():
    est = fasttab.MLPClassifier(hidden=(8,), epochs=2)
    assert est.get_params()["hidden"] == (8,) and est.get_params()["batch_size"] == 16384
    twin = clone(est).set_params(epochs=4)
    assert twin.epochs == 4 and est.epochs == 2


def test_cli_defaults():
    p = fasttab.MLPRegressor().get_params()
    assert p["hidden"] == (300, 300, 300, 300) and p["activation"] == "tanh" and p["dropout"] == 0.5
    assert p["batch_size"] == 16384 and p["epochs"] == 10 and p["lr"] == 1e-3 and p["optimizer"] == "adam"
    assert p["lr_schedule"] == "constant" and p["precision"] == "fp32" and p["device"] == "auto"
    assert p["shuffle"] is False and p["seed"] == 1 and p["standardize"] is False
    assert p["validation_fraction"] == 0.0 and p["patience"] == 0 and p["eval_every"] == 100
    assert p["standardize_target"] is True and p["log_target"] is False


def test_pipeline():
    X, y = make_binary()
    pipe = make_pipeline(StandardScaler(), fasttab.MLPClassifier(**{**SMALL, "standardize": False}))
    pipe.fit(X[:1600], y[:1600])
    assert pipe.score(X[1600:], y[1600:]) > 0.7


def test_saved_file_is_checksummed(fitted, tmp_path):
    # save() appends its section and writes the container's CRC-32C again: the engine verifies it on load, and
    # a damaged file is reported as damaged.
    est, X = fitted
    est.save(tmp_path / "m.ckpt")
    data = bytearray((tmp_path / "m.ckpt").read_bytes())
    assert b"python" in data
    data[100] ^= 0xFF
    (tmp_path / "bad.ckpt").write_bytes(bytes(data))
    with pytest.raises(fasttab.EngineError, match="corrupted"):
        fasttab.load(tmp_path / "bad.ckpt")


def test_save_twice_replaces_the_section(fitted, tmp_path):
    est, X = fitted
    est.save(tmp_path / "a.ckpt")
    back = fasttab.load(tmp_path / "a.ckpt", device="cpu")
    back.save(tmp_path / "b.ckpt")
    assert (tmp_path / "b.ckpt").read_bytes().count(b"\x06\x00\x00\x00python") == 1
    same_predictions(est, fasttab.load(tmp_path / "b.ckpt", device="cpu"), X)
