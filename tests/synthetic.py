"""Synthetic labelled sequences with a planted motif, so learning tests have a known answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MOTIF = "TGCATG"  # RBFOX's binding motif


def motif_sequences(n: int, seed: int, length: int = 101, copies: int = 2) -> list[tuple[str, str, int]]:
    """(id, sequence, label): label 1 sequences carry ``copies`` of MOTIF at random places, label 0 are random."""
    rng = np.random.default_rng(seed)
    out = []
    span = length // copies
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        label = i % 2
        if label:
            for c in range(copies):
                p = int(rng.integers(c * span, (c + 1) * span - len(MOTIF)))
                seq[p : p + len(MOTIF)] = list(MOTIF)
        out.append((f"s{seed}_{i}", "".join(seq), label))
    return out


def write_fasta(path: Path, records: list[tuple[str, str, int]]) -> Path:
    """FASTA with BERT-RBP/RBP-31 style ``class:<label>`` headers."""
    with open(path, "w") as handle:
        for record_id, seq, label in records:
            handle.write(f">{record_id} class:{label}\n{seq}\n")
    return path
