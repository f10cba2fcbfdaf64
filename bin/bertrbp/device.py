"""Choosing the device, threads and mixed precision the same way in every torch tool."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from bertrbp.errors import InputError


def resolve_device(name: str = "auto"):
    """'auto' picks CUDA when present, else CPU; 'cuda', 'cuda:1', 'cpu' are taken as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA GPU is visible. Use --device cpu or auto.")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"--device {name!r} is not a device torch knows ({exc}).") from exc


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's or a batch slot's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Use ``threads`` CPU threads (0/None: the CPUs this process may run on); returns the number set."""
    import torch

    if not threads:
        threads = available_cpus()
    torch.set_num_threads(threads)
    return threads


def use_bf16(device, requested: str = "auto") -> bool:
    """bf16 autocast: 'auto' means on for CUDA, off for CPU; 'yes'/'no' force it."""
    if requested not in ("auto", "yes", "no"):
        raise InputError(f"--bf16 must be auto, yes or no, not {requested!r}.")
    if requested == "auto":
        return device.type == "cuda"
    return requested == "yes"


@contextlib.contextmanager
def autocast(device, enabled: bool) -> Iterator[None]:
    """bf16 autocast on ``device`` when enabled, a no-op otherwise."""
    import torch

    if enabled:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield
