"""Carving the validation set out of the training data without overlapping sites on both sides.

CLIP training sets hold many windows over the same locus: in 10 of the 21 RBP-31 experiments most bound sites
overlap another training site (97-100 % in the ELAVL1 sets), while their test sets share no locus with training.
A random validation split then scores the model on near-copies of what it trained on, so validation AUROC
overstates test AUROC (0.97 against 0.89) and early stopping, the kept epoch, the k-mer model's regularisation
and calibration are all chosen on leaked data. ``locus`` keeps every group of overlapping intervals (same
chromosome and strand) on one side; ``auto`` does that whenever every record's id carries coordinates (RBP-31,
RBP-24 and RBPsuite headers, ``bertrbp-prepare`` output) and falls back to the stratified random split otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.sequences import coordinates_in_id
from bertrbp.io.tokens import TokenizedDataset

VAL_SPLITS = ("auto", "locus", "random")


def locus_groups(ids: Sequence[str]) -> list[int] | None:
    """Group number of each record: connected runs of overlapping intervals on one chromosome and strand.

    None when some id carries no coordinates. Touching intervals (one ends where the next starts) are apart.
    """
    by_contig: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for row, record_id in enumerate(ids):
        coords = coordinates_in_id(str(record_id))
        if coords is None:
            return None
        by_contig[(coords.chrom, coords.strand)].append((coords.start, coords.end, row))
    groups = [0] * len(ids)
    group = -1
    for spans in by_contig.values():
        spans.sort()
        reach = None
        for start, end, row in spans:
            if reach is None or start >= reach:
                group += 1
                reach = end
            reach = max(reach, end)
            groups[row] = group
    return groups


def resolve_split(how: str, data: TokenizedDataset) -> tuple[str, list[int] | None]:
    """(the split used, its groups or None): ``auto`` becomes ``locus`` or ``random``; ``locus`` needs coordinates."""
    if how not in VAL_SPLITS:
        raise InputError(f"--val-split must be one of {', '.join(VAL_SPLITS)}, not '{how}'.")
    if how == "random":
        return "random", None
    groups = locus_groups(data.ids)
    if groups is not None:
        return "locus", groups
    if how == "auto":
        return "random", None
    missing = next(str(i) for i in data.ids if coordinates_in_id(str(i)) is None)
    raise InputError(
        f"--val-split locus needs genomic coordinates in every record id, but '{missing}' has none. Give ids "
        "such as chr1,+,69302,69402 (RBP-31), id;chr5,137088438,137088480,- (RBP-24) or chr1:14361-14462(+), "
        "or use --val-split random or --val FILE."
    )


def split_validation(
    data: TokenizedDataset, fraction: float, seed: int, how: str = "random"
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
    used, groups = resolve_split(how, data)
    rows = np.arange(len(data))
    if groups is None:
        from sklearn.model_selection import train_test_split

        train_idx, val_idx = train_test_split(rows, test_size=fraction, stratify=data.labels, random_state=seed)
    else:
        train_idx, val_idx = _grouped(rows, data.labels, np.asarray(groups), fraction, seed)
    train, val = data.subset(np.sort(train_idx)), data.subset(np.sort(val_idx))
    if used == "locus" and (len(np.unique(val.labels)) < 2 or len(np.unique(train.labels)) < 2):
        raise InputError(
            f"--val-split locus left one side of the {fraction:g} validation split without both classes: the "
            "overlapping sites form too few groups. Use --val-split random or --val FILE."
        )
    return train, val, used


def _grouped(rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    """(train rows, validation rows): whole groups on each side, class balance kept by StratifiedGroupKFold.

    The validation side is one fold of round(1 / fraction) folds (the complement for fractions above one half),
    so its size is the fraction rounded to a whole number of folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    small = min(fraction, 1 - fraction)
    folds = max(2, round(1 / small))
    if len(np.unique(groups)) < folds:
        raise InputError(
            f"--val-split locus needs at least {folds} groups of non-overlapping sites for a {fraction:g} "
            f"validation split; the training data has {len(np.unique(groups))}. Use --val-split random or --val FILE."
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rest, fold = next(splitter.split(rows, labels, groups))
    return (rest, fold) if fraction <= 0.5 else (fold, rest)
