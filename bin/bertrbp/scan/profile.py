"""Per-nucleotide profiles from overlapping window scores, accumulated in a bounded sliding buffer.

A nucleotide's value is the mean (default) or the max of the probabilities of all windows covering it. Mean
gives a smooth profile that peaks where the most windows agree, i.e. on the bound element; max marks the
full extent of any window that scored high. Windows arrive in order of their start, so once a window
starting at ``s`` has been added, every position before ``s`` is final and can be flushed: the buffer never
holds more than one window plus one batch of strides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bertrbp.errors import InputError

AGGREGATES = ("mean", "max")


@dataclass
class ProfileChunk:
    """Final values for local positions ``[first, first + values.shape[1])``; one row per model."""

    first: int
    values: np.ndarray

    @property
    def end(self) -> int:
        return self.first + self.values.shape[1]


class ProfileAccumulator:
    """Sum/count or max of window scores per position for ``n_models`` models, flushed as positions finish."""

    def __init__(self, n_models: int, aggregate: str = "mean") -> None:
        if aggregate not in AGGREGATES:
            raise InputError(f"--aggregate {aggregate!r}: choose one of {', '.join(AGGREGATES)}.")
        self.aggregate = aggregate
        self.base = 0
        self.sums = np.zeros((n_models, 0))
        self.counts = np.zeros(0, dtype=np.int64)
        self.peak_buffer = 0  # largest buffer length seen (for tests of bounded memory)

    def add(self, start: int, end: int, scores: np.ndarray) -> None:
        """Add one window ``[start, end)`` with one score per model."""
        if start < self.base:
            raise ValueError("windows must arrive in order of their start")
        need = end - self.base
        if need > self.counts.size:
            grow = need - self.counts.size
            fill = 0.0 if self.aggregate == "mean" else -np.inf
            self.sums = np.concatenate([self.sums, np.full((self.sums.shape[0], grow), fill)], axis=1)
            self.counts = np.concatenate([self.counts, np.zeros(grow, dtype=np.int64)])
            self.peak_buffer = max(self.peak_buffer, self.counts.size)
        a, b = start - self.base, end - self.base
        column = np.asarray(scores, dtype=np.float64)[:, None]
        if self.aggregate == "mean":
            self.sums[:, a:b] += column
        else:
            np.maximum(self.sums[:, a:b], column, out=self.sums[:, a:b])
        self.counts[a:b] += 1

    def flush(self, upto: int | None = None) -> ProfileChunk | None:
        """Emit positions before ``upto`` (all buffered positions when None) and drop them from the buffer."""
        n = self.counts.size if upto is None else max(0, min(upto - self.base, self.counts.size))
        if n == 0:
            return None
        counts = self.counts[:n]
        if (counts == 0).any():
            raise ValueError("a position was flushed before any window covered it")
        values = self.sums[:, :n] / counts if self.aggregate == "mean" else self.sums[:, :n].copy()
        chunk = ProfileChunk(self.base, values)
        self.sums, self.counts, self.base = self.sums[:, n:], self.counts[n:], self.base + n
        return chunk
