"""Streaming, batched scoring of sequences with a classifier: the core shared by predict, scan and variant tools."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from bertrbp.device import autocast
from bertrbp.io.predictions import sigmoid
from bertrbp.tokenizer import KmerTokenizer


@dataclass
class Scores:
    """Class-1 probability and log-odds (logit of class 1 minus logit of class 0) for a batch."""

    probability: np.ndarray
    logit: np.ndarray


def logits_to_scores(logits) -> Scores:
    """Convert [N, 2] (softmax head, DNABERT style) or [N, 1] (sigmoid head) logits to probability and log-odds.

    The sigmoid is taken value by value in float64: torch's vectorised float32 sigmoid gives a different last
    bit for the elements of a vector's tail, so a sequence's probability would depend on its row in the batch.
    """
    logits = logits.float()
    if logits.shape[-1] == 1:
        log_odds = logits[:, 0]
    else:
        log_odds = logits[:, 1] - logits[:, 0]
    log_odds = log_odds.cpu().numpy().astype(np.float64)
    return Scores(np.array([sigmoid(v) for v in log_odds.tolist()], dtype=np.float64), log_odds)


MIN_ROWS = 16  # smallest batch the model ever sees; from 16 rows on, oneDNN's sgemm rounds row-independently


def score_sequences(
    model,
    tokenizer: KmerTokenizer,
    seqs: Sequence[str],
    device,
    bf16: bool = False,
    min_rows: int = MIN_ROWS,
) -> Scores:
    """Score upper-case DNA sequences (model already on ``device`` and in eval mode), in input order.

    A sequence's numbers do not depend on the batch size or on the other sequences of the call (bitwise, on
    CPU): sequences are scored only together with others of the same length (no padding, which would change
    the kernels' shapes), and a group of fewer than ``min_rows`` is filled up with copies of its first
    sequence, because the BLAS kernels for matrices of few rows (the pooler and head see one row per sequence)
    round differently from the large-matrix ones.
    """
    by_length: dict[int, list[int]] = {}
    for index, seq in enumerate(seqs):
        by_length.setdefault(len(seq), []).append(index)
    probability = np.empty(len(seqs), dtype=np.float64)
    logit = np.empty(len(seqs), dtype=np.float64)
    for indices in by_length.values():
        group = [seqs[i] for i in indices]
        group += [group[0]] * (min_rows - len(group))
        scores = _forward(model, tokenizer, group, device, bf16)
        probability[indices] = scores.probability[: len(indices)]
        logit[indices] = scores.logit[: len(indices)]
    return Scores(probability, logit)


def _forward(model, tokenizer: KmerTokenizer, seqs: Sequence[str], device, bf16: bool) -> Scores:
    """One forward pass over ``seqs`` as a single (padded) batch."""
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
