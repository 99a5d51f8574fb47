"""Text in 2-D NumPy arrays: a column of an object array holding a string (or bytes) among its non-missing values is
categorical, as a DataFrame's text column, the others numeric; every column of a string array (dtype <U, S) is
categorical. The same figures as the equivalent DataFrame (without column names)."""

import sys

import numpy as np
import pytest

import fasttab

pd = pytest.importorskip("pandas")

PARAMS = dict(hidden=(32, 32), batch_size=64, epochs=3, device="cpu", standardize=True, shuffle=True, seed=7,
              dropout=0.0, lr=3e-3)
CITY = {"paris": 2.5, "rome": -2.5, "oslo": 1.0, "lima": -1.0}


def make_rows(rows=2000, seed=0):
    """An object array: a text column (with None and NaN missing), a number column, a bool column; y by the text."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITY), rows).astype(object)
    x = rng.normal(size=rows)
    y = (2 * np.array([CITY[c] for c in city]) + 0.3 * x + rng.normal(size=rows) > 0).astype(np.int64)
    city[rng.random(rows) < 0.05] = None
    city[rng.random(rows) < 0.05] = np.nan
    X = np.empty((rows, 3), dtype=object)
    X[:, 0], X[:, 1], X[:, 2] = city, x, rng.random(rows) < 0.5
    return X, y


def frame_of(X):
    return pd.DataFrame({"city": pd.Series(X[:, 0], dtype=object), "x": X[:, 1].astype(np.float64),
                         "flag": X[:, 2].astype(bool)})


def test_same_figures_as_the_equivalent_dataframe():
    X, y = make_rows()
    est = fasttab.MLPClassifier(**PARAMS).fit(X[:1500], y[:1500], eval_set=(X[1500:], y[1500:]))
    ref = fasttab.MLPClassifier(**PARAMS).fit(frame_of(X[:1500]), y[:1500], eval_set=(frame_of(X[1500:]), y[1500:]))
    assert est.n_features_in_ == 3 and not hasattr(est, "feature_names_in_")
    assert [(f, c) for f, _, c in est._model.vocabularies] == [(f, c) for f, _, c in ref._model.vocabularies]
    assert [f for f, _, _ in est._model.vocabularies] == [0]
    assert [{k: v for k, v in h.items() if k not in ("seconds", "samples_per_s")} for h in est.history_] == \
        [{k: v for k, v in h.items() if k not in ("seconds", "samples_per_s")} for h in ref.history_]
    assert np.array_equal(est.predict_proba(X[1500:]), ref.predict_proba(frame_of(X[1500:])))
    assert est.score(X[1500:], y[1500:]) > 0.8


def test_unseen_and_missing_categories_at_predict():
    X, y = make_rows()
    est = fasttab.MLPClassifier(**PARAMS).fit(X, y)
    rows = X[:10].copy()
    rows[:, 0] = "paris"
    reference = est.predict_proba(rows)
    rows[0, 0] = "atlantis"  # unseen in fit: the unseen code
    rows[1, 0] = None
    rows[2, 0] = b"paris"  # bytes: decoded, the same category
    proba = est.predict_proba(rows)
    assert np.all(np.isfinite(proba))
    assert not np.array_equal(proba[:2], reference[:2])
    assert np.array_equal(proba[2:], reference[2:])
    with pytest.raises(TypeError, match="columns 1 hold text.*held numbers"):
        est.predict(np.array([["paris", "one", True]], dtype=object))


def test_string_arrays_are_categorical_in_every_column():
    X, y = make_rows(rows=600)
    text = np.where(pd.isna(X[:, 0]), "none", X[:, 0]).astype(str)
    grid = np.column_stack([text, np.where(X[:, 2].astype(bool), "yes", "no")])  # dtype <U5
    est = fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}).fit(grid, y)
    assert [f for f, _, _ in est._model.vocabularies] == [0, 1]
    as_bytes = np.char.encode(grid, "utf-8")  # dtype S5: decoded, the same categories
    assert np.array_equal(est.predict_proba(as_bytes), est.predict_proba(grid))
    assert np.array_equal(est.predict_proba(grid.astype(object)), est.predict_proba(grid))


def test_text_arrays_with_nan_policy_indicator():
    X, y = make_rows(rows=600)
    X[5, 1] = np.nan
    X[6, 1] = None
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}).fit(X, y)
    est = fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}, nan_policy="indicator").fit(X, y)
    assert [(f, flagged) for f, _, flagged in est._model.imputations] == [(1, True), (2, False)]


def test_bad_values_name_their_column(monkeypatch):
    X, y = make_rows(rows=100)
    bad = X.copy()
    bad[3, 1] = {"x": 1}
    with pytest.raises(TypeError, match="column 1 holds a value that is neither text nor a number"):
        fasttab.MLPClassifier(**PARAMS).fit(bad, y)
    bad = X.copy()
    bad[3, 0] = b"\xff\xfe"
    with pytest.raises(TypeError, match="column 0 holds bytes that are not UTF-8"):
        fasttab.MLPClassifier(**PARAMS).fit(bad, y)
    with pytest.raises(TypeError, match="column 'city' holds bytes that are not UTF-8"):
        fasttab.MLPClassifier(**PARAMS).fit(pd.DataFrame({"city": bad[:, 0], "x": X[:, 1].astype(float)}), y)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    with pytest.raises(TypeError, match="X holds text.*install pandas"):
        fasttab.MLPClassifier(**PARAMS).fit(X, y)
