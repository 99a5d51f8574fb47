#!/usr/bin/env bash
# Builds fasttab._core for this machine's python3 from the archive scripts/pack_device.sh made (unpacked in
# /tmp/ft by scripts/device_check.sh) and puts it beside the carried package's .py files in /tmp/ft/python/fasttab.
# Run from the repository's root, with LD_LIBRARY_PATH as device_check.sh sets it.
set -euo pipefail
FT=${FT:-/tmp/ft}
nccl=""
for dir in $(echo "${LD_LIBRARY_PATH:-}" | tr ':' ' ') /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
  if [ -f "$dir/libnccl.so.2" ]; then nccl=$dir/libnccl.so.2; break; fi
done
[ -n "$nccl" ] || { echo "build.sh: no libnccl.so.2 in LD_LIBRARY_PATH or CUDA's directories" >&2; exit 1; }
python=$(command -v python3)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S scripts/device_python -B "$FT/pybuild" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$python" -Dnanobind_DIR="$("$python" -m nanobind --cmake_dir)" \
  -DFASTTAB_REPO="$PWD" -DFASTTAB_LIBS="$FT/lib" -DFASTTAB_NCCL="$nccl"
cmake --build "$FT/pybuild" -j "$(nproc)"
mkdir -p "$FT/python/fasttab"
cp python/fasttab/*.py "$FT/python/fasttab/"
cp "$FT"/pybuild/_core*.so "$FT/python/fasttab/"
echo "built $(ls "$FT"/python/fasttab/_core*.so)"
