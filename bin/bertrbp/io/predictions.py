"""The predictions TSV (``id probability logit label``): written by predict, read by evaluate.

Torch-free on purpose: evaluate (a CPU-only image) reads it without importing the model code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import numbered_lines, parse_label

COLUMNS = ("id", "probability", "logit", "label")

log = logging.getLogger("bertrbp")


@dataclass
class Prediction:
    id: str
    probability: float
    logit: float
    label: int | None


def sigmoid(value: float) -> float:
    """Logistic function without overflow for large negative log-odds: how predict turns a logit into the
    probability column (``bertrbp.inference``), and how a read file's two columns are checked against each other."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


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


@dataclass
class PredictionTable:
    """The columns of a predictions TSV; ``logits`` is None unless every row has one."""

    ids: list[str]
    probabilities: list[float]
    logits: list[float] | None
    labels: list[int | None]

    @property
    def ranking(self) -> list[float]:
        """What AUROC, AUPRC and the curves rank by: the order of (logit, probability) where the file has logits.

        Why: both columns hold 6 significant digits of one number. Every site above log-odds ~13.8 reads as
        probability 0.999999 or 1, so such sites tied and AUROC differed from the model's own; between log-odds
        ~1 and ~10 the probability is the finer of the two. Sorting by the logit, then the probability, keeps
        every order either column holds. Returned as dense ranks (equal where both columns are equal).
        """
        if self.logits is None:
            return self.probabilities
        import numpy as np

        logits, probabilities = np.asarray(self.logits), np.asarray(self.probabilities)
        order = np.lexsort((probabilities, logits))
        step = np.diff(logits[order]) != 0
        step |= np.diff(probabilities[order]) != 0
        ranks = np.empty(len(order), dtype=np.float64)
        ranks[order] = np.concatenate([[0], np.cumsum(step)])
        return ranks.tolist()


def read_predictions(path: str | Path) -> tuple[list[str], list[float], list[int | None]]:
    """Read a predictions TSV (ids, probabilities, labels); labels None where the column is empty."""
    table = read_prediction_table(path)
    return table.ids, table.probabilities, table.labels


def read_prediction_table(path: str | Path) -> PredictionTable:
    """Read a predictions TSV with its logit column where every row has a finite one.

    A probability that is not a number in [0, 1] is refused with its line: such a file was not written by
    predict, and the metrics would be meaningless (or NaN) without saying why.
    """
    path = Path(path)
    ids: list[str] = []
    probabilities: list[float] = []
    labels: list[int | None] = []
    logits: list[float] | None = []
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
        if logits is not None:
            logits = _append_logit(logits, row.get("logit", ""))
    if columns is None:
        raise InputError(f"{path}: the file is empty.")
    if not ids:
        raise InputError(f"{path}: no predictions after the header.")
    if logits is not None and not _logits_agree(logits, probabilities):
        log.warning("%s: its logit column does not match its probabilities; ranking by the probability", path)
        logits = None
    return PredictionTable(ids, probabilities, logits, labels)


def _logits_agree(logits: list[float], probabilities: list[float]) -> bool:
    """Whether sigmoid(logit) is each row's probability to the 6 digits written (a file predict wrote)."""
    return all(abs(sigmoid(logit) - probability) <= 1e-5 for logit, probability in zip(logits, probabilities))


def _append_logit(logits: list[float], text: str) -> list[float] | None:
    """``logits`` with this row's logit, or None once a row lacks a finite one (rank by probability then)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    logits.append(value)
    return logits
