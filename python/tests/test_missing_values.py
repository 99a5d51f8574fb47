"""nan_policy: "reject" (the default: NaN in X is scikit-learn's ValueError) and "indicator" (the CLI's --nan-policy
indicator: each numeric column's mean over the training rows replaces its missing values, and a 0/1 column per
column that had one is added; the checkpoint records the means, so predict, fasttab.load and build/predict apply
them)."""

import pickle

import numpy as np
import pytest

import fasttab
from conftest import SMALL, make_binary, make_regression, read_json, run_tool, write_table_npy

TEST_ROWS = 400
CLI_FLAGS = ["--device", "cpu", "--hidden", "32,32", "--batch-size", "64", "--epochs", "3", "--shuffle",
             "--standardize", "--seed", "7", "--dropout", "0.5", "--lr", "0.001", "--no-cache"]
INDICATOR = {**SMALL, "nan_policy": "indicator"}


def with_missing(X, seed=3):
    """X (float32) with NaN in column 1 (10% of the rows), in column 4 (5 rows, one a test row) and in column 6
    (test rows only: a mean without an indicator)."""
    rng = np.random.default_rng(seed)
    X = X.astype(np.float32)
    X[rng.random(len(X)) < 0.1, 1] = np.nan
    X[[3, 50, len(X) // 3, len(X) // 2, len(X) - 5], 4] = np.nan
    X[len(X) - 2, 6] = np.nan
    return X


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_same_figures_and_means_as_build_train(tmp_path, task):
    X, y = make_binary() if task == "binary" else make_regression()
    X = with_missing(X)
    write_table_npy(tmp_path / "t.npy", X, y)
    extra = [] if task == "binary" else ["--task", task]
    run_tool("train", "--data", tmp_path / "t.npy", "--label-col", "0", "--test-rows", TEST_ROWS, "--nan-policy",
             "indicator", "--json", tmp_path / "run.json", "--save", tmp_path / "cli.ckpt", *CLI_FLAGS, *extra)
    cli = read_json(tmp_path / "run.json")

    cls = fasttab.MLPRegressor if task == "regression" else fasttab.MLPClassifier
    est = cls(**INDICATOR).fit(X[:-TEST_ROWS], y[:-TEST_ROWS], eval_set=(X[-TEST_ROWS:], y[-TEST_ROWS:]))
    assert not est.input_in_place_ and est.n_features_in_ == X.shape[1]
    for mine, theirs in zip(est.history_, cli["epochs"], strict=True):
        assert mine["train_loss"] == theirs["train_loss"]
        assert mine["test_loss"] == theirs["test_loss"]
    loaded = fasttab.load(tmp_path / "cli.ckpt", device="cpu")
    assert loaded._model.imputations == est._model.imputations
    assert loaded.nan_policy == "indicator" and loaded.n_features_in_ == X.shape[1]
    assert [feature for feature, _, flagged in est._model.imputations if flagged] == [1, 4]
    train = X[:-TEST_ROWS].astype(np.float64)
    assert [mean for _, mean, _ in est._model.imputations] == pytest.approx(np.nanmean(train, axis=0), rel=1e-6)
    predict = est.predict_proba if task == "binary" else est.predict
    assert np.array_equal(predict(X), (loaded.predict_proba if task == "binary" else loaded.predict)(X))


def test_build_predict_applies_the_means_of_a_python_model(tmp_path):
    X, y = make_binary()
    X = with_missing(X)
    est = fasttab.MLPClassifier(**INDICATOR).fit(X, y)
    est.save(tmp_path / "py.ckpt")
    proba = est.predict_proba(X)[:, 1].astype(np.float32)
    np.save(tmp_path / "x.npy", X)  # the features only
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "py.ckpt", "--data", tmp_path / "x.npy",
             "--out", tmp_path / "p.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "p.npy"), proba)
    np.save(tmp_path / "xy.npy", np.column_stack([X, y]).astype(np.float32))  # the label last, as the layout says
    out = run_tool("predict", "--device", "cpu", "--model", tmp_path / "py.ckpt", "--data", tmp_path / "xy.npy",
                   "--out", tmp_path / "q.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "q.npy"), proba)
    assert "auc" in out.lower()


def test_predict_rows_with_missing_values():
    X, y = make_binary()
    X = with_missing(X)
    est = fasttab.MLPClassifier(**INDICATOR).fit(X, y)
    means = {feature: mean for feature, mean, _ in est._model.imputations}
    rows = X[:20].copy()
    rows[:, 0] = np.nan  # column 0 had no missing value in fit: its mean, and no indicator
    filled = X[:20].copy()
    filled[:, 0] = means[0]
    proba = est.predict_proba(rows)
    assert np.all(np.isfinite(proba))
    assert np.array_equal(proba, est.predict_proba(filled))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.predict(np.where(np.isnan(X), np.inf, X))
    back = pickle.loads(pickle.dumps(est))
    assert np.array_equal(back.predict_proba(rows), proba)


def test_reject_is_the_default_and_infinity_stays_an_error():
    X, y = make_binary(rows=600)
    Xn = with_missing(X)
    with pytest.raises(ValueError, match="Input X contains NaN.") as error:
        fasttab.MLPClassifier(**SMALL).fit(Xn, y)
    assert "nan_policy" not in str(error.value)  # scikit-learn's message, as before
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fasttab.MLPClassifier(**SMALL).fit(X, y, eval_set=(Xn, y))
    est = fasttab.MLPClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(Xn)
    X[5, 2] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fasttab.MLPClassifier(**INDICATOR).fit(X, y)


def test_indicator_without_missing_values_in_fit():
    # Nothing to impute: the model reads X in place, as under "reject", and has no means for NaN at predict.
    X, y = make_binary(rows=600)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    est = fasttab.MLPClassifier(**{**INDICATOR, "standardize": False}).fit(X32, y)
    assert est.input_in_place_ and est._model.imputations == []
    with pytest.raises(ValueError, match="Input X contains NaN. This model .* no means to replace them"):
        est.predict(with_missing(X))


def test_means_are_of_the_training_rows_less_the_validation_rows():
    X, y = make_binary(rows=1000)
    X = X.astype(np.float32)
    X[-1, 3] = np.nan  # a validation row: column 3 gets its mean, no indicator
    X[0, 5] = np.nan
    est = fasttab.MLPClassifier(**{**INDICATOR, "epochs": 1}, validation_fraction=0.1).fit(X, y)
    imputations = {feature: (mean, flagged) for feature, mean, flagged in est._model.imputations}
    assert imputations[3][1] is False and imputations[5][1] is True
    assert imputations[3][0] == pytest.approx(X[:900, 3].astype(np.float64).mean(), rel=1e-6)


def test_dataframes_numeric_and_with_categories(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = make_binary()
    X = with_missing(X)
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    numeric = fasttab.MLPClassifier(**INDICATOR).fit(df, y)
    assert np.array_equal(numeric.predict_proba(df), fasttab.MLPClassifier(**INDICATOR).fit(X, y).predict_proba(X))

    rng = np.random.default_rng(0)
    df["city"] = pd.Series(rng.choice(["paris", "rome", None], len(df)), dtype=object)
    est = fasttab.MLPClassifier(**INDICATOR).fit(df, y)
    assert est.n_features_in_ == 9 and est.feature_names_in_.tolist() == df.columns.tolist()
    assert [name for _, name, _ in est._model.vocabularies] == ["city"]
    assert [feature for feature, _, flagged in est._model.imputations if flagged] == [1, 4, 6]  # all rows train
    proba = est.predict_proba(df)
    assert np.all(np.isfinite(proba))
    est.save(tmp_path / "m.ckpt")
    loaded = fasttab.load(tmp_path / "m.ckpt", device="cpu")
    assert loaded.nan_policy == "indicator" and np.array_equal(loaded.predict_proba(df), proba)
    # build/predict on a CSV of the frame: NaN written as empty fields, read as missing values and imputed.
    df.to_csv(tmp_path / "x.csv", index=False)
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "m.ckpt", "--data", tmp_path / "x.csv",
             "--out", tmp_path / "p.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "p.npy"), proba[:, 1].astype(np.float32))
