#!/usr/bin/env bash
# cli_commands.sh: the `mnist` program as a user meets it: train, info, eval, predict, sample,
# their --json output, and the one-line errors for bad options, bad files and missing data.
set -uo pipefail
. "$(dirname "$0")/harness.sh" cli_commands

expect_error "unknown command" 2 "unknown command 'fly'" "$mnist" fly
check "mnist --help lists the commands" "'$mnist' --help | grep -q 'predict'"
for c in train eval predict sample info data serve; do
  check "mnist $c --help" "'$mnist' $c --help | grep -q 'usage: mnist $c'"
done
expect_error "bad --batch" 2 "--batch: '0' is not a whole number" "$mnist" train --batch 0
expect_error "bad --lr" 2 "--lr: 'fast'" "$mnist" train --lr fast
expect_error "bad spec points at the token" 1 "layer 2 \"rleu\": unknown layer" \
  "$mnist" train --model conv:4:5,rleu,dense:10 --data "${MNIST_DATA:-/nonexistent}"
expect_error "unknown distortion" 2 "--augment: unknown distortion 'wobble'" "$mnist" train --augment wobble:3
expect_error "distortion out of range" 2 "--augment rotate: '400' is not a number from 0 to 45" "$mnist" train --augment rotate:400
expect_error "label smoothing out of range" 2 "--label-smoothing: '0.9' is not a number from 0 to 0.5" "$mnist" train --label-smoothing 0.9
expect_error "missing data directory" 1 "mnist data fetch" "$mnist" train --data "$tmp/nowhere"

if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data for the rest"; echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; fi

out=$("$mnist" train --model softmax --out sm.safetensors --json 2>train.err)
check "train prints the test accuracy" "grep -q '^test accuracy 0.9' <<<\"\$out\""
check "train --json: test_accuracy >= 0.9 and the fields" \
  "json 'assert d[\"test_accuracy\"] >= 0.9 and d[\"steps\"] == 1000 and d[\"model\"] == \"softmax\" and \"train_seconds\" in d and \"epochs\" in d' <<<\"\$out\""
check "train progress goes to stderr" "grep -q 'step 1000/1000' train.err"
out=$("$mnist" train --model softmax --steps 300 --augment shift:2,rotate:10,scale:0.1,elastic:6 --out aug.safetensors --json 2>/dev/null)
check "training with augmentation learns (>= 0.85 after 300 steps)" "json 'assert d[\"test_accuracy\"] >= 0.85' <<<\"\$out\""
out=$("$mnist" train --model softmax --steps 300 --label-smoothing 0.1 --out ls.safetensors --json 2>/dev/null)
check "training with label smoothing learns (>= 0.88 after 300 steps)" "json 'assert d[\"test_accuracy\"] >= 0.88' <<<\"\$out\""
out=$("$mnist" train --model softmax --steps 500 --val 50000 --log val.csv --out val.safetensors --json 2>/dev/null)
check "--val: 10,000 images left, evaluated once an epoch (100 steps), the best reported" \
  "[ \$(awk -F, 'NR > 1 && \$4 != \"\"' val.csv | wc -l) -eq 5 ] && json 'assert 0.85 < d[\"val_accuracy\"] <= 1' <<<\"\$out\""
vacc=$(json 'print(d["val_accuracy"])' <<<"$out")
check "eval --split val:50000 scores the held-out images as training did ($vacc)" \
  "'$mnist' eval val.safetensors --split val:50000 --json | json 'assert d[\"count\"] == 50000 and d[\"split\"] == \"val:50000\" and d[\"accuracy\"] == $vacc'"
expect_error "eval --split val: too many" 1 "--split val:60000: the training set has only 60000 images" "$mnist" eval val.safetensors --split val:60000
expect_error "eval --split val: not a number" 2 "--split val: 'x' is not a whole number" "$mnist" eval val.safetensors --split val:x
out=$("$mnist" train --model softmax --preprocess deskew --out desk.safetensors --json 2>desk.err)
check "softmax on deskewed images beats plain softmax (>= 0.945, plain 0.92)" \
  "json 'assert d[\"test_accuracy\"] >= 0.945 and d[\"preprocess\"] == \"deskew\"' <<<\"\$out\" && grep -q 'preprocessed: deskew' desk.err"
dacc=$(json 'print(d["test_accuracy"])' <<<"$out")
check "the model file keeps its preprocessing: info shows it, eval applies it ($dacc)" \
  "'$mnist' info desk.safetensors | grep -q '^preprocess   deskew' && '$mnist' eval desk.safetensors --json | json 'assert d[\"accuracy\"] == $dacc'"
check "an ensemble mixes preprocessings" "'$mnist' eval sm.safetensors desk.safetensors --json | json 'assert d[\"model_accuracy\"][1] == $dacc'"
out=$("$mnist" train --model best --steps 20 --threads 2 --out best.safetensors --json 2>best.err)
check "--model best uses its own recipe" "grep -q 'recipe best' best.err && json 'assert d[\"model\"] == \"best\"' <<<\"\$out\""
check "a best model file names its preset" "'$mnist' info best.safetensors | grep -q 'best'"
check "info shows the spec" "'$mnist' info sm.safetensors | grep -q 'spec *dense:10'"
check "info --json" "'$mnist' info sm.safetensors --json | json 'assert d[\"parameters\"] == 7850'"
out=$("$mnist" eval sm.safetensors --json)
check "eval --json: accuracy, loss, 10x10 confusion summing to 10000" \
  "json 'c=d[\"confusion\"]; assert len(c)==10 and all(len(r)==10 for r in c) and sum(map(sum,c))==10000 and d[\"accuracy\"]>0.9 and d[\"loss\"]>0' <<<\"\$out\""
