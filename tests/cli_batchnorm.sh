#!/usr/bin/env bash
# cli_batchnorm.sh: batch normalisation from the command line: a bn spec trains, `mnist export
# --fold-bn` writes a model without the foldable bn layers that evaluates the same, and export's
# one-line errors.
set -uo pipefail
. "$(dirname "$0")/harness.sh" cli_batchnorm

check "mnist export --help" "'$mnist' export --help | grep -q 'usage: mnist export MODEL OUT'"
check "mnist --help lists export" "'$mnist' --help | grep -q 'export'"
expect_error "export without files" 2 "export: which files?" "$mnist" export
expect_error "export: unknown option" 2 "export: unexpected argument '--fold'" "$mnist" export a b --fold
expect_error "export: missing model" 1 "nowhere.safetensors" "$mnist" export nowhere.safetensors out.safetensors --fold-bn
expect_error "bn takes no arguments" 1 "layer 2 \"bn:3\": takes no arguments" \
  "$mnist" train --model dense:8,bn:3,dense:10 --data "${MNIST_DATA:-/nonexistent}"

if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data for the rest"; echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; fi

spec=conv:8:5,bn,relu,pool:2,bn,dense:32,bn,relu,dense:10
out=$("$mnist" train --model $spec --optimizer adam --lr 0.002 --batch 64 --steps 120 --threads 2 \
      --out bn.safetensors --json 2>/dev/null)
check "a bn network trains (>= 0.9 after 120 steps)" "json 'assert d[\"test_accuracy\"] >= 0.9' <<<\"\$out\""
check "info lists the bn layers" "'$mnist' info bn.safetensors | grep -q 'batchnorm 8 channels'"
check "export --fold-bn" "'$mnist' export bn.safetensors folded.safetensors --fold-bn | grep -q 'conv:8:5,relu,pool:2,bn,dense:32,relu,dense:10'"
check "the folded file's spec" "'$mnist' info folded.safetensors | grep -q 'spec *conv:8:5,relu,pool:2,bn,dense:32,relu,dense:10\$'"
check "export without --fold-bn keeps the spec" "'$mnist' export bn.safetensors plain.safetensors | grep -q '$spec'"
a=$("$mnist" eval bn.safetensors --threads 2 --json 2>/dev/null)
b=$("$mnist" eval folded.safetensors --threads 1 --json 2>/dev/null)
check "folded and unfolded evaluate the same" \
  "[ -n \"\$a\" ] && [ \"\$(json 'print(d[\"accuracy\"])' <<<\"\$a\")\" = \"\$(json 'print(d[\"accuracy\"])' <<<\"\$b\")\" ]"
check "export is atomic (no temporary left)" "[ \$(ls | wc -l) -eq 3 ]"
finish
