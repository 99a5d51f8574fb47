#!/bin/sh
# CTest's runner for the Python tests (tests/python.cmake): run_pytest.sh BUILD_DIR TEST_FILE [pytest args].
# Exits 77 (reported as skipped) when the extension module was not built there or the interpreter CMake used has
# no pytest; otherwise runs pytest with PYTHONPATH at BUILD_DIR/python, where the module and the package are.
bin="$1"
shift
py="$(cat "$bin/python/python_executable" 2>/dev/null)"
if [ -z "$py" ] || ! ls "$bin"/python/fasttab/_core*.so >/dev/null 2>&1; then
  echo "FASTTAB_PYTHON_SKIPPED: the Python module is not built in $bin (FASTTAB_BUILD_PYTHON is OFF; scripts/setup.sh makes .venv/ with nanobind)"
  exit 77
fi
if ! "$py" -c "import pytest, numpy, sklearn" >/dev/null 2>&1; then
  echo "FASTTAB_PYTHON_SKIPPED: $py lacks pytest, numpy or scikit-learn (scripts/setup.sh installs them in .venv/)"
  exit 77
fi
PYTHONPATH="$bin/python${PYTHONPATH:+:$PYTHONPATH}"
FASTTAB_BUILD_DIR="$bin"
export PYTHONPATH FASTTAB_BUILD_DIR
# OpenBLAS on one thread per test process: CTest runs the test files side by side (-j2).
OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OPENBLAS_NUM_THREADS
exec "$py" -m pytest -q -rs -p no:cacheprovider "$@"
