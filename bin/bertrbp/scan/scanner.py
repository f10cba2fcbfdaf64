"""Scoring a target's windows in batches with every model and turning them into profile chunks, streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from bertrbp.inference import batched, score_sequences
from bertrbp.scan.models import NamedModel
from bertrbp.scan.profile import ProfileAccumulator, ProfileChunk
from bertrbp.scan.windows import ScanTarget, iter_windows

# scores a batch of window sequences: returns an array [n_models, n_windows] of probabilities
BatchScorer = Callable[[list[str]], np.ndarray]


def model_scorer(models: Sequence[NamedModel], tokenizer, device, bf16: bool = False) -> BatchScorer:
    """Score window batches with every model (one tokenizer, so the windows are cut once for all)."""

    def score(seqs: list[str]) -> np.ndarray:
        return np.stack([score_sequences(m.model, tokenizer, seqs, device, bf16).probability for m in models])

    return score


def scan_target(
    target: ScanTarget,
    score: BatchScorer,
    n_models: int,
    window: int,
    stride: int,
    batch_size: int,
    aggregate: str = "mean",
    progress=None,
    accumulator: ProfileAccumulator | None = None,
) -> Iterator[ProfileChunk]:
    """Yield the target's profile in order, a chunk per batch; memory stays ~ window + batch * stride."""
    accumulator = accumulator or ProfileAccumulator(n_models, aggregate)
    for batch in batched(iter_windows(target, window, stride), batch_size):
        scores = score([seq for _, _, seq in batch])
        for column, (start, end, _) in enumerate(batch):
            accumulator.add(start, end, scores[:, column])
        if progress is not None:
            progress.update(len(batch))
        # the next window starts after the last one's start, so everything before it is final
        chunk = accumulator.flush(batch[-1][0] + 1 if batch[-1][1] < target.length else None)
        if chunk is not None:
            yield chunk
    chunk = accumulator.flush()
    if chunk is not None:
        yield chunk
