"""Input checks and conversions shared by the estimators.

Host arrays reach the engine as one float32 C-order NumPy array (converted once, by scikit-learn's check_array,
which also refuses NaN/inf, empty and sparse input with scikit-learn's messages, and returns the caller's own array
when it is already float32 in C order): the engine reads it in place on the CPU backend and uploads it once to a
GPU. CUDA arrays (CuPy, PyTorch, Numba through __cuda_array_interface__; others through DLPack) are read in place on
their GPU: they must be float32 and C-contiguous (cuda_matrix says how to make them so), and the engine checks them
for NaN on the device. A pandas DataFrame's text columns (object or string dtype) and `category` columns are
categorical: each goes to the engine as level indices (NaN where missing) with its levels' text (frame_to_arrays),
and the engine encodes them by the vocabularies it builds on the training rows. A 2-D NumPy array holding text (an
object array with str or bytes values, or a string array) is read as a DataFrame without column names
(text_array_as_frame). Other non-numeric columns (dates, complex) are refused with a TypeError naming them.
"""

from typing import NamedTuple

import numpy as np

_DLPACK_CPU = 1  # DLDeviceType kDLCPU
_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


def _is_dataframe(X):
    return hasattr(X, "dtypes") and hasattr(X, "columns") and hasattr(X, "iloc")


class CudaMatrix(NamedTuple):
    """A CUDA array as the engine takes it (python/src/core.cpp, input_matrix): its device pointer and shape. The
    array itself must stay referenced by the caller while the engine reads it."""
    pointer: int
    rows: int
    cols: int

    @property
    def shape(self):
        return (self.rows, self.cols)

    def head(self, rows):
        """The first `rows` rows (the same memory)."""
        return self._replace(rows=min(rows, self.rows))


def _dlpack_device_type(X):
    dev = getattr(X, "__dlpack_device__", None)
    if dev is None or isinstance(X, np.ndarray):
        return None
    try:
        return int(dev()[0])
    except Exception:  # noqa: BLE001 - an object that only pretends to support DLPack
        return None


def is_cuda_array(X):
    """Whether X lives in GPU memory (CuPy, PyTorch CUDA tensors, Numba, JAX on a GPU...)."""
    if getattr(X, "__cuda_array_interface__", None) is not None:
        return True
    device_type = _dlpack_device_type(X)
    return device_type is not None and device_type != _DLPACK_CPU


def _layout_error(what, X, problem):
    return (f"{what} is a CUDA array ({type(X).__module__}.{type(X).__name__}) {problem}; fasttab reads float32 "
            "C-contiguous arrays in place on the GPU: convert it there first, e.g. cupy.ascontiguousarray(X, "
            "dtype=cupy.float32) or X.to(torch.float32).contiguous() (one copy on the GPU, none on the host)")


def cuda_matrix(what, X):
    """A CUDA array X as a CudaMatrix the engine reads in place, checked: 2-D, float32, C-contiguous, no mask, at
    least one row and one column. ValueError for the shape, TypeError for the dtype, the layout and devices fasttab
    cannot read (ROCm, Metal...)."""
    cai = getattr(X, "__cuda_array_interface__", None)
    if cai is not None:
        shape, typestr, strides = tuple(cai["shape"]), cai["typestr"], cai.get("strides")
        pointer = int(cai["data"][0])
        if cai.get("mask") is not None:
            raise TypeError(_layout_error(what, X, "has a mask"))
        contiguous = strides is None or len(shape) != 2 or (
            strides[1] == 4 and (shape[0] <= 1 or strides[0] == 4 * shape[1]))
        float32 = typestr[1:] == "f4" and typestr[0] in "<|="
    else:
        device_type = _dlpack_device_type(X)
        if device_type not in _DLPACK_CUDA:
            raise TypeError(f"{what} is an array on DLPack device type {device_type}, which fasttab cannot read; "
                            "pass a NumPy array or a CUDA array")
        from . import _core
        pointer, shape, float32, contiguous = _core.dlpack_matrix(X)
        shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"Expected a 2D array for {what}, got a CUDA array of shape {shape}; reshape it to "
                         "(n_samples, n_features)")
    if not float32:
        raise TypeError(_layout_error(what, X, f"of {cai['typestr'] if cai else 'another dtype'}, not float32"))
    if not contiguous:
        raise TypeError(_layout_error(what, X, "that is not C-contiguous"))
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"Found array with {shape[0]} sample(s) and {shape[1]} feature(s) ({what} is a CUDA array "
                         f"of shape {shape}) while a minimum of 1 is required.")
    return CudaMatrix(pointer, int(shape[0]), int(shape[1]))


def data_address(X):
    """The address of X's first element (host or device memory), or None for what has none (lists, DataFrames)."""
    cai = getattr(X, "__cuda_array_interface__", None)
    if cai is not None:
        return int(cai["data"][0])
    if isinstance(X, np.ndarray):
        return int(X.__array_interface__["data"][0])
    return None


def host_copy(what, y):
    """y (labels, one per row: small) in host memory: a CUDA array copied by its own library (CuPy .get(), PyTorch
    .cpu()), else NumPy's DLPack import to the CPU. TypeError when none works."""
    if not is_cuda_array(y):
        return y
    if hasattr(y, "get") and callable(y.get):  # CuPy
        return y.get()
    if hasattr(y, "detach") and hasattr(y, "cpu"):  # PyTorch
        return y.detach().cpu().numpy()
    if hasattr(y, "copy_to_host"):  # Numba
        return y.copy_to_host()
    try:
        return np.from_dlpack(y, device="cpu", copy=True)
    except Exception as e:  # noqa: BLE001
        raise TypeError(f"{what} is a CUDA array that fasttab cannot copy to the host ({e}); pass it as a NumPy "
                        "array") from e


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


