"""Inputs: every float/int dtype and both memory orders give the same model; DataFrames; bad inputs raise the
right exception with a message that names the problem; engine errors arrive as fasttab.EngineError."""

import numpy as np
import pytest

import fasttab
from conftest import SMALL, make_binary

X, Y = make_binary(rows=600)


def fit_predict(X_, y_=Y):
    return fasttab.MLPClassifier(**SMALL).fit(X_, y_).predict_proba(X[:50].astype(np.float32))


REFERENCE = None


def reference():
    global REFERENCE
    if REFERENCE is None:
        REFERENCE = fit_predict(X.astype(np.float32))
    return REFERENCE


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_float_dtypes_and_orders(dtype, order):
    Xd = np.asarray(X.astype(np.float32).astype(dtype), order=order)
    got = fit_predict(Xd)
    if dtype == np.float16:  # different values
        assert got.shape == (50, 2)
    else:
        assert np.array_equal(got, reference())


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_int_dtypes(dtype):
    Xi = np.round(X * 10).clip(-100, 100).astype(dtype)
    a = fasttab.MLPClassifier(**SMALL).fit(Xi, Y).predict_proba(Xi)
    b = fasttab.MLPClassifier(**SMALL).fit(Xi.astype(np.float32), Y).predict_proba(Xi.astype(np.float32))
    assert np.array_equal(a, b)


def test_dataframe_and_feature_names():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X.astype(np.float32), columns=[f"c{i}" for i in range(X.shape[1])])
    df["c0"] = df["c0"].astype(np.float64)
    est = fasttab.MLPClassifier(**SMALL).fit(df, pd.Series(Y))
    assert est.feature_names_in_.tolist() == list(df.columns)
    assert np.array_equal(est.predict_proba(df.iloc[:50]), reference())
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[list(reversed(df.columns))])


def test_dataframe_with_string_column():
    # Text and category columns are categorical (test_categorical.py); dates and complex numbers are refused.
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0] * 50, "b": ["x", "y"] * 50})
    est = fasttab.MLPClassifier(**SMALL).fit(df, [0, 1] * 50)
    assert [name for _, name, _ in est._model.vocabularies] == ["b"]
    df["b"] = df["b"].astype("category")
    fasttab.MLPClassifier(**SMALL).fit(df, [0, 1] * 50)
    df["c"] = pd.Timestamp("2026-01-01")
    with pytest.raises(TypeError, match="columns fasttab cannot take: 'c'"):
        fasttab.MLPClassifier(**SMALL).fit(df, [0, 1] * 50)
    with pytest.raises(TypeError, match="'a'.*held numbers"):
        est.predict(pd.DataFrame({"a": ["1.0", "2.0"], "b": ["x", "y"]}))


def test_strings_in_X():
    # 2-D arrays of text are categorical columns (test_categorical.py); strings in other shapes are refused, as are
    # values that are neither text nor numbers.
    with pytest.raises(TypeError, match="strings or bytes.*1 dimension"):
        fasttab.MLPClassifier(**SMALL).fit(np.array(["a", "b"]), [0, 1])
    Xo = X.astype(object)
    Xo[3, 2] = {"seven": 7}
    with pytest.raises(TypeError, match="must be a string or a real number, not 'dict'"):
        fasttab.MLPClassifier(**SMALL).fit(Xo, Y)
    pytest.importorskip("pandas")
    Xo[4, 0] = "seven"
    with pytest.raises(TypeError, match="column 2 holds a value that is neither text nor a number"):
        fasttab.MLPClassifier(**SMALL).fit(Xo, Y)


