"""Near-duplicate sequences by k-mer Jaccard similarity, found with MinHash + LSH and verified exactly.

Two sequences are near-duplicates when the Jaccard index of their k-mer sets reaches ``threshold`` (overlapping
CLIP windows, repeats, paralogs). MinHash/LSH only proposes candidate pairs; every reported pair is checked on
the exact k-mer sets, and the band layout is chosen so a pair at the threshold is missed with probability
below 1e-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def kmer_set(seq: str, k: int) -> frozenset[int]:
    """2-bit encoded k-mers of ``seq`` (k-mers with N are skipped)."""
    out = set()
    mask = (1 << (2 * k)) - 1
    value, valid = 0, 0
    for letter in seq:
        code = _CODE.get(letter)
        if code is None:
            valid = 0
            continue
        value = ((value << 2) | code) & mask
        valid += 1
        if valid >= k:
            out.add(value)
    return frozenset(out)


def kmer_array(seq: str, k: int) -> np.ndarray:
    """``kmer_set`` as a sorted uint64 array: what clustering keeps per record.

    Why: a frozenset of Python ints took 7.3 KB per 101-nt site, kept for every record of the run (prepare used
    1.2 GB at 200,000 40-nt records); the array takes 8 bytes a k-mer.
    """
    kmers = kmer_set(seq, k)
    return np.sort(np.fromiter(kmers, dtype=np.uint64, count=len(kmers)))


def jaccard(a: frozenset | np.ndarray, b: frozenset | np.ndarray) -> float:
    """Jaccard index of two k-mer sets (``kmer_set`` frozensets or ``kmer_array`` arrays)."""
    if not len(a) and not len(b):
        return 1.0
    if isinstance(a, np.ndarray):
        shared = np.intersect1d(a, b, assume_unique=True).size
        return shared / (a.size + b.size - shared)
    return len(a & b) / len(a | b)


def band_layout(threshold: float, permutations: int, miss: float = 1e-3) -> tuple[int, int]:
    """(bands, rows) with P(pair at threshold is never a candidate) < miss, using the most rows possible."""
    for rows in range(permutations, 0, -1):
        bands = permutations // rows
        if (1 - threshold**rows) ** bands < miss:
            return bands, rows
    return permutations, 1


# Elements of the (rows x k-mers x permutations) hashing block: ~64 MiB of uint64 whatever the record lengths,
# so one 1,000,000-nt record is hashed in column slices instead of allocating gigabytes at once.
BLOCK_ELEMENTS = 1 << 23


def signatures(sets: Sequence[frozenset | np.ndarray], permutations: int, seed: int, chunk: int = 512) -> np.ndarray:
    """MinHash signatures (n x permutations, uint64), computed in blocks of bounded size (``BLOCK_ELEMENTS``)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 63, size=permutations, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, size=permutations, dtype=np.uint64)
    out = np.full((len(sets), permutations), np.iinfo(np.uint64).max, dtype=np.uint64)
    for lo, hi in _blocks([len(x) for x in sets], chunk, BLOCK_ELEMENTS // 8):
        block = sets[lo:hi]
        width = max((len(x) for x in block), default=0)
        if width == 0:
            continue
        # pad each row by repeating one of its own k-mers: the set, hence the minimum, is unchanged
        x = np.zeros((len(block), width), dtype=np.uint64)
        for row, kmers in enumerate(block):
            if len(kmers):  # an array is used as it is: np.fromiter would step through it in Python
                values = kmers if isinstance(kmers, np.ndarray) else np.fromiter(kmers, np.uint64, count=len(kmers))
                x[row, : len(values)] = values
                x[row, len(values) :] = values[0]
        # multiply-shift hashing (wraps mod 2^64): cheap and close to universal for 32-bit keys
        step = max(1, BLOCK_ELEMENTS // (len(block) * permutations))
        mins = np.full((len(block), permutations), np.iinfo(np.uint64).max, dtype=np.uint64)
        for col in range(0, width, step):
            np.minimum(mins, ((x[:, col : col + step, None] * a + b) >> np.uint64(29)).min(axis=1), out=mins)
        empty = np.array([not len(kmers) for kmers in block])
        mins[empty] = np.iinfo(np.uint64).max
        out[lo : lo + len(block)] = mins
    return out


def _blocks(sizes: Sequence[int], max_rows: int, max_cells: int) -> list[tuple[int, int]]:
    """Consecutive (lo, hi) row ranges with at most ``max_rows`` rows and rows x widest row <= ``max_cells``
    (a single row may exceed it: it is then hashed alone, in column slices)."""
    ranges, lo, widest = [], 0, 0
    for index, size in enumerate(sizes):
        wider = max(widest, size)
        if index > lo and (index - lo >= max_rows or (index - lo + 1) * wider > max_cells):
            ranges.append((lo, index))
            lo, wider = index, size
        widest = wider
    if lo < len(sizes):
        ranges.append((lo, len(sizes)))
    return ranges


def candidate_pairs(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Unique index pairs (i < j), shape (m, 2), that share at least one LSH band bucket."""
    n = sigs.shape[0]
    codes = []
    mult = np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        key = np.zeros(n, dtype=np.uint64)
        for col in range(band * rows, (band + 1) * rows):
            key = key * mult + sigs[:, col]  # wraps mod 2^64: a hash of the band
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        sizes = np.diff(np.r_[starts, n])
        pairs = starts[sizes == 2]
        if len(pairs):
            first, second = order[pairs].astype(np.int64), order[pairs + 1].astype(np.int64)
            codes.append(np.minimum(first, second) * n + np.maximum(first, second))
        for start, size in zip(starts[sizes > 2], sizes[sizes > 2]):
            members = np.sort(order[start : start + size]).astype(np.int64)
            i, j = np.triu_indices(size, 1)
            codes.append(members[i] * n + members[j])
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(codes))
    return np.stack([unique // n, unique % n], axis=1)


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def cluster(
    seqs: Sequence[str], k: int = 8, threshold: float = 0.5, permutations: int = 192, seed: int = 0
) -> list[int]:
    """Cluster id per sequence: connected components of verified near-duplicate pairs (single linkage)."""
    sets = [kmer_array(s, k) for s in seqs]
    bands, rows = band_layout(threshold, permutations)
    sigs = signatures(sets, bands * rows, seed)
    uf = UnionFind(len(seqs))
    for i, j in candidate_pairs(sigs, bands, rows).tolist():
        if uf.find(i) != uf.find(j) and jaccard(sets[i], sets[j]) >= threshold:
            uf.union(i, j)
    return [uf.find(i) for i in range(len(seqs))]


def cross_near_duplicates(
    reference: Sequence[str],
    query: Sequence[str],
    k: int = 8,
    threshold: float = 0.5,
    permutations: int = 192,
    seed: int = 0,
) -> dict:
    """How many ``query`` sequences have a near-duplicate in ``reference``, and the highest similarity seen."""
    sets = [kmer_array(s, k) for s in reference] + [kmer_array(s, k) for s in query]
    n_ref = len(reference)
    bands, rows = band_layout(threshold, permutations)
    sigs = signatures(sets, bands * rows, seed)
    hit: set[int] = set()
    best = 0.0
    for i, j in candidate_pairs(sigs, bands, rows).tolist():
        if (i < n_ref) == (j < n_ref) or (j - n_ref) in hit:
            continue
        q = j
        value = jaccard(sets[i], sets[j])
        best = max(best, value)
        if value >= threshold:
            hit.add(q - n_ref)
    return {"query_with_near_duplicate": len(hit), "max_jaccard_among_candidates": round(best, 4)}
