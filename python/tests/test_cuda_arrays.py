"""CUDA arrays read in place on the GPU (skipped, and reported so by CTest, without a CUDA device).

The arrays are made here with cudaMalloc through ctypes on libcudart (DeviceArray: __cuda_array_interface__ over
real device memory), so the test needs neither CuPy nor PyTorch; where those are installed they are tested too. The
checks: fit reads the caller's device pointer itself (no copy), and the figures equal those from the same values
in a NumPy array (uploaded by the engine into a buffer of the same layout: 8 features, a multiple of 4 floats)."""

import ctypes
import ctypes.util

import numpy as np
import pytest

import fasttab
from conftest import make_binary

if fasttab.cuda_device_count() == 0:
    pytest.skip("FASTTAB_GPU_SKIPPED: no CUDA device", allow_module_level=True)


def _load_cudart():
    for name in ("libcudart.so", "libcudart.so.13", "libcudart.so.12", ctypes.util.find_library("cudart")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    pytest.fail("a CUDA device is present but libcudart cannot be loaded")


CUDART = _load_cudart()
CUDART.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
CUDART.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
CUDART.cudaFree.argtypes = [ctypes.c_void_p]
HOST_TO_DEVICE, DEVICE_TO_HOST = 1, 2


def _check(status, call):
    assert status == 0, f"{call} failed with cudaError {status}"


class DeviceArray:
    """A float32 C-order array in CUDA device memory (cudaMalloc), with the interface CuPy and PyTorch expose."""

    def __init__(self, host):
        host = np.ascontiguousarray(host, dtype=np.float32)
        self.shape = host.shape
        self.nbytes = host.nbytes
        pointer = ctypes.c_void_p()
        _check(CUDART.cudaMalloc(ctypes.byref(pointer), host.nbytes), "cudaMalloc")
        self.pointer = pointer.value
        _check(CUDART.cudaMemcpy(self.pointer, host.ctypes.data, host.nbytes, HOST_TO_DEVICE), "cudaMemcpy")

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (self.pointer, False), "strides": None, "version": 3}

    def copy_to_host(self):
        out = np.empty(self.shape, dtype=np.float32)
        _check(CUDART.cudaMemcpy(out.ctypes.data, self.pointer, self.nbytes, DEVICE_TO_HOST), "cudaMemcpy")
        return out

    def __del__(self):
        CUDART.cudaFree(self.pointer)


X, Y = make_binary(rows=4000)
X32 = X.astype(np.float32)
PARAMS = dict(hidden=(64, 64), batch_size=256, epochs=3, shuffle=True, seed=3, standardize=False)


def fit(X_, y_=Y, **params):
    return fasttab.MLPClassifier(**{**PARAMS, **params}).fit(X_, y_, eval_set=(X32[-500:], Y[-500:]))


def test_fit_reads_the_callers_device_memory_and_matches_numpy():
    gpu = DeviceArray(X32)
    est = fit(gpu)
    assert est.backend_ == "cuda"
    assert est._engine_input_address == gpu.pointer
    assert est.input_in_place_
    ref = fit(X32)
    assert ref.backend_ == "cuda" and not ref.input_in_place_  # uploaded from the host
    # The same kernels on the same shapes and layout (8 floats a row in both): the same figures. Bound: float32
    # rounding, should a cuBLAS heuristic pick another kernel for another buffer address.
    for a, b in zip(est.history_, ref.history_):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_auc"] == pytest.approx(b["test_auc"], abs=1e-4)
    # Predictions on a CUDA array equal those on its values in a NumPy array.
    test = DeviceArray(X32[:300])
    assert np.allclose(est.predict_proba(test), est.predict_proba(X32[:300]), rtol=1e-5, atol=1e-7)
    # y on the GPU too (copied to the host: it is mapped to classes there).
    both = fit(gpu, DeviceArray(Y.astype(np.float32).reshape(-1)))
    assert both.input_in_place_
    assert np.array_equal(both.classes_, [0.0, 1.0])


def test_standardize_makes_a_device_copy_and_the_callers_array_is_untouched():
    gpu = DeviceArray(X32)
    est = fit(gpu, standardize=True)
    assert not est.input_in_place_
    assert np.array_equal(gpu.copy_to_host(), X32)
    ref = fit(X32, standardize=True)
    for a, b in zip(est.history_, ref.history_):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


def test_bad_cuda_inputs_raise_python_exceptions():
    bad = X32.copy()
    bad[17, 3] = np.nan
    with pytest.raises(ValueError, match=r"X holds a NaN or an infinity \(row 17, feature 3\)"):
        fit(DeviceArray(bad))
    with pytest.raises(ValueError, match="device='cpu'"):
        fit(DeviceArray(X32), device="cpu")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fit(DeviceArray(X32[:100]))


@pytest.mark.parametrize("library", ["cupy", "torch"])
def test_cupy_and_torch_arrays_are_read_in_place(library):
    lib = pytest.importorskip(library)
    if library == "cupy":
        array = lib.asarray(X32)
        pointer = array.data.ptr
    else:
        if not lib.cuda.is_available():
            pytest.skip("torch without CUDA")
        array = lib.from_numpy(X32).cuda()
        pointer = array.data_ptr()
    est = fit(array)
    assert est._engine_input_address == pointer
    assert est.input_in_place_