def test_nan_and_inf():
    Xn = X.copy()
    Xn[5, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fasttab.MLPClassifier(**SMALL).fit(Xn, Y)
    Xn[5, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fasttab.MLPClassifier(**SMALL).fit(Xn, Y)
    y = Y.astype(float)
    y[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fasttab.MLPRegressor(**SMALL).fit(X, y)


def test_shapes():
    with pytest.raises(ValueError, match="Expected 2D array"):
        fasttab.MLPClassifier(**SMALL).fit(X[:, 0], Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fasttab.MLPClassifier(**SMALL).fit(X, Y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        fasttab.MLPClassifier(**SMALL).fit(X[:0], Y[:0])
    est = fasttab.MLPClassifier(**SMALL).fit(X, Y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 8"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="eval_set's X has 10 rows but its y has 9"):
        fasttab.MLPClassifier(**SMALL).fit(X, Y, eval_set=(X[:10], Y[:9]))
    with pytest.raises(ValueError, match="eval_set's y holds labels not in y: \\[5\\]"):
        fasttab.MLPClassifier(**SMALL).fit(X, Y, eval_set=(X[:10], np.full(10, 5)))


def test_labels():
    with pytest.raises(ValueError, match="only one class"):
        fasttab.MLPClassifier(**SMALL).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        fasttab.MLPClassifier(**SMALL).fit(X, X[:, 0])


@pytest.mark.parametrize("param, value, exc, message", [
    ("hidden", (32, 0), ValueError, "hidden=\\(32, 0\\)"),
    ("hidden", "wide", TypeError, "tuple of layer widths"),
    ("activation", "sigmoid", ValueError, "activation='sigmoid' is not one of 'tanh', 'relu'"),
    ("dropout", 1.5, ValueError, "dropout=1.5 is not in \\[0.0, 0.99\\]"),
    ("batch_size", 0, ValueError, "batch_size=0"),
    ("epochs", 2.5, TypeError, "epochs=2.5 must be an integer"),
    ("lr", -1.0, ValueError, "lr=-1.0"),
    ("device", "tpu", ValueError, "device='tpu'"),
    ("nan_policy", "zero", ValueError, "nan_policy='zero' is not one of 'reject', 'indicator'"),
    ("patience", 3, ValueError, "patience=3 needs a validation split"),
])
def test_bad_parameters(param, value, exc, message):
    with pytest.raises(exc, match=message):
        fasttab.MLPClassifier(**{**SMALL, param: value}).fit(X, Y)


def test_numpy_float32_is_read_in_place_on_the_cpu_backend():
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    raw = {**SMALL, "standardize": False}
    est = fasttab.MLPClassifier(**raw).fit(X32, Y)
    assert est.backend_ == "cpu"
    assert est.input_in_place_
    assert est._engine_input_address == X32.__array_interface__["data"][0]
    # A conversion (float64, Fortran order: the engine reads scikit-learn's float32 C-order copy) or standardize
    # (which changes a copy of its own) is not in place; the figures are the same.
    for other, params in ((X, raw), (np.asfortranarray(X32), raw), (X32, SMALL)):
        fitted = fasttab.MLPClassifier(**params).fit(other, Y)
        assert not fitted.input_in_place_
        if params is raw:
            assert np.array_equal(fitted.predict_proba(X32[:50]), est.predict_proba(X32[:50]))


class FakeCudaArray:
    """What CuPy, PyTorch and Numba expose, pointing nowhere: fasttab checks the layout, then the pointer."""

    def __init__(self, shape=(600, 8), typestr="<f4", strides=None, pointer=0):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (pointer, False),
                                         "strides": strides, "version": 3}


class FakeDLPack:
    def __init__(self, device_type):
        self.device_type = device_type

    def __dlpack_device__(self):
        return (self.device_type, 0)


@pytest.mark.parametrize("array, exc, message", [
    (FakeCudaArray(), ValueError, "passed as a CUDA array, but its pointer is not CUDA device memory"),
    (FakeCudaArray(pointer=4096), ValueError, "not CUDA device memory"),
    (FakeCudaArray(typestr="<f8"), TypeError, "of <f8, not float32.*cupy.ascontiguousarray"),
    (FakeCudaArray(strides=(4, 2400)), TypeError, "not C-contiguous"),
    (FakeCudaArray(shape=(600,)), ValueError, "Expected a 2D array for X"),
    (FakeCudaArray(shape=(0, 8)), ValueError, "Found array with 0 sample"),
    (FakeDLPack(2), TypeError, "not a DLPack array"),
    (FakeDLPack(10), TypeError, "DLPack device type 10, which fasttab cannot read"),
])
def test_cuda_arrays_are_checked_with_a_clear_message(array, exc, message):
    # Without a GPU every fake is refused: a layout fasttab cannot read in place, or a pointer that is not
    # device memory. (tests/test_cuda_arrays.py trains on real CUDA arrays where a GPU is present.)
    with pytest.raises(exc, match=message):
        fasttab.MLPClassifier(**SMALL).fit(array, Y)
    est = fasttab.MLPClassifier(**SMALL).fit(X, Y)
    with pytest.raises(exc, match=message):
        est.predict(array)


def test_engine_errors_are_python_exceptions():
    # The CUDA backend on a machine without a GPU: the engine's message, as a RuntimeError subclass.
    if fasttab.cuda_device_count() > 0:
        pytest.skip("a CUDA device is present")
    with pytest.raises(fasttab.EngineError, match="no CUDA device"):
        fasttab.MLPClassifier(**{**SMALL, "device": "cuda"}).fit(X, Y)
    with pytest.raises(RuntimeError):
        fasttab.MLPClassifier(**{**SMALL, "device": "cuda"}).fit(X, Y)


def test_engine_error_for_a_diverging_run():
    # An absurd learning rate and target scale make the loss non-finite; the engine stops with its message. (The
    # standardised target would tame the 1e30: it is turned off.)
    Xb = X * 1e4
    with pytest.raises(fasttab.EngineError, match="became"):
        fasttab.MLPRegressor(**{**SMALL, "standardize": False, "standardize_target": False, "lr": 1e6,
                                "epochs": 5}).fit(Xb, Xb[:, 0] * 1e30)


def test_load_of_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(fasttab.EngineError, match="not a fasttab checkpoint"):
        fasttab.load(tmp_path / "junk.ckpt")
