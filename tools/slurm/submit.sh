#!/usr/bin/env bash
# Submits one plan to Slurm: a job array renders the shards, a merge job that
# starts only when every shard succeeded writes the final files (docs/cluster.md).
#
#   tools/slurm/submit.sh PLAN [--shards N] [--cpus C] [--mem SIZE] [--time T]
#                         [--binary PATH] [--log-dir DIR] [-- extra sbatch options]
#
# Defaults per dataset (the plan's first dataset) come from the table below;
# --shards defaults to one shard per ~2,000 samples (at most 64). Prints the
# array job id and the merge job id.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
PLAN=$1; shift
[ -f "$PLAN" ] || { echo "submit.sh: no plan file $PLAN" >&2; exit 2; }
PLAN=$(readlink -f "$PLAN")
BINARY=${MEDMNIST_BUILD:-$(command -v medmnist-build || echo "$(dirname "$0")/../../build/medmnist-build")}
SHARDS="" CPUS="" MEM="" TIME="" LOG_DIR=""
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) SHARDS=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --log-dir) LOG_DIR=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "submit.sh: unknown option $1" >&2; usage ;;
  esac
done
BINARY=$(readlink -f "$BINARY")
[ -x "$BINARY" ] || { echo "submit.sh: medmnist-build not found (set MEDMNIST_BUILD or --binary)" >&2; exit 2; }

# The plan's first dataset and sample count, without a JSON tool on the node.
read -r DATASET SAMPLES < <(python3 - "$PLAN" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["datasets"][0], d["totals"]["samples"])
PY
)

# Resources per shard task (docs/cluster.md explains the figures): memory holds
# the largest source unit in flight per thread plus the writer's buffers; time
# is for the shard's share at the given CPUs, with a wide margin.
case $DATASET in
  chestmnist|pathmnist|bloodmnist|dermamnist|octmnist|pneumoniamnist|breastmnist|retinamnist)
    d_cpus=4 d_mem=2G d_time=01:00:00 ;;
  tissuemnist) d_cpus=4 d_mem=2G d_time=01:00:00 ;;
  organamnist|organcmnist|organsmnist|organmnist3d) d_cpus=4 d_mem=8G d_time=02:00:00 ;;
  nodulemnist3d|fracturemnist3d) d_cpus=4 d_mem=8G d_time=02:00:00 ;;
  vesselmnist3d|adrenalmnist3d|synapsemnist3d) d_cpus=4 d_mem=4G d_time=01:00:00 ;;
  *) d_cpus=4 d_mem=4G d_time=02:00:00 ;;
esac
CPUS=${CPUS:-$d_cpus} MEM=${MEM:-$d_mem} TIME=${TIME:-$d_time}
if [ -z "$SHARDS" ]; then
  SHARDS=$(( (SAMPLES + 1999) / 2000 ))
  [ "$SHARDS" -ge 1 ] || SHARDS=1
  [ "$SHARDS" -le 64 ] || SHARDS=64
fi
LOG_DIR=${LOG_DIR:-$(dirname "$PLAN")/slurm-logs}
mkdir -p "$LOG_DIR"

ARRAY=$(sbatch --parsable --job-name="mmb-$DATASET" --array="0-$((SHARDS - 1))" \
  --cpus-per-task="$CPUS" --mem="$MEM" --time="$TIME" --output="$LOG_DIR/shard-%a.log" "${EXTRA[@]}" \
  --wrap="exec '$BINARY' build --plan '$PLAN' --shard auto --threads $CPUS -q")
ARRAY=${ARRAY%%;*}
# afterok: only when every task of the array succeeded; kill-on-invalid-dep: a
# failed shard cancels the merge instead of leaving it pending forever.
MERGE=$(sbatch --parsable --job-name="mmb-$DATASET-merge" --dependency="afterok:$ARRAY" --kill-on-invalid-dep=yes \
  --cpus-per-task="$CPUS" --mem="$MEM" --time="$TIME" --output="$LOG_DIR/merge.log" "${EXTRA[@]}" \
  --wrap="exec '$BINARY' merge --plan '$PLAN' --threads $CPUS -q")
MERGE=${MERGE%%;*}
echo "shards: job $ARRAY (array 0-$((SHARDS - 1)), $CPUS CPUs, $MEM each); merge: job $MERGE"
