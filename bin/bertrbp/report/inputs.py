"""The summary's optional per-model inputs: finetune runs (training history, verdict, model card) and test-set
predictions (ROC/PR curves, a test-set stall check).

Every input is named like evaluate's metrics: ``RBP`` for the main model, ``RBP.tag`` for another model of the
same RBP (``RBFOX2_HepG2.kmer``, ``RBFOX2_HepG2.baseline``). The name is given as ``NAME=PATH`` or, without it,
taken from the file name (``RBFOX2_HepG2.kmer.predictions.tsv`` -> ``RBFOX2_HepG2.kmer``), because finetune writes
fixed file names (``metrics.json``) that say nothing about the RBP.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertrbp.errors import InputError
from bertrbp.report.shapes import CARD_SHAPE, METRICS_SHAPE, check_shape

PREDICTION_SUFFIXES = (".predictions.tsv", ".tsv")
TRAINING_SUFFIXES = (".model_card.json", ".training.json", ".finetune.json", ".metrics.json", ".json")
CURVE_STEP = 0.01  # thinning of ROC/PR points (L1 distance in the unit square): <= ~200 points per ROC curve


@dataclass
class NamedPath:
    name: str
    path: Path
    explicit: bool  # the user wrote NAME=PATH (else the name came from the file name)


def parse_named(spec: str, suffixes: tuple[str, ...], option: str) -> NamedPath:
    """'RBFOX2.kmer=runs/kmer' -> (RBFOX2.kmer, runs/kmer); 'x/RBFOX2.predictions.tsv' -> (RBFOX2, ...)."""
    name, sep, rest = spec.partition("=")
    if sep and name and "/" not in name and rest:
        return NamedPath(name.strip(), Path(rest), True)
    if sep and not name:
        raise InputError(f"{option} {spec!r}: empty name before '='; write {option} RBP[.tag]=PATH.")
    path = Path(spec)
    stem = path.name
    for suffix in suffixes:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    return NamedPath(stem, path, False)


@dataclass
class TrainingRun:
    """What finetune left: the per-epoch history, the kept epoch, its collapse/stall diagnosis and the model card."""

    source: str
    history: list[dict] = field(default_factory=list)
    kept_epoch: int | None = None
    collapsed: bool = False
    stalled: bool = False
    diagnosis: dict = field(default_factory=dict)
    card: dict | None = None
    model_kind: str = ""
    # {patience, metric, stopped_early, min_steps, planned_epochs} when finetune wrote it
    early_stopping: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)  # an ensemble's own validation metrics: it has no epochs
    calibration: dict = field(default_factory=dict)  # finetune --calibrate's record (applied, scale, shift, ...)

    @property
    def kept(self) -> dict | None:
        if self.kept_epoch is None:
            return None
        for entry in self.history:
            if entry.get("epoch") == self.kept_epoch:
                return entry
        return self.history[self.kept_epoch - 1] if 0 < self.kept_epoch <= len(self.history) else None

    @property
    def epoch_numbers(self) -> list[int]:
        """Each history entry's epoch number, its position (1-based) where the entry has none (older runs)."""
        return [entry["epoch"] if entry.get("epoch") is not None else i + 1 for i, entry in enumerate(self.history)]

    def value(self, key: str) -> float | None:
        """A number of the kept epoch (val_auroc, val_loss, ...), None when absent or not finite; for an ensemble,
        which trains no epochs of its own, the number its members' combined scores reach on the validation split."""
        kept = self.kept or self.validation
        return finite_number(kept.get(key))


