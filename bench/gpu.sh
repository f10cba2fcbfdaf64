#!/usr/bin/env bash
# GPU benchmark: BERT-base fine-tuning (19,200 sequences x 3 epochs) and prediction of 100,000 sequences through
# bertrbp's own finetune/predict code, on one GPU, in under 8 minutes. Results: bench/results/gpu.json.
#   bash bench/gpu.sh            # full run (needs a CUDA GPU)
#   bash bench/gpu.sh --smoke    # CPU smoke test of the same code
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
if [ "${1:-}" != "--smoke" ]; then
  "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "error: no CUDA GPU visible; use --smoke on CPU")'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec timeout 480 "$PY" bench/gpu_bench.py "$@"
