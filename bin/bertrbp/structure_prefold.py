"""Fold a fine-tuning run's sequences once, in parallel, before any structure-aware model trains.

Why: a structure-aware model folds what it reads (``bertrbp.structure_input``) and caches the folds per process.
With ``--jobs``, each ensemble member trains in a worker process of its own, so every member folded every
training and validation sequence again, and the tool a third time to score the ensemble on validation; at about
10 ms a site on a loaded core, folding 30,000 RBP-31 sites cost each member as long as training a CNN. Here the
distinct sequences of the training (and --val) files are folded once, on every CPU of the run's budget, with the
same ``bertrbp.fold`` code; the table is installed in the tool's process and handed to each worker, and a model
looks a sequence up there before folding it. A sequence the table lacks (e.g. one whose ``N`` changes how its
k-mers read back) is folded by the model as before, so the table only saves time: the features are the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path

from bertrbp.fold.engines import Fold, FoldOptions, fold_rna, import_engine, prepare_rna
from bertrbp.fold.parallel import chunked, ordered_map

log = logging.getLogger("bertrbp")
CHUNK_SIZE = 256  # sequences per task: large enough that a 101-nt fold (ms) outweighs the round trip
# Longer sequences are left to the model: every preset takes at most 512 positions, so such a record is refused
# when the model reads it, and folding it first (cubic time) would only delay that error.
MAX_LENGTH = 1024

FoldTable = dict[FoldOptions, dict[str, Fold]]


def run_sequences(train: Sequence[Path], val: Path | None, fmt: str) -> list[str]:
    """The distinct RNA strings a model of this run folds: every training and validation sequence up to
    ``MAX_LENGTH`` nt, as ``structure_input`` passes it to the folding code (upper case, U for T)."""
    distinct: dict[str, None] = {}
    for path in [*train, *([val] if val is not None else [])]:
        for seq in _sequences(Path(path), fmt):
            if len(seq) <= MAX_LENGTH:
                distinct.setdefault(prepare_rna(seq, str(path)))
    return list(distinct)


def _sequences(path: Path, fmt: str) -> Iterable[str]:
    """A sequence file's sequences, or those a tokens .npz spells (read back from its k-mer ids)."""
    if str(path).endswith(".npz"):
        from bertrbp.io.tokens import load_tokens
        from bertrbp.structure_input import sequence_from_kmer_ids

        data = load_tokens(path)
        for ids, mask in zip(data.input_ids, data.attention_mask):
            length = int(mask.sum())
            yield sequence_from_kmer_ids(ids[1 : length - 1], data.k)
        return
    from bertrbp.io.sequences import check_unique_ids, iter_records, require_labels

    for record in check_unique_ids(require_labels(iter_records(path, fmt))):  # the model's own checks, before folding
        yield record.seq


def fold_table(rnas: Sequence[str], options: FoldOptions, workers: int) -> dict[str, Fold]:
    """``fold_rna`` of every sequence, on ``workers`` processes (in this one when ``workers`` <= 1)."""
    import_engine(options.engine)  # once here, inherited by the workers
    fold = partial(_fold_chunk, options=options)
    folds: dict[str, Fold] = {}
    results = ordered_map(fold, chunked(rnas, CHUNK_SIZE), workers, describe=_describe)
    for chunk, folded in zip(chunked(rnas, CHUNK_SIZE), results):
        folds.update(zip(chunk, folded))
    return folds


def _fold_chunk(chunk: list[str], options: FoldOptions) -> list[Fold]:
    return [fold_rna(rna, options, f"sequence {rna[:20]}...") for rna in chunk]


def _describe(chunk: list[str]) -> str:
    return f"the sequences from {chunk[0][:20]}... ({len(chunk)} of them)"


def prefold_run(train: Sequence[Path], val: Path | None, fmt: str, structure: str, workers: int) -> FoldTable:
    """Fold the run's sequences for ``--structure structure`` and install the table in this process; the
    returned table is what a member's worker process installs (``structure_input.install_folds``)."""
    from bertrbp.structure_input import StructureSpec, install_folds

    options = StructureSpec(structure).check().fold_options()
    started = time.perf_counter()
    rnas = run_sequences(train, val, fmt)
    table = {options: fold_table(rnas, options, workers)}
    log.info(
        "structure: folded the %d distinct training and validation sequences once, on %d process%s, in %.0f s",
        len(rnas),
        max(1, workers),
        "" if workers <= 1 else "es",
        time.perf_counter() - started,
    )
    install_folds(table)
    return table
