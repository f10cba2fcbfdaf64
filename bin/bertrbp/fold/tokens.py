"""Per-token structure labels: a k-mer token carries an element label when any of its nucleotides does.

The attention tool compares attention on tokens, not nucleotides, so each element letter becomes one 0/1 string
per sequence with one character per overlapping k-mer ([CLS]/[SEP] excluded), the shared token-label format of
docs/architecture.md.
"""

from __future__ import annotations

import numpy as np

from bertrbp.errors import InputError
from bertrbp.fold.elements import ELEMENTS


def token_labels(elements: str, k: int, where: str = "sequence") -> dict[str, str]:
    """``{letter: '0101…'}`` for every letter of F T I H M S, one character per k-mer token of ``elements``."""
    if k < 1:
        raise InputError(f"--k must be at least 1, not {k}.")
    n_tokens = len(elements) - k + 1
    if n_tokens < 1:
        raise InputError(
            f"{where}: length {len(elements)} is shorter than k={k}, so it has no k-mer tokens. "
            "Remove the record or use a smaller --k."
        )
    codes = np.frombuffer(elements.encode("ascii"), dtype=np.uint8)
    labels: dict[str, str] = {}
    for letter in ELEMENTS:
        counts = np.concatenate(([0], np.cumsum(codes == ord(letter))))
        in_token = (counts[k:] - counts[:n_tokens]) > 0
        labels[letter] = (in_token.astype(np.uint8) + ord("0")).tobytes().decode("ascii")
    return labels
