"""Per-token structure labels: a k-mer token carries an element label when any of its nucleotides does.

The attention tool compares attention on tokens, not nucleotides, so each element letter becomes one 0/1 string
per sequence with one character per overlapping k-mer ([CLS]/[SEP] excluded), the shared token-label format of
docs/architecture.md.
"""

from __future__ import annotations

from bertrbp.errors import InputError
from bertrbp.fold.elements import ELEMENTS

# For each element letter, a table that turns an element string into a 0/1 string marking that letter.
_MARKS = {letter: str.maketrans({other: "1" if other == letter else "0" for other in ELEMENTS}) for letter in ELEMENTS}


def token_labels(elements: str, k: int, where: str = "sequence") -> dict[str, str]:
    """``{letter: '0101…'}`` for every letter of F T I H M S, one character per k-mer token of ``elements``.

    Each letter's 0/1 marks are read as one binary integer and OR-ed with itself shifted by 1 … k-1 places,
    so bit t+k-1 (from the left) is set when any nucleotide t … t+k-1 carries the letter: a few big-integer
    operations per letter instead of a loop over tokens, and no numpy import."""
    if k < 1:
        raise InputError(f"--k must be at least 1, not {k}.")
    length = len(elements)
    n_tokens = length - k + 1
    if n_tokens < 1:
        raise InputError(
            f"{where}: length {length} is shorter than k={k}, so it has no k-mer tokens. "
            "Remove the record or use a smaller --k."
        )
    width = length + k - 1
    labels: dict[str, str] = {}
    for letter in ELEMENTS:
        marks = int(elements.translate(_MARKS[letter]), 2)
        spread = marks
        for shift in range(1, k):
            spread |= marks << shift
        labels[letter] = format(spread, f"0{width}b")[k - 1 : length]
    return labels
