"""Score sequences with a saved classifier, streaming (the predictions TSV itself: ``bertrbp.io.predictions``).

Per-sequence results do not depend on the batch size or on which other sequences share a batch (tested bitwise
on CPU): ``bertrbp.inference.score_sequences`` guarantees it for every tool (equal-length groups, small
batches filled up to ``inference.MIN_ROWS`` rows). Here records of a read-ahead chunk are grouped by length first, so
that batches stay full when lengths are mixed. Values are written with 6 significant digits. Memory is bounded
by ``chunk`` records, whatever the input size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.inference import batched, score_sequences
from bertrbp.io.predictions import (  # noqa: F401 (callers import them here)
    Prediction,
    read_predictions,
    write_predictions,
)
from bertrbp.io.sequences import SequenceRecord
from bertrbp.io.tokens import check_record_fits
from bertrbp.tokenizer import KmerTokenizer

CHUNK_BATCHES = 32  # records read ahead = CHUNK_BATCHES * batch size

log = logging.getLogger("bertrbp")


@dataclass
class PredictOptions:
    """What bertrbp-predict was asked to do (one field per flag; several ``models`` score as one ensemble)."""

    models: Sequence[Path | str]
    inputs: Sequence[Path]
    output: Path
    batch_size: int = 64
    device: str = "auto"
    bf16: str = "auto"
    fmt: str = "auto"
    label: int | None = None


def run_predict(options: PredictOptions) -> int:
    """Score every input record into the predictions TSV (written atomically); returns the number written."""
    from tqdm.auto import tqdm

    from bertrbp.calibration import inference_bf16
    from bertrbp.device import resolve_device
    from bertrbp.io.model_outputs import refuse_outputs_in_models
    from bertrbp.io.sequences import check_unique_ids, iter_many
    from bertrbp.model import open_classifier

    refuse_outputs_in_models({"--output": Path(options.output)}, options.models)
    device = resolve_device(options.device)
    model, tokenizer, _ = open_classifier([str(m) for m in options.models], device=device, trained=True)
    on_bf16 = inference_bf16(device, options.bf16, [model])
    records = check_unique_ids(iter_many(options.inputs, options.fmt, options.label))
    progress = tqdm(
        predict_records(model, tokenizer, records, device, batch_size=options.batch_size, bf16=on_bf16),
        desc="predict",
        unit="seq",
        disable=None,
    )
    count = write_predictions(progress, options.output)
    log.info(
        "wrote %d predictions to %s (device %s, bf16 %s)", count, options.output, device, "on" if on_bf16 else "off"
    )
    return count


def predict_records(
    model,
    tokenizer: KmerTokenizer,
    records: Iterable[SequenceRecord],
    device,
    *,
    batch_size: int = 64,
    bf16: bool = False,
    chunk: int | None = None,
) -> Iterator[Prediction]:
    """Yield one Prediction per record, in input order (model on ``device``, eval mode)."""
    if batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, not {batch_size}.")
    max_positions = model.config.max_position_embeddings
    for block in batched(records, chunk or batch_size * CHUNK_BATCHES):
        by_length: dict[int, list[int]] = {}
        for index, record in enumerate(block):
            check_record_fits(record, tokenizer, max_positions)
            by_length.setdefault(len(record.seq), []).append(index)
        results: list[tuple[float, float] | None] = [None] * len(block)
        for indices in by_length.values():
            for group in batched(indices, batch_size):
                scores = score_sequences(model, tokenizer, [block[i].seq for i in group], device, bf16)
                for position, i in enumerate(group):
                    results[i] = (float(scores.probability[position]), float(scores.logit[position]))
        for record, (probability, logit) in zip(block, results):
            yield Prediction(record.id, probability, logit, record.label)
