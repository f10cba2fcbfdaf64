"""Binary classification metrics of predicted probabilities, the numbers every BERT-RBP comparison reports."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bertrbp.errors import InputError

THRESHOLD = 0.5


def _arrays(labels: Sequence[int], probabilities: Sequence[float], where: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise InputError(f"{where}: {len(y)} labels but {len(p)} probabilities.")
    if not len(y):
        raise InputError(f"{where}: no predictions to evaluate.")
    if not np.isin(y, (0, 1)).all():
        raise InputError(f"{where}: labels must be 0 or 1.")
    if not np.isfinite(p).all():
        raise InputError(f"{where}: {int((~np.isfinite(p)).sum())} probabilities are NaN or infinite.")
    classes = set(np.unique(y).tolist())
    if classes != {0, 1}:
        only = classes.pop()
        raise InputError(
            f"{where}: every sequence has label {only}; AUROC, AUPRC and MCC need both bound (1) and unbound (0) "
            "sequences. Evaluate on a set that contains both classes."
        )
    return y, p


def binary_metrics(
    labels: Sequence[int],
    probabilities: Sequence[float],
    threshold: float = THRESHOLD,
    where: str = "evaluate",
    ranking: Sequence[float] | None = None,
) -> dict:
    """AUROC, AUPRC (average precision), accuracy, F1 and MCC at ``threshold`` on the probability of class 1.

    ``ranking``: scores in the probabilities' order to rank by instead (a predictions file's logits, which keep
    the order of sites whose written probabilities round to 1; ``PredictionTable.ranking``)."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

    y, p = _arrays(labels, probabilities, where)
    order = p if ranking is None else _arrays(labels, ranking, where)[1]
    predicted = (p >= threshold).astype(np.int64)
    return {
        "auroc": float(roc_auc_score(y, order)),
        "auprc": float(average_precision_score(y, order)),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "mcc": float(matthews_corrcoef(y, predicted)),
        "n": int(len(y)),
        "n_positive": int(y.sum()),
        "threshold": float(threshold),
    }


def class_prior_entropy(labels: Sequence[int]) -> float:
    """Cross-entropy (nats) of always predicting the class frequencies: the loss of a constant predictor."""
    y = np.asarray(labels)
    prior = float(y.mean())
    if prior in (0.0, 1.0):
        return 0.0
    return -(prior * math.log(prior) + (1 - prior) * math.log(1 - prior))


def curves(labels: Sequence[int], probabilities: Sequence[float]) -> dict:
    """ROC (fpr, tpr) and precision-recall (recall, precision) points for plotting; give ``ranking`` scores in
    place of probabilities where the file has them (only the order counts)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, p = _arrays(labels, probabilities, "curves")
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall}
