"""Shared fixtures: paths, real-data skipping, and tiny checkpoints made by the tests themselves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "bin"
SHARED_DATA = Path(os.environ.get("BERTRBP_SHARED_DATA", REPO.parent / "shared" / "data"))

if str(BIN) not in sys.path:
    sys.path.insert(0, str(BIN))

# the planted-motif model fixture (motif_checkpoint), shared by the scan, variant and attribution tests
pytest_plugins = ["motif_model"]


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: real-data tests cannot run without it."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (set BERTRBP_SHARED_DATA or check out ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random BERT classifier saved in DNABERT's layout (config.json, model.safetensors, vocab.txt)."""
    from bertrbp.model import load_classifier, save_checkpoint

    model, tokenizer, _ = load_classifier("tiny", seed=0)
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("tiny_checkpoint"))


def run_tool(name: str, *args: str, check: bool = True, **kwargs):
    """Run ``bin/bertrbp-<name>`` as a user would, in a subprocess; returns the CompletedProcess."""
    import subprocess

    cmd = [sys.executable, str(BIN / f"bertrbp-{name}"), *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