def finite_number(value: Any) -> float | None:
    """A JSON value as a float when it is a finite number (not true/false), else None: fields a report plots."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond float's range
        return None
    return number if math.isfinite(number) else None


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; give {what}.") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; give {what}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); give {what}.") from None


TRAINING_WHAT = "a bertrbp-finetune output folder, its metrics.json or its model_card.json"


def _is_card(data: dict) -> bool:
    return data.get("tool") == "bertrbp-finetune" or ("hyperparameters" in data and "metrics" in data)


def read_training(path: Path) -> TrainingRun:
    """A finetune run from its folder, metrics.json or model_card.json (a sibling model_card.json is read too)."""
    path = Path(path)
    metrics: dict | None = None
    card: dict | None = None
    metrics_path = card_path = path
    if path.is_dir():
        metrics_file, card_file = path / "metrics.json", path / "model_card.json"
        if not metrics_file.exists() and not card_file.exists():
            raise InputError(f"{path}: neither metrics.json nor model_card.json inside; give {TRAINING_WHAT}.")
        metrics = _load_json(metrics_file, TRAINING_WHAT) if metrics_file.exists() else None
        card = _load_json(card_file, TRAINING_WHAT) if card_file.exists() else None
        metrics_path, card_path = metrics_file, card_file
        if card is not None and not isinstance(card, dict):
            raise InputError(f"{card_file}: expected a JSON object; give {TRAINING_WHAT}.")
    else:
        data = _load_json(path, TRAINING_WHAT)
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object; give {TRAINING_WHAT}.")
        if _is_card(data):
            card = data
        else:
            metrics = data
            sibling = path.parent / "model_card.json"
            if sibling.exists() and sibling != path:
                sibling_data = _load_json(sibling, TRAINING_WHAT)
                card = sibling_data if isinstance(sibling_data, dict) and _is_card(sibling_data) else None
                card_path = sibling
    if card is not None:
        check_shape(card, CARD_SHAPE, str(card_path), TRAINING_WHAT)
    if metrics is None and card is not None:
        metrics, metrics_path = card.get("metrics"), card_path
    if isinstance(metrics, dict):
        check_shape(metrics, METRICS_SHAPE, str(metrics_path), TRAINING_WHAT)
    if not isinstance(metrics, dict) or not isinstance(metrics.get("epochs"), list):
        hint = (
            " (that looks like bertrbp-evaluate's test metrics: give them as positional arguments)"
            if isinstance(metrics, dict) and "auroc" in metrics
            else ""
        )
        raise InputError(f"{path}: no per-epoch history ('epochs'){hint}; give {TRAINING_WHAT}.")
    history = [entry for entry in metrics["epochs"] if isinstance(entry, dict)]
    kept = metrics.get("kept_epoch")
    kept_epoch = int(kept) if isinstance(kept, int) and not isinstance(kept, bool) else (len(history) or None)
    diagnosis = metrics.get("collapse") if isinstance(metrics.get("collapse"), dict) else {}
    kind = metrics.get("model_kind") or (card or {}).get("model_kind") or ""
    return TrainingRun(
        source=str(path),
        history=history,
        kept_epoch=kept_epoch,
        collapsed=bool(metrics.get("collapsed", diagnosis.get("collapsed", False))),
        stalled=bool(metrics.get("stalled", diagnosis.get("stalled", False))),
        diagnosis=diagnosis,
        card=card,
        model_kind=str(kind),
        early_stopping=metrics.get("early_stopping") if isinstance(metrics.get("early_stopping"), dict) else {},
        validation=metrics.get("validation") if not history and isinstance(metrics.get("validation"), dict) else {},
        calibration=metrics.get("calibration") if isinstance(metrics.get("calibration"), dict) else {},
    )


@dataclass
class TestScores:
    """A predictions TSV reduced to what the report shows: metrics, thinned curves and a test-set diagnosis."""

    source: str
    metrics: dict
    roc: tuple[list[float], list[float]]  # (false positive rate, true positive rate)
    pr: tuple[list[float], list[float]]  # (recall, precision)
    positive_fraction: float
    diagnosis: dict


def log_loss(labels, probabilities) -> float:
    """Mean binary cross-entropy (nats) of the probabilities, clipped away from 0 and 1."""
    import numpy as np

    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _check_same_set(path: Path, known: dict, n: int, positives: int) -> None:
    """Refuse predictions that are not the ones the metrics were computed from (other sequence counts).

    Why: the metrics are taken as they are, so a metrics file of another set (or run) was shown beside curves drawn
    from these predictions, the AUROC in the table disagreeing with the ROC curve, with exit 0.
    """
    said_n, said_positives = known.get("n"), known.get("n_positive")
    if said_n not in (None, n) or said_positives not in (None, positives):
        said = [("?" if value is None else f"{value:g}") for value in (said_n, said_positives)]
        raise InputError(
            f"{path}: {n} predictions ({positives} bound), but the metrics file of this name says n {said[0]} "
            f"({said[1]} bound); give the predictions bertrbp-evaluate read for those metrics."
        )


def read_test_scores(path: Path, known: dict | None = None) -> TestScores:
    """Read bertrbp-predict's TSV (labels required): curves, a test-set diagnosis, and evaluate's metrics.

    ``known``: the metrics evaluate already wrote for these predictions; when it has the AUROC, the metrics are not
    computed again (sklearn's checks cost more than the rest of this function, for hundreds of models).
    """
    import numpy as np

    from bertrbp.collapse import diagnose
    from bertrbp.io.predictions import read_prediction_table
    from bertrbp.metrics import binary_metrics, curves
    from bertrbp.report.svg import thin_curve

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the predictions TSV written by bertrbp-predict.")
    if not path.exists():
        raise InputError(f"{path}: file not found; give the predictions TSV written by bertrbp-predict.")
    table = read_prediction_table(path)
    ids, probabilities, labels = table.ids, table.probabilities, table.labels
    missing = [i for i, label in zip(ids, labels) if label is None]
    if missing:
        raise InputError(
            f"{path}: {len(missing)} predictions have no label (first: '{missing[0]}'); the report needs the test "
            "labels. Predict from labelled inputs (class:0/1 headers, a TSV label column) or with --label."
        )
    if known and known.get("auroc") is not None:
        _check_same_set(path, known, len(labels), sum(labels))
        metrics = dict(known)
    else:
        metrics = binary_metrics(labels, probabilities, where=str(path), ranking=table.ranking)
    points = curves(labels, table.ranking)
    roc = thin_curve(points["fpr"], points["tpr"], CURVE_STEP)
    pr = thin_curve(points["recall"], points["precision"], CURVE_STEP)
    diagnosis = diagnose(labels, probabilities, metrics["auroc"], log_loss(labels, probabilities))
    return TestScores(
        source=str(path),
        metrics=metrics,
        roc=roc,
        pr=pr,
        positive_fraction=float(np.mean(labels)),
        diagnosis=diagnosis,
    )