check "eval text has precision and recall" "'$mnist' eval sm.safetensors | grep -q 'precision  recall'"
check "eval --tta averages 5 shifted copies" "'$mnist' eval sm.safetensors --tta --json | json 'assert d[\"tta\"] is True and d[\"accuracy\"] > 0.85'"
check "eval of two models is an ensemble" "'$mnist' eval sm.safetensors sm.safetensors | grep -q 'ensemble of 2 models'"
accs=$(for f in sm aug ls; do "$mnist" eval $f.safetensors --json | json 'print(d["accuracy"])'; done | paste -sd,)
out=$("$mnist" eval sm.safetensors aug.safetensors ls.safetensors --json)
check "an ensemble reports each model's own accuracy ($accs) and how many models miss each image" \
  "json 'a=d[\"model_accuracy\"]; w=d[\"wrong_by\"]; assert a == [$accs] and len(w) == 4 and sum(w) == 10000 and sum(k * w[k] for k in range(4)) == round(sum(10000 * (1 - x) for x in a))' <<<\"\$out\""
check "the ensemble's text names the counts" "'$mnist' eval sm.safetensors ls.safetensors | grep -q 'images that k of the 2 models misclassify: 1:'"

# A hand-written "1": a thick vertical stroke, dark on light paper, as an ASCII PGM.
{ echo "P2 40 60 255"; for y in $(seq 0 59); do row=""; for x in $(seq 0 39); do
    if [ $y -ge 8 ] && [ $y -lt 52 ] && [ $x -ge 17 ] && [ $x -lt 23 ]; then row+="20 "; else row+="235 "; fi
  done; echo "$row"; done; } > one.pgm
{ echo "P2 16 16 255"; for y in $(seq 16); do printf '250 %.0s' $(seq 16); echo; done; } > blank.pgm
echo "not a picture" > notes.txt
out=$("$mnist" predict sm.safetensors one.pgm)
check "predict reads a drawn 1 as 1 ($out)" "grep -q '^one.pgm: 1 (' <<<\"\$out\""
out=$("$mnist" predict sm.safetensors one.pgm --json)
check "predict --json: file, digit, 10 probabilities summing to 1" \
  "json 'p=d[\"probabilities\"]; assert d[\"file\"]==\"one.pgm\" and d[\"digit\"]==1 and len(p)==10 and abs(sum(p)-1)<1e-4' <<<\"\$out\""
check "predict --top 3 lists three classes" "'$mnist' predict sm.safetensors one.pgm --top 3 | grep -q 'top 3:'"
check "predict --show draws the 28x28" "[ \$('$mnist' predict sm.safetensors one.pgm --show | wc -l) -ge 14 ]"
check "predict --save-preprocessed writes a 28x28 PNG" \
  "'$mnist' predict sm.safetensors one.pgm --save-preprocessed pre >/dev/null && [ \"\$(head -c 4 pre/one.pgm.28x28.png | tail -c 3)\" = PNG ]"
expect_error "blank image" 1 "no ink found" "$mnist" predict sm.safetensors blank.pgm
expect_error "not an image" 1 "notes.txt: not a PNG, JPEG or PGM/PPM image" "$mnist" predict sm.safetensors notes.txt
expect_error "missing image" 1 "missing.png: cannot open" "$mnist" predict sm.safetensors missing.png
check "one bad image does not stop the others" \
  "out=\$('$mnist' predict sm.safetensors notes.txt one.pgm 2>/dev/null); [ \$? -eq 1 ] && grep -q '^one.pgm: 1' <<<\"\$out\""
out=$("$mnist" sample sm.safetensors -n 3 --seed 7 --png sample.png)
check "sample shows 3 labelled test images" "[ \$(grep -c '^test image' <<<\"\$out\") -eq 3 ]"
check "sample --png writes a PNG" "[ \"\$(head -c 4 sample.png | tail -c 3)\" = PNG ]"
check "sample with a seed repeats" "[ \"\$('$mnist' sample sm.safetensors -n 3 --seed 7 --json)\" = \"\$('$mnist' sample sm.safetensors -n 3 --seed 7 --json)\" ]"

# Bad model files: named, one line, nothing else written.
head -c 100 sm.safetensors > cut.safetensors
expect_error "truncated model file" 1 "cut.safetensors" "$mnist" eval cut.safetensors
expect_error "a data file as a model" 1 "t10k" "$mnist" info "$MNIST_DATA/t10k-labels-idx1-ubyte.gz"
expect_error "missing model" 1 "none.safetensors: cannot open" "$mnist" eval none.safetensors
check "no temporary files left" "! ls *.tmp.* 2>/dev/null | grep -q ."

finish
