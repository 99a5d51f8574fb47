"""fasttab: multilayer perceptrons on tabular data, trained by fasttab's CUDA C++ engine (or its CPU backend),
behind scikit-learn's estimator API.

    import fasttab
    model = fasttab.MLPClassifier(hidden=(64, 64), epochs=5, device="cpu").fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    model.save("model.ckpt")            # build/predict --model model.ckpt reads it
    same = fasttab.load("model.ckpt")

docs/python.md has the parameters, inputs, errors and figures.
"""

from ._core import EngineError, cuda_device_count
from ._estimators import MLPClassifier, MLPRegressor, load

__all__ = ["MLPClassifier", "MLPRegressor", "load", "EngineError", "cuda_device_count"]
__version__ = "0.1.0"
