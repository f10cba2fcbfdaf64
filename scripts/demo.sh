#!/usr/bin/env bash
# Set up bert-rbp and run the main job on the bundled demo data (assets/demo, real ENCODE eCLIP sites).
# With Nextflow on PATH this runs the pipeline (-profile test); without it, the same tools one by one.
# Ends by printing the test-set metrics of each RBP.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_LINT=0 bash scripts/setup.sh
OUT=${OUT:-demo_out}
# the venv first: its Python runs the tools, and setup puts the pinned Nextflow launcher there
export PATH="$(pwd)/.venv/bin:$PATH"
if command -v nextflow >/dev/null 2>&1 && [ -z "${BERTRBP_NO_NEXTFLOW:-}" ]; then
  nextflow run main.nf -profile test --outdir "$OUT"
  echo
  echo "Test-set metrics (assets/demo; tiny BERT at the finetune defaults, RBP.baseline = the k-mer floor):"
  cat "$OUT"/summary/metrics_summary.tsv
  echo
  echo "Report: $(cd "$OUT/summary" && pwd)/report.html"
  exit 0
fi
# A random-init 'tiny' BERT (DNABERT weights are not bundled) at the finetune tool's defaults for it
# (bertrbp/recipe.py: lr 1e-3, up to 8 epochs and at least 300 optimizer steps, early stopping on the validation
# loss with patience 2 from step 300 on, the best
# epoch kept, bf16 on CPUs with native bf16). MODEL=bertrbp-mini-k3 starts from the bundled pretrained checkpoint
# (no better than random init on these RBPs: bench/results/pretrained_vs_random.md), MODEL=dnabert3 (a downloaded
# DNABERT folder) the paper's
# recipe; EPOCHS and LR override the defaults.
MODEL=${MODEL:-tiny}
RBPS=${RBPS:-"HNRNPK_K562 UCHL5_K562"}
for rbp in $RBPS; do
  input="assets/demo/$rbp.tsv"
  d="$OUT/$rbp"
  echo "== $rbp: prepare"
  bertrbp-prepare "$input" --output-dir "$d/prepare" --prefix "$rbp" --test-size 0.25 --seed 42
  echo "== $rbp: finetune ($MODEL)"
  bertrbp-finetune --train "$d/prepare/$rbp.train.fa" --output-dir "$d/finetune" --model "$MODEL" \
    --val-fraction 0.2 --seed 42 ${EPOCHS:+--epochs "$EPOCHS"} ${LR:+--lr "$LR"}
  echo "== $rbp: predict + evaluate"
  bertrbp-predict --model "$d/finetune/model" "$d/prepare/$rbp.test.fa" -o "$d/predictions.tsv"
  bertrbp-evaluate "$d/predictions.tsv" -o "$d/metrics.json" --plots-dir "$d/plots" --name "$rbp"
  echo "== $rbp: fold + attention-stats (non-training set)"
  bertrbp-fold "$d/prepare/$rbp.nontrain.fa" -o "$d/structures.tsv" --token-labels "$d/token_structure.tsv"
  bertrbp-attention-stats --model "$d/finetune/model" --sequences "$d/prepare/$rbp.nontrain.fa" \
    --token-labels "$d/token_structure.tsv" --output-dir "$d/attention"
done
metrics=()
args=()
for rbp in $RBPS; do
  metrics+=("$OUT/$rbp/metrics.json")
  args+=(--predictions "$rbp=$OUT/$rbp/predictions.tsv" --training "$rbp=$OUT/$rbp/finetune")
done
bertrbp-summary "${metrics[@]}" "${args[@]}" --output-dir "$OUT/summary"
echo
echo "Test-set metrics (assets/demo, $MODEL model, epochs ${EPOCHS:-default}, lr ${LR:-default}):"
cat "$OUT/summary/metrics_summary.tsv"
echo
echo "Report: $(cd "$OUT/summary" && pwd)/report.html"
