#!/usr/bin/env bash
# results.sh: reruns rows of the README's results table and writes docs/RESULTS.md. Each row is
# one command; its JSON output is kept in out/results/ROW.json, so rows can be rerun one at a
# time and the table is rebuilt from every row on record. Slow: cnn-tutorial is 20,000 steps and
# each best-N about 14 minutes.
# Usage: scripts/results.sh [build/mnist] [ROW... | table]   (default: every row, in the order
# below; `table` only rebuilds docs/RESULTS.md from the rows on record)
# An ensemble row needs its members' model files in out/ (run their rows first).
set -euo pipefail
mnist=$(readlink -f "${1:-build/mnist}"); shift || true
cd "$(dirname "$0")/.."
mkdir -p out/results docs

declare -A cmd what
all=()
# row NAME DESCRIPTION COMMAND...: one row of the table (a train or an eval command)
row() { all+=("$1"); what[$1]=$2; shift 2; cmd[${all[-1]}]="$*"; }
# ensemble NAME DESCRIPTION MEMBER... [-- OPTION...]: mnist eval of the members' model files
ensemble() {
  local name=$1 desc=$2 files="" m; shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=" out/$1.safetensors"; shift; done
  [ $# -gt 0 ] && shift
  row "$name" "$desc" "eval$files" "$@"
}
# past COMMIT NAME DESCRIPTION COMMAND...: a row on record that ran with the code of COMMIT,
# where the command did something it no longer does; shown in the table, never rerun
declare -A past_of
past() { local c=$1; shift; row "$@"; past_of[${all[-1]}]=$c; }
aug="--augment shift:2,rotate:10,scale:0.1"
# the layers of the best preset before the 3x3 stack replaced them: the tutorial's, with bn
bn5=conv:32:5,bn,relu,pool:2,conv:64:5,bn,relu,pool:2,dense:1024,relu,dropout:0.5,dense:10

row softmax "softmax, tutorial recipe (SGD 0.5, batch 100, 1000 steps)" train --model softmax --out out/softmax.safetensors
row softmax-deskew "softmax, tutorial recipe, deskewed images" train --model softmax --preprocess deskew --out out/softmax-deskew.safetensors
row cnn-fast "cnn, fast recipe (Adam 2e-3 one-cycle, batch 64, 2 epochs)" train --model cnn --recipe fast --out out/cnn-fast.safetensors
row cnn-tutorial "cnn, tutorial recipe (Adam 1e-4, batch 50, 20,000 steps)" train --model cnn --out out/cnn-tutorial.safetensors

# The best preset: four 3x3 convolutions with bn, 15 epochs (README: "The best preset").
# Seeds 4 to 6 and 7 to 9 are a second and third draw of the ensemble (its spread).
for s in 1 2 3 4 5 6 7 8 9; do
  row best-$s "best, seed $s" train --model best --seed $s --out out/best-$s.safetensors
done
ensemble ensemble "ensemble of best seeds 1 to 3 (probabilities averaged)" best-1 best-2 best-3
ensemble ensemble-tta "the same ensemble, test-time augmentation (5 shifts)" best-1 best-2 best-3 -- --tta
ensemble ensemble-456 "ensemble of best seeds 4 to 6" best-4 best-5 best-6
ensemble ensemble-789 "ensemble of best seeds 7 to 9" best-7 best-8 best-9
ensemble ensemble-6 "ensemble of best seeds 1 to 6 (twice the 45-minute budget)" best-1 best-2 best-3 best-4 best-5 best-6
ensemble ensemble-9 "ensemble of best seeds 1 to 9 (three times the budget)" best-1 best-2 best-3 best-4 best-5 best-6 best-7 best-8 best-9

# Choosing between the two layer sets without the test set: each trained on the first 50,000
# training images, the last 10,000 held out and evaluated once an epoch (the best is kept).
row val-best "best, seed 1, 10,000 images held out" train --model best --val 10000 --out out/val-best.safetensors
row val-bn5 "tutorial layers with bn, seed 1, 10,000 images held out" train --model $bn5 --epochs 15 --label-smoothing 0.1 $aug --val 10000 --out out/val-bn5.safetensors
# Two more seeds of val-best, so that ensembles can be compared on the held-out images.
for s in 2 3; do
  row val-best-$s "best, seed $s, 10,000 images held out" train --model best --val 10000 --seed $s --out out/val-best-$s.safetensors
done
# Members that see differently preprocessed images (mnist train --preprocess), on the same
# held-out images: does the ensemble of best seed 1 plain, deskewed and at width 16 beat seeds
# 1 to 3 plain? First with each training image distorted, then preprocessed (f5ef54c; the rows
# ending in -augfirst), then the other way round (the code since).
pre_old="the code of f5ef54c: distorted, then preprocessed"
past f5ef54c val-deskew-augfirst "best, seed 1, deskewed images, 10,000 images held out ($pre_old)" train --model best --preprocess deskew --val 10000 --out out/val-deskew-augfirst.safetensors
past f5ef54c val-width16-augfirst "best, seed 1, images at width 16, 10,000 images held out ($pre_old)" train --model best --preprocess width:16 --val 10000 --out out/val-width16-augfirst.safetensors
row val-deskew "best, seed 1, deskewed images, 10,000 images held out" train --model best --preprocess deskew --val 10000 --out out/val-deskew.safetensors
row val-width16 "best, seed 1, images at width 16, 10,000 images held out" train --model best --preprocess width:16 --val 10000 --out out/val-width16.safetensors
ensemble ensemble-val "ensemble of val-best seeds 1 to 3, on the 10,000 held-out images" val-best val-best-2 val-best-3 -- --split val:10000
ensemble ensemble-val-pre-augfirst "ensemble of val-best seed 1, val-deskew-augfirst and val-width16-augfirst, on the 10,000 held-out images" val-best val-deskew-augfirst val-width16-augfirst -- --split val:10000
ensemble ensemble-val-pre "ensemble of val-best seed 1, val-deskew and val-width16, on the 10,000 held-out images" val-best val-deskew val-width16 -- --split val:10000
# The same three kinds of member trained on all 60,000 images and tested: a draw per seed,
# members of seed S (best-S is the plain one). Each draw trains in about 40 minutes.
for s in 1 2 3; do
  past f5ef54c deskew-$s-augfirst "best, seed $s, deskewed images ($pre_old)" train --model best --preprocess deskew --seed $s --out out/deskew-$s-augfirst.safetensors
done
for s in 1 2 3; do
  past f5ef54c width16-$s-augfirst "best, seed $s, images at width 16 ($pre_old)" train --model best --preprocess width:16 --seed $s --out out/width16-$s-augfirst.safetensors
done
for s in 1 2 3; do
  ensemble ensemble-pre-$s-augfirst "ensemble of best seed $s plain, deskewed and at width 16 ($pre_old)" best-$s deskew-$s-augfirst width16-$s-augfirst
done
for s in 1 2 3; do
  row deskew-$s "best, seed $s, deskewed images" train --model best --preprocess deskew --seed $s --out out/deskew-$s.safetensors
done
for s in 1 2 3; do
  row width16-$s "best, seed $s, images at width 16" train --model best --preprocess width:16 --seed $s --out out/width16-$s.safetensors
done
for s in 1 2 3; do
  ensemble ensemble-pre-$s "ensemble of best seed $s plain, deskewed and at width 16" best-$s deskew-$s width16-$s
done

# The previous best preset: the tutorial layers with bn after each convolution, the same
# recipe; five seeds, and members of other kinds for an ensemble.
for s in 1 2 3 4 5; do
  row bn5-$s "tutorial layers with bn, 15 epochs, seed $s" train --model $bn5 --epochs 15 --label-smoothing 0.1 $aug --seed $s --out out/bn5-$s.safetensors
done
ensemble ensemble-bn5 "ensemble of the five tutorial-layers-with-bn models" bn5-1 bn5-2 bn5-3 bn5-4 bn5-5
ensemble ensemble-bn5-tta "the same ensemble, test-time augmentation" bn5-1 bn5-2 bn5-3 bn5-4 bn5-5 -- --tta
ensemble ensemble-bn5-3 "ensemble of its seeds 1 to 3" bn5-1 bn5-2 bn5-3
row bn5-elastic "tutorial layers with bn, seed 1, elastic distortion (elastic:8) as well" train --model $bn5 --epochs 15 --label-smoothing 0.1 --augment shift:2,rotate:10,scale:0.1,elastic:8 --out out/bn5-elastic.safetensors
stack=conv:32:3,bn,relu,conv:32:3,bn,relu,pool:2,conv:64:3,bn,relu,conv:64:3,bn,relu,pool:2,dense:256,bn,relu,dropout:0.3,dense:10
for s in 1 2 3; do
  row stack-$s "the layers of best, 8 epochs, seed $s" train --model $stack --epochs 8 --label-smoothing 0.1 $aug --seed $s --out out/stack-$s.safetensors
done
ensemble ensemble-stack "ensemble of the 8-epoch seeds 1 to 3" stack-1 stack-2 stack-3
ensemble ensemble-mixed "ensemble of tutorial layers with bn seeds 1 and 2, its elastic run, 8-epoch seed 1" bn5-1 bn5-2 bn5-elastic stack-1

rows=("$@"); [ ${#rows[@]} -gt 0 ] || rows=("${all[@]}")
[ "${rows[*]}" != table ] || rows=()
for r in "${rows[@]}"; do
  [ -n "${cmd[$r]:-}" ] || { echo "results: unknown row '$r' (${all[*]})" >&2; exit 2; }
  [ -z "${past_of[$r]:-}" ] || { echo "results: row '$r' ran with the code of ${past_of[$r]}; build that to rerun it" >&2; exit 2; }
  echo "== $r: mnist ${cmd[$r]}" >&2
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  json=$("$mnist" ${cmd[$r]} --json | tail -n 1)
  /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['_date']=sys.argv[2]; d['_load']=sys.argv[3]
print(json.dumps(d))" "$json" "$(date -u +%Y-%m-%d)" "$load" >"out/results/$r.json"
done

# The table, from every row on record, in the order above; a group of seeds gets a mean row.
/usr/bin/python3 - <(for r in "${all[@]}"; do printf '%s\t%s\t%s\n' "$r" "${what[$r]}" "${cmd[$r]}"; done) \
  scripts/results-notes.md <<'PY'
import json, os, re, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rec = {r: json.load(open(f"out/results/{r}.json")) for r, _, _ in rows
       if os.path.exists(f"out/results/{r}.json")}
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
out = ["# Results", "",
       "Made by `scripts/results.sh` (each row: the command shown, run with `build/mnist`, all cores).",
       f"Machine: {os.cpu_count()} cores, {cpu}.", "",
       "| row | model and recipe | test accuracy | training time | command | run on (load average) |",
       "| --- | --- | --- | --- | --- | --- |"]
group = []
def mean_row():
    if len(group) >= 2:
        accs = [rec[r]["test_accuracy"] for r in group]
        secs = [rec[r]["train_seconds"] for r in group]
        out.append(f"| | mean of {', '.join(group)} (min to max) | {statistics.mean(accs):.4f} "
                   f"({min(accs):.4f} to {max(accs):.4f}) | {statistics.mean(secs):.1f} s each | | |")
    group.clear()
for r, what, command in rows:
    stem = re.sub(r"-\d+$", "", r)
    if group and re.sub(r"-\d+$", "", group[0]) != stem:
        mean_row()
    if r not in rec:
        continue
    d = rec[r]
    if command.startswith("train"):
        acc, secs = d["test_accuracy"], "%.1f s" % d["train_seconds"]
        if "val_accuracy" in d:
            what += " (validation accuracy of the kept model: %.4f)" % d["val_accuracy"]
        if re.search(r"-\d+$", r):
            group.append(r)
    else:
        used = [m.split("/")[-1].split(".")[0] for m in command.split()[1:] if m.startswith("out/")]
        if not all(u in rec for u in used):
            continue
        acc, secs = d["accuracy"], "%.1f s in all" % sum(rec[u]["train_seconds"] for u in used)
        held_out = "--split val" in command  # scored on held-out training images, not the test set
        if "wrong_by" in d:
            w = d["wrong_by"]
            what += "; %s images misclassified by 1, 2, ... of its models alone: " % (
                "held-out" if held_out else "test") + ", ".join(str(x) for x in w[1:])
        if held_out:
            acc = "%.4f (validation)" % acc
    acc = acc if isinstance(acc, str) else f"{acc:.4f}"
    out.append(f"| {r} | {what} | {acc} | {secs} | `mnist {command}` | {d['_date']} ({d['_load']}) |")
mean_row()
out += ["", open(sys.argv[2]).read().rstrip("\n")]
open("docs/RESULTS.md.tmp", "w").write("\n".join(out) + "\n")
os.replace("docs/RESULTS.md.tmp", "docs/RESULTS.md")
print("\n".join(out))
PY
