"""Write containers/<tool>/{Dockerfile,requirements.txt,Dockerfile.dockerignore} from one template.

Requirements are the tool's real imports (containers/imports.py), pinned to the versions in the project's
.venv; rerun after a tool's imports change:  .venv/bin/python containers/generate.py
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "containers"))
from imports import distributions, third_party  # noqa: E402

TORCH_BASE = "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime"
CPU_BASE = "python:3.11.13-slim-bookworm"


@dataclass(frozen=True)
class Image:
    """One tool's image: torch tools start from the PyTorch base image, the others from slim Python."""

    needs_torch: bool
    description: str


IMAGES = {
    "tokenize": Image(False, "Tokenize sequences into DNABERT k-mer token ids (.npz)"),
    "prepare": Image(False, "Split CLIP sequences into train/test/non-training sets with region labels from a GTF"),
    "fold": Image(False, "RNA secondary structure (ViennaRNA / LinearPartition) and per-token structure labels"),
    "evaluate": Image(False, "Metrics (AUROC, AUPRC, F1, MCC) and plots from predictions"),
    "summary": Image(False, "One table and HTML report of every RBP's metrics"),
    "finetune": Image(True, "Fine-tune a k-mer BERT on one RBP's CLIP data"),
    "predict": Image(True, "Score sequences with a fine-tuned k-mer BERT"),
    "attention-stats": Image(True, "Attention statistics of a fine-tuned model against structure and region labels"),
    "pretrain": Image(True, "Pretrain a k-mer BERT with masked language modelling"),
    "scan": Image(True, "Scan transcripts or genome regions for binding sites"),
    "variant-effect": Image(True, "Predict the effect of sequence variants on binding"),
    "attribute": Image(True, "Nucleotide attributions (integrated gradients, in-silico mutagenesis) and logos"),
}
# Why a CPU-only image may leave out torch although the tool's imports reach it (tests/test_containers.py reads
# these lines from requirements.txt).
TORCH_WAIVERS = {
    "fold": "# not-needed: torch -- only bertrbp.device's GPU helpers import it, lazily; this tool never calls them",
    "evaluate": "# not-needed: torch -- bertrbp.predict (read_predictions) imports bertrbp.inference, whose torch import is lazy and unused here",
}
DOCKERIGNORE = (
    "# build context is the repository root; send only what the image needs\n*\n!bin/\n!containers/\n!assets/models/\n"
    "bin/**/__pycache__\nbin/*.egg-info\n"
)


def venv_pins() -> dict[str, str]:
    """Normalised distribution name -> its ``name==version`` line in the running environment (pip freeze)."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    return {line.split("==")[0].lower().replace("_", "-"): line.strip() for line in frozen.splitlines() if "==" in line}


def requirements_text(tool: str, image: Image, pins: dict[str, str]) -> str:
    """requirements.txt: the tool's distributions pinned to the venv's versions, with any torch waiver."""
    waivers = [TORCH_WAIVERS[tool]] if not image.needs_torch and "torch" in third_party(tool) else []
    pinned = sorted((pins[name.lower()] for name in distributions(tool)), key=str.lower)
    return (
        f"# bertrbp-{tool}: pinned Python requirements (versions tested in the project's venv)\n"
        + ("# torch comes with the base image (" + TORCH_BASE + ")\n" if image.needs_torch else "")
        + "".join(line + "\n" for line in waivers)
        + "\n".join(pinned)
        + "\n"
    )


def dockerfile_text(tool: str, image: Image) -> str:
    base = TORCH_BASE if image.needs_torch else CPU_BASE
    desc = image.description
    return f"""# bertrbp-{tool}: {desc}.
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
# the bundled pretrained checkpoints (--model bertrbp-mini-k3 resolves to /opt/bert-rbp/assets/models/...)
COPY assets/models/ /opt/bert-rbp/assets/models/
ENV PATH=/opt/bert-rbp/bin:${{PATH}}

# fail the build when the tool cannot start (a missing requirement shows here, not in a user's run)
RUN bertrbp-{tool} --version
"""


def main() -> None:
    pins = venv_pins()
    for tool, image in IMAGES.items():
        folder = REPO / "containers" / tool
        folder.mkdir(exist_ok=True)
        (folder / "requirements.txt").write_text(requirements_text(tool, image, pins))
        (folder / "Dockerfile").write_text(dockerfile_text(tool, image))
        (folder / "Dockerfile.dockerignore").write_text(DOCKERIGNORE)


if __name__ == "__main__":
    main()
