"""Input checks and conversions shared by the estimators.

Every array reaches the engine as one float32 C-order NumPy array (converted once, by scikit-learn's
check_array, which also refuses NaN/inf, empty and sparse input with scikit-learn's messages). Strings and
non-numeric DataFrame columns are refused with a TypeError naming them; arrays on a GPU with a TypeError that
says what to do (the engine uploads a host table; see docs/python.md).
"""

import numpy as np

_DLPACK_CPU = 1  # DLDeviceType kDLCPU


def _is_dataframe(X):
    return hasattr(X, "dtypes") and hasattr(X, "columns") and hasattr(X, "iloc")


def device_array_kind(X):
    """A description of X when it lives in GPU memory (CuPy, PyTorch CUDA tensors, Numba...), else None."""
    if hasattr(X, "__cuda_array_interface__"):
        return "__cuda_array_interface__"
    dev = getattr(X, "__dlpack_device__", None)
    if dev is not None and not isinstance(X, np.ndarray):
        try:
            device_type = int(dev()[0])
        except Exception:  # noqa: BLE001 - an object that only pretends to support DLPack
            return None
        if device_type != _DLPACK_CPU:
            return f"DLPack device type {device_type}"
    return None


def reject_device_arrays(what, X):
    kind = device_array_kind(X)
    if kind is not None:
        raise TypeError(
            f"{what} is a GPU array ({type(X).__module__}.{type(X).__name__}, {kind}): fasttab does not take "
            "CUDA arrays yet, because its engine trains from a host table that it uploads itself (a zero-copy "
            f"path needs an engine entry point for device pointers). Copy it to the host first, e.g. "
            f"cupy.asnumpy({what}) or {what}.cpu().numpy()")


def reject_non_numeric(what, X):
    """TypeError for strings in X: NumPy string arrays and DataFrames with non-numeric columns."""
    if _is_dataframe(X):
        bad = []
        for name, dtype in zip(X.columns, X.dtypes):
            kind = getattr(dtype, "kind", "O")
            if str(dtype) == "category":
                bad.append(f"{name!r} (categorical)")
            elif kind not in "biuf":
                bad.append(f"{name!r} ({dtype})")
        if bad:
            raise TypeError(
                f"{what} has non-numeric columns: {', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}; fasttab "
                "trains on numeric columns only (encode strings and categories as numbers first)")
    elif isinstance(X, np.ndarray) and X.dtype.kind in "USV":
        raise TypeError(f"{what} holds {X.dtype} values (strings or bytes); fasttab takes numbers only")


def convert_error(what, error):
    """A conversion failure of check_array as the TypeError it is: a string (or another object) among numbers."""
    text = str(error)
    if "could not convert" in text or "argument must be" in text:
        return TypeError(f"{what} holds a value that is not a number ({text}); fasttab takes numbers only")
    return None
