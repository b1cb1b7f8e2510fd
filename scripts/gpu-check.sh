#!/usr/bin/env bash
# The GPU check, run on a CUDA host from the bundle that ../shared/gpu/bundle.sh makes (no .NET SDK needed):
#   bash .gpu/env.sh bash scripts/gpu-check.sh "$OUT"
# Steps (each bounded by a timeout; a failing step is recorded, never aborts the rest):
#   1. the GPU and `electra info`   2. the Gpu + Nvrtc test categories   3. the CUDA kernel benchmarks
#   4. the training step, ours against PyTorch (benchmarks/compare-pytorch.py: ELECTRA-Small B=128 T=128; PyTorch eager
#      fp32/tf32/bf16 and torch.compile tf32, our `electra bench train --breakdown`); without python3+torch, ours alone
# Writes report.md and report.json (plus every log) into the folder given, and prints a short table last.
# The whole script keeps inside GPU_CHECK_BUDGET_S (default 570 s, under a 600 s call limit): each step's timeout
# shrinks to what is left after a reserve for the report, and a step with too little left is skipped (rc "skipped").
set -uo pipefail
out=${1:?usage: gpu-check.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
: "${APP:?run through .gpu/env.sh, which sets APP to the unpacked builds}"
export ELECTRA_KERNEL_CACHE=${ELECTRA_KERNEL_CACHE:-/tmp/electra-kernel-cache}
export DOTNET_gcServer=0

budget=${GPU_CHECK_BUDGET_S:-570}
reserve=15        # seconds kept for writing the report
started=$(date +%s)
left() { echo $(( budget - reserve - ($(date +%s) - started) )); }

declare -A status seconds
step() { # step NAME TIMEOUT_S LOG command...
  local name=$1 limit=$2 log=$3; shift 3
  local t0=$(date +%s) remaining
  remaining=$(left)
  if [ "$remaining" -lt 20 ]; then
    status[$name]=skipped; seconds[$name]=0
    echo "skipped: only ${remaining} s of the ${budget} s budget left" >"$out/$log"
    echo "== $name: skipped (${remaining} s left)" >&2
    return 0
  fi
  [ "$limit" -le "$remaining" ] || limit=$remaining
  echo "== $name (≤ ${limit} s): $*" >&2
  timeout --kill-after=10 "$limit" "$@" >"$out/$log" 2>&1
  local rc=$?
  status[$name]=$rc
  seconds[$name]=$(( $(date +%s) - t0 ))
  echo "   rc=$rc in ${seconds[$name]} s (log: $log)" >&2
  return 0
}

gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
step info 60 info.txt dotnet "$APP/electra.dll" info
step tests 300 tests.log dotnet "$APP/Electra.Tests.dll" --filter "TestCategory=Gpu|TestCategory=Nvrtc" --output Detailed --no-progress
step bench 240 bench.log dotnet "$APP/Electra.Benchmarks.dll" --cuda --out "$out/bench"
# The compare script keeps inside --budget-s (ours first, then PyTorch runs while time is left) and writes its table
# even when some runs fail; the step's timeout is only a backstop.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if python3 -c "import torch" >/dev/null 2>&1; then
  compare_budget=$(( $(left) - 30 )); [ "$compare_budget" -le 260 ] || compare_budget=260
  step train 300 train.log python3 "$here/../benchmarks/compare-pytorch.py" --device cuda --preset small --batch 128 --seq 128 \
    --steps 20 --runs eager:fp32,eager:tf32,eager:bf16,compile:tf32 --budget-s "$compare_budget" --run-timeout 150 --breakdown \
    --app "$APP" --out "$out/compare"
else
  step train 150 train.log dotnet "$APP/electra.dll" bench train --preset small --batch 128 --seq 128 --steps 20 --device cuda --breakdown
fi

# Test summary from the runner's closing lines.
num() { grep -oE "^\s*$1: [0-9]+" "$out/tests.log" | tail -1 | grep -oE '[0-9]+' || echo 0; }
t_total=$(num total); t_failed=$(num failed); t_passed=$(num succeeded); t_skipped=$(num skipped)
failed_names=$(grep -E '^\s*failed ' "$out/tests.log" | sed -E 's/^\s*failed //' | head -40)

json_escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e ':a;N;$!ba;s/\n/\\n/g' -e 's/\t/\\t/g'; }
bench_json=$( [ -s "$out/bench/cuda-bench.json" ] && cat "$out/bench/cuda-bench.json" || echo null )
compare_json=$( [ -s "$out/compare/compare-pytorch.json" ] && cat "$out/compare/compare-pytorch.json" || echo null )
{
  echo "{"
  echo "  \"gpu\": \"$(printf '%s' "$gpu" | json_escape)\","
  echo "  \"date\": \"$(date -u +%FT%TZ)\","
  echo "  \"steps\": {"
  first=1
  for s in info tests bench train; do
    [ $first -eq 1 ] || echo ","; first=0
    rc=${status[$s]:-null}; [[ $rc =~ ^[0-9]+$|^null$ ]] || rc="\"$rc\""
    printf '    "%s": {"rc": %s, "seconds": %s}' "$s" "$rc" "${seconds[$s]:-null}"
  done
  echo ""
  echo "  },"
  echo "  \"tests\": {\"total\": $t_total, \"passed\": $t_passed, \"failed\": $t_failed, \"skipped\": $t_skipped, \"failedNames\": \"$(printf '%s' "$failed_names" | json_escape)\"},"
  echo "  \"bench\": $bench_json,"
  echo "  \"compare\": $compare_json,"
  echo "  \"trainTail\": \"$(tail -15 "$out/train.log" 2>/dev/null | json_escape)\""
  echo "}"
} >"$out/report.json"

