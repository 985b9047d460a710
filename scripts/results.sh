#!/usr/bin/env bash
# results.sh: reruns rows of the README's results table and writes docs/RESULTS.md. Each row is
# one command; its JSON output is kept in out/results/ROW.json, so rows can be rerun one at a
# time and the table is rebuilt from every row on record. Slow: cnn-tutorial is 20,000 steps and
# each best-N about 8 minutes.
# Usage: scripts/results.sh [build/mnist] [ROW...]
#   ROW: softmax cnn-fast cnn-tutorial best-1 ... best-5 ensemble ensemble-tta ensemble-3
#   best-elastic stack ensemble-mixed stack-2 stack-3 ensemble-stack long-1 long-2 long-3
#   ensemble-long ensemble-long-tta (default: all, in order;
#   each ensemble needs its members: ensemble all five best-N, ensemble-3 the first three,
#   ensemble-mixed best-1, best-2, best-elastic and stack, ensemble-stack stack, stack-2 and
#   stack-3, ensemble-long and ensemble-long-tta long-1 to long-3).
set -euo pipefail
mnist=$(readlink -f "${1:-build/mnist}"); shift || true
cd "$(dirname "$0")/.."
seeds=(1 2 3 4 5)
all=(softmax cnn-fast cnn-tutorial "${seeds[@]/#/best-}" ensemble ensemble-tta ensemble-3
     best-elastic stack ensemble-mixed stack-2 stack-3 ensemble-stack
     long-1 long-2 long-3 ensemble-long ensemble-long-tta)
rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=("${all[@]}")
mkdir -p out/results docs
declare -A cmd=(
  [softmax]="train --model softmax --out out/softmax.safetensors"
  [cnn-fast]="train --model cnn --recipe fast --out out/cnn-fast.safetensors"
  [cnn-tutorial]="train --model cnn --out out/cnn-tutorial.safetensors"
)
members=""
for s in "${seeds[@]}"; do
  cmd[best-$s]="train --model best --seed $s --out out/best-$s.safetensors"
  members+=" out/best-$s.safetensors"
done
cmd[ensemble]="eval$members"
cmd[ensemble-tta]="eval$members --tta"
cmd[ensemble-3]="eval out/best-1.safetensors out/best-2.safetensors out/best-3.safetensors"
# Members of other kinds, for an ensemble whose mistakes differ more: best with elastic
# distortion too, and a stack of 3x3 convolutions (8 epochs: it trains at 2/3 best's rate).
cmd[best-elastic]="train --model best --augment shift:2,rotate:10,scale:0.1,elastic:8 --out out/best-elastic.safetensors"
stack=conv:32:3,bn,relu,conv:32:3,bn,relu,pool:2,conv:64:3,bn,relu,conv:64:3,bn,relu,pool:2,dense:256,bn,relu,dropout:0.3,dense:10
stack_recipe="--epochs 8 --label-smoothing 0.1 --augment shift:2,rotate:10,scale:0.1"
cmd[stack]="train --model $stack $stack_recipe --out out/stack.safetensors"
cmd[ensemble-mixed]="eval out/best-1.safetensors out/best-2.safetensors out/best-elastic.safetensors out/stack.safetensors"
for s in 2 3; do cmd[stack-$s]="train --model $stack $stack_recipe --seed $s --out out/stack-$s.safetensors"; done
cmd[ensemble-stack]="eval out/stack.safetensors out/stack-2.safetensors out/stack-3.safetensors"
# The same stack trained for 15 epochs (about 15 minutes each), three seeds: an ensemble of
# fewer members trained longer, within the 45 minutes.
long=""
for s in 1 2 3; do
  cmd[long-$s]="train --model $stack ${stack_recipe/--epochs 8/--epochs 15} --seed $s --out out/long-$s.safetensors"
  long+=" out/long-$s.safetensors"
