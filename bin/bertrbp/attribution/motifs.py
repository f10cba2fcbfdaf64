"""Motif summary: which k-mers carry the attribution across many bound sequences.

For every bound sequence the k-mer (length ``motif_length``) with the largest summed nucleotide attribution
is its top k-mer; the summary counts how many sequences share each top k-mer and their mean attribution,
most frequent first. A planted or real motif shows up as one dominant row (plus its 1-nt shifts).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


class MotifSummary:
    """Accumulates each bound sequence's top-attributed k-mer."""

    def __init__(self, motif_length: int = 6) -> None:
        self.motif_length = motif_length
        self.counts: dict[str, int] = defaultdict(int)
        self.sums: dict[str, float] = defaultdict(float)
        self.n_sequences = 0

    def add(self, seq: str, attribution: np.ndarray) -> str:
        """Record ``seq``'s top k-mer (by summed attribution); returns it."""
        m = min(self.motif_length, len(seq))
        window_sums = np.convolve(attribution, np.ones(m), mode="valid")
        best = int(np.argmax(window_sums))
        kmer = seq[best : best + m]
        self.counts[kmer] += 1
        self.sums[kmer] += float(window_sums[best])
        self.n_sequences += 1
        return kmer

    def rows(self, top: int) -> list[tuple[str, int, float, float]]:
        """(kmer, n_sequences, fraction, mean_attribution) for the ``top`` most frequent top k-mers."""
        ranked = sorted(self.counts, key=lambda k: (-self.counts[k], -self.sums[k] / self.counts[k], k))
        return [
            (k, self.counts[k], self.counts[k] / self.n_sequences, self.sums[k] / self.counts[k]) for k in ranked[:top]
        ]
