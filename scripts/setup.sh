#!/usr/bin/env bash
# Installs the Debian packages fasttab builds and tests with. Idempotent: apt runs only when one is missing.
# OpenMPI launches and connects the ranks of data-parallel training (docs/scaling.md).
# The CUDA Toolkit (nvcc 13, cuBLAS, CCCL, NCCL) is expected under /usr/local/cuda.
set -euo pipefail
packages=(cmake g++ make pkg-config libcli11-dev nlohmann-json3-dev doctest-dev libfast-float-dev libisal-dev
          zlib1g-dev libopenblas-dev libgfortran-12-dev clang libclang-rt-14-dev python3
          openmpi-bin libopenmpi-dev)
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