done
cmd[ensemble-long]="eval$long"
cmd[ensemble-long-tta]="eval$long --tta"
declare -A what=(
  [softmax]="softmax, tutorial recipe (SGD 0.5, batch 100, 1000 steps)"
  [cnn-fast]="cnn, fast recipe (Adam 2e-3 one-cycle, batch 64, 2 epochs)"
  [cnn-tutorial]="cnn, tutorial recipe (Adam 1e-4, batch 50, 20,000 steps)"
  [best-elastic]="best, seed 1, with elastic distortion (elastic:8) as well"
  [stack]="four 3x3 convolutions with bn, fast recipe, 8 epochs, label smoothing 0.1, shift/rotate/scale"
  [stack-2]="the same, seed 2"
  [stack-3]="the same, seed 3"
  [long-1]="the 3x3 stack, 15 epochs, seed 1"
  [long-2]="the same, seed 2"
  [long-3]="the same, seed 3"
)
py() { /usr/bin/python3 -c "$@"; }
for r in "${rows[@]}"; do
  [ -n "${cmd[$r]:-}" ] || { echo "results: unknown row '$r' (${all[*]})" >&2; exit 2; }
  echo "== $r: mnist ${cmd[$r]}" >&2
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  json=$("$mnist" ${cmd[$r]} --json | tail -n 1)
  py "import json,sys; d=json.loads(sys.argv[1]); d['_date']=sys.argv[2]; d['_load']=sys.argv[3]
print(json.dumps(d))" "$json" "$(date -u +%Y-%m-%d)" "$load" >"out/results/$r.json"
done

# The table, from every row on record.
py '
import json, os, statistics, sys
cmd, what = ({k: v for k, v in (l.rstrip("\n").split("\t") for l in open(f))} for f in sys.argv[1:3])
rec = {r: json.load(open(f"out/results/{r}.json")) for r in cmd if os.path.exists(f"out/results/{r}.json")}
out = ["# Results", "",
       "Made by `scripts/results.sh` (each row: the command shown, run with `build/mnist`, all cores).",
       "Machine: %d cores, %s." % (os.cpu_count(), next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))),
       "", "| model and recipe | test accuracy | training time | command | run on (load average) |",
       "| --- | --- | --- | --- | --- |"]
def row(name, acc, secs, command, d):
    out.append("| %s | %s | %s | `mnist %s` | %s (%s) |" % (name, acc, secs, command, d["_date"], d["_load"]))
for r in ("softmax", "cnn-fast", "cnn-tutorial"):
    if r in rec:
        d = rec[r]
        row(what[r], "%.4f" % d["test_accuracy"], "%.1f s" % d["train_seconds"], cmd[r], d)
members = cmd["ensemble"].split()[1:]
best = [r for r in (m.split("/")[-1].split(".")[0] for m in members) if r in rec]
for r in best:
    d = rec[r]
    row(f"best, seed {r[-1]}", "%.4f" % d["test_accuracy"], "%.1f s" % d["train_seconds"], cmd[r], d)
if len(best) >= 2:
    accs = [rec[r]["test_accuracy"] for r in best]
    secs = [rec[r]["train_seconds"] for r in best]
    out.append(f"| best, {len(best)} seeds: mean (min to max) | {statistics.mean(accs):.4f} "
               f"({min(accs):.4f} to {max(accs):.4f}) | {statistics.mean(secs):.1f} s each | "
               f"the rows above | |")
for r in ("best-elastic", "stack", "stack-2", "stack-3", "long-1", "long-2", "long-3"):
    if r in rec:
        d = rec[r]
        row(what[r], "%.4f" % d["test_accuracy"], "%.1f s" % d["train_seconds"], cmd[r], d)
for r, name in (("ensemble", "ensemble of the %d best models (probabilities averaged)"),
                ("ensemble-tta", "the same ensemble with test-time augmentation (5 shifts)"),
                ("ensemble-3", "ensemble of the first %d best models only"),
                ("ensemble-mixed", "ensemble of best seeds 1 and 2, best-elastic and stack"),
                ("ensemble-stack", "ensemble of seeds 1 to 3 of the 3x3 stack"),
                ("ensemble-long", "ensemble of seeds 1 to 3 of the 3x3 stack, 15 epochs"),
                ("ensemble-long-tta", "the same ensemble with test-time augmentation (5 shifts)")):
    used = [m.split("/")[-1].split(".")[0] for m in cmd[r].split()[1:] if m.startswith("out/")]
    if r in rec and all(u in rec for u in used):
        total = sum(rec[u]["train_seconds"] for u in used)
        row(name.replace("%d", str(len(used))), "%.4f" % rec[r]["accuracy"],
            "%.1f s in all" % total, cmd[r], rec[r])
open("docs/RESULTS.md.tmp", "w").write("\n".join(out) + "\n")
os.replace("docs/RESULTS.md.tmp", "docs/RESULTS.md")
print("\n".join(out))
' <(for r in "${all[@]}"; do printf '%s\t%s\n' "$r" "${cmd[$r]}"; done) \
  <(for r in "${!what[@]}"; do printf '%s\t%s\n' "$r" "${what[$r]}"; done)
