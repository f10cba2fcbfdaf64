"""DNABERT's k-mer tokenizer, reimplemented exactly and without transformers' tokenizer classes.

The vocabulary is token for token DNABERT's ``vocab.txt``: ``[PAD] [UNK] [CLS] [SEP] [MASK]`` and then every
k-mer in ``itertools.product`` order over ``A T C G``. A sequence of length L becomes ``[CLS]``, its L-k+1
overlapping k-mers and ``[SEP]``. A k-mer containing ``N`` becomes ``[UNK]``.

We do not use ``transformers.BertTokenizer(vocab_file=...)``: in the installed transformers it silently maps
every k-mer to ``[UNK]``. Our own code is faster anyway (vectorised numpy) and checked against hand-written ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
DNABERT_ALPHABET = "ATCG"
SUPPORTED_K = (3, 4, 5, 6)

# Maps a byte of an upper-case DNA sequence to its digit in DNABERT's product order; N and others to 4.
_DIGIT = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(DNABERT_ALPHABET):
    _DIGIT[ord(_c)] = _i


def dnabert_vocab(k: int) -> list[str]:
    """The exact token list of DNABERT's vocab.txt for k."""
    if k not in SUPPORTED_K:
        raise InputError(f"k={k} is not supported; DNABERT provides k = 3, 4, 5 and 6.")
    return list(SPECIAL_TOKENS) + ["".join(p) for p in itertools.product(DNABERT_ALPHABET, repeat=k)]


class KmerTokenizer:
    """Encode DNA sequences to DNABERT token ids for a fixed k."""

    def __init__(self, k: int = 3):
        self.k = k
        self.vocab = dnabert_vocab(k)
        self.token_to_id = {token: index for index, token in enumerate(self.vocab)}
        self._powers = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def max_sequence_length(self, max_positions: int) -> int:
        """Longest nucleotide sequence that fits ``max_positions`` tokens ([CLS] + k-mers + [SEP])."""
        return max_positions - 2 + self.k - 1

    def kmer_ids(self, seq: str) -> np.ndarray:
        """Ids of the overlapping k-mers of ``seq`` (no special tokens)."""
        if len(seq) < self.k:
            raise InputError(f"sequence of length {len(seq)} is shorter than k={self.k}: {seq!r}.")
        digits = _DIGIT[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
        windows = np.lib.stride_tricks.sliding_window_view(digits, self.k)
        ids = windows @ self._powers + len(SPECIAL_TOKENS)
        has_unknown = (windows == 4).any(axis=1)
        ids[has_unknown] = UNK_ID
        return ids

    def encode(self, seq: str) -> np.ndarray:
        """[CLS] + k-mer ids + [SEP] for one upper-case DNA sequence."""
        return np.concatenate(([CLS_ID], self.kmer_ids(seq), [SEP_ID])).astype(np.int64)

    def encode_batch(self, seqs: Sequence[str], max_positions: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Pad a batch to its longest member; returns (input_ids, attention_mask) as int64 arrays.

        Equal-length batches (the usual 101-nt case, and what predict/scan form) are encoded in one vectorised
        pass, so tokenizing keeps up with a GPU; mixed lengths go sequence by sequence.
        """
        limit = self.max_sequence_length(max_positions)
        for index, seq in enumerate(seqs):
            if len(seq) > limit:
                raise InputError(
                    f"sequence {index + 1} has {len(seq)} nt; the model takes at most {limit} nt "
                    f"({max_positions} positions with k={self.k}). Use the scan tool for long sequences, "
                    "or cut them into windows first."
                )
        if seqs and len({len(seq) for seq in seqs}) == 1:
            return self._encode_equal_lengths(seqs)
        encoded = [self.encode(seq) for seq in seqs]
        width = max(len(e) for e in encoded)
        ids = np.full((len(encoded), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = e
            mask[row, : len(e)] = 1
        return ids, mask

    def _encode_equal_lengths(self, seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """[CLS] + k-mer ids + [SEP] for sequences that all have the same length, as one array operation."""
        length = len(seqs[0])
        if length < self.k:
            raise InputError(f"sequence of length {length} is shorter than k={self.k}: {seqs[0]!r}.")
        letters = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8).reshape(len(seqs), length)
        windows = np.lib.stride_tricks.sliding_window_view(_DIGIT[letters], self.k, axis=1)
        kmers = windows @ self._powers + len(SPECIAL_TOKENS)
        kmers[(windows == 4).any(axis=2)] = UNK_ID
        ids = np.empty((len(seqs), kmers.shape[1] + 2), dtype=np.int64)
        ids[:, 0], ids[:, 1:-1], ids[:, -1] = CLS_ID, kmers, SEP_ID
        return ids, np.ones_like(ids)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Token strings for ids (for debugging and reports)."""
        return [self.vocab[int(i)] for i in ids]

    def save_vocab(self, directory: str | Path) -> Path:
        """Write DNABERT's vocab.txt into ``directory``."""
        from bertrbp.io.atomic import atomic_open

        path = Path(directory) / "vocab.txt"
        with atomic_open(path, "w") as handle:  # a vocab.txt is never half-written
            handle.write("\n".join(self.vocab) + "\n")
        return path

    @classmethod
    def from_vocab_file(cls, path: str | Path) -> KmerTokenizer:
        """Rebuild the tokenizer from a DNABERT vocab.txt, refusing any vocabulary that is not DNABERT's."""
        from bertrbp.io.sequences import numbered_lines  # a non-UTF-8 file is an InputError, not a traceback

        tokens = [line.strip() for _, line in numbered_lines(Path(path)) if line.strip()]
        kmers = [t for t in tokens if not t.startswith("[")]
        if not kmers:
            raise InputError(f"{path}: no k-mer tokens; this is not a DNABERT vocab.txt.")
        k = len(kmers[0])
        if k not in SUPPORTED_K:
            raise InputError(
                f"{path}: the first k-mer {kmers[0][:20]!r} has k={k}; DNABERT's vocab.txt has k = 3, 4, 5 or 6."
            )
        tokenizer = cls(k)
        if tokens != tokenizer.vocab:
            raise InputError(
                f"{path}: the vocabulary differs from DNABERT's {k}-mer vocab.txt (order or tokens). "
                "Token ids would not match the model's embeddings."
            )
        return tokenizer
