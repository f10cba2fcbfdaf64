#!/usr/bin/env bash
# Issue-14 benchmark driver: every recipe, trained only by the project's tools (bench/accuracy.py calls
# bertrbp.finetune / bertrbp.finetune_ensemble and bertrbp.predict), test split scored once, one row per
# (experiment, recipe) appended to bench/results/accuracy_<suite>_<tag>.tsv as it finishes (a rerun skips
# finished rows). Recipes (MODELS, MODELS@TAG or MODELS@TAG@SEEDS): the k-mer floor, the positional k-mer model,
# the CNN (two convolutions + BiLSTM since the cnnlstm tags; the cnn4 tags are the one-convolution CNN before it),
# their ensemble, kmer-pos + three CNN seeds and the best recipe (kmer-pos + kmer-gbt + three CNN seeds); add e.g.
# tiny,kmer-pos,cnn@tiny+kmer-pos+cnnlstm for a random-init BERT member at the finetune tool's defaults
# (bertrbp/recipe.py); on TIAL1 also the learning-rate safety rows (the paper's 10x rate).
#
#   THREADS=2 bash bench/issue14.sh                              # everything (hours on 2 CPU cores)
#   SUITES=rbp31 EXPERIMENTS="29_ICLIP_TIAL1_hg19" RECIPES="kmer mini" bash bench/issue14.sh
#   MAX_TRAIN=10000 ... caps the training sites per experiment (seeded, stratified; recorded in the tag)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
THREADS=${THREADS:-2}
SUITES=${SUITES:-"rbp31 eclip tial1"}
RECIPES=${RECIPES:-"kmer kmer-pos cnn@cnnlstm kmer-pos,cnn@kmer-pos+cnnlstm kmer-pos,cnn@kmer-pos+cnnlstmx3@42,43,44
  kmer-pos,kmer-gbt,cnn@kmer-pos+kmer-gbt+cnnlstmx3@42,43,44"}
common=(--threads "$THREADS")
[ -n "${MAX_TRAIN:-}" ] && common+=(--max-train "$MAX_TRAIN")
[ -n "${EXPERIMENTS:-}" ] && common+=(--experiments $EXPERIMENTS)
for suite in $SUITES; do
  for recipe in $RECIPES; do
    echo "== $suite: $recipe ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
    IFS=@ read -r models tag seeds <<< "$recipe"
    extra=()
    [ -n "$tag" ] && extra+=(--tag "$tag")
    [ -n "$seeds" ] && extra+=(--seeds "$seeds")
    "$PY" bench/accuracy.py --suite "$suite" --model "$models" "${extra[@]}" "${common[@]}"
  done
  if [ "$suite" = tial1 ]; then  # learning-rate safety table: the paper's 10x rate beside the defaults
    "$PY" bench/accuracy.py --suite tial1 --model small --lr-policy paper "${common[@]}"
  fi
done
"$PY" bench/accuracy.py --report > bench/results/accuracy_report.md
echo "tables: bench/results/accuracy_report.md"
