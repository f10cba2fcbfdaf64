#!/usr/bin/env bash
# --structure with --jobs: the run's sequences folded once by the tool, on every CPU of the budget, before the
# members start (bertrbp.structure_prefold), against the code before that change (BEFORE, a git revision, run
# from a temporary worktree), where each member's worker folded every sequence itself and the tool folded the
# validation sequences again to score the ensemble. The same command both times: two CNN seeds, --structure
# unpaired, --jobs 2 --threads 2, one epoch, on N sites (every (total/N)-th) of an RBP-31 training set.
# Prints a markdown table: wall seconds of each run and its fold log lines.
#   BEFORE=ff3e153 N=6000 bash bench/structure_jobs.sh > bench/results/structure_jobs.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
BEFORE=${BEFORE:-ff3e153}
N=${N:-6000}
EXPERIMENT=${EXPERIMENT:-1_PARCLIP_AGO1234_hg19}
DATA=${DATA:-../shared/data}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/code" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
PYTHONPATH=bin "$PY" - "$DATA/rbp31/$EXPERIMENT/train.fa.gz" "$N" "$work/train.fa" <<'EOF'
import sys
from bertrbp.io.sequences import iter_records
records = list(iter_records(sys.argv[1]))
step = max(1, len(records) // int(sys.argv[2]))
with open(sys.argv[3], "w") as out:
    for record in records[::step][: int(sys.argv[2])]:
        out.write(f">{record.id}; class:{record.label}\n{record.seq}\n")
EOF
git worktree add --detach "$work/code" "$BEFORE" >/dev/null 2>&1
echo "| code | wall s | load before | fold log lines |"
echo "|---|---:|---|---|"
for side in before after; do
  bin=bin
  [ "$side" = before ] && bin="$work/code/bin"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$EPOCHREALTIME
  OMP_NUM_THREADS=1 "$PY" "$bin/bertrbp-finetune" --train "$work/train.fa" --output-dir "$work/out-$side" --model cnn \
    --seeds 42,43 --structure unpaired --jobs 2 --threads 2 --epochs 1 --min-steps 0 >"$work/$side.log" 2>&1
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
  folds=$(grep -o 'structure: .*' "$work/$side.log" | sort | uniq -c | sed 's/^ *//' | paste -sd ';' -) || true
  label=$side
  [ "$side" = before ] && label="before ($BEFORE)"
  printf '| %s | %.0f | %s | %s |\n' "$label" "$wall" "$load" "${folds:-none logged}"
done
echo
echo "$N sites of $EXPERIMENT; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)."
