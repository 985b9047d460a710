#!/usr/bin/env bash
# cli_valgrind.sh: a short train, eval, predict and info under valgrind's memcheck: no invalid
# reads or writes, no use of uninitialised memory, no definite or indirect leaks. Only the Release
# binary is checked (valgrind and ASan do not mix: an ASan build skips this test, it has its own
# leak checker). "Possibly lost" blocks are not errors: they are libgomp's idle worker threads,
# which live until exit by design. Skips itself when valgrind is not installed.
set -uo pipefail
mnist=${MNIST_BIN:?} tmp=${MNIST_TMP:-/tmp}/cli_valgrind
pass=0 fail=0
if ! command -v valgrind >/dev/null; then
  echo "SKIP: valgrind is not installed (sudo apt-get install valgrind)"; exit 0
fi
if grep -qa __asan_init "$mnist"; then
  echo "SKIP: $mnist is built with AddressSanitizer"; exit 0
fi
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
vg=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
# run NAME COMMAND...: the command must succeed with a clean valgrind report.
run() {
  local name=$1; shift
  "${vg[@]}" --log-file="$name.vg" "$@" >"$name.out" 2>"$name.err"
  local rc=$?
  if [ $rc -eq 0 ] && [ ! -s "$name.vg" ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL: $name under valgrind (exit $rc):"; head -40 "$name.vg" "$name.err"
  fi
}
# run_fail NAME COMMAND...: the command must fail (exit 1 or 2), still with a clean report.
run_fail() {
  local name=$1; shift
  "${vg[@]}" --log-file="$name.vg" "$@" >"$name.out" 2>"$name.err"
  local rc=$?
  if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && [ ! -s "$name.vg" ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL: $name under valgrind (exit $rc, want 1 or 2):"; head -40 "$name.vg" "$name.err"
  fi
}

# A tiny generated data set for the slow paths (a conv net evaluating a test set), and the real
# data, when there is some, for the rest (the gzip path): about a minute in all.
tiny=$tmp/tiny && mkdir -p "$tiny"
python3 - "$tiny" <<'PY'
import struct, sys
for pre in ("train", "t10k"):
    n = 40
    px = bytes((i * 37 + i // 28) % 256 for i in range(n * 28 * 28))
    open(f"{sys.argv[1]}/{pre}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + px)
    open(f"{sys.argv[1]}/{pre}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
data=${MNIST_DATA:-}
[ -d "$data" ] || data=$tiny

run train "$mnist" train --data "$data" --model softmax --steps 20 --threads 2 --out sm.safetensors
run train_conv "$mnist" train --data "$tiny" --model conv:4:5,relu,pool:2,dense:10 --steps 3 \
  --batch 8 --threads 2 --checkpoint ck.safetensors --out conv.safetensors
run eval "$mnist" eval sm.safetensors --data "$data" --threads 2
run info "$mnist" info conv.safetensors
{ echo "P2 20 30 255"; for y in $(seq 0 29); do for x in $(seq 0 19); do
    if [ $x -ge 8 ] && [ $x -lt 12 ] && [ $y -ge 4 ] && [ $y -lt 26 ]; then printf '10 '; else printf '240 '; fi
  done; echo; done; } > one.pgm
run predict "$mnist" predict conv.safetensors one.pgm --top 3 --threads 2
# Error paths free what they allocated too.
head -c 300 sm.safetensors > cut.safetensors
run_fail bad_model "$mnist" info cut.safetensors
run_fail bad_spec "$mnist" train --data "$tiny" --model conv:4:5,rleu,dense:10
run_fail bad_image "$mnist" predict sm.safetensors cut.safetensors

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
