"""Fold a fine-tuning run's sequences once, in parallel, before any structure-aware model trains.

Why: a structure-aware model folds what it reads (``bertrbp.structure_input``) and caches the folds per process.
With ``--jobs``, each ensemble member trains in a worker process of its own, so every member folded every
training and validation sequence again, and the tool folded the validation sequences once more to score the
ensemble; at about 10 ms a site on a loaded core, folding 30,000 RBP-31 sites cost each member as long as
training a CNN. Here the distinct sequences of the training (and --val) files, in the form a model reads them
back from its k-mer ids, are folded once on every CPU of the run's budget with the same ``bertrbp.fold`` code;
the table is installed in the tool's process for the run and handed to each structure-aware worker, and a model
looks a sequence up there before folding it. A sequence the table lacks (longer than a 512-position model takes,
or read back differently by a checkpoint of another k) is folded by the model as before, so the table only
saves time: the features are the same. If a folding process dies, the run goes on without the table.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.fold.engines import Fold, FoldOptions, fold_rna, import_engine, prepare_rna
from bertrbp.fold.parallel import ordered_map

log = logging.getLogger("bertrbp")
NT_PER_TASK = 25_000  # nucleotides per worker task: a few seconds of folding, so a stop is not kept waiting
# Sequences longer than a model of MAX_POSITIONS tokens takes are left to the model: every preset has 512, so the
# model refuses such a record when it reads it, and folding it first (cubic time) would only delay that error.
MAX_POSITIONS = 512

FoldTable = dict[FoldOptions, dict[str, Fold]]


def run_sequences(train: Sequence[Path], val: Path | None, fmt: str, k: int) -> list[str]:
    """The distinct RNA strings a k-mer model of this run folds: every training and validation sequence it can
    take, as ``structure_input`` reads it back from its k-mer ids (a nucleotide covered only by k-mers holding an
    ``N`` becomes ``N``), upper case, U for T."""
    from bertrbp.structure_input import sequence_from_kmer_ids
    from bertrbp.tokenizer import KmerTokenizer

    tokenizer = KmerTokenizer(k)
    limit = tokenizer.max_sequence_length(MAX_POSITIONS)
    distinct: dict[str, None] = {}
    for path in [*train, *([val] if val is not None else [])]:
        for seq in _sequences(Path(path), fmt):
            if not k <= len(seq) <= limit:
                continue
            if "N" in seq:
                seq = sequence_from_kmer_ids(tokenizer.kmer_ids(seq), k)
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


def _tasks(rnas: Sequence[str]) -> Iterator[list[str]]:
    """Consecutive runs of sequences of about ``NT_PER_TASK`` nucleotides (at least one sequence each)."""
    task: list[str] = []
    size = 0
    for rna in rnas:
        if task and size + len(rna) > NT_PER_TASK:
            yield task
            task, size = [], 0
        task.append(rna)
        size += len(rna)
    if task:
        yield task


def fold_table(rnas: Sequence[str], options: FoldOptions, workers: int) -> dict[str, Fold]:
    """``fold_rna`` of every sequence, on ``workers`` processes (in this one when ``workers`` <= 1)."""
    import_engine(options.engine)  # once here, inherited by the workers
    tasks = list(_tasks(rnas))
    folds: dict[str, Fold] = {}
    results = ordered_map(partial(_fold_task, options=options), tasks, workers, describe=_describe)
    for task, folded in zip(tasks, results):
        folds.update(zip(task, folded))
    return folds


def _fold_task(task: list[str], options: FoldOptions) -> list[Fold]:
    return [fold_rna(rna, options, f"sequence {rna[:20]}...") for rna in task]


def _describe(task: list[str]) -> str:
    return f"the sequences from {task[0][:20]}... ({len(task)} of them)"


@contextlib.contextmanager
def prefolded(
    train: Sequence[Path], val: Path | None, fmt: str, structure: str, k: int, workers: int
) -> Iterator[FoldTable]:
    """Fold the run's sequences for ``--structure structure`` and install them in this process while the block
    runs; the table it yields is what a member's worker installs (``structure_input.install_folds``). With
    ``--structure none`` nothing is folded and it yields None."""
    from bertrbp.structure_input import StructureSpec, install_folds, uninstall_folds

    if structure == "none":
        yield None
        return
    options = StructureSpec(structure).check().fold_options()
    started = time.perf_counter()
    rnas = run_sequences(train, val, fmt, k)
    try:
        table = {options: fold_table(rnas, options, workers)}
    except InputError as exc:  # a folding process died (a native crash, the out-of-memory killer)
        log.warning("structure: folding ahead stopped (%s); each model folds its own sequences instead", exc)
        table = {}
    else:
        log.info(
            "structure: folded the %d distinct training and validation sequences once, on %d process%s, in %.0f s",
            len(rnas),
            max(1, workers),
            "" if workers <= 1 else "es",
            time.perf_counter() - started,
        )
    install_folds(table)
    try:
        yield table
    finally:
        uninstall_folds(table)
