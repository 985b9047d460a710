#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang-14, ASan and UBSan, runs
# each once over its committed corpus (tests/fuzz/corpus/NAME: every past crash is a regression
# test), then fuzzes it for FUZZ_SECONDS. New inputs go to a scratch directory, never into the
# committed corpus; crashes, leaks and timeouts go to $FUZZ_OUT/NAME/ and fail the run.
# Usage: scripts/fuzz.sh [TARGET...]     (default: every target; a TARGET is e.g. idx or fuzz_idx)
# Environment: FUZZ_SECONDS (default 1200 per target), FUZZ_BUILD (default build-fuzz),
#              FUZZ_OUT (default $FUZZ_BUILD/fuzz-out), CC (default clang-14).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-1200}
build=${FUZZ_BUILD:-build-fuzz}
out=${FUZZ_OUT:-$build/fuzz-out}
cc=${CC:-clang-14}
case "$cc" in *clang*) ;; *) cc=clang-14 ;; esac  # libFuzzer needs clang, whatever CC says

if ! command -v "$cc" >/dev/null; then
  echo "fuzz: $cc not found; install it with: sudo apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 1
fi
targets=()
for t in "$@"; do targets+=("fuzz_${t#fuzz_}"); done
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMN_FUZZ=ON \
  >"$build/fuzz-configure.log" 2>&1 || { cat "$build/fuzz-configure.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { tail -40 "$build/fuzz-build.log" >&2; echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2; exit 1; }
mkdir -p "$out"

failed=0
printf '%-18s %8s %12s %10s  %s\n' target seconds executions corpus findings | tee "$out/summary.txt"
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  corpus=tests/fuzz/corpus/$name
  work=$out/$name
  rm -rf "$work/artifacts"  # findings of an earlier run were reported by it
  mkdir -p "$work/corpus" "$work/artifacts"
  opts=(-timeout=60 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/")
  [ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
  # 1. Regression: every committed input once.
  if ! "$build/$t" "${opts[@]}" -runs=0 "$corpus" >"$work/regression.log" 2>&1; then
    echo "fuzz: $t fails on its committed corpus:" >&2
    tail -30 "$work/regression.log" >&2
    failed=1
    continue
  fi
  # 2. Fuzzing, nicely (other work shares the machine); new inputs into the scratch corpus.
  start=$SECONDS
  nice -n 19 "$build/$t" "${opts[@]}" -max_total_time="$seconds" "$work/corpus" "$corpus" \
    >"$work/fuzz.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  secs=$((SECONDS - start))
  units=$(ls "$work/corpus" | wc -l)
  finds=$(ls "$work/artifacts" | wc -l)
  if [ $rc -ne 0 ] || [ "$finds" -gt 0 ]; then
    failed=1
    note="FAILED (exit $rc): $(ls "$work/artifacts" | tr '\n' ' ')"
    grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$work/fuzz.log" >&2
    echo "fuzz: $t: reproduce with $build/$t $work/artifacts/<file>; once fixed, add the input" \
         "to $corpus" >&2
  else
    note=none
  fi
  printf '%-18s %8s %12s %10s  %s\n' "$t" "$secs" "${execs:-?}" "$units" "$note" |
    tee -a "$out/summary.txt"
done
[ $failed -eq 0 ] && echo "fuzz: all targets clean (logs in $out)" || echo "fuzz: FAILED (logs in $out)" >&2
exit $failed
