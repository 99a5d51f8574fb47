"""scikit-learn's estimator checks. The instances are small and quick (the CLI's default is the seed's
21-300x4-1 model on batches of 16384 rows, which would not learn the checks' 20-200-row tables in 10 epochs);
every check runs, and those expected to fail are listed in EXPECTED_FAILURES with the reason."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import fasttab

QUICK = dict(hidden=(32,), dropout=0.0, batch_size=16, epochs=40, lr=0.01, standardize=True, device="cpu")

# check name -> why it is expected to fail (empty: none is; all checks pass with scikit-learn 1.9.1). scikit-learn
# itself skips the array-API check unless SCIPY_ARRAY_API=1 is set (fasttab takes NumPy arrays).
EXPECTED_FAILURES = {}


@parametrize_with_checks([fasttab.MLPClassifier(**QUICK), fasttab.MLPRegressor(**QUICK)],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)
