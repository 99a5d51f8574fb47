#!/usr/bin/env python3
"""scikit-learn on the same random split as build/train: the baselines of docs/usage.md's categorical examples.

fasttab's --test-fraction F --split-seed S takes as test rows the round(F * rows) rows with the smallest Philox
split keys (host/backend/philox.hpp split_key, host/data/dataset.cpp); this script computes the same keys with
NumPy, so that both see exactly the same training and test rows. It then fits, on one-hot encoded text columns and
standardised numbers (missing numbers: the training mean):
  * MLPClassifier / MLPRegressor with scikit-learn's defaults (hidden (100,), relu, adam, early stopping off);
  * HistGradientBoostingClassifier / Regressor with its defaults (the strong classical baseline);
and prints the test AUC (binary) or R^2, RMSE and MAE (regression, of log(y) with --log-target).

  .venv/bin/python tools/peers/sklearn_tabular.py --data ../shared/data/HI.csv --label whi --drop 0
  .venv/bin/python tools/peers/sklearn_tabular.py --data ../shared/data/diamonds.csv --label price --drop 0 \
      --task regression --log-target
"""
import argparse
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score, roc_auc_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

M64 = np.uint64(0xFFFFFFFF)


def philox4x32(key, c0, c1, c2, c3):
    """Ten rounds of Philox4x32 on uint64 arrays holding 32-bit words (philox.hpp)."""
    k0, k1 = np.uint64(key & 0xFFFFFFFF), np.uint64(key >> 32)
    x0, x1, x2, x3 = (np.asarray(c, dtype=np.uint64) & M64 for c in (c0, c1, c2, c3))
    x1, x2, x3 = (np.broadcast_to(v, x0.shape).copy() for v in (x1, x2, x3))
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * x0
        p1 = np.uint64(0xCD9E8D57) * x2
        hi0, lo0 = p0 >> np.uint64(32), p0 & M64
        hi1, lo1 = p1 >> np.uint64(32), p1 & M64
        x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
        k0 = (k0 + np.uint64(0x9E3779B9)) & M64
        k1 = (k1 + np.uint64(0xBB67AE85)) & M64
    return x0, x1, x2, x3


def test_rows(rows, fraction, seed):
    """The row indices fasttab's split_random takes as its test set."""
    split_stream = 7  # RandomStream::split
    r = np.arange(rows, dtype=np.uint64)
    v0, v1, _, _ = philox4x32(seed, r, 0, split_stream, 0)
    keys = (v0 << np.uint64(32)) | v1
    count = min(max(int(np.floor(fraction * rows + 0.5)), 1), rows - 1)  # llround, clamped
    order = np.lexsort((r, keys))  # by key, then row
    return np.sort(order[:count])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--label", required=True, help="the label column's name")
    p.add_argument("--drop", default="", help="comma-separated 0-based columns to leave out (e.g. 0, a row number)")
    p.add_argument("--task", choices=["binary", "regression"], default="binary")
    p.add_argument("--log-target", action="store_true")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="the models' random_state")
    a = p.parse_args()

    df = pd.read_csv(a.data, na_values=["NA", "N/A", "NaN", "nan", "null", "NULL", ""], keep_default_na=False)
    dropped = [df.columns[int(c)] for c in a.drop.split(",") if c != ""]
    y = df[a.label]
    X = df.drop(columns=dropped + [a.label])
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numbers = [c for c in X.columns if c not in text]
    if a.task == "binary":
        classes = sorted(y.unique())
        if set(c.lower() for c in classes) == {"no", "yes"}:
            classes = [c for c in classes if c.lower() == "no"] + [c for c in classes if c.lower() == "yes"]
        y = (y == classes[1]).astype(np.int64).to_numpy()
    else:
        y = y.to_numpy(dtype=np.float64)
        if a.log_target:
            y = np.log(y)
    test = test_rows(len(df), a.test_fraction, a.split_seed)
    is_test = np.zeros(len(df), dtype=bool)
    is_test[test] = True
    print(f"{a.data}: {len(df)} rows; text columns {text}; split {100 * (1 - a.test_fraction):g}/"
          f"{100 * a.test_fraction:g} (split seed {a.split_seed}): {(~is_test).sum()} train, {is_test.sum()} test")

    def encoder():
        return ColumnTransformer([
            ("text", OneHotEncoder(handle_unknown="ignore"), text),
            ("numbers", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numbers)])

    if a.task == "binary":
        models = {"MLPClassifier": MLPClassifier(random_state=a.seed),
                  "HistGradientBoostingClassifier": HistGradientBoostingClassifier(random_state=a.seed)}
    else:
        models = {"MLPRegressor": MLPRegressor(random_state=a.seed),
                  "HistGradientBoostingRegressor": HistGradientBoostingRegressor(random_state=a.seed)}
    for name, model in models.items():
        pipeline = make_pipeline(encoder(), model)
        start = time.perf_counter()
        if a.task == "regression" and name.startswith("MLP"):  # an MLP wants a standardised target, as fasttab does
            mean, std = y[~is_test].mean(), y[~is_test].std()
            pipeline.fit(X[~is_test], (y[~is_test] - mean) / std)
            pred = pipeline.predict(X[is_test]) * std + mean
        else:
            pipeline.fit(X[~is_test], y[~is_test])
            pred = pipeline.predict_proba(X[is_test])[:, 1] if a.task == "binary" else pipeline.predict(X[is_test])
        seconds = time.perf_counter() - start
        if a.task == "binary":
            print(f"{name}: test AUC {roc_auc_score(y[is_test], pred):.5f}  ({seconds:.1f} s)")
        else:
            t = y[is_test]
            scale = " (log y)" if a.log_target else ""
            print(f"{name}: test R2{scale} {r2_score(t, pred):.5f}  RMSE {mean_squared_error(t, pred) ** 0.5:.5f}  "
                  f"MAE {mean_absolute_error(t, pred):.5f}  ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
