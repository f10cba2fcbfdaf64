"""In-silico mutagenesis: the change in log-odds for every single-nucleotide substitution (L x 4, A C G T).

The reference base's column is 0. A position's importance is minus the mean change over its three
substitutions: positive where mutating the base lowers the predicted binding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bertrbp.inference import batched, score_sequences

BASES = "ACGT"


@dataclass
class ISMResult:
    delta: np.ndarray  # [L, 4] alt log-odds minus reference log-odds, columns A C G T
    importance: np.ndarray  # [L] minus the mean delta over the substitutions of each position
    logit: float


def in_silico_mutagenesis(model, tokenizer, seq: str, device, bf16: bool = False, batch_size: int = 128) -> ISMResult:
    """Score every single-nucleotide mutant of ``seq`` against the reference."""
    mutants = [(i, b) for i in range(len(seq)) for b in range(4) if BASES[b] != seq[i]]
    ref_logit = float(score_sequences(model, tokenizer, [seq], device, bf16).logit[0])
    delta = np.zeros((len(seq), 4))
    for batch in batched(mutants, batch_size):
        seqs = [seq[:i] + BASES[b] + seq[i + 1 :] for i, b in batch]
        logits = score_sequences(model, tokenizer, seqs, device, bf16).logit
        for (i, b), value in zip(batch, logits):
            delta[i, b] = value - ref_logit
    n_subs = np.array([sum(BASES[b] != c for b in range(4)) for c in seq], dtype=float)
    importance = -delta.sum(1) / n_subs
    return ISMResult(delta, importance, ref_logit)
