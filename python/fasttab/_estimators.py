"""fasttab.MLPClassifier and fasttab.MLPRegressor: scikit-learn estimators over fasttab's C++ engine.

fit() checks and converts the inputs once (float32, C order), then trains in C++ with the GIL released
(fasttab._core.train over the public API's fasttab::train). The trained model is kept as the bytes of the
CLI's checkpoint file (the trainer writes it at every epoch end), so that save() writes a file build/predict
reads, fasttab.load() reads one build/train wrote, and pickling carries the same bytes.
"""

import json
import math
import numbers
import os
import sys
import tempfile

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, column_or_1d, validate_data

from . import _core
from ._inputs import (CudaMatrix, _is_dataframe, convert_error, cuda_matrix, data_address, frame_to_arrays,
                      has_categories, host_copy, is_cuda_array, reject_non_numeric, text_array_as_frame)

_METRICS = ("loss", "auc", "accuracy", "rmse", "mae", "r2")
_FORMAT = 1  # version of the "python" checkpoint section


# The engine's settings table (include/fasttab/settings.hpp): each parameter's range and choices come from it, so
# that the CLI's flags, the engine's checks and these agree. validation_fraction is this package's own.
_SETTINGS = {s["name"]: s for s in _core.settings()}
# The CLI's --nan-policy values that apply to an estimator (a loader's setting, not in the table): "drop" (rows
# left out) and "zero" are the caller's to do (X[~np.isnan(X).any(axis=1)], np.nan_to_num).
_NAN_POLICIES = ("reject", "indicator")


def _check_number(name, value, low, high, integral, low_open):
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name}={value!r} must be {'an integer' if integral else 'a number'}")
    if not (low < value if low_open else low <= value) or value > high or (not integral and math.isnan(value)):
        show = lambda v: int(v) if integral and math.isfinite(v) else v  # noqa: E731
        raise ValueError(f"{name}={value!r} is not in {'(' if low_open else '['}{show(low)}, {show(high)}]")


def _choices():
    """(parameter, allowed values) of the parameters that name a choice."""
    names = ("activation", "optimizer", "lr_schedule", "precision", "gemm", "device")
    return [(name, _SETTINGS[name]["choices"]) for name in names] + [("nan_policy", _NAN_POLICIES)]


def _check_params(est):
    """ValueError/TypeError for an out-of-range hyper-parameter, naming it and its range (as the CLI does)."""
    hidden = est.hidden
    if isinstance(hidden, numbers.Integral):
        hidden = (int(hidden),)
    try:
        hidden = tuple(int(h) for h in hidden)
    except (TypeError, ValueError):
        raise TypeError(f"hidden={est.hidden!r} must be a tuple of layer widths, e.g. (300, 300)") from None
    widths = _SETTINGS["hidden"]
    if not hidden or any(h < widths["min"] or h > widths["max"] for h in hidden):
        raise ValueError(f"hidden={est.hidden!r}: every layer width must be in [{int(widths['min'])}, "
                         f"{int(widths['max'])}], and there must be one")
    for name, allowed in _choices():
        if getattr(est, name) not in allowed:
            raise ValueError(f"{name}={getattr(est, name)!r} is not one of {', '.join(map(repr, allowed))}")
    for name in ("dropout", "batch_size", "epochs", "lr", "seed", "patience", "eval_every", "embedding_dim",
                 "min_category_count", "pad_hidden"):
        s = _SETTINGS[name]
        _check_number(name, getattr(est, name), s["min"], s["max"], s["kind"] == "int", s["min_open"])
    _check_number("validation_fraction", est.validation_fraction, 0.0, 0.99, False, False)
    if est.fused_mlp and (est.precision != "bf16" or est.pad_hidden != 1):
        raise ValueError(f"fused_mlp=True runs the bf16 passes and pads every width itself: set precision='bf16' "
                         f"and pad_hidden=1 (precision={est.precision!r}, pad_hidden={est.pad_hidden!r})")
    if est.patience > 0 and est.validation_fraction <= 0:
        raise ValueError(f"patience={est.patience} needs a validation split: set validation_fraction > 0")
    if est.callback is not None and not callable(est.callback):
        raise TypeError(f"callback={est.callback!r} is not callable")
    return hidden


