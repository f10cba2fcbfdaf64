"""Write prepare's outputs: labelled FASTA, label TSVs and a BED of sites (callers make them atomic)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO

import numpy as np

from bertrbp.io.sequences import SequenceRecord


def write_fasta(handle: IO[str], records: Iterable[SequenceRecord], width: int = 0) -> int:
    """``>ID class:L`` headers (read back by every tool); sequence on one line unless ``width``."""
    count = 0
    for record in records:
        handle.write(f">{record.id} class:{record.label}\n")
        seq = record.seq
        if width:
            seq = "\n".join(seq[i : i + width] for i in range(0, len(seq), width))
        handle.write(seq + "\n")
        count += 1
    return count


def write_bed(handle: IO[str], records: Iterable[SequenceRecord]) -> int:
    """Sites with coordinates as BED6: name = record id, score = class."""
    count = 0
    for record in records:
        c = record.coords
        if c is not None:
            handle.write(f"{c.chrom}\t{c.start}\t{c.end}\t{record.id}\t{record.label}\t{c.strand}\n")
            count += 1
    return count


def write_sequence_labels(handle: IO[str], columns: Sequence[str], rows: Iterable[tuple[str, np.ndarray]]) -> None:
    """``id`` + one 0/1 column per property (a sequence carries a region when any nucleotide does)."""
    handle.write("id\t" + "\t".join(columns) + "\n")
    for record_id, matrix in rows:
        flags = matrix.max(axis=0) if len(matrix) else np.zeros(len(columns), dtype=np.uint8)
        handle.write(record_id + "\t" + "\t".join(str(int(v)) for v in flags) + "\n")


def write_string_labels(handle: IO[str], columns: Sequence[str], rows: Iterable[tuple[str, np.ndarray]]) -> None:
    """``id`` + one column per property; each cell a 0/1 string, one character per position."""
    handle.write("id\t" + "\t".join(columns) + "\n")
    for record_id, matrix in rows:
        cells = ["".join("1" if v else "0" for v in matrix[:, j]) for j in range(matrix.shape[1])]
        handle.write(record_id + "\t" + "\t".join(cells) + "\n")
