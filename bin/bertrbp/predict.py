"""Score sequences with a saved classifier, streaming, and write/read the predictions TSV.

Per-sequence results do not depend on the batch size or on which other sequences share a batch (tested bitwise
on CPU): ``bertrbp.inference.score_sequences`` guarantees it for every tool (equal-length groups, small
batches filled up to ``inference.MIN_ROWS`` rows). Here records of a read-ahead chunk are grouped by length first, so
that batches stay full when lengths are mixed. Values are written with 6 significant digits. Memory is bounded
by ``chunk`` records, whatever the input size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from bertrbp.errors import InputError
from bertrbp.inference import batched, score_sequences
from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import SequenceRecord, _lines
from bertrbp.io.tokens import check_record_fits
from bertrbp.tokenizer import KmerTokenizer

COLUMNS = ("id", "probability", "logit", "label")
CHUNK_BATCHES = 32  # records read ahead = CHUNK_BATCHES * batch size


@dataclass
class Prediction:
    id: str
    probability: float
    logit: float
    label: Optional[int]


def format_number(value: float) -> str:
    """6 significant digits: stable across batch sizes and devices, ample for ranking metrics."""
    return f"{value:.6g}"


def predict_records(
    model,
    tokenizer: KmerTokenizer,
    records: Iterable[SequenceRecord],
    device,
    *,
    batch_size: int = 64,
    bf16: bool = False,
    chunk: Optional[int] = None,
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
        results: list[Optional[tuple[float, float]]] = [None] * len(block)
        for indices in by_length.values():
            for group in batched(indices, batch_size):
                scores = score_sequences(model, tokenizer, [block[i].seq for i in group], device, bf16)
                for position, i in enumerate(group):
                    results[i] = (float(scores.probability[position]), float(scores.logit[position]))
        for record, (probability, logit) in zip(block, results):
            yield Prediction(record.id, probability, logit, record.label)


def write_predictions(predictions: Iterable[Prediction], path: str | Path) -> int:
    """Write the predictions TSV atomically; returns the number of rows."""
    count = 0
    with atomic_open(path, "w") as handle:
        handle.write("\t".join(COLUMNS) + "\n")
        for p in predictions:
            label = "" if p.label is None else str(p.label)
            handle.write(f"{p.id}\t{format_number(p.probability)}\t{format_number(p.logit)}\t{label}\n")
            count += 1
    if count == 0:
        raise InputError(f"{path}: no sequences to predict.")
    return count


def read_predictions(path: str | Path) -> tuple[list[str], list[float], list[Optional[int]]]:
    """Read a predictions TSV (ids, probabilities, labels); labels None where the column is empty."""
    path = Path(path)
    ids: list[str] = []
    probabilities: list[float] = []
    labels: list[Optional[int]] = []
    columns: Optional[list[str]] = None
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if columns is None:
            columns = fields
            missing = [c for c in ("id", "probability", "label") if c not in columns]
            if missing:
                raise InputError(
                    f"{path}: line 1: missing column(s) {', '.join(missing)}; expected the header "
                    f"'{chr(9).join(COLUMNS)}' written by bertrbp-predict."
                )
            continue
        row = dict(zip(columns, fields))
        where = f"{path}: line {number}"
        try:
            probability = float(row.get("probability", ""))
        except ValueError:
            raise InputError(f"{where}: probability {row.get('probability')!r} is not a number.") from None
        label_text = row.get("label", "").strip()
        if label_text not in ("", "0", "1"):
            raise InputError(f"{where}: label {label_text!r} is not 0, 1 or empty.")
        ids.append(row["id"])
        probabilities.append(probability)
        labels.append(int(label_text) if label_text else None)
    if columns is None:
        raise InputError(f"{path}: the file is empty.")
    if not ids:
        raise InputError(f"{path}: no predictions after the header.")
    return ids, probabilities, labels
