"""Write containers/<tool>/{Dockerfile,requirements.txt,Dockerfile.dockerignore} from one template.

Requirements are the tool's real imports (containers/imports.py), pinned to the versions in the project's
.venv; rerun after a tool's imports change:  .venv/bin/python containers/generate.py
"""

import os
import subprocess
import sys

os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, "containers")
from pathlib import Path  # noqa: E402

from imports import cli_module, distributions  # noqa: E402

V = {
    line.split("==")[0].lower().replace("_", "-"): line.strip()
    for line in subprocess.run(
        [sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout.splitlines()
    if "==" in line
}
TORCH_BASE = "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime"
CPU_BASE = "python:3.11.13-slim-bookworm"
TOOLS = {
    "tokenize": (False, "Tokenize sequences into DNABERT k-mer token ids (.npz)", {"numpy", "typer", "click"}),
    "prepare": (
        False,
        "Split CLIP sequences into train/test/non-training sets with region labels from a GTF",
        {"numpy", "typer", "click", "pyfaidx", "pyliftover", "tqdm"},
    ),
    "fold": (False, "RNA secondary structure (ViennaRNA / LinearPartition) and per-token structure labels", set()),
    "evaluate": (
        False,
        "Metrics (AUROC, AUPRC, F1, MCC) and plots from predictions",
        {"numpy", "typer", "click", "scikit-learn", "matplotlib"},
    ),
    "summary": (False, "One table and HTML report of every RBP's metrics", set()),
    "finetune": (
        True,
        "Fine-tune a k-mer BERT on one RBP's CLIP data",
        {"numpy", "typer", "click", "transformers", "safetensors", "huggingface-hub", "tqdm", "scikit-learn"},
    ),
    "predict": (
        True,
        "Score sequences with a fine-tuned k-mer BERT",
        {"numpy", "typer", "click", "transformers", "safetensors", "huggingface-hub", "tqdm"},
    ),
    "attention-stats": (True, "Attention statistics of a fine-tuned model against structure and region labels", set()),
    "pretrain": (True, "Pretrain a k-mer BERT with masked language modelling", set()),
    "scan": (True, "Scan transcripts or genome regions for binding sites", set()),
    "variant-effect": (
        True,
        "Predict the effect of sequence variants on binding",
        {"numpy", "typer", "click", "transformers", "safetensors", "huggingface-hub", "tqdm", "pyfaidx"},
    ),
    "attribute": (
        True,
        "Nucleotide attributions (integrated gradients, in-silico mutagenesis) and logos",
        {
            "numpy",
            "typer",
            "click",
            "transformers",
            "safetensors",
            "huggingface-hub",
            "tqdm",
            "matplotlib",
            "logomaker",
        },
    ),
}
WAIVERS = {
    "fold": "# not-needed: torch -- only bertrbp.device's GPU helpers import it, lazily; this tool never calls them",
    "evaluate": "# not-needed: torch -- bertrbp.predict (read_predictions) imports bertrbp.inference, whose torch import is lazy and unused here",
}
for tool, (gpu, desc, guess) in TOOLS.items():
    d = Path("containers") / tool
    d.mkdir(exist_ok=True)
    need = distributions(tool) if cli_module(tool).exists() else set(guess)
    notes = []
    if not gpu and cli_module(tool).exists() and "torch" in __import__("imports").third_party(tool):
        notes.append(WAIVERS[tool])
    pins = sorted((V[n.lower()] for n in need), key=str.lower)
    (d / "requirements.txt").write_text(
        f"# bertrbp-{tool}: pinned Python requirements (versions tested in the project's venv)\n"
        + ("# torch comes with the base image (" + TORCH_BASE + ")\n" if gpu else "")
        + "".join(n + "\n" for n in notes)
        + "\n".join(pins)
        + "\n"
    )
    base = TORCH_BASE if gpu else CPU_BASE
    (d / "Dockerfile").write_text(f"""# bertrbp-{tool}: {desc}.
# Build from the repository root (the image carries bin/, so the tool also runs outside Nextflow and in Galaxy):
#   scripts/build-containers.sh {tool}
FROM {base}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="bertrbp-{tool}" \\
      org.opencontainers.image.description="bert-rbp: {desc}" \\
      org.opencontainers.image.version="${{VERSION}}" \\
      org.opencontainers.image.source="https://github.com/bert-rbp/bert-rbp" \\
      org.opencontainers.image.documentation="https://github.com/bert-rbp/bert-rbp#readme" \\
      org.opencontainers.image.licenses="MIT" \\
      org.opencontainers.image.base.name="{base}"

# procps: Nextflow reads task resource usage with ps
RUN apt-get update \\
    && apt-get install -y --no-install-recommends procps \\
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PYTHONNOUSERSITE=1 \\
    PIP_NO_CACHE_DIR=1 \\
    MPLCONFIGDIR=/tmp/matplotlib \\
    HF_HOME=/tmp/huggingface

COPY containers/{tool}/requirements.txt /tmp/requirements.txt
RUN python -m pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY bin/ /opt/bert-rbp/bin/
ENV PATH=/opt/bert-rbp/bin:${{PATH}}

# fail the build when the tool cannot start (a missing requirement shows here, not in a user's run)
RUN bertrbp-{tool} --version
""")
    (d / "Dockerfile.dockerignore").write_text(
        "# build context is the repository root; send only what the image needs\n*\n!bin/\n!containers/\nbin/**/__pycache__\nbin/*.egg-info\n"
    )
