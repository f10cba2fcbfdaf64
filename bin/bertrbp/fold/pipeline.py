"""Fold a stream of records in parallel and write the structure, token-label and unpaired-probability tables.

All work for a record (folding, element string, token labels) happens in the worker so the parent only reads
and writes; results are written in input order as they arrive, every file atomically.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bertrbp.errors import InputError
from bertrbp.fold.elements import ELEMENTS, element_string
from bertrbp.fold.engines import FoldOptions, fold_rna, import_engine, prepare_rna
from bertrbp.fold.parallel import chunked, ordered_map
from bertrbp.fold.tokens import token_labels
from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import SequenceRecord

if TYPE_CHECKING:
    import numpy as np

STRUCTURE_COLUMNS = ("id", "sequence", "structure", "elements")
ENERGY_COLUMN = "ensemble_free_energy"
CHUNK_SIZE = 32
_FOUR_DECIMALS = "{:.4f}".format  # on Python floats (tolist()): the text numpy scalars give, in less time


@dataclass
class FoldedRecord:
    """A record's id, the RNA that was folded, its MEA structure, element string and optional extras."""

    id: str
    sequence: str
    structure: str
    elements: str
    energy: float | None = None
    unpaired: np.ndarray | None = None
    tokens: dict[str, str] | None = None


@dataclass(frozen=True)
class Job:
    """One record as shipped to a worker: small and picklable."""

    id: str
    seq: str
    where: str


def fold_job(job: Job, options: FoldOptions, k: int | None) -> FoldedRecord:
    """Fold one record and label its nucleotides (and, when ``k`` is given, its k-mer tokens)."""
    rna = prepare_rna(job.seq, job.where)
    fold = fold_rna(rna, options, job.where)
    elements = element_string(fold.structure, job.where)
    tokens = token_labels(elements, k, job.where) if k else None
    return FoldedRecord(job.id, rna, fold.structure, elements, fold.energy, fold.unpaired, tokens)


def _job(record: SequenceRecord, max_length: int) -> Job:
    """The record as a job, refused here (in the parent, before any folding) when longer than ``max_length``."""
    where = f"{record.source}: record '{record.id}' (line {record.line})"
    if len(record.seq) > max_length:
        raise InputError(
            f"{where} has {len(record.seq):,} nt; folding is limited to {max_length:,} nt (memory grows with the "
            "square of the length). Cut it into windows, or raise the limit with --max-length."
        )
    return Job(record.id, record.seq, where)


def _fold_chunk(chunk: list[Job], options: FoldOptions, k: int | None) -> list[FoldedRecord]:
    return [fold_job(job, options, k) for job in chunk]


def _describe(chunk: list[Job]) -> str:
    return f"records {chunk[0].where} to {chunk[-1].id!r}" if len(chunk) > 1 else chunk[0].where


def fold_records(
    records: Iterable[SequenceRecord],
    options: FoldOptions = FoldOptions(),
    k: int | None = None,
    workers: int = 1,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[FoldedRecord]:
    """Fold ``records`` on ``workers`` processes, yielding results in input order as a stream."""
    options.check()
    if workers > 1:
        import_engine(options.engine)  # once here; forked workers inherit it
    jobs = (_job(r, options.max_length) for r in records)
    func = partial(_fold_chunk, options=options, k=k)
    for chunk in ordered_map(func, chunked(jobs, chunk_size), workers, describe=_describe):
        yield from chunk


def write_outputs(
    folded: Iterable[FoldedRecord],
    structures: Path,
    token_path: Path | None = None,
    unpaired_path: Path | None = None,
    energy: bool = False,
    progress: bool = True,
) -> int:
    """Write the tables; none of them appears unless every record was written. Returns the record count."""
    count = 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(atomic_open(structures, "w", encoding="utf-8"))
        out.write("\t".join(STRUCTURE_COLUMNS + ((ENERGY_COLUMN,) if energy else ())) + "\n")
        tok = unp = None
        if token_path is not None:
            tok = stack.enter_context(atomic_open(token_path, "w", encoding="utf-8"))
            tok.write("\t".join(("id",) + tuple(ELEMENTS)) + "\n")
        if unpaired_path is not None:
            unp = stack.enter_context(atomic_open(unpaired_path, "w", encoding="utf-8"))
            unp.write("id\tunpaired\n")
        bar = stack.enter_context(_progress_bar(progress and sys.stderr.isatty()))
        for record in folded:
            row = [record.id, record.sequence, record.structure, record.elements]
            if energy:
                row.append(f"{record.energy:.4f}")
            out.write("\t".join(row) + "\n")
            if tok is not None:
                tok.write("\t".join([record.id] + [record.tokens[letter] for letter in ELEMENTS]) + "\n")
            if unp is not None:
                unp.write(f"{record.id}\t" + ",".join(map(_FOUR_DECIMALS, record.unpaired.tolist())) + "\n")
            count += 1
            bar.update()
    return count


class _NoBar:
    """Stands in for a disabled tqdm bar, so a run without a terminal does not pay for importing tqdm."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def _progress_bar(show: bool):
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(desc="folding", unit="seq", file=sys.stderr)
