"""Transcript-region labels of sites: per nucleotide, per sequence, and per k-mer token (with boundaries).

Each nucleotide carries 0/1 for ``5utr 3utr cds intron exon intergenic`` (several at once where genes on the
same strand overlap), in the site's 5'->3' orientation. A k-mer token carries a region when any of its
nucleotides does. Region boundaries, by type, are in ``prepare.boundaries``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bertrbp.io.gtf import Transcript
from bertrbp.io.sequences import Coordinates

REGIONS = ("5utr", "3utr", "cds", "intron", "exon", "intergenic")
_BIN = 100_000


def chrom_key(chrom: str) -> str:
    """UCSC and Ensembl names compare equal: chr1 == 1, chrM == MT."""
    name = chrom[3:] if chrom.startswith("chr") else chrom
    return "MT" if name == "M" else name


def transcript_parts(tx: Transcript) -> dict[str, list[tuple[int, int]]]:
    """Genomic intervals of each region of one transcript (0-based half-open)."""
    exons = sorted(tx.exons)
    parts: dict[str, list[tuple[int, int]]] = {
        "exon": exons,
        "cds": sorted(tx.cds),
        "5utr": [],
        "3utr": [],
        "intron": [],
    }
    parts["intron"] = [(a[1], b[0]) for a, b in zip(exons, exons[1:]) if b[0] > a[1]]
    if tx.cds:
        lo, hi = min(s for s, _ in tx.cds), max(e for _, e in tx.cds)
        before = [(s, min(e, lo)) for s, e in exons if s < lo]
        after = [(max(s, hi), e) for s, e in exons if e > hi]
        parts["5utr"], parts["3utr"] = (before, after) if tx.strand == "+" else (after, before)
    return parts


class RegionIndex:
    """Chosen transcripts binned by chromosome and strand for fast lookup of the genes a site touches."""

    def __init__(self, transcripts: Sequence[Transcript]) -> None:
        self.bins: dict[tuple[str, str, int], list[tuple[Transcript, dict]]] = defaultdict(list)
        self._junctions: dict[int, dict[str, list[int]]] = {}  # by id(): copies of one transcript id differ
        for tx in transcripts:
            entry = (tx, transcript_parts(tx))
            lo, hi = tx.span
            for b in range(lo // _BIN, (hi - 1) // _BIN + 1):
                self.bins[(chrom_key(tx.chrom), tx.strand, b)].append(entry)

    def _entries_at(self, site: Coordinates):
        """(transcript, parts) of the indexed transcripts on the site's strand whose bins the site touches."""
        strand = "+" if site.strand == "." else site.strand
        seen: set[int] = set()
        for b in range(site.start // _BIN, (site.end - 1) // _BIN + 1):
            for tx, parts in self.bins.get((chrom_key(site.chrom), strand, b), ()):
                if id(tx) not in seen:
                    seen.add(id(tx))
                    yield tx, parts

    def transcripts_at(self, site: Coordinates) -> list[Transcript]:
        return [tx for tx, _ in self._entries_at(site)]

    def junctions(self, tx: Transcript) -> dict[str, list[int]]:
        """The transcript's boundary junctions by type (``prepare.boundaries``), computed once."""
        from bertrbp.prepare.boundaries import transcript_junctions

        if id(tx) not in self._junctions:
            self._junctions[id(tx)] = transcript_junctions(tx)
        return self._junctions[id(tx)]

    def label(self, site: Coordinates) -> np.ndarray:
        """(len, 6) 0/1 matrix in the site's 5'->3' order; columns follow ``REGIONS``."""
        n = site.end - site.start
        out = np.zeros((n, len(REGIONS)), dtype=np.uint8)
        strand = "+" if site.strand == "." else site.strand
        for _transcript, parts in self._entries_at(site):
            for column, name in enumerate(REGIONS[:-1]):
                for s, e in parts[name]:
                    lo, hi = max(s, site.start), min(e, site.end)
                    if lo < hi:
                        out[lo - site.start : hi - site.start, column] = 1
        out[:, -1] = out[:, :-1].max(axis=1, initial=0) == 0
        return out[::-1].copy() if strand == "-" else out


def token_labels(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(tokens x regions any-of matrix, label-change vector) for overlapping k-mers of a nucleotide matrix.

    The label-change vector fires wherever a token's nucleotides differ in region flags, genic/intergenic edges
    and overlapping genes included; the region boundaries written by prepare come from ``prepare.boundaries``.
    """
    n_tokens = matrix.shape[0] - k + 1
    if n_tokens <= 0:
        return np.zeros((0, matrix.shape[1]), dtype=np.uint8), np.zeros(0, dtype=np.uint8)
    windows = np.stack([matrix[i : i + n_tokens] for i in range(k)])  # k x tokens x regions
    carries = windows.max(axis=0)
    kinds = matrix  # region type: the combination of region flags a nucleotide carries
    differ = np.zeros(n_tokens, dtype=bool)
    for i in range(1, k):
        differ |= (kinds[i : i + n_tokens] != kinds[:n_tokens]).any(axis=1)
    return carries.astype(np.uint8), differ.astype(np.uint8)
