"""Input checks and conversions shared by the estimators.

Every array reaches the engine as one float32 C-order NumPy array (converted once, by scikit-learn's
check_array, which also refuses NaN/inf, empty and sparse input with scikit-learn's messages). A pandas
DataFrame's text columns (object or string dtype) and `category` columns are categorical: each goes to the engine
as level indices (NaN where missing) with its levels' text (frame_to_arrays), and the engine encodes them by the
vocabularies it builds on the training rows. NumPy string arrays and other non-numeric columns (dates, complex)
are refused with a TypeError naming them; arrays on a GPU with a TypeError that says what to do (the engine
uploads a host table; see docs/python.md).
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


_NUMBER_KINDS = ("integer", "floating", "mixed-integer-float", "decimal", "boolean")


def column_kinds(X):
    """Per DataFrame column: "number" (bool, int, float, and object columns holding only numbers), "category" (text:
    object or string dtype; pandas `category`), or None for what fasttab cannot take (dates, complex...)."""
    import pandas as pd

    kinds = []
    for i in range(X.shape[1]):
        dtype = X.dtypes.iloc[i]
        kind = getattr(dtype, "kind", "O")
        if isinstance(dtype, pd.CategoricalDtype):
            kinds.append("category")
        elif kind in "biuf":
            kinds.append("number")
        elif kind in "OSU":
            inferred = pd.api.types.infer_dtype(X.iloc[:, i], skipna=True)
            kinds.append("number" if inferred in _NUMBER_KINDS else "category")
        else:
            kinds.append(None)
    return kinds


def has_categories(X):
    """Whether X is a DataFrame with a categorical (text or `category`) column."""
    return _is_dataframe(X) and "category" in column_kinds(X)


def reject_non_numeric(what, X):
    """TypeError for what fasttab cannot take: NumPy string arrays, and DataFrame columns that are neither numbers
    nor categories (dates, complex numbers...)."""
    if _is_dataframe(X):
        bad = [f"{name!r} ({dtype})" for name, dtype, kind in zip(X.columns, X.dtypes, column_kinds(X)) if kind is None]
        if bad:
            raise TypeError(
                f"{what} has columns fasttab cannot take: {', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}; "
                "it trains on numeric columns and categories (text, pandas category); encode these as numbers")
    elif isinstance(X, np.ndarray) and X.dtype.kind in "USV":
        raise TypeError(f"{what} holds {X.dtype} values (strings or bytes); fasttab takes numbers only, and text "
                        "columns in a pandas DataFrame")


def _levels(column):
    """A categorical column's level indices (float32, NaN where missing) and levels: its distinct non-missing
    values as text (str), in order of first appearance; values with the same text are one level."""
    import pandas as pd

    values = np.asarray(column, dtype=object).copy()
    missing = np.asarray(pd.isna(values), dtype=bool)
    values[missing] = None
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = [str(u) for u in uniques]
    index = {}
    remap = np.empty(len(text), dtype=np.float32)
    for i, t in enumerate(text):
        remap[i] = index.setdefault(t, len(index))
    out = np.full(len(codes), np.nan, dtype=np.float32)
    present = codes >= 0
    out[present] = remap[codes[present]]
    return out, list(index)


def frame_to_arrays(what, X, categorical):
    """A DataFrame as the engine takes it: float32 C-order features, its categorical columns (the indices in
    `categorical`, or for fit=None those column_kinds calls "category") as level indices, and the list of
    (feature, levels). A column of `categorical` that holds numbers stays numbers (NaN: missing); the engine
    reads them by their text. Numeric columns are checked as check_array does (NaN/inf refused). TypeError for
    text in a column not in `categorical`, naming it."""
    from sklearn.utils.validation import check_array

    kinds = column_kinds(X)
    if categorical is None:
        categorical = {i for i, k in enumerate(kinds) if k == "category"}
    text_not_categorical = [repr(X.columns[i]) for i, k in enumerate(kinds) if k == "category" and i not in categorical]
    if text_not_categorical:
        raise TypeError(f"{what}'s columns {', '.join(text_not_categorical[:10])} hold text (or are pandas "
                        "categories) but held numbers when the model was fitted")
    rows, cols = X.shape
    out = np.empty((rows, cols), dtype=np.float32)
    levels = []
    for i in range(cols):
        column = X.iloc[:, i]
        if kinds[i] == "category":
            out[:, i], names = _levels(column)
            levels.append((i, names))
        else:
            try:
                out[:, i] = column.to_numpy(dtype=np.float32, na_value=np.nan)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{what}'s column {X.columns[i]!r} holds a value that is not a number ({e})") from e
    # Missing values are allowed in the categorical columns only: check the others as check_array does.
    cat = sorted(categorical)
    checked = out
    if cat:
        checked = out.copy()
        checked[:, cat] = np.nan_to_num(checked[:, cat], nan=0.0)
    check_array(checked, dtype=np.float32, order="C", input_name=what if what != "X" else "X", copy=False)
    return out, levels


def convert_error(what, error):
    """A conversion failure of check_array as the TypeError it is: a string (or another object) among numbers."""
    text = str(error)
    if "could not convert" in text or "argument must be" in text:
        return TypeError(f"{what} holds a value that is not a number ({text}); fasttab takes numbers only")
    return None
