#!/usr/bin/env bash
# The simulator's self-test: builds the simulator into DIR (default: a temporary folder, removed afterwards) unless
# it is there, then compiles and runs selftest.cpp against it. Every planted bug must be reported as listed there;
# exits non-zero otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then
  dir=$1
else
  dir=$(mktemp -d /tmp/cudasim-selftest-XXXXXX)
  trap 'rm -rf "$dir"' EXIT
fi
[ -f "$dir/libcudasim.so" ] || bash "$here/../build.sh" "$dir" >/dev/null
g++ -std=c++17 -O1 "$here/selftest.cpp" -o "$dir/selftest" "$dir/libcudasim.so" -Wl,-rpath,"$dir"
rm -f "$dir/selftest.log"
CUDASIM_LOG=${CUDASIM_LOG:-$dir/selftest.log} "$dir/selftest" "$here/planted_bugs.cu" "$here/../../../kernels-cu/common.cuh"
