#!/usr/bin/env bash
# Opt-in ThreadSanitizer run (not part of CI: building oneTBB and the project with TSan takes far
# longer than CI's budget on a 2-core machine). Debian's libtbb is not instrumented, so TSan
# reports hundreds of false races inside it; this script first builds the installed oneTBB
# version from Debian's source package with -fsanitize=thread (oneTBB's TBB_SANITIZE option),
# then the project with gcc's -fsanitize=thread against it, and runs
#   * the pipeline unit tests (test_pipeline: Build.*, PlanSplits.*),
#   * two-thread builds of the NIfTI datasets (Organ, Fracture, Adrenal) and of BloodMNIST
#     on their fixtures.
# Everything lives in $TSAN_DIR (default build-tsan) and is reused by later runs.
# `apt-get source` needs deb-src entries: when there are none, this adds
# /etc/apt/sources.list.d/debian-src.sources with the URIs of the deb entries (root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TSAN_DIR=$(realpath -m "${TSAN_DIR:-build-tsan}")
TBB_PREFIX=$TSAN_DIR/onetbb
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
mkdir -p "$TSAN_DIR"

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
    -DTBB_STRICT=OFF -DTBB_SANITIZE=thread -DCMAKE_INSTALL_PREFIX="$TBB_PREFIX" >/dev/null
  cmake --build "$TSAN_DIR/tbb-build" -- -j"$(nproc)"
  cmake --install "$TSAN_DIR/tbb-build" >/dev/null
fi

if [ ! -f "$TSAN_DIR/build/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$TSAN_DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    -DTBB_DIR="$TBB_PREFIX/lib/cmake/TBB" "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer" \
    "-DCMAKE_C_FLAGS=-fsanitize=thread" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread" \
    "-DCMAKE_BUILD_RPATH=$TBB_PREFIX/lib" >/dev/null
fi
cmake --build "$TSAN_DIR/build" --target medmnist-build test_pipeline -- -j"$(nproc)"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4"
"$TSAN_DIR/build/tests/test_pipeline" --gtest_brief=1

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
  "$BIN" build $flags --source "$src" --out "$work/${flags%% *}" --threads 2 --quiet
  echo "tsan: $flags at 2 threads: no report"
done
