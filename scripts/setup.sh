#!/usr/bin/env bash
# Create .venv (Python >= 3.10) and install bert-rbp with every optional feature and the test tools.
# Torch is pinned to the CPU wheel these machines carry; on a GPU machine install the CUDA build first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[fold,genome,attribute,test]"
echo "bert-rbp installed in $(pwd)/.venv"
