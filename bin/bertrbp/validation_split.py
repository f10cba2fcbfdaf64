"""Carving the validation set out of the training data without overlapping sites on both sides.

CLIP training sets hold many windows over the same locus: in 6 of the 21 RBP-31 experiments most bound sites
overlap another training site (97-100 % in the two ELAVL1 sets), while their test sets share almost no locus with
training. A random validation split then scores the model on near-copies of what it trained on, so validation
AUROC overstates test AUROC (0.97 against 0.89) and early stopping, the kept epoch, the k-mer model's
regularisation and calibration are all chosen on leaked data. ``locus`` keeps every chain of overlapping windows
(same chromosome and strand) on one side; ``auto`` does that whenever every record's id carries coordinates
(RBP-31, RBP-24 and RBPsuite headers, ``bertrbp-prepare`` output) and some windows overlap, and otherwise keeps
the stratified random split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertrbp import loci
from bertrbp.errors import InputError
from bertrbp.io.sequences import coordinates_in_id
from bertrbp.io.tokens import TokenizedDataset

VAL_SPLITS = ("auto", "locus", "random")

log = logging.getLogger("bertrbp")


@dataclass(frozen=True)
class ValidationSource:
    """Where a run's validation sequences came from: ``text`` for the card, ``split`` the split used (``locus``,
    ``random``, or None for a --val file or no validation set)."""

    text: str
    split: str | None = None


def locus_groups(ids: Sequence[str], lengths: Sequence[int] | None = None) -> list[int] | None:
    """``bertrbp.loci.locus_groups`` of the coordinates the record ids name; None when some id names none."""
    return loci.locus_groups([coordinates_in_id(str(record_id)) for record_id in ids], lengths)


def sequence_lengths(data: TokenizedDataset) -> np.ndarray:
    """Nucleotides of each tokenized sequence: its k-mers ([CLS] and [SEP] aside) plus k - 1."""
    return data.attention_mask.sum(axis=1).astype(np.int64) - 2 + data.k - 1


def resolve_split(how: str, data: TokenizedDataset, where: str = "the training data") -> tuple[str, list[int] | None]:
    """(the split used, its groups or None): ``auto`` becomes ``locus`` or ``random``; ``locus`` needs coordinates."""
    if how not in VAL_SPLITS:
        raise InputError(f"--val-split must be one of {', '.join(VAL_SPLITS)}, not '{how}'.")
    if how == "random":
        return "random", None
    groups = locus_groups(data.ids, sequence_lengths(data))
    if groups is None:
        if how == "locus":
            check_locus_ids(data.ids, where)  # raises, naming the first id without coordinates
        if any(coordinates_in_id(str(i)) is not None for i in data.ids):
            log.warning("--val-split auto: only some record ids in %s carry coordinates; using a random split", where)
        return "random", None
    if how == "auto" and not loci.any_overlap(groups):
        return "random", None  # no window overlaps another: the random split is already leak-free
    return "locus", groups


def missing_coordinates(record_id: str, where: str) -> InputError:
    return InputError(
        f"--val-split locus needs genomic coordinates in every record id, but '{record_id}' in {where} has none. "
        "Give ids such as chr1,+,69302,69402 (RBP-31), id;chr5,137088438,137088480,- (RBP-24) or "
        "chr1:14361-14462(+), or use --val-split random or --val FILE."
    )


def check_locus_ids(ids: Iterable[str], where: str) -> None:
    """Refuse ids without coordinates before any slow work (folding) when --val-split locus is asked for."""
    for record_id in ids:
        if coordinates_in_id(str(record_id)) is None:
            raise missing_coordinates(str(record_id), where)


def ids_in(paths: Sequence[Path], fmt: str) -> Iterable[str]:
    """The record ids of training files (sequence files or one tokens .npz), read without tokenizing."""
    from bertrbp.io.sequences import iter_many
    from bertrbp.io.tokens import load_tokens

    for path in paths:
        if str(path).endswith(".npz"):
            yield from (str(i) for i in load_tokens(path).ids)
        else:
            yield from (record.id for record in iter_many([path], fmt))


def split_validation(
    data: TokenizedDataset, fraction: float, seed: int, how: str = "random", where: str = "the training data"
) -> tuple[TokenizedDataset, TokenizedDataset, str]:
    """Seeded split of the training data into (train, validation, the split used), stratified by label."""
    if not 0 < fraction < 1:
        raise InputError(f"--val-fraction must be between 0 and 1, not {fraction}.")
    counts = np.bincount(data.labels.astype(np.int64), minlength=2)
    if (counts * fraction < 1).any() or (counts * (1 - fraction) < 1).any():
        raise InputError(
            f"cannot carve a validation split of {fraction:g} with {counts[0]} unbound and {counts[1]} bound "
            "sequences: each class needs at least one sequence on both sides. Give more data or --val FILE."
        )
    used, groups = resolve_split(how, data, where)
    rows = np.arange(len(data))
    if groups is not None:
        grouped = _grouped_cached(data.labels, np.asarray(groups), fraction, seed)
        if isinstance(grouped, str):
            if how == "locus":
                raise InputError(f"--val-split locus: {grouped} in {where}. Use --val-split random or --val FILE.")
            log.warning("--val-split auto: %s in %s; using a random split instead.", grouped, where)
            used, groups = "random", None
        else:
            train_idx, val_idx = grouped
    if groups is None:
        from sklearn.model_selection import train_test_split

        train_idx, val_idx = train_test_split(rows, test_size=fraction, stratify=data.labels, random_state=seed)
    train, val = data.subset(np.sort(train_idx)), data.subset(np.sort(val_idx))
    if used == "locus":
        log.info(
            "validation split by locus: %d of %d sequences (%.3f; --val-fraction %g), %d groups of overlapping sites",
            len(val),
            len(data),
            len(val) / len(data),
            fraction,
            len(set(groups)),
        )
    return train, val, used


def fold_count(fraction: float) -> int:
    """Folds n whose one fold (1/n) comes closest to ``fraction``, or to its complement above one half."""
    small = min(fraction, 1 - fraction)
    below = max(2, int(1 / small))
    return min((below, below + 1), key=lambda n: abs(1 / n - small))


# One split per process and data: every member of an ensemble trained here, and the ensemble's own scoring, carve
# the same split from the same records (about 1 s on 30,000 RBP-31 sites, bertrbp.group_folds).
_GROUPED_SPLITS: dict[str, tuple[np.ndarray, np.ndarray] | str] = {}


def _grouped_cached(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    """``_grouped``, computed once per process for the same labels, groups, fraction and seed."""
    import hashlib

    digest = hashlib.sha256()
    for array in (np.asarray(labels, dtype=np.int64), np.asarray(groups, dtype=np.int64)):
        digest.update(array.tobytes())
    key = f"{digest.hexdigest()}:{fraction!r}:{seed}"
    if key not in _GROUPED_SPLITS:
        _GROUPED_SPLITS.clear()  # one data set at a time: keep memory flat over many runs in one process
        _GROUPED_SPLITS[key] = _grouped(labels, groups, fraction, seed)
    return _GROUPED_SPLITS[key]


def _grouped(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    """(train rows, validation rows): whole groups on each side, class balance kept as scikit-learn's
    StratifiedGroupKFold keeps it (``bertrbp.group_folds``, the same rows, faster);
    or, when whole groups cannot give both sides both classes, the reason (the caller refuses or falls back).

    The validation side is one of ``fold_count(fraction)`` folds (the other folds together for fractions above
    one half), so its share is the fraction rounded to 1/n.
    """
    from bertrbp.group_folds import first_group_fold

    folds = fold_count(fraction)
    distinct = len(np.unique(groups))
    if distinct < folds:
        return (
            f"a {fraction:g} validation split needs at least {folds} groups of non-overlapping sites, "
            f"but there are {distinct}"
        )
    fold = first_group_fold(labels, groups, folds, seed)
    rest = np.setdiff1d(np.arange(len(labels)), fold, assume_unique=True)
    train, val = (rest, fold) if fraction <= 0.5 else (fold, rest)
    if len(np.unique(labels[val])) < 2 or len(np.unique(labels[train])) < 2:
        return (
            f"the overlapping sites form too few groups to give both sides of a {fraction:g} validation split "
            "both classes"
        )
    return train, val