{
  echo "# GPU check — ${gpu:-no GPU found}"
  echo
  echo "$(date -u +%FT%TZ). Steps: info rc=${status[info]}, tests rc=${status[tests]}, bench rc=${status[bench]}, train rc=${status[train]}."
  echo
  echo "## electra info"; echo; echo '```'; cat "$out/info.txt"; echo '```'; echo
  echo "## Tests (Gpu + Nvrtc)"; echo
  echo "total $t_total, passed $t_passed, failed $t_failed, skipped $t_skipped"
  [ -n "$failed_names" ] && { echo; echo '```'; echo "$failed_names"; echo '```'; }
  echo
  if [ -s "$out/bench/cuda-bench.md" ]; then sed 's/^# /## /' "$out/bench/cuda-bench.md"; else echo "## Kernel benchmarks"; echo; echo '```'; tail -20 "$out/bench.log"; echo '```'; fi
  echo
  if [ -s "$out/compare/compare-pytorch.md" ]; then sed 's/^# /## /' "$out/compare/compare-pytorch.md"
  else echo "## Training benchmark"; echo; echo '```'; tail -25 "$out/train.log"; echo '```'; fi
} >"$out/report.md"

# The short table, last, so the tail of the output carries it.
echo
echo "GPU: ${gpu:-none}"
printf '%-8s %5s %6s\n' step rc secs
for s in info tests bench train; do printf '%-8s %5s %6s\n' "$s" "${status[$s]}" "${seconds[$s]}"; done
echo "tests: $t_passed passed, $t_failed failed, $t_skipped skipped of $t_total"
if [ -s "$out/bench/cuda-bench.md" ]; then
  grep -E '^\| (copy d2d|gemm f32 \(tf32\)|gemm bf16|gemm qkv|bias\+gelu fwd|embedding bwd|embedding sum bwd|adamw|global norm)' "$out/bench/cuda-bench.md" | cut -d'|' -f2-7
fi
if [ -s "$out/compare/compare-pytorch.md" ]; then
  # The first table (ours vs PyTorch) and its headline; the phase table follows in report.md.
  awk '/^\| implementation/{t=1} t&&!/^\|/{exit} t' "$out/compare/compare-pytorch.md" | cut -d'|' -f2-9
  grep -E '^\*\*ours' "$out/compare/compare-pytorch.md"
else
  tail -3 "$out/train.log"
fi
echo "report: $out/report.md"
