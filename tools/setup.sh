#!/usr/bin/env bash
# Installs the Debian 12 packages medmnist-build needs and configures + builds it.
# Quick when everything is already there: apt is only called for missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libinsighttoolkit5-dev libgdcm-dev libvtk9-dev libopencv-dev libtbb-dev
  libboost-program-options-dev libgtest-dev libtomlplusplus-dev nlohmann-json3-dev
  zlib1g-dev libdeflate-dev libssl-dev libgif-dev libhdf5-dev libpugixml-dev libzip-dev libjpeg62-turbo-dev libtiff-dev
  python3-numpy python3-scipy python3-skimage python3-pil python3-h5py python3-pydicom python3-nibabel
  slurmctld slurmd slurm-client munge
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ccache keys on paths relative to the checkout, so a fresh clone (CI) reuses what an earlier
# checkout on this machine compiled; the three build trees (normal, sanitizer, fuzz) all use it.
export CCACHE_BASEDIR="$PWD"
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache >/dev/null
fi
cmake --build "$BUILD_DIR" -- -j"$(nproc)"
