#!/usr/bin/env bash
# cli_resume.sh: checkpoints. A run stopped by SIGTERM and resumed ends with a model file
# byte-identical to an uninterrupted run; a run killed with SIGKILL at a random moment leaves a
# checkpoint that still loads and resumes to the same model.
set -uo pipefail
. "$(dirname "$0")/harness.sh" cli_resume
if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data"; echo "0 passed, 0 failed"; exit 0; fi

# Adam moments, dropout masks, the data order, the augmentation and the model's preprocessing
# must all survive the interruption. 5,000 training images make an epoch 100 steps, so the checkpoints fall where the
# batch chosen ahead of a step (while it computes) starts a new epoch. The held-out 55,000 are
# evaluated at steps 400 and 800, and the best is kept across the interruption.
args=(--model conv:8:5,relu,pool:2,dense:32,relu,dropout:0.5,dense:10 --steps 800 --batch 50
      --val 55000 --eval-every 400 --augment shift:2,rotate:10,elastic:4 --preprocess deskew
      --threads 2 --seed 3 --quiet)
"$mnist" train "${args[@]}" --out full.safetensors --json >full.json
check "uninterrupted run wrote its model" "[ -s full.safetensors ]"
check "--val reports the best validation accuracy" \
  "json 'assert 0.5 < d[\"val_accuracy\"] <= 1' <full.json"

# SIGTERM: finish the step, write the checkpoint, exit 143, say how to resume.
"$mnist" train "${args[@]}" --out resumed.safetensors --checkpoint ck.safetensors --checkpoint-every 100 2>term.err &
pid=$!
# Training is under way once the first checkpoint exists; the process is stopped there so that
# SIGTERM reaches it mid-run however fast this machine is.
for _ in $(seq 3000); do [ -e ck.safetensors ] && break; sleep 0.01; done
kill -STOP $pid
kill -TERM $pid
kill -CONT $pid
wait $pid; rc=$?
check "SIGTERM exits with 143 (got $rc)" "[ $rc -eq 143 ]"
check "the message says how to resume" "grep -q 'resume with: mnist train --resume ck.safetensors' term.err"
check "the checkpoint is a loadable model, preprocessing included" "'$mnist' info ck.safetensors | grep -q '^preprocess   deskew'"
check "no temporary file left" "! ls *.tmp.* 2>/dev/null | grep -q ."
"$mnist" train --resume ck.safetensors --out resumed.safetensors --quiet --json >resumed.json
check "resumed run equals the uninterrupted one, byte for byte" "cmp -s full.safetensors resumed.safetensors"
check "the resumed run reports the same best validation accuracy" \
  "json 'assert d[\"val_accuracy\"] == json.loads(open(\"full.json\").read().splitlines()[-1])[\"val_accuracy\"]' <resumed.json"

# SIGKILL at a random moment while checkpointing every 25 steps.
rm -f ck2.safetensors
"$mnist" train "${args[@]}" --out killed.safetensors --checkpoint ck2.safetensors --checkpoint-every 25 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 3000); do [ -e ck2.safetensors ] && break; sleep 0.01; done  # the first checkpoint
sleep "$(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.2f", rand() * 0.5}')"
kill -KILL $pid; wait $pid 2>/dev/null
echo "killed at a random moment after the first checkpoint"
check "a checkpoint exists after SIGKILL" "[ -s ck2.safetensors ]"
check "the checkpoint after SIGKILL loads" "'$mnist' info ck2.safetensors >/dev/null"
"$mnist" train --resume ck2.safetensors --out killed.safetensors --quiet >/dev/null
check "resumed after SIGKILL equals the uninterrupted run" "cmp -s full.safetensors killed.safetensors"

# A model file is not a checkpoint; a missing checkpoint is named.
out=$("$mnist" train --resume full.safetensors 2>&1); rc=$?
check "resuming from a model file fails clearly" "[ $rc -ne 0 ] && grep -q 'not a checkpoint' <<<\"\$out\""
out=$("$mnist" train --resume missing.safetensors 2>&1); rc=$?
check "resuming from a missing file names it" "[ $rc -ne 0 ] && grep -q 'missing.safetensors' <<<\"\$out\""

finish
