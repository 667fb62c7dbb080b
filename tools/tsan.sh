#!/usr/bin/env bash
# The ThreadSanitizer stage of CI (tools/test.sh runs it after the ASan + UBSan stage).
# Debian's libtbb is not instrumented, so TSan reports hundreds of false races inside it; this
# script first builds the installed oneTBB version from Debian's source package with
# -fsanitize=thread (oneTBB's TBB_SANITIZE option; libtbb only: no tbbmalloc, tests or
# examples), then only the two targets it runs (medmnist-build, test_pipeline) with gcc's
# -fsanitize=thread at -O1 -g against it, and runs
#   * the pipeline unit tests (test_pipeline: Build.*, PlanSplits.*),
#   * two-thread builds (sizes 28 and 64) of the NIfTI datasets (Organ, Fracture, Adrenal) and
#     of BloodMNIST on their fixtures.
# Any report stops the process (halt_on_error), so the stage fails. tools/tsan.supp lists the
# suppressed reports: documented false positives in libraries built elsewhere, each explained.
# Everything lives in $TSAN_DIR (default build-tsan) and is reused by later runs. Measured on a
# 2-core machine: a cold run (download, oneTBB, project, tests) 466 CPU seconds, a warm one 42
# (docs/architecture.md, "Tests, sanitizers and fuzzing").
# `apt-get source` needs deb-src entries: when there are none, this adds
# /etc/apt/sources.list.d/debian-src.sources with the URIs of the deb entries (root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"
ROOT=$PWD
TSAN_DIR=$(realpath -m "${TSAN_DIR:-build-tsan}")
TBB_PREFIX=$TSAN_DIR/onetbb
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
mkdir -p "$TSAN_DIR"
phase() { echo "tsan: $1 took $((SECONDS - t0)) s" >&2; t0=$SECONDS; }
t0=$SECONDS
# gcc warns at every atomic_thread_fence (-Wtsan) in oneTBB's headers; the log keeps it all.
build_quietly() {
  local dir=$1; shift
  if ! cmake --build "$dir" "$@" -- -j"$(nproc)" >"$dir.log" 2>&1; then
    grep -E -B2 -A8 'error|FAILED' "$dir.log" | tail -80 >&2
    echo "tsan: build failed, see $dir.log" >&2
    return 1
  fi
}

if [ ! -f "$TBB_PREFIX/lib/cmake/TBB/TBBConfig.cmake" ]; then
  version=$(dpkg-query -W -f='${source:Version}' libtbb-dev)
  if ! apt-cache showsrc onetbb >/dev/null 2>&1; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
    $SUDO apt-get update -qq
  fi
  (cd "$TSAN_DIR" && rm -rf src && mkdir src && cd src && apt-get source -qq "onetbb=$version" >/dev/null)
  src=$(find "$TSAN_DIR/src" -maxdepth 1 -type d -name 'onetbb-*' | head -1)
  cmake -S "$src" -B "$TSAN_DIR/tbb-build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTBB_TEST=OFF \
    -DTBB_EXAMPLES=OFF -DTBBMALLOC_BUILD=OFF -DTBBMALLOC_PROXY_BUILD=OFF \
    -DTBB_STRICT=OFF -DTBB_SANITIZE=thread -DCMAKE_INSTALL_PREFIX="$TBB_PREFIX" >/dev/null
  build_quietly "$TSAN_DIR/tbb-build"
  cmake --install "$TSAN_DIR/tbb-build" >/dev/null
  phase "oneTBB (download and build)"
fi

if [ ! -f "$TSAN_DIR/build/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$TSAN_DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g" \
    -DTBB_DIR="$TBB_PREFIX/lib/cmake/TBB" "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer" \
    "-DCMAKE_C_FLAGS=-fsanitize=thread" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread" \
    "-DCMAKE_BUILD_RPATH=$TBB_PREFIX/lib" >/dev/null
fi
build_quietly "$TSAN_DIR/build" --target medmnist-build test_pipeline
phase "project build"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$ROOT/tools/tsan.supp"
"$TSAN_DIR/build/tests/test_pipeline" --gtest_brief=1
phase "test_pipeline"

BIN=$TSAN_DIR/build/medmnist-build
work=$TSAN_DIR/run
rm -rf "$work" && mkdir -p "$work"
# dataset flag(s) | fixture generator and its arguments (as tools/demo.sh)
for entry in "bloodmnist|make_pbc_fixture.py --nesting double --per-class 5" \
             "fracturemnist3d|make_ribfrac_fixture.py --seed 0" \
             "adrenalmnist3d|make_adrenal_fixture.py --patients 20" \
             "organamnist organmnist3d|make_lits_fixture.py --boxes both"; do
  flags=${entry%%|*} gen=${entry#*|}
  src=$work/${flags%% *}-src
  /usr/bin/python3 "$ROOT/tools/fixtures/${gen%% *}" "$src" ${gen#* } >/dev/null
  log=$work/${flags%% *}.log
  if ! "$BIN" build $flags --source "$src" --out "$work/${flags%% *}" --sizes 28,64 --threads 2 --quiet >"$log" 2>&1; then
    cat "$log" >&2
    echo "tsan: $flags at 2 threads FAILED (a ThreadSanitizer report stops the build; log above)" >&2
    exit 1
  fi
  echo "tsan: $flags at 2 threads: no report"
done
phase "two-thread builds"
