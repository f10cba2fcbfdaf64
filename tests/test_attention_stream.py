"""Streaming accumulators equal the all-at-once formulas; batch composition and padding change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from bertrbp.attention.accumulators import SequenceAccumulator, TokenAccumulator
from bertrbp.attention.formulas import (
    cls_attention,
    kmer_mask,
    sequence_relative_attention,
    token_attention,
    token_attention_ratio,
    token_relative_attention,
)

LAYERS, HEADS = 2, 3


def random_maps(rng, lengths, width):
    """Softmax attention of sequences with the given token lengths, padded to ``width`` (PAD rows garbage)."""
    att = np.zeros((len(lengths), LAYERS, HEADS, width, width))
    mask = np.zeros((len(lengths), width))
    for b, length in enumerate(lengths):
        logits = rng.normal(size=(LAYERS, HEADS, width, width)) * 2
        logits[..., length:] = -np.inf  # padding columns get no attention
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        att[b] = weights / weights.sum(-1, keepdims=True)
        mask[b, :length] = 1
    return att, mask


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(3)
    lengths = rng.integers(5, 13, size=23)  # tokens incl. [CLS] and [SEP]
    maps = [random_maps(rng, [length], length) for length in lengths]
    seq_labels = rng.integers(0, 2, size=(23, 2))
    token_labels = [rng.integers(0, 2, size=(3, length - 2)) for length in lengths]
    return lengths, maps, seq_labels, token_labels


def pad(maps, indices, width):
    att = np.zeros((len(indices), LAYERS, HEADS, width, width))
    mask = np.zeros((len(indices), width))
    for b, i in enumerate(indices):
        one, m = maps[i]
        length = one.shape[-1]
        att[b, ..., :length, :length] = one[0]
        att[b, ..., length:, :] = 1.0 / width  # garbage in padding rows
        mask[b, :length] = m[0]
    return att, mask


def stream(dataset, batch_sizes, extra_padding=0):
    lengths, maps, seq_labels, token_labels = dataset
    seq_acc = SequenceAccumulator(["p", "q"], LAYERS, HEADS)
    tok_acc = TokenAccumulator(["x", "y", "z"], LAYERS, HEADS)
    start = 0
    for size in batch_sizes:
        idx = list(range(start, min(start + size, len(lengths))))
        if not idx:
            break
        width = max(lengths[i] for i in idx) + extra_padding
        att, mask = pad(maps, idx, width)
        seq_acc.update(cls_attention(att, mask), seq_labels[idx])
        labels = np.zeros((len(idx), 3, width - 2))
        for b, i in enumerate(idx):
            labels[b, :, : lengths[i] - 2] = token_labels[i]
        tok_acc.update(token_attention(att, mask), labels, kmer_mask(mask))
        start += size
    assert seq_acc.n == len(lengths)
    return seq_acc, tok_acc


def all_at_once(dataset):
    lengths, maps, seq_labels, token_labels = dataset
    width = max(lengths)
    att, mask = pad(maps, range(len(lengths)), width)
    a = cls_attention(att, mask)
    r, valid = token_attention(att, mask), kmer_mask(mask)
    labels = np.zeros((len(lengths), 3, width - 2))
    for i, row in enumerate(token_labels):
        labels[i, :, : row.shape[1]] = row
    seq = np.stack([sequence_relative_attention(a, seq_labels[:, p]) for p in range(2)])
    ratio = np.stack([token_attention_ratio(r, labels[:, p], valid) for p in range(3)])
    relative = np.stack([token_relative_attention(r, labels[:, p], valid) for p in range(3)])
    return a, seq, ratio, relative


@pytest.mark.parametrize("batch_sizes,extra", [([23], 0), ([5] * 5, 0), ([1] * 23, 0), ([7, 2, 9, 5], 4)])
def test_streaming_equals_all_at_once(dataset, batch_sizes, extra):
    a, seq, ratio, relative = all_at_once(dataset)
    seq_acc, tok_acc = stream(dataset, batch_sizes, extra)
    np.testing.assert_allclose(seq_acc.relative(), seq, rtol=1e-12)
    np.testing.assert_allclose(seq_acc.values(), a, rtol=1e-6)
    np.testing.assert_allclose(tok_acc.ratio(), ratio, rtol=1e-12)
    np.testing.assert_allclose(tok_acc.relative(), relative, rtol=1e-12)
    lengths, _, _, token_labels = dataset
    expected_share = np.concatenate([t for t in token_labels], axis=1).mean(1)
    np.testing.assert_allclose(tok_acc.background(), expected_share)
    assert tok_acc.n == int(sum(lengths) - 2 * len(lengths))


def test_token_ratio_of_uniform_heads_is_background(dataset):
    """Sanity of the streamed ratio: rows uniform over real tokens give r = 1 on every token."""
    lengths, _, _, token_labels = dataset
    acc = TokenAccumulator(["x", "y", "z"], 1, 1)
    for length, row in zip(lengths, token_labels):
        att = np.full((1, 1, 1, length, length), 1.0 / length)
        mask = np.ones((1, length))
        acc.update(token_attention(att, mask), row[None], kmer_mask(mask))
    np.testing.assert_allclose(acc.ratio()[:, 0, 0], acc.background())
