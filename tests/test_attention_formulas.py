"""The attention formulas against values computed by hand on small synthetic attention maps."""

from __future__ import annotations

import numpy as np
import pytest

from bertrbp.attention.formulas import (
    background_share,
    binned_probability,
    cls_attention,
    coefficient_of_variation,
    head_name,
    kmer_mask,
    most_specialized_head,
    pattern_similarity,
    sequence_relative_attention,
    token_attention,
    token_attention_ratio,
    token_relative_attention,
)

# One sequence: [CLS] t0 t1 [SEP]; rows attend, columns are attended; each row sums to 1.
HAND = np.array(
    [
        [0.1, 0.2, 0.3, 0.4],  # CLS
        [0.5, 0.5, 0.0, 0.0],  # t0
        [0.0, 0.25, 0.75, 0.0],  # t1
        [0.2, 0.2, 0.2, 0.4],  # SEP
    ]
)


def cls_head(length: int) -> np.ndarray:
    """Every row attends only to [CLS]."""
    att = np.zeros((length, length))
    att[:, 0] = 1.0
    return att


def one_seq(*heads: np.ndarray) -> np.ndarray:
    """Stack heads of one sequence into [1, layers=1, heads, L, L]."""
    return np.stack(heads)[None, None]


def test_head_names_are_one_based():
    assert head_name(0, 0) == "1-1"
    assert head_name(11, 3) == "12-4"


def test_cls_attention_by_hand():
    att = one_seq(HAND, cls_head(4))
    mask = np.ones((1, 4))
    a = cls_attention(att, mask)
    # 0.1 (CLS row) + 0.5 + 0.0 + 0.2 (SEP row); the CLS-only head gets one per row: 4.
    np.testing.assert_allclose(a, [[[0.8, 4.0]]])


def test_token_attention_by_hand_excludes_cls_and_sep_columns():
    r = token_attention(one_seq(HAND), np.ones((1, 4)))
    # column t0: 0.2 + 0.5 + 0.25 + 0.2 ; column t1: 0.3 + 0 + 0.75 + 0.2 (CLS and SEP rows included)
    np.testing.assert_allclose(r, [[[[1.15, 1.25]]]])


def test_padding_rows_and_columns_are_ignored():
    padded = np.zeros((6, 6))
    padded[:4, :4] = HAND
    padded[4:, :] = 1 / 6  # padding rows hold garbage that must not count
    mask = np.array([[1, 1, 1, 1, 0, 0]])
    att = one_seq(padded)
    np.testing.assert_allclose(cls_attention(att, mask), [[[0.8]]])
    r = token_attention(att, mask)
    valid = kmer_mask(mask)
    assert valid.tolist() == [[1, 1, 0, 0]]  # t0, t1 real; the [SEP] column and padding are not k-mers
    np.testing.assert_allclose(r[0, 0, 0], [1.15, 1.25, 0.0, 0.0])


def test_relative_attention_of_cls_only_head_is_expected_value():
    # With the property: a head that attends only to [CLS] (a = L = 5); without: half its attention (a = 2.5).
    length = 5
    half = np.full((length, length), 0.5 / (length - 1))
    half[:, 0] = 0.5
    att = np.concatenate([one_seq(cls_head(length)), one_seq(cls_head(length)), one_seq(half)])
    a = cls_attention(att, np.ones((3, length)))
    np.testing.assert_allclose(a[:, 0, 0], [5.0, 5.0, 2.5])
    s = sequence_relative_attention(a, np.array([1, 1, 0]))
    np.testing.assert_allclose(s, [[2.0]])


def test_relative_attention_undefined_without_negatives():
    s = sequence_relative_attention(np.ones((3, 1, 1)), np.array([1, 1, 1]))
    assert np.isnan(s).all()


