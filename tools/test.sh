#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs ctest. With no arguments (as CI
# runs it) three more stages follow: the sanitizer build (tools/sanitize.sh: ASan + UBSan, unit
# tests and representative end-to-end builds), ThreadSanitizer (tools/tsan.sh: oneTBB and the
# project built with TSan, pipeline tests and two-thread builds) and the fuzzers (tools/fuzz.sh,
# FUZZ_RUNS inputs each).
# Arguments go to ctest and skip those stages (e.g. tools/test.sh -R Montage); so does
# MMB_QUICK=1.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" "$@")
if [ $# -eq 0 ] && [ -z "${MMB_QUICK:-}" ]; then
  start=$SECONDS
  tools/sanitize.sh
  echo "test: sanitizer stage took $((SECONDS - start)) s" >&2
  start=$SECONDS
  tools/tsan.sh
  echo "test: ThreadSanitizer stage took $((SECONDS - start)) s" >&2
  start=$SECONDS
  tools/fuzz.sh
  echo "test: fuzzing stage took $((SECONDS - start)) s" >&2
fi
