"""Peak calling on a streamed profile: runs of positions at or above a threshold, with their max and summit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Peak:
    """A run ``[start, end)`` (local positions) whose profile stays >= threshold; ``summit`` holds its max."""

    start: int
    end: int
    max_score: float
    summit: int


class PeakCaller:
    """Feed profile chunks of one model in order; closed peaks come out as soon as their run ends."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.open: Peak | None = None

    def feed(self, first: int, values: np.ndarray) -> Iterator[Peak]:
        above = values >= self.threshold
        if not above.any():
            if self.open is not None:
                yield self._close()
            return
        # boundaries of runs of True within this chunk
        padded = np.concatenate(([False], above, [False]))
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        starts, ends = edges[0::2], edges[1::2]
        if self.open is not None and starts[0] != 0:
            yield self._close()
        for run_start, run_end in zip(starts, ends):
            segment = values[run_start:run_end]
            best = int(np.argmax(segment))
            peak = Peak(first + run_start, first + run_end, float(segment[best]), first + run_start + best)
            if self.open is not None and run_start == 0:
                peak = self._extend(peak)
            if run_end == len(values):
                self.open = peak
            else:
                yield peak

    def _extend(self, peak: Peak) -> Peak:
        opened = self.open
        self.open = None
        if opened.max_score >= peak.max_score:
            return Peak(opened.start, peak.end, opened.max_score, opened.summit)
        return Peak(opened.start, peak.end, peak.max_score, peak.summit)

    def _close(self) -> Peak:
        peak, self.open = self.open, None
        return peak

    def finish(self) -> Iterator[Peak]:
        """Close a peak still open at the end of the sequence."""
        if self.open is not None:
            yield self._close()
