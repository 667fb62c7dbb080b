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

# dataset flag(s) built in one pass | fixture generator (tools/fixtures/) and its arguments
DEMOS=(
  "chestmnist|make_chest_fixture.py --layout box --csv v2020 --lists chexnet"
  "pathmnist|make_kather_fixture.py --train-per-class 4 --test-per-class 2"
  "bloodmnist|make_pbc_fixture.py --nesting double --per-class 5"
  "octmnist|make_kermany_fixture.py --version v3 --parts oct"
  "pneumoniamnist|make_kermany_fixture.py --version kaggle --parts cxr"
  "dermamnist|make_ham10000_fixture.py --columns 8 --id-ext mixed"
  "breastmnist|make_busi_fixture.py --counts 20,12,8"
  "retinamnist|make_deepdrid_fixture.py --train-patients 20 --val-patients 5"
  "tissuemnist|make_bbbc051_fixture.py --layout pandas_fixed --train 40 --test 16"
  "fracturemnist3d|make_ribfrac_fixture.py --seed 0"
  "adrenalmnist3d|make_adrenal_fixture.py --patients 20"
  "organamnist organcmnist organsmnist organmnist3d|make_lits_fixture.py --boxes both"
  "vesselmnist3d|make_intra_fixture.py --models 10 --segments 3-6"
  "synapsemnist3d|make_em_fixture.py --storage png --neuron-ids"
  "nodulemnist3d|make_lidc_fixture.py --patients 10"
)

for entry in "${DEMOS[@]}"; do
  flags=${entry%%|*}
  flag=${flags%% *}
  gen=${entry#*|}
  src="$OUT/fixtures/$flag"
  $PY tools/fixtures/${gen%% *} "$src" ${gen#* } >/dev/null
  "$BIN" build $flags --source "$src" --out "$OUT/$flag" --quiet
  for npz in "$OUT/$flag"/*.npz; do
    "$BIN" montage "$npz" --split train --length 6 >/dev/null
  done
done
echo "demo: outputs and montages are in $OUT/"
find "$OUT" -maxdepth 2 -name "*.npz" | sort
