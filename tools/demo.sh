#!/usr/bin/env bash
# Installs, builds, and runs every converter on its built-in fixture:
# demo-out/<flag>/*.npz (+ .json sidecars) and montage pictures.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
BIN=${BUILD_DIR:-build}/medmnist-build
PY=/usr/bin/python3
OUT=${1:-demo-out}
rm -rf "$OUT"
mkdir -p "$OUT/fixtures"

# flag | fixture generator (tools/fixtures/) and its arguments
DEMOS=(
  "chestmnist|make_chest_fixture.py --layout box --csv v2020 --lists chexnet"
)

for entry in "${DEMOS[@]}"; do
  flag=${entry%%|*}
  gen=${entry#*|}
  src="$OUT/fixtures/$flag"
  $PY tools/fixtures/${gen%% *} "$src" ${gen#* } >/dev/null
  "$BIN" build "$flag" --source "$src" --out "$OUT/$flag" --quiet
  for npz in "$OUT/$flag"/*.npz; do
    "$BIN" montage "$npz" --split train --length 6 >/dev/null
  done
done
echo "demo: outputs and montages are in $OUT/"
ls "$OUT"/*/