def test_ratio_of_head_attending_only_to_property_tokens_is_one():
    # [CLS] t0 t1 t2 [SEP]; the property is on t1 only; every row attends only to t1.
    att = np.zeros((5, 5))
    att[:, 2] = 1.0
    uniform = np.full((5, 5), 0.2)
    r = token_attention(one_seq(att, uniform), np.ones((1, 5)))
    has = np.array([[0, 1, 0]])
    valid = np.ones((1, 3))
    ratio = token_attention_ratio(r, has, valid)
    np.testing.assert_allclose(ratio[0], [1.0, 1 / 3])
    # The uniform head's ratio equals the background share of tokens with the property.
    assert background_share(has, valid) == pytest.approx(1 / 3)
    relative = token_relative_attention(r, has, valid)
    assert relative[0, 1] == pytest.approx(1.0)
    assert np.isinf(relative[0, 0])  # no attention at all on tokens without the property


def test_token_relative_by_hand():
    r = token_attention(one_seq(HAND), np.ones((1, 4)))
    has, valid = np.array([[0, 1]]), np.ones((1, 2))
    assert token_attention_ratio(r, has, valid)[0, 0] == pytest.approx(1.25 / 2.4)
    assert token_relative_attention(r, has, valid)[0, 0] == pytest.approx(1.25 / 1.15)


def test_coefficient_of_variation_and_most_specialized_head():
    matrix = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert coefficient_of_variation(matrix) == pytest.approx(np.sqrt(1.25) / 2.5)
    assert most_specialized_head(matrix) == (1, 1)
    assert most_specialized_head(np.array([[np.nan, 0.5], [7.0, np.nan]])) == (1, 0)
    assert most_specialized_head(np.full((2, 2), np.nan)) is None
    assert np.isnan(coefficient_of_variation(np.array([[np.nan, 1.0]])))


def test_pattern_similarity():
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    assert pattern_similarity(a, 2 * a + 1)[0] == pytest.approx(1.0)
    assert pattern_similarity(a, -a)[0] == pytest.approx(-1.0)
    assert np.isnan(pattern_similarity(a, np.ones_like(a))[0])


def test_binned_probability_by_hand():
    values = np.array([0.1, 0.2, 0.6, 0.9, 1.0])
    has = np.array([0, 1, 1, 1, 0])
    res = binned_probability(values, has, np.random.default_rng(0), n_bins=2, percentile=100, n_splits=1)
    np.testing.assert_allclose(res.edges, [0, 0.5, 1.0])
    assert res.counts.tolist() == [2, 3]
    assert res.positives.tolist() == [1, 2]
    np.testing.assert_allclose(res.mean, [0.5, 2 / 3])
    np.testing.assert_allclose(res.std, [0, 0])


def test_binned_probability_drops_values_above_percentile_and_ranks():
    values = np.concatenate([np.linspace(0.01, 1.0, 100), [50.0]])
    has = np.concatenate([np.linspace(0.01, 1.0, 100) > 0.5, [False]])
    res = binned_probability(values, has, np.random.default_rng(1), n_bins=4, percentile=99.0, n_splits=1)
    assert res.threshold < 50.0
    assert res.n_items == 100
    assert res.counts.sum() == 100
    np.testing.assert_allclose(res.mean, [0, 0, 1, 1])
    assert res.rho > 0.8  # probability rises with attention


def test_binned_probability_random_subsets():
    rng = np.random.default_rng(5)
    values = rng.random(3000)
    has = rng.random(3000) < values  # P(property) = attention
    first = binned_probability(values, has, np.random.default_rng(7), n_bins=15, percentile=99.5, n_splits=3)
    again = binned_probability(values, has, np.random.default_rng(7), n_bins=15, percentile=99.5, n_splits=3)
    np.testing.assert_array_equal(first.split_probability, again.split_probability)
    assert first.split_probability.shape == (3, 15)
    np.testing.assert_allclose(first.mean, first.split_probability.mean(0))
    np.testing.assert_allclose(first.std, first.split_probability.std(0))
    assert first.counts.sum() == first.n_items == int((values <= np.percentile(values, 99.5)).sum())
    assert (first.std > 0).all()
    assert first.rho > 0.9
