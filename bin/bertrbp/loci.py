"""Chains of overlapping genomic windows: the unit no split may cut.

CLIP data sets hold many windows over one locus (RBP-31's ELAVL1 sets: nearly every bound site overlaps another).
A split that puts one window of a chain on each side scores near-copies of training sites, so both the test split
(``bertrbp-prepare --split locus``) and the validation split (``bertrbp-finetune --val-split locus``) keep each
chain on one side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bertrbp.io.sequences import Coordinates, canonical_chrom


def locus_groups(coords: Sequence[Coordinates | None], lengths: Sequence[int] | None = None) -> list[int] | None:
    """Group number of each window: chains of overlapping or touching windows on one chromosome and strand.

    None when some window has no coordinates. A window whose sequence (``lengths``) is longer than the interval
    its coordinates name (RBP-24 names the viewpoint inside a window with flanks) is widened by the difference on
    both sides, since where the viewpoint sits in the window is not known. Touching intervals are joined, so
    closed (RBP-31) and half-open (BED) coordinates group alike.
    """
    by_contig: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for row, where in enumerate(coords):
        if where is None:
            return None
        extra = int(lengths[row]) - (where.end - where.start) if lengths is not None else 0
        flank = extra if extra > 1 else 0  # 1: a closed interval (RBP-31), not flanks
        by_contig[(canonical_chrom(where.chrom), where.strand)].append((where.start - flank, where.end + flank, row))
    groups = [0] * len(coords)
    group = -1
    for spans in by_contig.values():
        spans.sort()
        reach = None
        for start, end, row in spans:
            if reach is None or start > reach:
                group += 1
                reach = end
            reach = max(reach, end)
            groups[row] = group
    return groups


def any_overlap(groups: Sequence[int]) -> bool:
    """Whether some chain holds more than one window (otherwise a random split is already leak-free)."""
    return len(set(groups)) < len(groups)
