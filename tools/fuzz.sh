#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz for a bounded number of inputs (FUZZ_RUNS each,
# default 60000, about 5-15 s; FUZZ_SECONDS, default 60, caps the time)
# under ASan + UBSan, starting from the committed seed corpus (tests/fuzz/corpus/<harness>/)
# plus what earlier runs found (kept in $FUZZ_DIR/corpus, reused between runs). Any crash, leak,
# sanitizer report, timeout or allocation over the limits fails the run; the input is left in
# $FUZZ_DIR/findings/<harness>/ and should become a regression seed in tests/fuzz/corpus.
# Every committed seed is replayed first, so a past finding stays a regression test. The
# exploration after it uses a fixed -seed (FUZZ_SEED, default 1) and a fixed number of runs, but
# it is not exactly repeatable: libFuzzer steers by comparison operands, which include heap
# addresses and the per-process input path. A crash it finds is a real defect: fix it and commit
# the input under tests/fuzz/corpus/<harness>/. Raise FUZZ_RUNS (or FUZZ_SECONDS) to explore more.
# Needs clang (Debian's clang package carries libFuzzer); installs it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"  # a fresh clone reuses this machine's cache (tools/setup.sh)
SECONDS_EACH=${FUZZ_SECONDS:-60}
RUNS_EACH=${FUZZ_RUNS:-60000}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
if ! command -v clang++ >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMB_FUZZ=ON \
    -DBUILD_TESTING=OFF "${launcher[@]}" >/dev/null
fi
harnesses=()
for src in tests/fuzz/fuzz_*.cpp; do harnesses+=("$(basename "$src" .cpp)"); done
cmake --build "$FUZZ_DIR" --target "${harnesses[@]}" -- -j"$(nproc)" >/dev/null

failed=0
printf '%-18s %10s %8s %10s %s\n' harness executions corpus bytes result
for h in "${harnesses[@]}"; do
  corpus="$FUZZ_DIR/corpus/$h" findings="$FUZZ_DIR/findings/$h"
  mkdir -p "$corpus" "$findings"
  log="$FUZZ_DIR/findings/$h.log"
  # -malloc_limit_mb: a reader that allocates 512 MB for a 64 kB input has trusted a header.
  if ! "$FUZZ_DIR/tests/fuzz/$h" -runs=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 "tests/fuzz/corpus/$h"/* \
       >"$log" 2>&1; then
    printf '%-18s %10s %8s %10s %s\n' "$h" - - - "FAILED on a committed seed (see $log)"
    failed=1
    continue
  fi
  if "$FUZZ_DIR/tests/fuzz/$h" -runs="$RUNS_EACH" -max_total_time="$SECONDS_EACH" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 \
       -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" \
       "$corpus" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and $findings/)"
    failed=1
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  printf '%-18s %10s %8s %10s %s\n' "$h" "${execs:-?}" "$files" "$bytes" "$result"
done
exit $failed
