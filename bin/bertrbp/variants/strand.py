"""Which strand to score a variant on: the strand of the transcripts/features (BED or GTF) it falls in.

RNA-binding proteins bind the transcript, so the window is read on the feature's strand (reverse complement
on '-'). A variant inside features on both strands is scored on both; one outside every feature is reported
and not scored (it is not transcribed per the annotation). Without an annotation, '+' is scored.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from bertrbp.errors import InputError

_STRAND_FEATURES = frozenset({"gene", "transcript", "exon"})


class StrandIndex:
    """Intervals per chromosome (0-based half-open) with their strands, for overlap look-ups."""

    def __init__(self, intervals: Iterable[tuple[str, int, int, str]], source: str) -> None:
        by_chrom: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for chrom, start, end, strand in intervals:
            if strand in ("+", "-"):
                by_chrom[_norm(chrom)].append((start, end, strand))
        if not by_chrom:
            raise InputError(f"{source}: no stranded features ('+' or '-') found; cannot tell which strand to score.")
        self._starts = {}
        self._items = {}
        self._longest = {}
        for chrom, items in by_chrom.items():
            items.sort()
            self._items[chrom] = items
            self._starts[chrom] = [s for s, _, _ in items]
            self._longest[chrom] = max(e - s for s, e, _ in items)

    def strands(self, chrom: str, start: int, end: int) -> list[str]:
        """Strands of the features overlapping ``[start, end)`` (end > start), sorted ('+' first)."""
        chrom = _norm(chrom)
        if chrom not in self._items:
            return []
        items, found = self._items[chrom], set()
        index = bisect.bisect_left(self._starts[chrom], end) - 1
        while index >= 0 and items[index][0] + self._longest[chrom] > start:
            s, e, strand = items[index]
            if e > start:
                found.add(strand)
            index -= 1
        return sorted(found, key="+-".index)


def _norm(chrom: str) -> str:
    """Compare chromosome names without the UCSC 'chr' prefix (chrM = MT)."""
    name = chrom[3:] if chrom.startswith("chr") else chrom
    return "MT" if name == "M" else name


def bed_strand_index(path: str | Path) -> StrandIndex:
    from bertrbp.io.genome import read_bed

    return StrandIndex(((b.chrom, b.start, b.end, b.strand) for b in read_bed(path)), str(path))


def gtf_strand_index(path: str | Path) -> StrandIndex:
    """Genes, transcripts and exons of a GTF (plain or gzip); strand from column 7."""
    from bertrbp.io.gtf import iter_features

    rows = iter_features(path, _STRAND_FEATURES)
    return StrandIndex(((row.chrom, row.start, row.end, row.strand) for row in rows), str(path))
