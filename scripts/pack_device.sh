#!/usr/bin/env bash
# Packs what a GPU machine without package registries needs to run fasttab's GPU checks: the built
# executables and the Debian shared libraries they link that a CUDA image may lack (ISA-L), as one
# xz-compressed archive devbin/fasttab-bin.tar.xz (the binaries carry OpenBLAS statically, so they are large
# but compress ~15x). The CUDA 13 libraries are expected on the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
stage=$(mktemp -d)
mkdir -p "$stage/bin" "$stage/lib" devbin
for exe in train compare_loaders predict bench_step bench_io tests/fasttab_gpu_tests tests/fasttab_tests; do
  [ -x "$build/$exe" ] && cp "$build/$exe" "$stage/bin/"
done
# The Python package (its extension module is built for this machine's Python; the GPU machine's must match).
if ls "$build"/python/fasttab/_core*.so >/dev/null 2>&1; then
  mkdir -p "$stage/python/fasttab"
  cp "$build"/python/fasttab/*.py "$build"/python/fasttab/_core*.so "$stage/python/fasttab/"
fi
cp -L /usr/lib/x86_64-linux-gnu/libisal.so.2 "$stage/lib/"
cp -L /usr/lib/x86_64-linux-gnu/libgomp.so.1 "$stage/lib/"
strip "$stage"/bin/* 2>/dev/null || true
tar -C "$stage" -cJf devbin/fasttab-bin.tar.xz $(cd "$stage" && ls -d bin lib python 2>/dev/null)
rm -rf "$stage"
ls -la devbin/fasttab-bin.tar.xz