def _is_text(value):
    return isinstance(value, (str, bytes))  # np.str_ and np.bytes_ too


def _text(value):
    """A category's text: str as it is, bytes decoded (UTF-8), anything else as str() writes it."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _array_column(what, i, column):
    """One column of a NumPy array holding text: object values (text; None and NaN missing) when a non-missing
    value is a string (or bytes, decoded), else float64 (None, pd.NA as NaN). TypeError naming the column for bytes
    that are not UTF-8 and for a value that is neither text nor a number."""
    if column.dtype.kind in "US" or any(map(_is_text, column)):
        try:
            return np.array([_text(v) if _is_text(v) else v for v in column], dtype=object)
        except UnicodeDecodeError as e:
            raise TypeError(f"{what}'s column {i} holds bytes that are not UTF-8 text ({e}); decode them first") from e
    import pandas as pd

    values = column.astype(object)
    values[np.asarray(pd.isna(values), dtype=bool)] = np.nan
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}'s column {i} holds a value that is neither text nor a number ({e}); fasttab takes "
                        "numbers and text (categories)") from e


def text_array_as_frame(what, X):
    """X itself, unless it is a 2-D NumPy array holding text (a string or bytes array, or an object array with a str
    or bytes value): then a pandas DataFrame of its columns, named 0..n-1, each as _array_column makes it (text
    columns are then categorical, the others numeric), which fit and predict take as a frame without column names.
    TypeError when pandas is missing."""
    if not isinstance(X, np.ndarray) or X.ndim != 2 or not (
            X.dtype.kind in "US" or (X.dtype == object and any(map(_is_text, X.flat)))):
        return X
    try:
        import pandas as pd
    except ImportError:
        raise TypeError(f"{what} holds text, which fasttab reads as categorical columns through pandas: install "
                        "pandas (pip install pandas), or encode the text as numbers") from None
    return pd.DataFrame({i: _array_column(what, i, X[:, i]) for i in range(X.shape[1])}, index=range(X.shape[0]))


def reject_non_numeric(what, X):
    """TypeError for what fasttab cannot take: NumPy string arrays that are not 2-D, and DataFrame columns that are
    neither numbers nor categories (dates, complex numbers...)."""
    if _is_dataframe(X):
        bad = [f"{name!r} ({dtype})" for name, dtype, kind in zip(X.columns, X.dtypes, column_kinds(X)) if kind is None]
        if bad:
            raise TypeError(
                f"{what} has columns fasttab cannot take: {', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}; "
                "it trains on numeric columns and categories (text, pandas category); encode these as numbers")
    elif isinstance(X, np.ndarray) and X.dtype.kind in "USV":
        raise TypeError(f"{what} holds {X.dtype} values (strings or bytes) in {X.ndim} dimension(s); fasttab takes "
                        "numbers, and text as the columns of a 2-D array or a pandas DataFrame")


def _levels(column):
    """A categorical column's level indices (float32, NaN where missing) and levels: its distinct non-missing
    values as text (_text), in order of first appearance; values with the same text are one level."""
    import pandas as pd

    values = np.asarray(column, dtype=object).copy()
    missing = np.asarray(pd.isna(values), dtype=bool)
    values[missing] = None
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = [_text(u) for u in uniques]
    index = {}
    remap = np.empty(len(text), dtype=np.float32)
    for i, t in enumerate(text):
        remap[i] = index.setdefault(t, len(index))
    out = np.full(len(codes), np.nan, dtype=np.float32)
    present = codes >= 0
    out[present] = remap[codes[present]]
    return out, list(index)


def frame_to_arrays(what, X, categorical, allow_nan=False):
    """A DataFrame as the engine takes it: float32 C-order features, its categorical columns (the indices in
    `categorical`, or for fit=None those column_kinds calls "category") as level indices, and the list of
    (feature, levels). A column of `categorical` that holds numbers stays numbers (NaN: missing); the engine
    reads them by their text. Numeric columns are checked as check_array does (infinity refused, and NaN unless
    `allow_nan`: nan_policy="indicator"). TypeError for text in a column not in `categorical`, naming it."""
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
            try:
                out[:, i], names = _levels(column)
            except UnicodeDecodeError as e:
                raise TypeError(f"{what}'s column {X.columns[i]!r} holds bytes that are not UTF-8 text ({e}); decode "
                                "them first") from e
            levels.append((i, names))
        else:
            try:
                out[:, i] = column.to_numpy(dtype=np.float32, na_value=np.nan)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{what}'s column {X.columns[i]!r} holds a value that is not a number ({e})") from e
    # Missing values are categories of their own in the categorical columns: check the others as check_array does.
    cat = sorted(categorical)
    checked = out
    if cat:
        checked = out.copy()
        checked[:, cat] = np.nan_to_num(checked[:, cat], nan=0.0)
    check_array(checked, dtype=np.float32, order="C", input_name=what, copy=False,
                ensure_all_finite="allow-nan" if allow_nan else True)
    return out, levels


def convert_error(what, error):
    """A conversion failure of check_array as the TypeError it is: a string (or another object) among numbers."""
    text = str(error)
    if "could not convert" in text or "argument must be" in text:
        return TypeError(f"{what} holds a value that is not a number ({text}); fasttab takes numbers only")
    return None