def _flat_figures(record, with_test, with_validation):
    """One epoch's figures as a flat dict: epoch, seconds, samples_per_s, train_loss, lr, test_*, val_*."""
    out = {k: record[k] for k in ("epoch", "seconds", "samples_per_s", "train_loss", "lr")}
    for prefix, key, present in (("test", "test", with_test), ("val", "validation", with_validation)):
        if present and key in record:
            for m in _METRICS:
                v = record[key][m]
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    out[f"{prefix}_{m}"] = v
    return out


class _FastTabMLP(BaseEstimator):
    """The parameters, fit, save and pickling shared by MLPClassifier and MLPRegressor."""

    _headline = ("auc", "AUC")  # the metric the epoch lines print (per task, as the CLI does)

    def __init__(self, hidden=(300, 300, 300, 300), activation="tanh", dropout=0.5, batch_size=16384, epochs=10,
                 lr=1e-3, optimizer="adam", lr_schedule="constant", precision="fp32", device="auto", shuffle=False,
                 seed=1, standardize=False, validation_fraction=0.0, patience=0, eval_every=100, verbose=False,
                 callback=None, embedding_dim=0, min_category_count=1, nan_policy="reject", cuda_graphs=False,
                 pad_hidden=1, overlap_weight_gradients=False, gemm="cublas", fused_mlp=False):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.precision = precision
        self.device = device
        self.shuffle = shuffle
        self.seed = seed
        self.standardize = standardize
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.eval_every = eval_every
        self.verbose = verbose
        self.callback = callback
        self.embedding_dim = embedding_dim
        self.min_category_count = min_category_count
        self.nan_policy = nan_policy
        self.cuda_graphs = cuda_graphs
        self.pad_hidden = pad_hidden
        self.overlap_weight_gradients = overlap_weight_gradients
        self.gemm = gemm
        self.fused_mlp = fused_mlp

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.nan_policy == "indicator"
        return tags

    # ---- inputs ----------------------------------------------------------------------------------------------
    def _validate_X(self, X, reset, what="X", categorical=frozenset(), allow_nan=False):
        """X as the engine takes it: (float32 C-order array or CudaMatrix, [(feature, levels)] of its categorical
        columns). `categorical`: the features that were categorical in fit (a DataFrame's columns there may hold
        text). `allow_nan`: NaN in numeric columns is a missing value (nan_policy="indicator"), not an error."""
        if is_cuda_array(X):
            matrix = cuda_matrix(what, X)
            validate_data(self, matrix, reset=reset, skip_check_array=True)  # the feature count; no names
            return matrix, []
        X = text_array_as_frame(what, X)
        reject_non_numeric(what, X)
        if _is_dataframe(X) and (categorical or has_categories(X)):
            validate_data(self, X, reset=reset, skip_check_array=True)  # the feature names and count
            return frame_to_arrays(what, X, set(categorical), allow_nan)
        try:
            return validate_data(self, X, reset=reset, dtype=np.float32, order="C", accept_sparse=False,
                                 ensure_all_finite="allow-nan" if allow_nan else True), []
        except ValueError as e:
            converted = convert_error(what, e)
            if converted is not None:
                raise converted from e
            raise

    def _validate_Xy(self, X, y):
        """(X, y, levels): X as _validate_X makes it (a DataFrame's text and category columns are categorical)."""
        allow_nan = self.nan_policy == "indicator"
        if is_cuda_array(X) or is_cuda_array(y):
            X, levels = self._validate_X(X, reset=True, allow_nan=allow_nan)
            y = column_or_1d(check_array(host_copy("y", y), ensure_2d=False, dtype="numeric" if self._y_numeric else None,
                                         ensure_all_finite=True, input_name="y"), warn=True)
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"Found input variables with inconsistent numbers of samples: [{X.shape[0]}, "
                                 f"{y.shape[0]}]")
            return X, y, levels
        X = text_array_as_frame("X", X)
        reject_non_numeric("X", X)
        if has_categories(X):
            validate_data(self, X, reset=True, skip_check_array=True)
            Xf, levels = frame_to_arrays("X", X, None, allow_nan)
            Xf, y = check_X_y(Xf, y, dtype=np.float32, order="C", ensure_all_finite=False, y_numeric=self._y_numeric)
            return Xf, y, levels
        try:
            X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C", accept_sparse=False,
                                 y_numeric=self._y_numeric, ensure_all_finite="allow-nan" if allow_nan else True)
            return X, y, []
        except ValueError as e:
            converted = convert_error("X", e)
            if converted is not None:
                raise converted from e
            raise

    def _categorical_features(self):
        """The features the fitted model encodes as categories (by the checkpoint's vocabularies)."""
        return frozenset(feature for feature, _, _ in self._model.vocabularies)

    def _eval_arrays(self, eval_set, encode, categorical):
        if isinstance(eval_set, list):
            if len(eval_set) != 1:
                raise ValueError(f"eval_set is a list of {len(eval_set)} pairs; fasttab evaluates one (X, y) pair")
            eval_set = eval_set[0]
        if not isinstance(eval_set, tuple) or len(eval_set) != 2:
            raise TypeError("eval_set must be a pair (X_eval, y_eval) (or a list holding one pair)")
        X_eval, y_eval = eval_set
        X_eval, levels = self._validate_X(X_eval, reset=False, what="eval_set's X", categorical=categorical,
                                          allow_nan=self.nan_policy == "indicator")
        y_eval = column_or_1d(check_array(host_copy("eval_set's y", y_eval), ensure_2d=False, dtype=None,
                                          ensure_all_finite=True,
                                          input_name="eval_set's y"), warn=True)
        if y_eval.shape[0] != X_eval.shape[0]:
            raise ValueError(f"eval_set's X has {X_eval.shape[0]} rows but its y has {y_eval.shape[0]}")
        return X_eval, encode(y_eval, "eval_set's y"), levels

    # ---- training --------------------------------------------------------------------------------------------
    def fit(self, X, y, eval_set=None):
        """Trains on (X, y); eval_set=(X_eval, y_eval) is the test set the CLI evaluates (every eval_every steps
        and at each epoch end; its figures go to history_). Returns self. On any exception, Ctrl-C included, the
        estimator is left as it was before the call."""
        before = dict(self.__dict__)
        try:
            return self._fit(X, y, eval_set)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit(self, X, y, eval_set):
        hidden = _check_params(self)
        caller_address = data_address(X)
        X, y, levels = self._validate_Xy(X, y)
        categorical = frozenset(feature for feature, _ in levels)
        y_train, task, classes = self._encode_fit_targets(y)
        n = X.shape[0]
        val_rows = 0
        if self.validation_fraction > 0:
            val_rows = max(1, int(round(self.validation_fraction * n)))
            if val_rows >= n:
                raise ValueError(f"validation_fraction={self.validation_fraction} of {n} rows leaves no training rows")
        if eval_set is not None:
            X_test, y_test, levels_test = self._eval_arrays(eval_set, self._encode_eval_targets, categorical)
            eval_every = int(self.eval_every)
        else:
            # The engine evaluates a test set; without eval_set it gets the first row and only at epoch ends, and
            # its figures are left out of history_.
            X_test, y_test, levels_test = X.head(1) if isinstance(X, CudaMatrix) else X[:1], y_train[:1], levels
            eval_every = 0
        with_test = eval_set is not None
        # As scikit-learn's MLP does: a batch never exceeds the training rows (the CLI refuses instead).
        batch_size = int(min(self.batch_size, n - val_rows))
        history = []
        name, label = self._headline

        def on_epoch(record):
            figures = _flat_figures(record, with_test, val_rows > 0)
            history.append(figures)
            if self.verbose:
                line = (f"epoch {figures['epoch']:3d}  {figures['seconds']:8.3f} s  {figures['samples_per_s']:12.0f} "
                        f"samples/s  train loss {figures['train_loss']:.5f}")
                if with_test:
                    line += f"  test loss {figures['test_loss']:.5f}  test {label} {figures.get('test_' + name, math.nan):.5f}"
                if "val_loss" in figures:
                    line += f"  val loss {figures['val_loss']:.5f}"
                print(line, flush=True)
            if self.callback is not None:
                return self.callback(dict(figures)) is not False
            return True

        with tempfile.TemporaryDirectory(prefix="fasttab-") as tmp:
            path = os.path.join(tmp, "model.ckpt")
            options = dict(task=task, classes=classes if task == "multiclass" else 0, hidden=list(hidden),
                           activation=self.activation, dropout=float(self.dropout), batch_size=batch_size,
                           epochs=int(self.epochs), lr=float(self.lr), optimizer=self.optimizer,
                           lr_schedule=self.lr_schedule, precision=self.precision, shuffle=bool(self.shuffle),
                           seed=int(self.seed), standardize=bool(self.standardize), val_rows=val_rows,
                           patience=int(self.patience), eval_every=eval_every, save_path=path,
                           embedding_dim=int(self.embedding_dim), min_category_count=int(self.min_category_count),
                           cuda_graphs=bool(self.cuda_graphs), pad_hidden=int(self.pad_hidden),
                           overlap_weight_gradients=bool(self.overlap_weight_gradients), gemm=self.gemm,
                           fused_mlp=bool(self.fused_mlp),
                           has_eval_set=with_test, **self._task_options())
            names = [str(c) for c in getattr(self, "feature_names_in_", [])]
            result = _core.train(X, np.ascontiguousarray(y_train, dtype=np.float32), X_test,
                                 np.ascontiguousarray(y_test, dtype=np.float32), options, on_epoch, self.device,
                                 levels, levels_test, names, self.nan_policy == "indicator")
            if not os.path.exists(path):  # stopped by the callback before the first epoch ended
                raise RuntimeError("fasttab: training ended before the first epoch; there is no model")
            model = _core.Model(path, self.device)
            with open(path, "rb") as f:
                checkpoint = f.read()
        self._model = model
        self._checkpoint = checkpoint
        self.history_ = history
        self.stopped_early_ = bool(result.get("stopped_early", False))
        self.stopped_by_callback_ = bool(result["stopped_by_callback"])
        self.best_epoch_ = int(result.get("best_epoch", 0))
        self.backend_ = result.get("backend")
        # Whether the engine trained on the caller's own X (no copy): NumPy float32 C-order on the CPU backend, CUDA
        # arrays on their GPU, without standardize (which changes a copy).
        self._engine_input_address = result.get("train_features", 0)
        self.input_in_place_ = caller_address is not None and self._engine_input_address == caller_address
        return self

    def _task_options(self):
        """The engine's options that only one task has (the regressor's target transform)."""
        return {}

    # ---- prediction ------------------------------------------------------------------------------------------
    def _outputs(self, X):
        """(X, levels) for the model: a DataFrame's categorical columns map to the fit's categories by their text
        (a category fit did not see is the unseen category); NaN in numeric columns is taken when the model imputes
        (nan_policy="indicator" with missing values in fit's rows)."""
        check_is_fitted(self)
        imputes = bool(self._model.imputations)
        try:
            return self._validate_X(X, reset=False, categorical=self._categorical_features(), allow_nan=imputes)
        except ValueError as e:
            if self.nan_policy == "indicator" and not imputes and "contains NaN" in str(e):
                raise ValueError("Input X contains NaN. This model was fit with nan_policy='indicator' on rows "
                                 "without missing values, so it has no means to replace them with: impute X first, "
                                 "or fit on rows that have missing values") from e
            raise

    # ---- persistence -----------------------------------------------------------------------------------------
    def _python_section(self):
        meta = {"format": _FORMAT, "estimator": type(self).__name__, "params": {}, "history": self.history_,
                "n_features_in": int(self.n_features_in_), "stopped_early": self.stopped_early_,
                "best_epoch": self.best_epoch_}
        for k, v in self.get_params(deep=False).items():
            if k == "callback":
                continue
            meta["params"][k] = list(v) if isinstance(v, tuple) else v
        if hasattr(self, "feature_names_in_"):
            meta["feature_names_in"] = [str(c) for c in self.feature_names_in_]
        if hasattr(self, "classes_"):
            meta["classes"] = self.classes_.tolist()
            meta["classes_dtype"] = self.classes_.dtype.str if self.classes_.dtype != object else "object"
        try:
            return json.dumps(meta, allow_nan=True)
        except TypeError as e:
            raise TypeError(f"fasttab: save() stores the labels and parameters as JSON and cannot store this one "
                            f"({e}); pickle or joblib keeps any labels") from e

    def save(self, path):
        """Writes the model as the CLI's checkpoint file (build/predict --model reads it) with one more section,
        "python": the labels, feature names, parameters and history, which fasttab.load() restores."""
        check_is_fitted(self)
        text = self._python_section()
        data = _core.checkpoint_with_section(self._checkpoint, "python", text)
        path = os.fspath(path)
        tmp = f"{path}.fasttab-tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # a failed save leaves any earlier file at path as it was
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_model", None)  # the C++ model is rebuilt from the checkpoint bytes
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_checkpoint" in self.__dict__:
            self._model = _model_from_bytes(self._checkpoint, self.__dict__.get("device", "auto"))


