"""The first fold of scikit-learn's shuffled ``StratifiedGroupKFold``, the same rows about 10x faster.

Why: the validation split by locus (``bertrbp.validation_split``) runs it on every fine-tuning of a CLIP set with
overlapping windows, in every ensemble member's worker. scikit-learn scores each candidate fold of each group in
Python; here the candidates of one group are scored in one array operation (RBP-31 AGO1234, 30,000 sites in 28,280
loci: 1.3 s against 15.8 s, ``bench/group_folds_speed.py``). The greedy order, the arithmetic and the tie-breaks
are scikit-learn's (1.x), so a split made before this module existed is made again row for row;
``tests/test_group_folds.py`` holds that to scikit-learn.
"""

from __future__ import annotations

import numpy as np


def first_group_fold(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Rows of the first of ``folds`` folds: whole groups, class shares balanced greedily, groups shuffled by
    ``seed`` first (``StratifiedGroupKFold(folds, shuffle=True, random_state=seed)``, its first test fold)."""
    _, label_of, class_sizes = np.unique(np.ravel(labels), return_inverse=True, return_counts=True)
    _, group_of = np.unique(np.ravel(groups), return_inverse=True)
    n_groups = int(group_of.max()) + 1
    counts = np.zeros((n_groups, len(class_sizes)))
    np.add.at(counts, (group_of, label_of), 1)
    order = np.arange(n_groups)
    np.random.RandomState(seed).shuffle(order)  # what check_random_state(seed) then rng.shuffle does
    counts = counts[order]  # shuffled group i is original group order[i]
    placed = np.empty(n_groups, dtype=np.int64)
    per_fold = np.zeros((folds, len(class_sizes)))
    candidates = np.arange(folds)
    for group in np.argsort(-np.std(counts, axis=1), kind="stable"):
        trial = np.repeat(per_fold[None], folds, axis=0)  # trial[i]: per_fold with this group in fold i
        trial[candidates, candidates] += counts[group]
        spread = np.std(trial / class_sizes.reshape(1, 1, -1), axis=1).mean(axis=1)
        best = _best_fold(spread, per_fold.sum(axis=1))
        per_fold[best] += counts[group]
        placed[order[group]] = best
    return np.flatnonzero(placed[group_of] == 0)


def _best_fold(spread: np.ndarray, sizes: np.ndarray) -> int:
    """scikit-learn's scan: a fold wins on a lower spread, or on a spread ``np.isclose`` to the best so far (its
    default tolerances, written out in plain floats for speed) and fewer sites; ties keep the earlier fold."""
    spreads, counts = spread.tolist(), sizes.tolist()
    best = 0
    for fold in range(1, len(spreads)):
        close = abs(spreads[fold] - spreads[best]) <= 1e-8 + 1e-5 * abs(spreads[best])
        if spreads[fold] < spreads[best] or (close and counts[fold] < counts[best]):
            best = fold
    return best
