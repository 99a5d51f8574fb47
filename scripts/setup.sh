#!/usr/bin/env bash
# Installs the Debian packages fasttab builds and tests with. Idempotent: apt runs only when one is missing.
# OpenMPI launches and connects the ranks of data-parallel training (docs/scaling.md).
# The CUDA Toolkit (nvcc 13, cuBLAS, CCCL, NCCL) is expected under /usr/local/cuda.
set -euo pipefail
packages=(cmake g++ make pkg-config libcli11-dev nlohmann-json3-dev doctest-dev libfast-float-dev libisal-dev
          zlib1g-dev libopenblas-dev libgfortran-12-dev clang libclang-rt-14-dev python3
          openmpi-bin libopenmpi-dev)
# python3-venv makes the Python package's environment (below); python3-dev has the headers its module compiles against.
[ "${FASTTAB_SKIP_PYTHON:-0}" = 1 ] || packages+=(python3-venv python3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: nvcc not found: fasttab needs the CUDA Toolkit 13 (nvcc, cuBLAS, CCCL) under /usr/local/cuda" >&2
  exit 1
fi

# The Python package (python/, built by CMake when FASTTAB_BUILD_PYTHON is ON): a virtual environment at .venv/
# with nanobind and scikit-build-core (the build), numpy, scikit-learn, pandas, joblib (the package) and pytest (its
# tests), from PyPI. Idempotent: created and filled only when .venv/bin/python lacks one of them. CMake picks
# .venv/bin/python up by default (FASTTAB_PYTHON_VENV in CMakeLists.txt). FASTTAB_SKIP_PYTHON=1 skips this part.
if [ "${FASTTAB_SKIP_PYTHON:-0}" != 1 ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  venv="$root/.venv"
  python_packages=(nanobind scikit-build-core numpy scikit-learn pandas pytest joblib)
  python_modules=(nanobind scikit_build_core numpy sklearn pandas pytest joblib)
  if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating the Python virtual environment $venv"
    python3 -m venv "$venv"
  fi
  # git ignores the environment through its own .gitignore (as Python 3.13's venv writes it).
  [ -f "$venv/.gitignore" ] || printf '# created by scripts/setup.sh\n*\n' > "$venv/.gitignore"
  if ! "$venv/bin/python" -c "import $(IFS=,; echo "${python_modules[*]}")" >/dev/null 2>&1; then
    echo "setup: installing ${python_packages[*]} into $venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "${python_packages[@]}"
  fi
fi
