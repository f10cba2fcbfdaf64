"""Streaming, batched scoring of sequences with a classifier: the core shared by predict, scan and variant tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from bertrbp.device import autocast
from bertrbp.tokenizer import KmerTokenizer


@dataclass
class Scores:
    """Class-1 probability and log-odds (logit of class 1 minus logit of class 0) for a batch."""

    probability: np.ndarray
    logit: np.ndarray


def logits_to_scores(logits) -> Scores:
    """Convert [N, 2] (softmax head, DNABERT style) or [N, 1] (sigmoid head) logits to probability and log-odds."""
    import torch

    logits = logits.float()
    if logits.shape[-1] == 1:
        log_odds = logits[:, 0]
    else:
        log_odds = logits[:, 1] - logits[:, 0]
    probability = torch.sigmoid(log_odds)
    return Scores(probability.cpu().numpy().astype(np.float64), log_odds.cpu().numpy().astype(np.float64))


def score_sequences(
    model,
    tokenizer: KmerTokenizer,
    seqs: Sequence[str],
    device,
    bf16: bool = False,
) -> Scores:
    """Score one batch of upper-case DNA sequences (model already on ``device`` and in eval mode)."""
    import torch

    ids, mask = tokenizer.encode_batch(seqs, model.config.max_position_embeddings)
    with torch.inference_mode(), autocast(device, bf16):
        out = model(
            input_ids=torch.from_numpy(ids).to(device, non_blocking=True),
            attention_mask=torch.from_numpy(mask).to(device, non_blocking=True),
        )
    return logits_to_scores(out.logits)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Group an iterable into lists of ``size`` (the last may be shorter) without materialising it."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
