"""The paper's attention statistics as pure functions on arrays, so each can be checked on hand-made maps.

Conventions (BERT-RBP's code, after Vig et al.'s "BERTology meets biology"): an attention batch has shape
``[B, layers, heads, L, L]``, rows ``i`` are the attending tokens, columns ``j`` the attended ones, and every
valid row sums to 1. ``mask`` is ``[B, L]`` with 1 on real tokens ([CLS], k-mers, [SEP]) and 0 on padding.

- Sequence level: ``a_m = sum_i A[i, CLS]`` over every real row, [CLS] and [SEP] rows included (padding rows
  excluded: they are not part of the sequence).
- Token level: ``r_m(j) = sum_i A[i, j]`` over every real row, [CLS] and [SEP] rows included as in BERT-RBP's
  ``analyze_rnastructure``; the attended tokens ``j`` are the k-mers only ([CLS], [SEP] and padding columns
  dropped), so ``r`` lines up with the per-k-mer token labels.

The reductions use only indexing, ``*`` and ``.sum(axis)``, so the same code runs on numpy arrays (tests) and
torch tensors (on the model's device, before anything is copied to the host).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def head_name(layer: int, head: int) -> str:
    """0-based indices to the paper's 1-based ``layer-head`` name (``0, 3`` -> ``1-4``)."""
    return f"{layer + 1}-{head + 1}"


# --------------------------------------------------------------------------- reductions of attention maps
def cls_attention(att, mask):
    """a_m per sequence and head: ``[B, Ly, H, L, L]`` and ``[B, L]`` -> ``[B, Ly, H]``."""
    rows = mask[:, None, None, :]
    return (att[..., 0] * rows).sum(-1)


def token_attention(att, mask):
    """r_m(j) per sequence, head and k-mer token: ``[B, Ly, H, L, L]`` -> ``[B, Ly, H, L - 2]``.

    Position ``t`` of the result is k-mer ``t`` (attention column ``t + 1``); columns past a sequence's last
    k-mer ([SEP], padding) are zero. ``kmer_mask(mask)`` tells which positions are real.
    """
    rows = mask[:, None, None, :, None]
    r = (att * rows).sum(-2)[..., 1:-1]
    return r * kmer_mask(mask)[:, None, None, :]


def kmer_mask(mask):
    """``[B, L]`` token mask -> ``[B, L - 2]``: 1 where position ``t`` is a k-mer (column ``t + 1`` is real and
    not the final [SEP])."""
    return mask[:, 2:]


# --------------------------------------------------------------------------- the paper's equations
def ratio_of_means(sum_with, n_with, sum_without, n_without) -> np.ndarray:
    """(sum_with / n_with) / (sum_without / n_without); NaN where a group is empty or the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if n_with == 0 or n_without == 0:
            return np.full(np.shape(sum_with), np.nan)
        return (np.asarray(sum_with) / n_with) / (np.asarray(sum_without) / n_without)


def sequence_relative_attention(a: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Equation 1: mean a_m over sequences with the property / mean over those without. ``a`` is ``[N, ...]``."""
    has = np.asarray(has, dtype=bool)
    a = np.asarray(a, dtype=np.float64)
    return ratio_of_means(a[has].sum(0), int(has.sum()), a[~has].sum(0), int((~has).sum()))


def token_attention_ratio(r: np.ndarray, has: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Equation 2: sum of r over tokens with the property / sum of r over all tokens.

    ``r`` is ``[N, Ly, H, T]``, ``has`` and ``valid`` are ``[N, T]``.
    """
    r = np.asarray(r, dtype=np.float64) * np.asarray(valid, dtype=bool)[:, None, None, :]
    has = np.asarray(has, dtype=bool) & np.asarray(valid, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (r * has[:, None, None, :]).sum((0, 3)) / r.sum((0, 3))


def token_relative_attention(r: np.ndarray, has: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean r over tokens with the property / mean r over tokens without it (the relative form)."""
    valid = np.asarray(valid, dtype=bool)
    has = np.asarray(has, dtype=bool) & valid
    without = valid & ~has
    r = np.asarray(r, dtype=np.float64)
    return ratio_of_means(
        (r * has[:, None, None, :]).sum((0, 3)),
        int(has.sum()),
        (r * without[:, None, None, :]).sum((0, 3)),
        int(without.sum()),
    )


def background_share(has: np.ndarray, valid: np.ndarray) -> float:
    """Share of tokens carrying the property: what Equation 2 gives for a head that ignores the property."""
    valid = np.asarray(valid, dtype=bool)
    n = int(valid.sum())
    return float((np.asarray(has, dtype=bool) & valid).sum() / n) if n else float("nan")


# --------------------------------------------------------------------------- specialization and similarity
def coefficient_of_variation(matrix: np.ndarray) -> float:
    """Degree of specialization: population standard deviation / mean over all heads (NaN if undefined)."""
    values = np.asarray(matrix, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)) or values.mean() == 0:
        return float("nan")
    return float(values.std() / values.mean())


