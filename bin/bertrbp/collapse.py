"""Detecting a classifier that collapsed to a constant (or chance-level) predictor, and saying what to do.

Measured here: a 4-layer 256-wide random-init BERT at lr 1e-3 for 3 epochs ended as a constant predictor
(AUROC 0.500) while lr 2e-4 for 1 epoch reached AUROC 0.885; the paper's 10x learning rate for random
initialisation can do the same. Such a run still "finishes", so we check every validation result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bertrbp.metrics import class_prior_entropy

AUROC_MARGIN = 0.02  # |AUROC - 0.5| below this: ranking no better than chance
MIN_SPREAD = 1e-6  # std of predicted probabilities below this: the same answer for every sequence
LOSS_MARGIN = 0.005  # nats; validation loss this close to the class-prior entropy: nothing learned
STALL_SPREAD = 1e-2  # std of predicted probabilities below this, with the loss at the prior: barely trained


def diagnose(labels: Sequence[int], probabilities: Sequence[float], auroc: float, val_loss: float) -> dict:
    """Return {'collapsed': bool, 'reasons': [...], plus the numbers behind them}."""
    p = np.asarray(probabilities, dtype=np.float64)
    entropy = class_prior_entropy(labels)
    spread = float(p.std()) if np.isfinite(p).all() else float("nan")
    reasons = []
    if not math.isfinite(val_loss) or not math.isfinite(spread):
        reasons.append("training diverged: the validation loss or the predictions are NaN/infinite")
    if math.isfinite(spread) and spread < MIN_SPREAD:
        reasons.append(f"constant predictor: predicted probabilities vary by std {spread:.2e} (< {MIN_SPREAD:g})")
    if math.isfinite(auroc) and abs(auroc - 0.5) < AUROC_MARGIN:
        reasons.append(f"chance-level ranking: validation AUROC {auroc:.3f} is within {AUROC_MARGIN} of 0.5")
    collapsed = bool(reasons)
    # Supporting evidence only: early in a healthy run the loss is also near the prior entropy.
    if collapsed and math.isfinite(spread) and spread < 1e-3:
        reasons.append(f"nearly constant output: predicted probabilities vary by std {spread:.2e}")
    if collapsed and math.isfinite(val_loss) and val_loss >= entropy - LOSS_MARGIN:
        reasons.append(
            f"validation loss {val_loss:.4f} is no better than always predicting the class frequencies ({entropy:.4f})"
        )
    # Not collapsed, but still sitting at the class prior: the ranking may be usable, the probabilities are not.
    stalled = (
        not collapsed
        and math.isfinite(val_loss)
        and val_loss >= entropy - LOSS_MARGIN
        and math.isfinite(spread)
        and spread < STALL_SPREAD
    )
    return {
        "collapsed": collapsed,
        "stalled": stalled,
        "reasons": reasons,
        "auroc": auroc,
        "prediction_std": spread,
        "val_loss": val_loss,
        "class_prior_entropy": entropy,
    }


def warning_text(diagnosis: dict, lr: float, batch_size: int, grad_accum: int, epoch: int | None = None) -> str:
    """A loud multi-line warning: what happened and what to change."""
    effective_batch = batch_size * grad_accum
    accum_for_128 = max(grad_accum, math.ceil(128 / batch_size))
    where = f" (kept model, epoch {epoch})" if epoch is not None else ""
    lines = [
        "=" * 78,
        f"WARNING: THE MODEL COLLAPSED{where}: it does not tell bound from unbound sequences.",
        *[f"  - {reason}" for reason in diagnosis["reasons"]],
        f"  Settings: learning rate {lr:g}, effective batch {effective_batch}.",
        "  This usually means the learning rate is too high for the model (random-init BERT at the",
        "  paper's 10x rate, 2e-3, is prone to it). What to do:",
        "    * lower --lr, e.g. --lr 2e-4 (or 1e-4);",
        "    * warm up longer, e.g. --warmup-ratio 0.2;",
        f"    * use a larger effective batch (>= 128; now {effective_batch}), e.g. --grad-accum {accum_for_128}"
        f" with --batch-size {batch_size};",
        "    * check the labels: both classes present and not shuffled against the sequences.",
        "  The outputs were written anyway, marked 'collapsed: true' in metrics.json and the model card.",
        "=" * 78,
    ]
    return "\n".join(lines)


def stall_text(diagnosis: dict, epoch: int | None = None) -> str:
    """A warning for a model that has barely moved from the class prior (not collapsed, not trained either)."""
    where = f" (kept model, epoch {epoch})" if epoch is not None else ""
    return (
        f"WARNING: the model has barely moved from the class prior{where}: validation loss "
        f"{diagnosis['val_loss']:.4f} vs prior entropy {diagnosis['class_prior_entropy']:.4f}, predicted "
        f"probabilities vary by std {diagnosis['prediction_std']:.2e}. Its ranking (AUROC {diagnosis['auroc']:.3f}) "
        "may be usable but its probabilities are not calibrated (most fall on one side of 0.5). Train longer "
        "(--min-steps, e.g. 600), on more data, or from a pretrained checkpoint."
    )
