"""Provenance for model cards: file checksums, software versions, the device, and strict JSON.

Shared by finetune and pretrain (and anything else that records what produced an output), so both cards use the
same conventions.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (model weights can be GBs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def software_versions() -> dict:
    """Versions of the packages that determine a trained model's numbers."""
    import sklearn
    import torch
    import transformers

    from bertrbp import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "bert-rbp": __version__,
    }


def device_description(device: str) -> str:
    """The device with its hardware name (GPU model or CPU), for comparing timings across cards."""
    import torch

    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({platform.processor() or platform.machine()})"


def _plain(value):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to null (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(value) -> str:
    """Strict, indented JSON (NaN written as null) with a final newline."""
    return json.dumps(_plain(value), indent=2, allow_nan=False) + "\n"
