#!/usr/bin/env bash
# Create .venv (Python >= 3.10) and install bert-rbp with every optional feature and the test tools.
# Torch is pinned (torch==2.13.0, PyPI's default build: CUDA-enabled, runs on the CPU too; several GB, cached by
# pip); TORCH_VERSION=... changes the pin, and a torch already in .venv is kept.
# WITH_LINT=1 (default) also installs planemo for the Galaxy wrapper checks into ~/.cache/planemo-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[fold,genome,attribute,test]"
if [ "${WITH_LINT:-1}" = "1" ]; then
  PLANEMO_VENV=${PLANEMO_VENV:-$HOME/.cache/planemo-venv}
  if [ ! -x "$PLANEMO_VENV/bin/planemo" ]; then
    "$PYTHON" -m venv "$PLANEMO_VENV"
    "$PLANEMO_VENV/bin/pip" install -q planemo==0.75.47
  fi
fi
bash scripts/setup-nextflow.sh  # nextflow for the pipeline (.venv/bin/nextflow unless you have your own)
echo "bert-rbp installed in $(pwd)/.venv"
