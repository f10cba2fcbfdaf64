"""The trainer's resumable state on disk: weights, optimizer, scheduler, RNG states and position in the data."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_path

STATE_FILE = "trainer_state.pt"
# Settings that must match for a resume to continue the same run.
RESUME_KEYS = ("lr", "epochs", "batch_size", "grad_accum", "warmup_ratio", "weight_decay", "seed", "max_steps")


def rng_state() -> dict:
    import torch

    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(directory: Path, state: dict) -> Path:
    """Write the state atomically, so a kill during the write leaves the previous checkpoint intact."""
    import torch

    path = Path(directory) / STATE_FILE
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_state(directory: Path, config: dict) -> Optional[dict]:
    """The saved state in ``directory`` (None when there is none), refusing one from different settings."""
    import torch

    path = Path(directory) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a corrupt file is a user-facing problem, not a crash
        raise InputError(f"{path}: cannot read the training checkpoint ({exc}). Delete it to start over.") from exc
    saved = state.get("config", {})
    changed = [f"{key}: {saved.get(key)!r} -> {config.get(key)!r}" for key in RESUME_KEYS if saved.get(key) != config.get(key)]
    if changed:
        raise InputError(
            f"{path}: --resume with different settings than the interrupted run ({'; '.join(changed)}). "
            "Resume with the original settings, or start a new run in another --output-dir."
        )
    return state
