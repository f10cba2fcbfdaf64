"""Genomic intervals of records in one convention: 0-based half-open, as BED.

Header coordinates come in several conventions: RBP-24 and BED are 0-based half-open (end - start = length),
and so are RBPsuite headers (``chr1:14361-14462(+)``, the names bedtools getfasta -s writes, used by the
BERT-RBP paper's data); RBP-31 writes closed intervals (end - start + 1 = length, read as 1-based like GFF
unless told otherwise). ``auto`` tells them apart by the sequence length and drops coordinates that fit neither.
"""

from __future__ import annotations

from bertrbp.io.sequences import Coordinates, SequenceRecord

CONVENTIONS = ("auto", "bed", "one-based", "zero-based-closed")


def to_bed(coords: Coordinates, seq_len: int, convention: str = "auto", known: str = "") -> Coordinates | None:
    """The record's interval as 0-based half-open, or None when the header does not describe the sequence."""
    convention = known or convention
    span = coords.end - coords.start
    if convention == "auto":
        if span == seq_len:
            convention = "bed"
        elif span + 1 == seq_len:
            convention = "one-based"
        else:
            return None
    if convention == "bed":
        result = Coordinates(coords.chrom, coords.start, coords.end, coords.strand)
    elif convention == "one-based":
        result = Coordinates(coords.chrom, coords.start - 1, coords.end, coords.strand)
    else:  # zero-based-closed
        result = Coordinates(coords.chrom, coords.start, coords.end + 1, coords.strand)
    if result.end - result.start != seq_len or result.start < 0:
        return None
    return result


def normalise_coords(records: list[SequenceRecord], convention: str = "auto") -> int:
    """Rewrite each record's coords to 0-based half-open in place; returns how many lost them (mismatch)."""
    lost = 0
    for record in records:
        if record.coords is None:
            continue
        fixed = to_bed(record.coords, len(record.seq), convention, record.extra.get("coords_base", ""))
        if fixed is None:
            lost += 1
        record.coords = fixed
        record.extra["coords_base"] = "bed"
    return lost
