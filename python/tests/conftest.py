"""Shared fixtures: the build directory (FASTTAB_BUILD_DIR, set by run_pytest.sh, else ../../build), the CLI
binaries there, small synthetic tables and the .npy layout build/train reads (label in column 0)."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("FASTTAB_BUILD_DIR", ROOT / "build"))
SHARED_DATA = ROOT.parent / "shared" / "data"


def tool(name):
    path = BUILD / name
    if not path.exists():
        pytest.skip(f"{path} is not built")
    return path


def run_tool(name, *args):
    proc = subprocess.run([str(tool(name)), *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{name} {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def write_table_npy(path, X, y):
    """The layout build/train --data T.npy --label-col 0 reads: float32 [rows, 1 + cols], label first."""
    table = np.empty((X.shape[0], 1 + X.shape[1]), dtype=np.float32)
    table[:, 0] = y
    table[:, 1:] = X
    np.save(path, table)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def make_binary(rows=2000, cols=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    logit = 1.5 * X[:, 0] - X[:, 1] + 0.8 * X[:, 2] * X[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return X, y


def make_multiclass(rows=2000, cols=8, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    y = np.argmax(X[:, :classes] + 0.5 * rng.normal(size=(rows, classes)), axis=1)
    return X, y


def make_regression(rows=2000, cols=8, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols))
    y = 2 * X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.normal(size=rows)
    return X, y


# Small, fast settings for the tests (the CLI's defaults are the seed's 21-300x4-1 model and batch 16384).
SMALL = dict(hidden=(32, 32), batch_size=64, epochs=3, device="cpu", standardize=True, shuffle=True, seed=7)
