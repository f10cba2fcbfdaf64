#!/usr/bin/env bash
# Structure-aware input (issue 14 part 5), A/B on the same splits: a random-init `mini` BERT at bertrbp-finetune's
# default recipe (lr 5e-4, up to 8 epochs, patience 2, best epoch kept, bf16 auto), 3,000 training sites (seeded
# stratified subset; 10 % of them validation), a seeded stratified 4,000-site subset of each test set, seed 42,
# one thread; each experiment trained without --structure, then with --structure unpaired (then elements,
# STRUCTURES="none unpaired elements"). Everything but --structure is identical, including the initial BERT weights
# (the structure projection starts at zero) and the data order.
# Rows: bench/results/structure_ab/accuracy_<suite>_<tag>.tsv; side by side: bench/results/structure_ab.md
#   bash bench/structure_ab.sh                     # 2 RBP-31 experiments and 2 eCLIP sets
#   python bench/accuracy.py --report --results bench/results/structure_ab
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STRUCTURES=${STRUCTURES:-"none unpaired"}
RESULTS=bench/results/structure_ab
COMMON=(--model mini --max-train 3000 --max-test 4000 --threads 1 --seed 42 --results "$RESULTS")
RUNS=${RUNS:-"rbp31:29_ICLIP_TIAL1_hg19 eclip:RBFOX2_HepG2 rbp31:23_PARCLIP_PUM2_hg19 eclip:HNRNPK_K562"}
for run in $RUNS; do
  suite=${run%%:*} experiment=${run#*:}
  for structure in $STRUCTURES; do
    OMP_NUM_THREADS=1 "$PY" bench/accuracy.py --suite "$suite" --experiments "$experiment" --structure "$structure" \
      "${COMMON[@]}" | grep -v '^|' || true
  done
done
"$PY" bench/accuracy.py --report --results "$RESULTS"
