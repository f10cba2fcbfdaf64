"""The trainer's resumable state on disk: weights, optimizer, scheduler, RNG states and position in the data.

Nothing here unpickles arbitrary objects: ``trainer_state.pt`` holds only tensors and plain Python values
(numpy arrays and scalars are converted before saving) and is read with ``torch.load(weights_only=True)``, so a
crafted checkpoint cannot run code. ``run.json`` beside it records what the run trains on (data checksums, split,
model); ``--resume`` refuses to continue when any of it changed, as it refuses changed hyperparameters.
"""

from __future__ import annotations

import json
import random
import re
import warnings
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.atomic import KeptWriteErrors, atomic_open, atomic_path

STATE_FILE = "trainer_state.pt"
RUN_FILE = "run.json"
# Settings that must match for a resume to continue the same run.
RESUME_KEYS = (
    "lr",
    "epochs",
    "batch_size",
    "grad_accum",
    "warmup_ratio",
    "weight_decay",
    "seed",
    "max_steps",
    "min_steps",
)
# What a key missing from an older run's settings meant then (min_steps came later; before it there was no floor).
RESUME_DEFAULTS = {"min_steps": 0}


def rng_state() -> dict:
    """Every RNG the training touches, as tensors and plain values (loadable with weights_only=True)."""
    import torch

    bit_generator, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(bit_generator),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    saved = state["numpy"]
    np.random.set_state(
        (
            saved["bit_generator"],
            saved["keys"].numpy().astype(np.uint32),
            saved["pos"],
            saved["has_gauss"],
            saved["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _plain(value):
    """Numpy arrays to tensors and numpy scalars to Python numbers, recursively (weights_only-loadable)."""
    import torch

    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_state(directory: Path, state: dict) -> Path:
    """Write the state atomically, so a kill during the write leaves the previous checkpoint intact."""
    import torch

    path = Path(directory) / STATE_FILE
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        sink = KeptWriteErrors(handle)  # torch.save reports a full disk as a RuntimeError naming no cause
        try:
            torch.save(_plain(state), sink)
        except RuntimeError:
            sink.reraise(tmp)
            raise
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _older_run_hint(saved: dict) -> str:
    """Which flags restore a setting that an older run's state does not record (it meant the default then)."""
    missing = [key for key in RESUME_DEFAULTS if key not in saved]
    return "".join(
        f" (a run from before --{key.replace('_', '-')}: --{key.replace('_', '-')} {RESUME_DEFAULTS[key]})"
        for key in missing
    )


def load_state(directory: Path, config: dict) -> dict | None:
    """The saved state in ``directory`` (None when there is none), refusing one from different settings."""
    import torch

    path = Path(directory) / STATE_FILE
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol notice would precede our one error line
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle code
    except Exception as exc:  # corrupt, truncated, foreign or crafted: a user-facing problem, not a crash
        raise InputError(
            f"{path}: not a training checkpoint that can be read safely ({type(exc).__name__}: {_one_line(exc)}). "
            f"Delete {Path(directory)} to start over without --resume."
        ) from exc
    if not isinstance(state, dict) or not {"model", "optimizer", "scheduler", "rng", "config"} <= set(state):
        raise InputError(f"{path}: not a bert-rbp training checkpoint. Delete {Path(directory)} to start over.")
    _check_fields(path, state)
    saved = state["config"]
    before, now = ({key: given.get(key, RESUME_DEFAULTS.get(key)) for key in RESUME_KEYS} for given in (saved, config))
    changed = [f"{key}: {before[key]!r} -> {now[key]!r}" for key in RESUME_KEYS if before[key] != now[key]]
    if changed:
        raise InputError(
            f"{path}: --resume with different settings than the interrupted run ({'; '.join(changed)}). "
            f"Resume with the original settings{_older_run_hint(saved)}, or start a new run in another --output-dir."
        )
    return state


def _check_fields(path: Path, state: dict) -> None:
    """The run's position and records have the types the trainer saved (whole numbers >= 0, a list of epoch
    records, objects for the settings and states). Why: an edited or foreign checkpoint with, say, a text epoch
    or a settings list was a TypeError/AttributeError traceback deep in the training loop."""

    def count(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    wanted = {
        "epoch": (count, "a whole number >= 0"),
        "batch_pos": (count, "a whole number >= 0"),
        "global_step": (count, "a whole number >= 0"),
        "epoch_loss": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
        "history": (lambda v: isinstance(v, list) and all(isinstance(h, dict) for h in v), "a list of epoch records"),
        "stopped": (lambda v: isinstance(v, bool), "true or false"),
        "config": (lambda v: isinstance(v, dict), "an object of settings"),
        "rng": (lambda v: isinstance(v, dict), "an object of RNG states"),
        "model": (lambda v: isinstance(v, dict), "an object of weights"),
        "optimizer": (lambda v: isinstance(v, dict), "an object"),
        "scheduler": (lambda v: isinstance(v, dict), "an object"),
    }
    for key, (good, what) in wanted.items():
        if key == "stopped" and key not in state:  # older checkpoints: not stopped
            continue
        if key not in state or not good(state[key]):
            value = state.get(key)
            plain = isinstance(value, (bool, int, float, str)) or value is None
            found = "missing" if key not in state else repr(value)[:40] if plain else type(value).__name__
            raise InputError(
                f"{path}: not a bert-rbp training checkpoint ({key} is {found}, not {what}). "
                f"Delete {path.parent} to start over without --resume."
            )


def restore_error(path: Path, exc: BaseException) -> InputError:
    """A checkpoint whose states do not fit this run's model, optimizer or scheduler (foreign or edited)."""
    return InputError(
        f"{path}: the saved states do not fit this run ({type(exc).__name__}: {_one_line(exc)}). "
        f"Delete {path.parent} to start over without --resume."
    )


def check_run_identity(directory: Path, identity: dict, resume: bool) -> None:
    """Record what this run trains on; on --resume refuse a change to any of it (data, split, model).

    ``identity`` is plain JSON: checksums of the data files, the validation split, the model source and its
    weights' checksum. Called before training starts, so a refused resume costs nothing.
    """
    directory = Path(directory)
    path = directory / RUN_FILE
    identity = json.loads(json.dumps(identity))  # normalise tuples and paths as the file will hold them
    if resume and (directory / STATE_FILE).exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"{directory}: the checkpoint has no {RUN_FILE} (written by an older version), so its data cannot be "
                f"checked. Delete {directory} and start over without --resume."
            ) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable ({_one_line(exc)}). Delete {directory} to start over.") from exc
        if not isinstance(saved, dict):
            raise InputError(f"{path}: not a run record (a JSON object is expected). Delete {directory} to start over.")
        changed = [key for key in sorted(set(saved) | set(identity)) if saved.get(key) != identity.get(key)]
        if changed:
            details = "; ".join(f"{key}: {_short(saved.get(key))} -> {_short(identity.get(key))}" for key in changed)
            raise InputError(
                f"{directory}: --resume with different data, split or model than the interrupted run ({details}). "
                "Resume with the original inputs, or start a new run in another --output-dir."
            )
        return
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(identity, indent=2, sort_keys=True) + "\n")


def _short(value) -> str:
    text = re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1...", json.dumps(value, sort_keys=True))  # sha256s
    return text if len(text) <= 120 else text[:117] + "..."


def model_identity(source: str) -> dict:
    """The model a run starts from: a preset/hub name, or a local folder by its files' checksums (not its path,
    so a moved or renamed run folder still resumes)."""
    from bertrbp.model import resolve_model_source
    from bertrbp.provenance import sha256

    folder = Path(resolve_model_source(source))  # a bundled name is its folder: --resume checks its weights too
    if not folder.is_dir():
        return {"source": source}
    files = {
        item.name: sha256(item)
        for item in sorted(folder.iterdir())
        if item.is_file() and item.name in ("config.json", "vocab.txt", "model.safetensors", "pytorch_model.bin")
    }
    return {"source": "folder", "files": files}
