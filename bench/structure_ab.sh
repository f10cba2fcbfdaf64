#!/usr/bin/env bash
# Structure-aware input (issue 14 part 5), A/B on the same splits: a random-init `mini` BERT at bertrbp-finetune's
# default recipe (lr 5e-4, up to 8 epochs, patience 2, best epoch kept, bf16 auto), 3,000 training sites (seeded
# stratified subset; 10 % of them validation), a seeded stratified 4,000-site subset of each test set, seed 42 (SEED),
# one thread; each experiment trained without --structure, then with --structure unpaired (then elements,
# STRUCTURES="none unpaired elements"). Everything but --structure is identical, including the initial BERT weights
# (the structure projection starts at zero) and the data order.
# The k-mer floor on the same subsets (--model kmer) comes first, in seconds.
# Rows: bench/results/structure_ab/accuracy_<suite>_<tag>.tsv; side by side: bench/results/structure_ab.md
#   bash bench/structure_ab.sh                     # 2 RBP-31 experiments and 2 eCLIP sets
#   STRUCTURES=elements bash bench/structure_ab.sh # the element-label features (rows already present are skipped)
#   python bench/structure_ab_report.py > bench/results/structure_ab.md
#   python bench/accuracy.py --report --results bench/results/structure_ab      # the accuracy tables' format
# As run on 2026-11-30 (2 shared Xeon cores, load average 4-9, no GPU): the rbp31 and eclip halves as two
# concurrent processes (RUNS='rbp31:...' and RUNS='eclip:...'), then STRUCTURES=elements per experiment; the
# k-mer rows and a second seed (TIAL1 and RBFOX2, none and unpaired) by the same bench/accuracy.py command lines
# (the second seed: --seed 43 --results bench/results/structure_ab_seed43, also drawing other subsets).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STRUCTURES=${STRUCTURES:-"none unpaired"}
RESULTS=${RESULTS:-bench/results/structure_ab}
SEED=${SEED:-42}
SUBSETS=(--max-train 3000 --max-test 4000 --threads 1 --seed "$SEED" --results "$RESULTS")
RUNS=${RUNS:-"rbp31:29_ICLIP_TIAL1_hg19 eclip:RBFOX2_HepG2 rbp31:23_PARCLIP_PUM2_hg19 eclip:HNRNPK_K562"}
for run in $RUNS; do
  suite=${run%%:*} experiment=${run#*:}
  OMP_NUM_THREADS=1 "$PY" bench/accuracy.py --suite "$suite" --experiments "$experiment" --model kmer "${SUBSETS[@]}" \
    | grep -v '^|' || true
  for structure in $STRUCTURES; do
    OMP_NUM_THREADS=1 "$PY" bench/accuracy.py --suite "$suite" --experiments "$experiment" --structure "$structure" \
      --model mini "${SUBSETS[@]}" | grep -v '^|' || true
  done
done
"$PY" bench/structure_ab_report.py "$RESULTS"
