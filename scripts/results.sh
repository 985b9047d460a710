#!/usr/bin/env bash
# results.sh: reruns the README's results table: trains each model with its recipe and writes
# docs/RESULTS.md (accuracy, training time on this machine, the exact command). Slow: the
# tutorial CNN recipe is 20,000 steps. Usage: scripts/results.sh [build/mnist] [rows...]
# where rows are any of: softmax cnn-fast cnn-tutorial (default: all).
set -euo pipefail
mnist=$(readlink -f "${1:-build/mnist}"); shift || true
cd "$(dirname "$0")/.."
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=(softmax cnn-fast cnn-tutorial)
mkdir -p out docs
declare -A cmd=(
  [softmax]="train --model softmax --out out/softmax.safetensors"
  [cnn-fast]="train --model cnn --recipe fast --out out/cnn-fast.safetensors"
  [cnn-tutorial]="train --model cnn --out out/cnn-tutorial.safetensors"
)
declare -A what=(
  [softmax]="softmax, tutorial recipe (SGD 0.5, batch 100, 1000 steps)"
  [cnn-fast]="cnn, fast recipe (Adam 2e-3 one-cycle, batch 64, 2 epochs)"
  [cnn-tutorial]="cnn, tutorial recipe (Adam 1e-4, batch 50, 20,000 steps)"
)
out=docs/RESULTS.md
{
  echo "# Results"
  echo
  echo "Made by \`scripts/results.sh\` on $(date -u +%Y-%m-%d) on this machine:"
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| model and recipe | test accuracy | training time | command |"
  echo "| --- | --- | --- | --- |"
} > "$out.tmp"
for r in "${rows[@]}"; do
  echo "== $r: mnist ${cmd[$r]}" >&2
  json=$("$mnist" ${cmd[$r]} --json | tail -n 1)
  acc=$(/usr/bin/python3 -c "import json,sys; print('%.4f' % json.loads(sys.argv[1])['test_accuracy'])" "$json")
  secs=$(/usr/bin/python3 -c "import json,sys; print('%.1f s' % json.loads(sys.argv[1])['train_seconds'])" "$json")
  echo "| ${what[$r]} | $acc | $secs | \`mnist ${cmd[$r]}\` |" >> "$out.tmp"
done
mv "$out.tmp" "$out"
cat "$out"
