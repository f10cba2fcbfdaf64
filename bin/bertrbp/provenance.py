"""Provenance for model cards: file checksums, software versions, the device, and strict JSON.

Shared by finetune and pretrain (and anything else that records what produced an output), so both cards use the
same conventions.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
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
    """Versions of the packages that determine a trained model's numbers (from the installed metadata, so this
    module stays importable in the CPU-only images that have no torch)."""
    from importlib.metadata import PackageNotFoundError, version

    from bertrbp import __version__

    def installed(name: str, module: str = "") -> str | None:
        loaded = sys.modules.get(module or name)
        if loaded is not None and hasattr(loaded, "__version__"):
            return loaded.__version__  # e.g. torch's local version tag (+cu130) as the running code reports it
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "torch": installed("torch"),
        "transformers": installed("transformers"),
        "numpy": np.__version__,
        "scikit-learn": installed("scikit-learn", "sklearn"),
        "bert-rbp": __version__,
    }


def device_description(device: str) -> str:
    """The device with its hardware name (GPU model or CPU), for comparing timings across cards.

    A CUDA device string comes from a run that has torch loaded already; its GPU name is read from there.
    """
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None and torch.cuda.is_available():
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
