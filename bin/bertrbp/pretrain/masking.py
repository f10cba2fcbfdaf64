"""DNABERT's span masking for overlapping k-mer tokens.

With overlapping k-mers, a single masked token is given away by its neighbours: tokens i-1 and i+1 together
spell every nucleotide of token i. DNABERT therefore masks whole spans of k consecutive tokens, which hides
at least one nucleotide completely. We choose span starts at random among positions where a full span of k
k-mer tokens fits (never [CLS], [SEP], [PAD] or [UNK]) and take the union of the spans. The start probability
is set so that the expected masked fraction is ``mlm_probability`` (spans may overlap, hence
``1 - (1 - p)**(1/k)``). Masked positions then follow BERT's 80/10/10 rule: [MASK], a random k-mer, or kept.

Randomness comes from ``generator`` (default: torch's global generator, which the shared trainer checkpoints,
so ``--resume`` replays the same masks).
"""

from __future__ import annotations

from dataclasses import dataclass

from bertrbp.tokenizer import MASK_ID, SPECIAL_TOKENS

IGNORE_INDEX = -100  # labels ignored by the cross-entropy loss
FIRST_KMER_ID = len(SPECIAL_TOKENS)


def start_probability(mlm_probability: float, k: int) -> float:
    """Per-position span-start probability giving an expected masked fraction of ``mlm_probability``."""
    return 1.0 - (1.0 - mlm_probability) ** (1.0 / k)


@dataclass
class SpanMasker:
    """Mask spans of ``k`` tokens covering ~``mlm_probability`` of the k-mer tokens, then 80/10/10."""

    k: int
    vocab_size: int
    mlm_probability: float = 0.15
    mask_fraction: float = 0.8
    random_fraction: float = 0.1

    def __post_init__(self) -> None:
        from bertrbp.errors import InputError

        if not 0 < self.mlm_probability < 1:
            raise InputError(f"--mlm-probability must be between 0 and 1, not {self.mlm_probability}.")

    def span_starts_allowed(self, input_ids):
        """Bool [N, L]: positions where k consecutive k-mer tokens start (the span fits entirely)."""
        import torch

        kmer = (input_ids >= FIRST_KMER_ID).to(torch.int32)
        n, length = kmer.shape
        if length < self.k:
            return torch.zeros_like(kmer, dtype=torch.bool)
        windows = kmer.unfold(1, self.k, 1).sum(-1) == self.k  # [N, L-k+1]
        allowed = torch.zeros((n, length), dtype=torch.bool)
        allowed[:, : length - self.k + 1] = windows
        return allowed

    def choose(self, input_ids, generator: object | None = None):
        """Bool [N, L] of masked positions: the union of randomly started k-token spans."""
        import torch

        allowed = self.span_starts_allowed(input_ids)
        p = start_probability(self.mlm_probability, self.k)
        starts = (torch.rand(allowed.shape, generator=generator) < p) & allowed
        if not starts.any() and allowed.any():
            # never hand the loss a batch without targets: force one span in the first row that can take one
            row = int(allowed.any(1).nonzero()[0])
            cols = allowed[row].nonzero().flatten()
            pick = cols[torch.randint(len(cols), (1,), generator=generator)]
            starts[row, pick] = True
        # position j is masked when a span starts in [j-k+1, j]: a running count over a window of k
        counts = torch.cumsum(starts.to(torch.int32), dim=1)
        shifted = torch.nn.functional.pad(counts, (self.k, 0))[:, : counts.shape[1]]
        return (counts - shifted) > 0

    def __call__(self, input_ids, generator: object | None = None):
        """Return (masked input_ids, labels); labels are the original ids at masked positions, -100 elsewhere."""
        import torch

        masked = self.choose(input_ids, generator)
        labels = torch.where(masked, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
        draw = torch.rand(input_ids.shape, generator=generator)
        to_mask = masked & (draw < self.mask_fraction)
        to_random = masked & (draw >= self.mask_fraction) & (draw < self.mask_fraction + self.random_fraction)
        out = input_ids.clone()
        out[to_mask] = MASK_ID
        random_ids = torch.randint(FIRST_KMER_ID, self.vocab_size, input_ids.shape, generator=generator)
        out[to_random] = random_ids[to_random]
        return out, labels
