#!/usr/bin/env bash
# Packs what a GPU machine without package registries needs to run fasttab's GPU checks: the built
# executables and every shared library they link that a CUDA image may lack (found with ldd: OpenMPI and what it
# needs, ISA-L, libgomp, zlib, ...; not the C and C++ runtimes every Linux has, nor CUDA's own), and OpenMPI's and
# PMIx's plug-ins with their libraries (MPI_Init loads them: the NCCL single-rank test and mpirun runs), as one
# xz-compressed archive devbin/fasttab-bin.tar.xz (the binaries carry OpenBLAS statically, so they are large but
# compress ~15x). scripts/device_check.sh unpacks it and points LD_LIBRARY_PATH and OpenMPI at it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" devbin
# scripts/device_check.sh runs the first seven; a missing one is an error here, not a lost step there.
for exe in train compare_loaders predict bench_step bench_gemm bench_fused_mlp tests/fasttab_gpu_tests bench_io \
           tests/fasttab_tests; do
  if [ -x "$build/$exe" ]; then
    cp "$build/$exe" "$stage/bin/"
  elif [ "$exe" != bench_io ] && [ "$exe" != tests/fasttab_tests ]; then
    echo "pack_device.sh: $build/$exe is not built" >&2
    exit 1
  fi
done
# The Python package (its extension module is built for this machine's Python; the GPU machine's must match).
if ls "$build"/python/fasttab/_core*.so >/dev/null 2>&1; then
  mkdir -p "$stage/python/fasttab"
  cp "$build"/python/fasttab/*.py "$build"/python/fasttab/_core*.so "$stage/python/fasttab/"
fi
openmpi=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3 pmix=/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
[ -d "$openmpi" ] && cp -a "$openmpi" "$stage/openmpi3"
[ -d "$pmix" ] && cp -a "$pmix" "$stage/pmix"
# Libraries every Linux system or the CUDA installation provides are left out.
everywhere='linux-vdso|ld-linux|/libc\.so|/libm\.so|/libdl\.so|/libpthread\.so|/librt\.so|/libgcc_s\.so|/libstdc\+\+\.so|/usr/local/cuda|/libcuda\.so|/libnvidia'
objects=$(ls "$stage"/bin/* "$stage"/python/fasttab/*.so "$stage"/openmpi3/*.so "$stage"/pmix/*.so 2>/dev/null || true)
unresolved=$(ldd $objects 2>/dev/null | awk '/=> not found/{print $1}' | sort -u | tr '\n' ' ')
[ -z "$unresolved" ] || echo "pack_device.sh: warning: ldd finds no $unresolved here: not carried" >&2
for lib in $(ldd $objects 2>/dev/null | awk '/=> \//{print $3}' | grep -Ev "$everywhere" | sort -u); do
  cp -L "$lib" "$stage/lib/"
done
# For building the Python module on the GPU machine's own Python (scripts/device_python/build.sh): the engine's
# static library and OpenBLAS's (the module links both statically, as here).
[ -f "$build/libfasttab.a" ] && cp "$build/libfasttab.a" "$stage/lib/"
cp -L /usr/lib/x86_64-linux-gnu/libopenblas.a "$stage/lib/"
strip "$stage"/bin/* 2>/dev/null || true
tar -C "$stage" -cJf devbin/fasttab-bin.tar.xz $(cd "$stage" && ls -d bin lib python openmpi3 pmix 2>/dev/null)
rm -rf "$stage"
ls -la devbin/fasttab-bin.tar.xz
