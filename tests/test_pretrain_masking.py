"""DNABERT span masking: statistics, spans of k, 80/10/10, special tokens, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertrbp.pretrain.masking import IGNORE_INDEX, SpanMasker, start_probability
from bertrbp.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID, KmerTokenizer


def random_batch(k: int, n: int = 2000, seed: int = 0, lengths=(101,)) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), size=rng.choice(lengths))) for _ in range(n)]
    ids, _ = KmerTokenizer(k).encode_batch(seqs)
    return torch.from_numpy(ids)


def runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each maximal run of True."""
    padded = np.concatenate(([False], row, [False])).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return [(s, e - s) for s, e in zip(edges[::2], edges[1::2])]


@pytest.mark.parametrize("k", [3, 6])
def test_masked_fraction_is_about_mlm_probability(k):
    ids = random_batch(k)
    masker = SpanMasker(k, KmerTokenizer(k).vocab_size, 0.15)
    masked = masker.choose(ids, torch.Generator().manual_seed(1)).numpy()
    kmer = ids.numpy() >= 5
    # away from the ends every position can be covered by k span starts: expected exactly 15 %
    interior = kmer.copy()
    interior[:, : 1 + k - 1] = False
    interior[:, -(1 + k - 1) :] = False
    assert abs(masked[interior].mean() - 0.15) < 0.006
    assert 0.13 < masked[kmer].mean() < 0.155  # ends are covered by fewer spans
    assert start_probability(0.15, k) < 0.15 / k * 1.2


@pytest.mark.parametrize("k", [3, 4, 6])
def test_masked_positions_come_in_whole_spans_of_k(k):
    ids = random_batch(k, n=300, lengths=(40, 101, 150))
    masked = SpanMasker(k, KmerTokenizer(k).vocab_size).choose(ids, torch.Generator().manual_seed(2)).numpy()
    all_runs = [run for row in masked for run in runs(row)]
    assert all_runs
    assert min(length for _, length in all_runs) >= k
    # with 15 % masked, spans mostly stand alone: the commonest run is exactly k long
    lengths = np.array([length for _, length in all_runs])
    assert np.bincount(lengths).argmax() == k
    # a fully masked span hides a nucleotide: no masked run can be read off unmasked neighbours
    for row_ids, row in zip(ids.numpy()[:20], masked[:20]):
        for start, _length in runs(row):
            seen = {pos for pos in range(len(row)) if not row[pos] and row_ids[pos] >= 5}
            # token t covers nucleotides t-1 .. t+k-2 ([CLS] at 0), so nucleotide start+k-2 is covered
            # only by tokens start .. start+k-1: the span itself
            nucleotide = start + k - 2
            covering = {t for t in range(len(row)) if t - 1 <= nucleotide <= t + k - 2}
            assert not covering & seen


def test_special_tokens_are_never_masked_or_replaced():
    seqs = ["ACGTNACGTTGCA" * 3, "ACGTACGTAC", "NNNNACGTACGTTTT" * 2]
    tokenizer = KmerTokenizer(3)
    ids, _ = tokenizer.encode_batch(seqs)
    ids = torch.from_numpy(ids).repeat(300, 1)
    special = np.isin(ids.numpy(), [PAD_ID, UNK_ID, CLS_ID, SEP_ID])
    assert special.any()
    masker = SpanMasker(3, tokenizer.vocab_size, 0.4)
    out, labels = masker(ids, torch.Generator().manual_seed(3))
    assert (labels.numpy()[special] == IGNORE_INDEX).all()
    assert (out.numpy()[special] == ids.numpy()[special]).all()
    assert (labels.numpy() != IGNORE_INDEX).sum() > 1000  # ...while plenty of k-mers were masked


def test_80_10_10_rule():
    k = 3
    ids = random_batch(k, n=3000, seed=5)
    vocab = KmerTokenizer(k).vocab_size
    out, labels = SpanMasker(k, vocab)(ids, torch.Generator().manual_seed(4))
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(out[~chosen], ids[~chosen])
    replaced = out[chosen]
    original = ids[chosen]
    n = replaced.numel()
    as_mask = (replaced == MASK_ID).sum().item() / n
    kept = (replaced == original).sum().item() / n
    random_other = ((replaced != MASK_ID) & (replaced != original)).sum().item() / n
    assert abs(as_mask - 0.8) < 0.01
    # a random k-mer equals the original with probability 1/64
    assert abs(kept - (0.1 + 0.1 / 64)) < 0.01
    assert abs(random_other - 0.1 * 63 / 64) < 0.01
    assert (replaced[replaced != MASK_ID] >= 5).all()  # random replacements are k-mers, never special tokens


def test_deterministic_with_a_seed():
    ids = random_batch(3, n=50)
    masker = SpanMasker(3, 69)
    a = masker(ids, torch.Generator().manual_seed(7))
    b = masker(ids, torch.Generator().manual_seed(7))
    c = masker(ids, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    torch.manual_seed(9)
    d = masker(ids)
    torch.manual_seed(9)
    e = masker(ids)
    assert torch.equal(d[0], e[0])  # the global generator (checkpointed by the trainer) drives it by default


def test_every_batch_has_a_target_even_at_tiny_rates():
    ids = random_batch(3, n=1, lengths=(12,))
    for seed in range(20):
        _, labels = SpanMasker(3, 69, 0.01)(ids, torch.Generator().manual_seed(seed))
        assert (labels != IGNORE_INDEX).sum() >= 3


def test_bad_probability_is_an_input_error():
    from bertrbp.errors import InputError

    with pytest.raises(InputError, match="mlm-probability"):
        SpanMasker(3, 69, 1.5)
