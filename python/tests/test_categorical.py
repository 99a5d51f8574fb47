"""pandas DataFrames with categorical columns (text: object/string dtype; pandas `category`): the engine's
vocabularies built on the training rows, predictions that map categories by their text (another order, an unseen
category, a missing value), and the vocabularies kept by save/load, pickle and build/predict on a CSV of the frame."""

import pickle

import numpy as np
import pytest

import fasttab
from conftest import run_tool

pd = pytest.importorskip("pandas")

PARAMS = dict(hidden=(32, 32), batch_size=64, epochs=8, device="cpu", standardize=True, shuffle=True, seed=7,
              dropout=0.0, lr=3e-3)
CITY = {"paris": 2.5, "rome": -2.5, "oslo": 1.0, "lima": -1.0, "kyiv": 0.0}
COLOR = {"red": 2.0, "green": -2.0, "blue": 0.0}


def make_frame(rows=3000, seed=0):
    """y driven by the two categorical columns (and a little by x): a numeric-only model is near chance."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITY), rows)
    color = rng.choice(list(COLOR), rows)
    x = rng.normal(size=rows)
    logit = 2 * np.array([CITY[c] for c in city]) + 2 * np.array([COLOR[c] for c in color]) + 0.3 * x
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    df = pd.DataFrame({"city": pd.Series(city, dtype=object), "x": x,
                       "color": pd.Categorical(color, categories=["blue", "green", "red"]),
                       "flag": rng.random(rows) < 0.5})
    return df, y


@pytest.fixture(scope="module")
def fitted():
    df, y = make_frame()
    est = fasttab.MLPClassifier(**PARAMS).fit(df[:2500], y[:2500])
    return est, df, y


def test_fit_predict_far_above_chance(fitted):
    est, df, y = fitted
    assert est.feature_names_in_.tolist() == ["city", "x", "color", "flag"]
    assert est.n_features_in_ == 4
    assert est.score(df[2500:], y[2500:]) > 0.8
    vocabularies = {name: sorted(categories) for _, name, categories in est._model.vocabularies}
    assert vocabularies == {"city": sorted(CITY), "color": sorted(COLOR)}


def test_categories_map_by_text(fitted):
    est, df, _ = fitted
    test = df[2500:].reset_index(drop=True)
    reference = est.predict_proba(test)
    # Another order of first appearance, other pandas categories and a plain string column: the same predictions.
    order = np.arange(len(test))[::-1]
    shuffled = test.iloc[order].reset_index(drop=True)
    shuffled["color"] = pd.Categorical(shuffled["color"].astype(str), categories=["red", "purple", "green", "blue"])
    # (rows elsewhere in a batch may round differently in the last bits)
    assert np.allclose(est.predict_proba(shuffled), reference[order], rtol=0, atol=1e-6)
    as_text = test.assign(color=test["color"].astype(str).astype(object), city=test["city"].astype("category"))
    assert np.array_equal(est.predict_proba(as_text), reference)
    # An unseen category and missing values predict (the unseen and missing codes), the other rows unchanged.
    odd = test.copy()
    odd["city"] = odd["city"].astype(object)
    odd.loc[0, "city"] = "atlantis"
    odd.loc[1, "city"] = None
    odd["color"] = odd["color"].cat.add_categories(["ultraviolet"])
    odd.loc[2, "color"] = "ultraviolet"
    odd.loc[3, "color"] = np.nan
    proba = est.predict_proba(odd)
    assert np.all(np.isfinite(proba))
    assert np.array_equal(proba[4:], reference[4:])
    assert not np.array_equal(proba[:4], reference[:4])


def test_regression_and_eval_set():
    df, y = make_frame(seed=1)
    target = df["city"].map(CITY).to_numpy() + 0.1 * df["x"].to_numpy()
    est = fasttab.MLPRegressor(**PARAMS).fit(df[:2500], target[:2500], eval_set=(df[2500:], target[2500:]))
    assert est.history_[-1]["test_r2"] > 0.9
    assert est.score(df[2500:], target[2500:]) == pytest.approx(est.history_[-1]["test_r2"], abs=1e-4)


def test_validation_rows_are_not_in_the_vocabulary():
    df, y = make_frame(rows=1000, seed=2)
    df["city"] = df["city"].astype(object)
    df.loc[999, "city"] = "only-in-the-last-row"  # a validation row (the last rows of the training rows)
    est = fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}, validation_fraction=0.1).fit(df, y)
    cities = [c for _, name, c in est._model.vocabularies if name == "city"][0]
    assert "only-in-the-last-row" not in cities and len(cities) == len(CITY)


def test_min_category_count_and_embedding_dim():
    df, y = make_frame(rows=1000, seed=3)
    df["city"] = df["city"].astype(object)
    df.loc[0, "city"] = "rare"
    est = fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}, min_category_count=2, embedding_dim=3).fit(df, y)
    cities = [c for _, name, c in est._model.vocabularies if name == "city"][0]
    assert "rare" not in cities
    import json
    embeddings = json.loads(est._model.config_json)["model"]["embeddings"]
    assert [e["dim"] for e in embeddings] == [3, 3]


def test_column_kinds_must_match_fit(fitted):
    est, df, _ = fitted
    with pytest.raises(TypeError, match="'x'.*held numbers"):
        est.predict(df[:10].assign(x=df["x"][:10].astype(str)))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[["x", "city", "color", "flag"]][:10])


def test_numbers_in_a_categorical_column_read_by_their_text():
    df, y = make_frame(rows=1000, seed=4)
    df["level"] = (df["city"].map({c: i for i, c in enumerate(CITY)})).astype(str)  # "0".."4" as text
    est = fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}).fit(df, y)
    as_numbers = df.assign(level=df["level"].astype(int))
    assert np.array_equal(est.predict_proba(as_numbers), est.predict_proba(df))


def test_missing_values_only_in_categorical_columns():
    df, y = make_frame(rows=1000, seed=5)
    df["city"] = df["city"].astype(object)
    df.loc[3, "city"] = np.nan
    fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}).fit(df, y)
    df.loc[4, "x"] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fasttab.MLPClassifier(**{**PARAMS, "epochs": 1}).fit(df, y)


def test_dates_are_refused():
    df, y = make_frame(rows=100)
    df["when"] = pd.Timestamp("2026-01-01")
    with pytest.raises(TypeError, match="'when'"):
        fasttab.MLPClassifier(**PARAMS).fit(df, y)


def test_pickle_and_save_load_keep_the_vocabularies(fitted, tmp_path):
    est, df, _ = fitted
    test = df[2500:]
    back = pickle.loads(pickle.dumps(est))
    assert back._model.vocabularies == est._model.vocabularies
    assert np.array_equal(back.predict_proba(test), est.predict_proba(test))
    est.save(tmp_path / "m.ckpt")
    loaded = fasttab.load(tmp_path / "m.ckpt", device="cpu")
    assert loaded._model.vocabularies == est._model.vocabularies
    assert loaded.feature_names_in_.tolist() == est.feature_names_in_.tolist()
    assert np.array_equal(loaded.predict_proba(test), est.predict_proba(test))


def test_build_predict_on_a_csv_of_the_frame(fitted, tmp_path):
    est, df, y = fitted
    test = df[2500:].copy()
    test.loc[test.index[0], "city"] = "atlantis"  # unseen in training
    est.save(tmp_path / "m.ckpt")
    # No label column; the bool column as 0/1 (pandas writes True/False, which the CSV loader does not read as numbers)
    test.astype({"flag": int}).to_csv(tmp_path / "x.csv", index=False)
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "m.ckpt", "--data", tmp_path / "x.csv",
             "--out", tmp_path / "p.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "p.npy"), est.predict_proba(test)[:, 1].astype(np.float32))
    test.astype({"flag": int}).assign(label=y[2500:]).to_csv(tmp_path / "xy.csv", index=False)  # the label last, as the layout says
    out = run_tool("predict", "--device", "cpu", "--model", tmp_path / "m.ckpt", "--data", tmp_path / "xy.csv",
                   "--out", tmp_path / "q.npy", "--no-cache")
    assert np.array_equal(np.load(tmp_path / "q.npy"), np.load(tmp_path / "p.npy"))
    assert "auc" in out.lower()


def test_load_a_build_train_model_with_text_columns(tmp_path):
    df, y = make_frame(rows=2000, seed=6)
    frame = df.astype({"flag": int})
    frame.insert(0, "label", y)
    frame.to_csv(tmp_path / "t.csv", index=False)
    run_tool("train", "--data", tmp_path / "t.csv", "--label-col", "0", "--test-rows", 400, "--device", "cpu",
             "--hidden", "32,32", "--batch-size", "64", "--epochs", "2", "--save", tmp_path / "cli.ckpt", "--no-cache")
    run_tool("predict", "--device", "cpu", "--model", tmp_path / "cli.ckpt", "--data", tmp_path / "t.csv",
             "--out", tmp_path / "p.npy", "--no-cache")
    est = fasttab.load(tmp_path / "cli.ckpt", device="cpu")
    assert sorted(name for _, name, _ in est._model.vocabularies) == ["city", "color"]
    assert est.feature_names_in_.tolist() == df.columns.tolist()  # the CSV header's names
    proba = est.predict_proba(df.astype({"flag": int}))[:, 1].astype(np.float32)
    assert np.array_equal(proba, np.load(tmp_path / "p.npy"))
