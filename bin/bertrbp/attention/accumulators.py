"""Streaming sums for the attention statistics: batches go in, the layer x head matrices come out.

Nothing here holds attention maps. The sequence accumulator keeps one float per sequence and head (a_m; the
binned analysis of the most specialized head needs it, and it is only known at the end: 60,000 sequences x
144 heads = 35 MB as float32). The token accumulator keeps only sums and counts, so its memory does not grow
with N.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bertrbp.attention.formulas import ratio_of_means


class _PropertySums:
    """Per property: the sum of a per-item attention value over items with it, the count, and the totals."""

    def __init__(self, properties: Sequence[str], n_layers: int, n_heads: int):
        self.properties = list(properties)
        self.sum_with = np.zeros((len(self.properties), n_layers, n_heads))
        self.n_with = np.zeros(len(self.properties), dtype=np.int64)
        self.sum_all = np.zeros((n_layers, n_heads))
        self.n = 0

    def relative(self) -> np.ndarray:
        """Mean over items with the property / mean over items without it: ``[P, Ly, H]`` (NaN if a group is
        empty)."""
        if not self.properties:
            return np.zeros((0,) + self.sum_all.shape)
        return np.stack(
            [
                ratio_of_means(
                    self.sum_with[p], self.n_with[p], self.sum_all - self.sum_with[p], self.n - self.n_with[p]
                )
                for p in range(len(self.properties))
            ]
        )

    def mean_with(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sum_with / self.n_with[:, None, None]

    def mean_without(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.sum_all - self.sum_with) / (self.n - self.n_with)[:, None, None]


class SequenceAccumulator(_PropertySums):
    """Equation 1 over a stream (``relative()`` is s_alpha(f)), keeping a_m per sequence and head."""

    def __init__(self, properties: Sequence[str], n_layers: int, n_heads: int):
        super().__init__(properties, n_layers, n_heads)
        self._values: list[np.ndarray] = []

    def update(self, a: np.ndarray, labels: np.ndarray) -> None:
        """``a``: ``[B, Ly, H]`` a_m of a batch; ``labels``: ``[B, P]`` 0/1 per property."""
        a = np.asarray(a, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.float64)
        self.sum_with += np.einsum("blh,bp->plh", a, labels)
        self.n_with += labels.sum(0).astype(np.int64)
        self.sum_all += a.sum(0)
        self.n += a.shape[0]
        self._values.append(a.astype(np.float32))

    def values(self) -> np.ndarray:
        """a_m of every sequence seen, ``[N, Ly, H]`` (float32), in stream order."""
        if not self._values:
            return np.zeros((0,) + self.sum_all.shape, dtype=np.float32)
        if len(self._values) > 1:
            self._values = [np.concatenate(self._values)]
        return self._values[0]


class TokenAccumulator(_PropertySums):
    """Equation 2 (``ratio()``) and the relative form (``relative()``) over a stream of token attention r."""

    def update(self, r: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> None:
        """``r``: ``[B, Ly, H, T]``; ``labels``: ``[B, P, T]`` 0/1; ``valid``: ``[B, T]`` real k-mer positions."""
        valid = np.asarray(valid, dtype=np.float64)
        r = np.asarray(r, dtype=np.float64) * valid[:, None, None, :]
        labels = np.asarray(labels, dtype=np.float64) * valid[:, None, :]
        self.sum_with += np.einsum("blht,bpt->plh", r, labels)
        self.n_with += labels.sum((0, 2)).astype(np.int64)
        self.sum_all += r.sum((0, 3))
        self.n += int(valid.sum())

    def ratio(self) -> np.ndarray:
        """t_alpha(g): ``[P, Ly, H]``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sum_with / self.sum_all[None]

    def background(self) -> np.ndarray:
        """Share of tokens with each property: ``[P]``."""
        return self.n_with / self.n if self.n else np.full(len(self.properties), np.nan)


class TokenValueStore:
    """Every head's r at every real k-mer token, spilled to an unlinked temporary file during pass 1.

    Why: the binning needs the exact values of a few heads that are only known after pass 1 (the most
    specialized ones, and the fixed head). Keeping them on disk (4 bytes per token and head: 99 tokens x 144
    heads x 4 B = 57 kB per 101-nt sequence for a base model) replaces a second forward pass over the data by
    reading a few kB per batch back. Each batch is one block laid out head-major, so a head's values in a block
    are one contiguous read. The file has no name on disk and vanishes when closed or when the process ends.
    """

    def __init__(self, n_layers: int, n_heads: int, folder: str | None = None):
        import tempfile

        self.n_layers, self.n_heads = n_layers, n_heads
        self._file = tempfile.TemporaryFile(prefix="bertrbp-attention-", dir=folder)
        self._blocks: list[int] = []  # real tokens per block

    def add(self, r: np.ndarray, valid: np.ndarray) -> None:
        """``r``: ``[B, Ly, H, T]``; ``valid``: ``[B, T]`` real k-mer positions."""
        b, layers, heads, t = r.shape
        block = r.reshape(b, layers * heads, t).transpose(1, 0, 2)[:, np.asarray(valid, dtype=bool)]
        self._file.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        self._blocks.append(block.shape[1])

    def head(self, layer: int, head: int) -> np.ndarray:
        """r of one head at every stored token, in stream order (float32)."""
        index = layer * self.n_heads + head
        width = self.n_layers * self.n_heads
        parts, offset = [], 0
        for n in self._blocks:
            self._file.seek(offset + index * n * 4)
            parts.append(np.frombuffer(self._file.read(n * 4), dtype=np.float32))
            offset += width * n * 4
        self._file.seek(0, 2)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        self._file.close()
