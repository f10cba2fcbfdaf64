"""bertrbp.group_folds: the validation split by locus is scikit-learn's StratifiedGroupKFold fold, row for row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from bertrbp.group_folds import first_group_fold
from bertrbp.io.sequences import iter_records
from bertrbp.validation_split import locus_groups


def _sklearn_first_fold(labels, groups, folds: int, seed: int) -> np.ndarray:
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return next(splitter.split(np.zeros(len(labels)), labels, groups))[1]


@pytest.mark.parametrize("case", range(24))
def test_same_rows_as_scikit_learn_on_random_groupings(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(30, 800))
    groups = rng.integers(0, max(12, n // int(rng.integers(1, 6))), n)  # groups of 1 to about 5 sites
    labels = (rng.random(n) < (0.5 if case % 2 else 0.15)).astype(int)  # balanced, or 1 bound in 6 as in CLIP sets
    folds, seed = int(rng.integers(2, 11)), int(rng.integers(0, 10_000))
    np.testing.assert_array_equal(
        first_group_fold(labels, groups, folds, seed), _sklearn_first_fold(labels, groups, folds, seed)
    )


def test_same_rows_as_scikit_learn_on_real_loci(shared_data):
    """RBP-31 ELAVL1A's 30,000 training windows (bound windows chain into loci of up to 715), seed 42 as finetune's."""
    records = list(iter_records(shared_data / "rbp31" / "10_PARCLIP_ELAVL1A_hg19" / "train.fa.gz"))
    labels = np.array([record.label for record in records])
    groups = np.asarray(locus_groups([record.id for record in records], [len(record.seq) for record in records]))
    assert np.bincount(groups).max() > 100  # overlapping windows do chain here
    fold = first_group_fold(labels, groups, 10, 42)
    np.testing.assert_array_equal(fold, _sklearn_first_fold(labels, groups, 10, 42))
    assert not set(groups[fold]) & set(np.delete(groups, fold))  # whole loci on one side
