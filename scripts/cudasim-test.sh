#!/usr/bin/env bash
# Builds the CUDA simulator (tests/cudasim) and runs the Gpu and Cudasim test categories under it, on a machine
# with g++ and the .NET SDK and no GPU:  bash scripts/cudasim-test.sh [dotnet test arguments]
# The arguments go to `dotnet test tests/Electra.Tests -c Release`, e.g. `-- --filter "FullyQualifiedName~Attention"`
# (a --filter of yours replaces the default one). CUDASIM_DIR (default /tmp/cudasim-$USER) keeps the build and its
# kernel cache between runs; CUDASIM_ORDER=1 or 2 (with CUDASIM_SEED) changes the execution order.
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDASIM_DIR=${CUDASIM_DIR:-/tmp/cudasim-$(id -un)}
if [ ! -f "$CUDASIM_DIR/libcudasim.so" ] || [ -n "$(find tests/cudasim/src tests/cudasim/device -newer "$CUDASIM_DIR/libcudasim.so")" ]; then
  bash tests/cudasim/build.sh "$CUDASIM_DIR"
fi
. tests/cudasim/env.sh
args=("$@")
filter=0 separator=0
for a in "${args[@]}"; do
  [ "$a" = --filter ] && filter=1
  [ "$a" = -- ] && separator=1
done
if [ "$filter" -eq 0 ]; then
  [ "$separator" -eq 1 ] || args+=(--)
  args+=(--filter "TestCategory=Gpu|TestCategory=Cudasim")
fi
exec dotnet test tests/Electra.Tests -c Release "${args[@]}"