def most_specialized_head(matrix: np.ndarray) -> tuple[int, int] | None:
    """(layer, head), 0-based, of the largest value; None when the matrix holds no finite value."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if not np.isfinite(matrix).any():
        return None
    flat = np.where(np.isfinite(matrix), matrix, -np.inf).argmax()
    layer, head = np.unravel_index(flat, matrix.shape)
    return int(layer), int(head)


def pattern_similarity(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Pearson's r (and p) between two models' layer x head patterns, over heads finite in both."""
    from scipy.stats import pearsonr

    a = np.asarray(first, dtype=np.float64).ravel()
    b = np.asarray(second, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"patterns differ in shape: {np.shape(first)} vs {np.shape(second)}")
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan"), float("nan")
    result = pearsonr(a[ok], b[ok])
    return float(result[0]), float(result[1])


# --------------------------------------------------------------------------- binned probability
@dataclass
class BinnedProbability:
    """Probability of the property per attention bin, over random subsets, and its rank correlation."""

    threshold: float
    edges: np.ndarray  # [bins + 1], from 0 to the percentile threshold
    counts: np.ndarray  # [bins] items per bin (all subsets)
    positives: np.ndarray  # [bins] items with the property per bin
    split_probability: np.ndarray  # [splits, bins], NaN where a subset has no item in a bin
    mean: np.ndarray  # [bins] mean over subsets
    std: np.ndarray  # [bins] population standard deviation over subsets
    rho: float
    p_value: float
    n_items: int  # items within the threshold

    @property
    def midpoints(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


def binned_probability(
    values: np.ndarray,
    has: np.ndarray,
    rng: np.random.Generator,
    n_bins: int = 15,
    percentile: float = 99.5,
    n_splits: int = 3,
) -> BinnedProbability:
    """BERT-RBP's binned analysis of one head.

    Items (sequences or tokens) whose attention is at most the ``percentile``-th percentile are kept; the range
    from 0 to that threshold is cut into ``n_bins`` equal bins (right-closed, 0 falls in the first bin). Each item
    is put at random into one of ``n_splits`` subsets; per subset and bin the probability is the share of items
    with the property; we report mean and standard deviation over subsets. Spearman's rho relates the bins'
    attention (midpoints) to the mean probability, over bins holding items.
    """
    from scipy.stats import spearmanr

    values = np.asarray(values, dtype=np.float64).ravel()
    has = np.asarray(has, dtype=bool).ravel()
    if values.shape != has.shape:
        raise ValueError("values and property flags differ in length")
    splits = rng.integers(0, n_splits, values.size)
    if values.size == 0:
        threshold = float("nan")
        edges = np.full(n_bins + 1, np.nan)
        keep = np.zeros(0, dtype=bool)
        bins = np.zeros(0, dtype=np.int64)
    else:
        threshold = float(np.percentile(values, percentile))
        edges = np.linspace(0.0, threshold, n_bins + 1)
        keep = values <= threshold
        bins = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, n_bins - 1)
    bins, flags, splits = bins[keep], has[keep], splits[keep]
    cell = splits * n_bins + bins
    split_counts = np.bincount(cell, minlength=n_splits * n_bins).reshape(n_splits, n_bins)
    split_pos = np.bincount(cell, weights=flags, minlength=n_splits * n_bins).reshape(n_splits, n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        split_probability = np.where(split_counts > 0, split_pos / np.maximum(split_counts, 1), np.nan)
    filled = np.isfinite(split_probability).any(0)
    mean = np.full(n_bins, np.nan)
    std = np.full(n_bins, np.nan)
    mean[filled] = np.nanmean(split_probability[:, filled], axis=0)
    std[filled] = np.nanstd(split_probability[:, filled], axis=0)
    midpoints = (edges[:-1] + edges[1:]) / 2
    rho = p_value = float("nan")
    if filled.sum() >= 3 and np.ptp(mean[filled]) > 0:
        result = spearmanr(midpoints[filled], mean[filled])
        rho, p_value = float(result[0]), float(result[1])
    return BinnedProbability(
        threshold,
        edges,
        split_counts.sum(0),
        split_pos.sum(0).astype(np.int64),
        split_probability,
        mean,
        std,
        rho,
        p_value,
        int(keep.sum()),
    )
