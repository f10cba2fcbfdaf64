"""The fold tool's job: check the options, fold every record in parallel, write the tables.

``FoldRunOptions`` is the tool's request (inputs, outputs, workers); the folding itself is described by the
engine's ``FoldOptions`` (``bertrbp.fold.engines``), which it builds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.fold.engines import DEFAULT_ENGINE, DEFAULT_MAX_LENGTH, FoldOptions

log = logging.getLogger("bertrbp")


@dataclass
class FoldRunOptions:
    """What bertrbp-fold was asked to do (one field per flag)."""

    inputs: Sequence[Path]
    output: Path
    token_labels: Path | None = None
    engine: str = DEFAULT_ENGINE
    gamma: float = 3.0
    beam_size: int = 100
    mode: str = "vienna"
    threads: int = 0
    k: int = 3
    bpp: Path | None = None
    energy: bool = False
    fmt: str = "auto"
    max_length: int = DEFAULT_MAX_LENGTH

    def fold_options(self) -> FoldOptions:
        """The engine settings, checked (impossible combinations are refused before any sequence is read)."""
        return FoldOptions(
            self.engine, self.gamma, self.beam_size, self.mode, self.energy, self.bpp is not None, self.max_length
        ).check()


def worker_count(threads: int, cpus: int) -> int:
    """Worker processes for ``--threads`` on ``cpus`` usable CPUs (0 = all of them).

    Why capped: folding is CPU-bound, so workers beyond the CPUs only add processes (each with its own copy of the
    folding library) and memory; ``--threads 64`` on 2 cores started 64 processes.
    """
    if threads <= 0:
        return cpus
    if threads > cpus:
        log.warning("--threads %d: this task may use %d CPUs; folding with %d workers", threads, cpus, cpus)
        return cpus
    return threads


def run_fold(options: FoldRunOptions) -> int:
    """Fold every input record; the tables appear only when every record was written. Returns the count."""
    from bertrbp.device import available_cpus
    from bertrbp.fold.pipeline import fold_records, write_outputs
    from bertrbp.io.sequences import check_unique_ids, iter_many

    engine = options.fold_options()
    workers = worker_count(options.threads, available_cpus())
    records = check_unique_ids(iter_many(options.inputs, options.fmt))
    folded = fold_records(records, engine, options.k if options.token_labels is not None else None, workers)
    count = write_outputs(folded, options.output, options.token_labels, options.bpp, options.energy)
    log.info(
        "folded %d sequences with %s (gamma %g, %d workers) into %s",
        count,
        options.engine,
        options.gamma,
        workers,
        options.output,
    )
    return count