def _model_from_bytes(checkpoint, device):
    with tempfile.TemporaryDirectory(prefix="fasttab-") as tmp:
        path = os.path.join(tmp, "model.ckpt")
        with open(path, "wb") as f:
            f.write(checkpoint)
        return _core.Model(path, device)


class MLPClassifier(ClassifierMixin, _FastTabMLP):
    """A multilayer perceptron classifier trained by fasttab's engine: binary (two classes, a logit and log
    loss) or multiclass (more than two, softmax cross-entropy). Labels may be of any type (strings too);
    classes_ holds them sorted, and predict maps back to them. Parameters: the CLI's flags and defaults
    (docs/python.md)."""

    _y_numeric = False

    def _encode_fit_targets(self, y):
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes in the data, but the data contains "
                             f"only one class: {classes[0]!r}")
        self.classes_ = classes
        task = "binary" if len(classes) == 2 else "multiclass"
        self._headline = ("auc", "AUC") if task == "binary" else ("accuracy", "accuracy")
        return encoded.astype(np.float32), task, len(classes)

    def _encode_eval_targets(self, y, what):
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if np.any(unseen):
            raise ValueError(f"{what} holds labels not in y: {np.unique(np.asarray(y)[unseen])[:10].tolist()}")
        return index.astype(np.float32)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of classes_."""
        X, levels = self._outputs(X)
        return self._model.probabilities(X, levels)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _FastTabMLP):
    """A multilayer perceptron regressor (mean squared error) trained by fasttab's engine. Parameters: the CLI's
    flags and defaults (docs/python.md)."""

    _y_numeric = True
    _headline = ("r2", "R^2")

    def __init__(self, hidden=(300, 300, 300, 300), activation="tanh", dropout=0.5, batch_size=16384, epochs=10,
                 lr=1e-3, optimizer="adam", lr_schedule="constant", precision="fp32", device="auto", shuffle=False,
                 seed=1, standardize=False, standardize_target=True, log_target=False, validation_fraction=0.0,
                 patience=0, eval_every=100, verbose=False, callback=None, embedding_dim=0, min_category_count=1,
                 nan_policy="reject", cuda_graphs=False, pad_hidden=1, overlap_weight_gradients=False, gemm="cublas",
                 fused_mlp=False):
        super().__init__(hidden=hidden, activation=activation, dropout=dropout, batch_size=batch_size, epochs=epochs,
                         lr=lr, optimizer=optimizer, lr_schedule=lr_schedule, precision=precision, device=device,
                         shuffle=shuffle, seed=seed, standardize=standardize, validation_fraction=validation_fraction,
                         patience=patience, eval_every=eval_every, verbose=verbose, callback=callback,
                         embedding_dim=embedding_dim, min_category_count=min_category_count, nan_policy=nan_policy,
                         cuda_graphs=cuda_graphs, pad_hidden=pad_hidden,
                         overlap_weight_gradients=overlap_weight_gradients, gemm=gemm, fused_mlp=fused_mlp)
        self.standardize_target = standardize_target
        self.log_target = log_target

    def _task_options(self):
        # The engine trains on the standardised target (of log y with log_target); predict returns y.
        return dict(standardize_target=bool(self.standardize_target), log_target=bool(self.log_target))

    def _encode_fit_targets(self, y):
        return np.asarray(y, dtype=np.float32), "regression", 0

    def _encode_eval_targets(self, y, what):
        try:
            return np.asarray(y, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what} must hold numbers ({e})") from e

    def predict(self, X):
        """The predicted y, in y's units (the engine undoes the target's standardisation and log)."""
        X, levels = self._outputs(X)
        return self._model.outputs(X, levels)[:, 0].astype(np.float64)


def load(path, device="auto"):
    """Reads a model saved by save() or by build/train --save: an MLPClassifier or MLPRegressor ready to predict.

    A checkpoint from the CLI has no labels: a binary model gets classes_ [0, 1] and a multiclass one
    0..K-1 (the CLI's labels); its parameters come from the checkpoint's configuration."""
    path = os.fspath(path)
    model = _core.Model(path, device)
    with open(path, "rb") as f:
        checkpoint = f.read()
    text = _core.checkpoint_section(checkpoint, "python")
    config = json.loads(model.config_json)
    if text is not None:
        meta = json.loads(text)
        cls = MLPClassifier if meta["estimator"] == "MLPClassifier" else MLPRegressor
        params = dict(meta["params"])
        params["hidden"] = tuple(params["hidden"])
        params["device"] = device
        est = cls(**params)
        est.history_ = meta["history"]
        est.stopped_early_ = meta["stopped_early"]
        est.best_epoch_ = meta["best_epoch"]
        if "classes" in meta:
            dtype = meta["classes_dtype"]
            est.classes_ = np.array(meta["classes"], dtype=object if dtype == "object" else np.dtype(dtype))
        if "feature_names_in" in meta:
            est.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    else:
        cls = MLPRegressor if model.task == "regression" else MLPClassifier
        opt, sched, data = config.get("optimizer", {}), config.get("schedule", {}), config.get("data", {})
        val_rows, train_rows = data.get("val_rows", 0), data.get("train_rows", 0)  # train_rows: without val_rows
        fraction = val_rows / (train_rows + val_rows) if val_rows > 0 and train_rows > 0 else 0.0
        extra = {}
        if cls is MLPRegressor:  # checkpoints older than the target transform trained on y as it is
            extra = dict(standardize_target=config.get("standardize_target", False),
                         log_target=config.get("log_target", False))
        est = cls(hidden=tuple(model.hidden), activation=config["model"]["activation"],
                  dropout=config["model"]["dropout"], batch_size=config["batch_size"], epochs=config["epochs"],
                  lr=opt.get("lr", 1e-3), optimizer=opt.get("kind", "adam"), lr_schedule=sched.get("kind", "constant"),
                  precision=config.get("precision", "fp32"), device=device, shuffle=config.get("shuffle", False),
                  seed=config.get("seed", 1), standardize=config.get("standardize", False),
                  validation_fraction=fraction, patience=config.get("patience", 0) if fraction > 0 else 0,
                  eval_every=config.get("eval_every", 100), embedding_dim=config.get("embedding_dim", 0),
                  min_category_count=config.get("min_category_count", 1), pad_hidden=config.get("pad_hidden", 1),
                  gemm=config.get("gemm", "cublas"), fused_mlp=config.get("fused_mlp", False),
                  nan_policy="indicator" if model.imputations else "reject", **extra)
        est.history_ = []
        est.stopped_early_ = False
        est.best_epoch_ = 0
        names = config.get("layout", {}).get("feature_names", [])
        if names and len(names) == model.columns and all(names):  # a CSV with a header: its feature columns' names
            est.feature_names_in_ = np.array(names, dtype=object)
        if model.task == "binary":
            est.classes_ = np.array([0, 1])
        elif model.task == "multiclass":
            est.classes_ = np.arange(model.width)
    est.n_features_in_ = model.columns
    est.stopped_by_callback_ = False
    est.backend_ = None
    est._model = model
    est._checkpoint = checkpoint
    if isinstance(est, MLPClassifier):
        est._headline = ("auc", "AUC") if len(est.classes_) == 2 else ("accuracy", "accuracy")
    return est
