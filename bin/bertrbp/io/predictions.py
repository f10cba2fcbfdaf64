"""The predictions TSV (``id probability logit label``): written by predict, read by evaluate.

Torch-free on purpose: evaluate (a CPU-only image) reads it without importing the model code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import numbered_lines, parse_label

COLUMNS = ("id", "probability", "logit", "label")


@dataclass
class Prediction:
    id: str
    probability: float
    logit: float
    label: int | None


def format_number(value: float) -> str:
    """6 significant digits: stable across batch sizes and devices, ample for ranking metrics."""
    return f"{value:.6g}"


def write_predictions(predictions: Iterable[Prediction], path: str | Path) -> int:
    """Write the predictions TSV atomically; returns the number of rows."""
    count = 0
    with atomic_open(path, "w") as handle:
        handle.write("\t".join(COLUMNS) + "\n")
        for p in predictions:
            label = "" if p.label is None else str(p.label)
            handle.write(f"{p.id}\t{format_number(p.probability)}\t{format_number(p.logit)}\t{label}\n")
            count += 1
        if count == 0:  # raised inside the block, so no empty file is left under the final name
            raise InputError(f"{path}: no sequences to predict.")
    return count


def read_predictions(path: str | Path) -> tuple[list[str], list[float], list[int | None]]:
    """Read a predictions TSV (ids, probabilities, labels); labels None where the column is empty.

    A probability that is not a number in [0, 1] is refused with its line: such a file was not written by
    predict, and the metrics would be meaningless (or NaN) without saying why.
    """
    path = Path(path)
    ids: list[str] = []
    probabilities: list[float] = []
    labels: list[int | None] = []
    columns: list[str] | None = None
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if columns is None:
            columns = fields
            missing = [c for c in ("id", "probability", "label") if c not in columns]
            if missing:
                raise InputError(
                    f"{path}: line {number}: missing column(s) {', '.join(missing)}; expected the header "
                    f"'{chr(9).join(COLUMNS)}' written by bertrbp-predict."
                )
            # a column named twice: the row lookup took its last copy, e.g. another label column, with exit 0
            twice = sorted({c for c in columns if c and columns.count(c) > 1})
            if twice:
                raise InputError(
                    f"{path}: line {number}: column(s) {', '.join(twice)} appear more than once; keep one of each "
                    "(bertrbp-predict writes each once)."
                )
            continue
        row = dict(zip(columns, fields))
        where = f"{path}: line {number}"
        text = row.get("probability", "")
        try:
            probability = float(text)
        except ValueError:
            raise InputError(f"{where}: probability {text!r} is not a number.") from None
        if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
            raise InputError(
                f"{where}: probability {text!r} is outside [0, 1]; give probabilities, not logits "
                "or scores (bertrbp-predict's probability column)."
            )
        label_text = row.get("label", "").strip()
        # the sequence readers' rule (parse_label: '1.0' as 1, as pandas writes an integer column with a gap)
        label = parse_label(label_text, where) if label_text else None
        ids.append(row["id"])
        probabilities.append(probability)
        labels.append(label)
    if columns is None:
        raise InputError(f"{path}: the file is empty.")
    if not ids:
        raise InputError(f"{path}: no predictions after the header.")
    return ids, probabilities, labels
