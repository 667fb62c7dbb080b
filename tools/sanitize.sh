#!/usr/bin/env bash
# The AddressSanitizer + UndefinedBehaviorSanitizer stage of CI (tools/test.sh runs it after the
# normal suite): a second build with gcc's -fsanitize=address,undefined in build-asan (kept
# between runs, so only what changed is rebuilt; ccache when present), then every unit test
# and a representative set of end-to-end builds against the instrumented binary. Any report
# aborts the process, so the test fails. Leak checking is off: ITK, VTK and GDCM keep
# process-lifetime singletons that LeakSanitizer lists as leaks.
# gcc rather than clang: Debian's ITK headers refuse clang in their compiler check.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"  # a fresh clone reuses this machine's cache (tools/setup.sh)
ASAN_DIR=${ASAN_DIR:-build-asan}
# One e2e test per kind of input: 2D class folders (Blood), CSV + lists (Chest), NIfTI + boxes
# (Organ, 4 datasets in one pass), OBJ meshes (Vessel), DICOM + XML (Nodule), the CLI table.
E2E=${SANITIZE_E2E:-'^py\.test_(cli|bloodmnist|chestmnist|organmnist|vesselmnist3d|nodulemnist3d)$'}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
if [ ! -f "$ASAN_DIR/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
    >/dev/null
fi
cmake --build "$ASAN_DIR" -- -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$ASAN_DIR"
ctest --output-on-failure -j"$(nproc)" -E '^py\.'
ctest --output-on-failure -j"$(nproc)" -R "$E2E"
