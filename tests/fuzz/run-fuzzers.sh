#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets of tests/fuzz with clang, ASan and UBSan in a
# build directory of their own and runs each for SECONDS (default 60) on one
# core, starting from the generated seeds, the checked-in seeds and every
# input that ever crashed. Prints executions and time per target; exits
# non-zero if any target crashed, leaked, tripped a sanitizer, timed out on
# an input or tried to allocate more than 2 GB. A crashing input is left as
# $BUILD_DIR/fuzz-out/<target>/crash-* (or leak-*, oom-*, timeout-*): minimize
# it with `fuzz-<target> -minimize_crash=1 -runs=10000 FILE` and add it to
# tests/fuzz/regressions/<target>/.
#
# Usage: tests/fuzz/run-fuzzers.sh [SECONDS]   (env BUILD_DIR, default
# ./build-fuzz; env FUZZ_TARGETS to run a subset, e.g. "onnx labels")
set -u

seconds=${1:-60}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-./build-fuzz}
targets=${FUZZ_TARGETS:-onnx model keras-h5 labels}

case $seconds in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if [ ! -f "$build/build.ninja" ]; then
  # fuzzer-no-link in CFLAGS: nn/'s static library needs libFuzzer's
  # coverage instrumentation too, not only the fuzz target sources.
  CC=clang CFLAGS=-fsanitize=fuzzer-no-link \
    meson setup "$build" "$srcdir" -Dfuzzing=enabled -Dtests=enabled \
      -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debugoptimized || exit 1
fi
build=$(cd "$build" && pwd)
ninja_targets=tests/fuzz/stamp
for t in $targets; do
  ninja_targets="$ninja_targets tests/fuzz/fuzz-$t"
done
nice ninja -C "$build" -j 1 $ninja_targets || exit 1

# LeakSanitizer cannot follow pointers held by OpenMP worker threads.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
# Leaks inside libhdf5 itself on corrupt files, not ours: see the file.
export LSAN_OPTIONS=suppressions=$srcdir/tests/fuzz/lsan-libhdf5.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:silence_unsigned_overflow=1
out=$build/fuzz-out
status=0
summary=

for t in $targets; do
  exe=$build/tests/fuzz/fuzz-$t
  corpus=$out/$t/corpus
  seeds=$out/$t/seeds
  mkdir -p "$corpus" "$seeds"
  rm -f "$seeds"/*
  case $t in
    onnx) cp "$build"/tests/fuzz/*.onnx "$seeds"/ ;;
    model) cp "$build"/tests/fuzz/*-224.onnx "$seeds"/ ;;
    keras-h5) cp "$build"/tests/fuzz/*.h5 "$seeds"/ ;;
    labels) cp "$srcdir"/tests/fuzz/seeds/labels/* "$seeds"/ ;;
  esac
  # Inputs that once failed (none yet for some targets).
  regressions=$srcdir/tests/fuzz/regressions/$t
  [ -d "$regressions" ] || regressions=
  log=$out/$t/fuzz.log
  echo "== fuzz-$t: ${seconds} s (log: $log)"
  start=$(date +%s)
  # The first directory is the one libFuzzer adds new inputs to.
  # libhdf5 leaks on most corrupt files (see lsan-libhdf5.supp), so a
  # LeakSanitizer scan after every such input would cut executions ~10x:
  # keras-h5 fuzzes without per-input leak checks and with the coarse
  # suppressions for the check at exit (lsan-libhdf5-fast.supp), then its
  # corpus is replayed below with per-input leak checks.
  lsan=$LSAN_OPTIONS
  leaks=1
  if [ "$t" = keras-h5 ]; then
    lsan=suppressions=$srcdir/tests/fuzz/lsan-libhdf5-fast.supp
    leaks=0
  fi
  (cd "$out/$t" && LSAN_OPTIONS=$lsan nice "$exe" -detect_leaks=$leaks \
      -max_total_time="$seconds" -jobs=1 \
      -workers=1 -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$out/$t/" \
      "$corpus" "$seeds" $regressions) >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ "$t" = keras-h5 ]; then
    # Then the whole corpus once with the precise unwinder and the precise
    # suppressions (only libhdf5's own leaks), without mutating.
    echo "-- replaying the corpus with precise leak suppressions" >>"$log"
    (cd "$out/$t" && ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
        nice "$exe" -runs=0 -rss_limit_mb=2048 -artifact_prefix="$out/$t/" \
        "$corpus" "$seeds" $regressions) >>"$log" 2>&1
    rc=$?
  fi
  end=$(date +%s)
  # With -jobs=1 the run's own output goes to fuzz-0.log, which libFuzzer
  # copies to our log when the job ends.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ $rc -eq 0 ] && ! grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)\|runtime error:" "$log"; then
    result=ok
  else
    result="FAILED (exit $rc)"
    status=1
    grep -m 5 "ERROR:\|runtime error:\|Test unit written" "$log"
  fi
  line=$(printf '%-10s %10s execs %5s s  %s' "$t" "${execs:-?}" \
    "$((end - start))" "$result")
  echo "$line"
  summary="$summary$line
"
done

echo "== summary (${seconds} s per target)"
printf '%s' "$summary"
exit $status
