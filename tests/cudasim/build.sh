#!/usr/bin/env bash
# Builds the CUDA simulator into OUT_DIR: libcudasim.so (driver API, NVRTC and cuBLAS in one library, so they share
# state) and device/, the headers its NVRTC compiles kernels against. Needs g++ with C++17 (Debian 12: g++ 12).
# Then `CUDASIM_DIR=OUT_DIR . tests/cudasim/env.sh` points Electra at it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/device"
cp "$here"/device/*.h "$out/device/"
g++ -std=c++17 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror \
    "$here"/src/*.cpp -o "$out/libcudasim.so.tmp" -ldl
mv "$out/libcudasim.so.tmp" "$out/libcudasim.so"
echo "built $out/libcudasim.so"
