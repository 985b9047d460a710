# harness.sh: what the tests/cli_*.sh scripts share (not a test itself). Sourced as
#   . "$(dirname "$0")/harness.sh" NAME
# it sets mnist (the program, $MNIST_BIN), tmp ($MNIST_TMP or /tmp, then NAME: emptied and made
# the working directory) and the counters pass and fail, and defines:
#   check NAME SHELL_TEXT            passes if SHELL_TEXT (eval'd) succeeds
#   expect_error NAME STATUS NEEDLE COMMAND...
#                                    passes if COMMAND exits with STATUS and prints at most two
#                                    lines, one of them containing NEEDLE
#   json PYTHON                      runs PYTHON with d = the last line of stdin, parsed as JSON
#   finish                           prints "N passed, N failed"; its status is the verdict
mnist=${MNIST_BIN:?} tmp=${MNIST_TMP:-/tmp}/${1:?harness.sh needs the test name}
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
expect_error() {
  local name=$1 want=$2 needle=$3; shift 3
  local out rc; out=$("$@" 2>&1); rc=$?
  if [ $rc -eq "$want" ] && grep -qF -- "$needle" <<<"$out" && [ "$(wc -l <<<"$out")" -le 2 ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL: $name: exit $rc (want $want), output: $out"
  fi
}
json() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); $1"; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; }
