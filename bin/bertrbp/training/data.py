"""Batch providers for the trainer: a seeded, checkpointable data order and host-to-device transfer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np


class BatchSource(Protocol):
    """Anything the trainer can draw batches from.

    ``batch(indices)`` returns a dict of CPU tensors that is passed to ``model(**batch)``; it must include the
    targets (``labels``) so the model computes ``.loss``. Randomness inside ``batch`` (e.g. masked-LM masking)
    must come from torch's default generator, whose state the trainer checkpoints, so resumes are exact.
    """

    def __len__(self) -> int: ...

    def batch(self, indices: np.ndarray) -> Mapping[str, object]: ...


class ArrayBatches:
    """A BatchSource over equal-length numpy arrays (e.g. input_ids, attention_mask, labels)."""

    def __init__(self, **arrays: np.ndarray):
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"arrays differ in length: { {k: len(v) for k, v in arrays.items()} }")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def batch(self, indices: np.ndarray) -> dict:
        import torch

        return {
            name: torch.from_numpy(np.ascontiguousarray(a[indices]).astype(np.int64)) for name, a in self.arrays.items()
        }


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of one epoch: a function of (seed, epoch) only, so a resume replays it exactly."""
    return np.random.default_rng([seed, epoch]).permutation(size)


def to_device(batch: Mapping, device) -> dict:
    """Move a batch to ``device``; on CUDA via pinned memory and non-blocking copies."""
    if device.type != "cuda":
        return {k: v.to(device) for k, v in batch.items()}
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
