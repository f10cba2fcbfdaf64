"""Platt calibration of a kept model whose raw outputs sat at the class prior, folded into its output layer.

Why: at a few hundred training sites the epoch with the best validation AUROC is often an early one whose
predicted probabilities barely differ from the class frequency (finetune's "stalled" verdict). Its ranking can be
good (validation AUROC 0.85 for RBFOX2_HepG2 at 500 training sites), but every probability falls on one side of
0.5, so accuracy is the majority share and MCC is 0. A logistic fit of the labels on the model's log-odds
(``p = sigmoid(scale * z + shift)``, Platt 1999) keeps the ranking and makes the probabilities mean something.

Where it is fitted: on the training sites (at most ``MAX_TRAINING_SITES``) when the kept model has not fitted them:
its loss on them is still the prior's and it ranks them no better than the validation sites (AUROC within
``GAIN_Z`` standard errors, Hanley & McNeil). The 21 stalled kept models of the 500-site benchmark did: mean AUROC
0.73 on their training sites, 0.75 on validation. 450 training sites judge a fit far better than 50 validation ones
(fitted on validation alone, 17 of those 21 could not show a gain of 2 standard errors). The untouched validation
sites then check the fit: it must predict them better than their class frequency by ``HELDOUT_Z`` standard errors
(simulated with 450 training and 50 validation sites: a ranking memorised on training (d' 0.5) and absent on
validation passes 2 % of the time, as the validation gate's 2 standard errors were meant to allow; a real one of
d' 0.8 on both passes 68 % of the time, against 90 % with no held-out threshold and 13 % false passes).
A fit that fails there is not retried on validation (it would be fitted to the very sites that refuted it). A model
that has fitted its training sites is calibrated on validation instead.

The fit is written into the classifier's last linear layer, so predict, scan, variant-effect, attribute and
ensembles use the calibrated model with no new file or option. It is kept only when it generalises: the loss of
a cross-fitted calibration (each fold scored by a fit on the other folds) must beat the class prior by
``bertrbp.collapse.LOSS_MARGIN`` and by ``GAIN_Z`` standard errors (a margin alone let a model pass whose test
AUROC was 0.51); otherwise the model stays as trained and the stall warning stands.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bertrbp.collapse import LOSS_MARGIN
from bertrbp.metrics import class_prior_entropy

log = logging.getLogger("bertrbp")

CALIBRATE_CHOICES = ("auto", "yes", "no")  # auto: only a kept model finetune calls stalled
CROSSFIT_FOLDS = 5
GAIN_Z = 2.0  # the out-of-fold gain over the prior must exceed this many standard errors (one-sided, about 2 %)
MAX_TRAINING_SITES = 2000  # training sites scored for a fit on them: plenty for two parameters (seconds for mini)
HELDOUT_Z = 1.0  # a training-site fit must beat the prior on validation by this many standard errors (see above)
FP32_ABOVE_SCALE = 10.0  # calibrations that magnify the log-odds more than this score in fp32 under --bf16 auto
_RIDGE = 1e-4  # on the standardised log-odds: keeps the fit finite when validation separates perfectly


@dataclass
class Calibration:
    """What calibration did to the kept model (``metrics.json`` / the model card: ``calibration``)."""

    applied: bool
    reason: str
    policy: str
    scale: float = 1.0
    shift: float = 0.0
    fitted_on: str = ""  # "training" or "validation" sites
    n_fit: int = 0
    n_validation: int = 0
    raw_val_loss: float = float("nan")
    crossfit_loss: float = float("nan")  # out-of-fold loss of the calibration on its fit set: what it is judged by
    fit_prior_entropy: float = float("nan")  # the class prior's loss on the fit set
    train_auroc: float = float("nan")  # of the scored training sites, and the gap to validation's in standard errors:
    ranking_gap_z: float = float("nan")  # training sites may calibrate only a model that ranks them like unseen ones
    heldout_gain_z: float = float("nan")  # a training-site fit's gain over the prior on validation, in standard errors
    crossfit_gain_z: float = float("nan")  # the out-of-fold gain over that prior, in standard errors
    calibrated_val_loss: float = float("nan")  # on validation: held out when fitted on training, else in-sample
    calibrated_val_accuracy: float = float("nan")  # at 0.5, likewise (the kept epoch's metrics are the raw model's)
    class_prior_entropy: float = float("nan")  # validation's

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def fit_platt(log_odds: np.ndarray, labels: np.ndarray) -> tuple[float, float] | None:
    """(scale, shift) of Platt's logistic fit of ``labels`` on ``log_odds``; None when it cannot be fitted.

    Platt's smoothed targets ((N+ + 1)/(N+ + 2) and 1/(N- + 2)) keep the optimum finite even when validation
    separates perfectly; Newton steps are halved until the penalised loss falls. The log-odds are standardised
    first: a stalled model's vary by 1e-3, which a raw fit would need a scale of thousands to use.
    """
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    centre, spread = float(z.mean()), float(z.std())
    if not (math.isfinite(spread) and spread > 1e-12 * max(1.0, abs(centre))):  # all equal (up to rounding)
        return None
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    design = np.stack([(z - centre) / spread, np.ones_like(z)], axis=1)
    ridge = np.diag([_RIDGE, 0.0])

    def objective(w: np.ndarray) -> float:
        eta = design @ w
        return float(np.sum(np.logaddexp(0.0, eta) - target * eta) + 0.5 * w @ ridge @ w)

    weights = np.array([0.0, math.log((positives + 1) / (negatives + 1))])
    current = objective(weights)
    for _ in range(100):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - target) + ridge @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        for _ in range(40):  # halve until the loss does not rise
            trial = weights - step
            value = objective(trial)
            if value <= current + 1e-12:
                break
            step = step / 2
        else:
            return None
        weights, decrease, current = trial, current - value, value
        if np.abs(step).max() < 1e-10 or decrease < 1e-13:
            slope, intercept = float(weights[0]), float(weights[1])
            return slope / spread, intercept - slope * centre / spread
    return None


def log_losses(log_odds: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sequence binary cross-entropy (nats) of probabilities sigmoid(log_odds), without overflow."""
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return np.logaddexp(0.0, z) - y * z


def log_loss(log_odds: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy (nats) of probabilities sigmoid(log_odds)."""
    return float(np.mean(log_losses(log_odds, labels)))


def crossfit_losses(log_odds: np.ndarray, labels: np.ndarray, folds: int = CROSSFIT_FOLDS, seed: int = 0):
    """Per-sequence out-of-fold loss of Platt calibration: each stratified fold is scored by the fit on the others
    (None when a class has fewer than two sequences, or a fit fails)."""
    from sklearn.model_selection import StratifiedKFold

    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    n_splits = min(folds, int(np.bincount(y, minlength=2).min()))
    if n_splits < 2:
        return None
    calibrated = np.empty_like(z)
    for fit_rows, score_rows in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(z, y):
        fit = fit_platt(z[fit_rows], y[fit_rows])
        if fit is None:
            return None
        calibrated[score_rows] = fit[0] * z[score_rows] + fit[1]
    return log_losses(calibrated, y)


def gain_over_prior(losses: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean, z-score) of the per-sequence loss saved over predicting the class frequency; the z-score is the mean
    over its standard error, so that 50 validation sequences cannot pass on noise."""
    y = np.asarray(labels, dtype=np.float64)
    share = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    prior = -(y * math.log(share) + (1 - y) * math.log(1 - share))
    gain = prior - losses
    error = float(gain.std(ddof=1)) / math.sqrt(len(gain)) if len(gain) > 1 else float("inf")
    return float(gain.mean()), float(gain.mean() / error) if error > 0 else float("inf")


def reason_to_skip(policy: str, stalled: bool, collapsed: bool) -> str | None:
    """Why no calibration is even tried (so the model need not be scored), or None."""
    if policy == "no":
        return "--calibrate no"
    if collapsed:
        return "the model collapsed: there is no ranking to calibrate"
    if policy == "auto" and not stalled:
        return "not needed: the kept model's outputs had left the class prior"
    return None


def sits_at_prior(log_odds: np.ndarray, labels: np.ndarray) -> bool:
    """Whether outputs predict ``labels`` no better than their class frequency (``LOSS_MARGIN``)."""
    return log_loss(log_odds, labels) >= class_prior_entropy(labels) - LOSS_MARGIN


def auroc_standard_error(auroc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): the standard error of an AUROC from its value and the class counts."""
    q1, q2 = auroc / (2 - auroc), 2 * auroc * auroc / (1 + auroc)
    variance = auroc * (1 - auroc) + (positives - 1) * (q1 - auroc**2) + (negatives - 1) * (q2 - auroc**2)
    return math.sqrt(max(variance, 0.0) / (positives * negatives))


def ranking_gap(train_log_odds, train_labels, log_odds, labels) -> tuple[float, float]:
    """(training AUROC, how far it is above validation's in standard errors): a model that memorised the ranking
    of its training sites, while its probabilities still sit at the prior there, ranks them better than unseen ones."""
    from sklearn.metrics import roc_auc_score

    train_y, val_y = np.asarray(train_labels, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    train_auc, val_auc = float(roc_auc_score(train_y, train_log_odds)), float(roc_auc_score(val_y, log_odds))
    error = math.hypot(
        auroc_standard_error(train_auc, int(train_y.sum()), int(len(train_y) - train_y.sum())),
        auroc_standard_error(val_auc, int(val_y.sum()), int(len(val_y) - val_y.sum())),
    )
    return train_auc, (train_auc - val_auc) / error if error > 0 else float("inf")


def decide(
    policy: str,
    stalled: bool,
    collapsed: bool,
    log_odds: np.ndarray,
    labels: np.ndarray,
    train_log_odds: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
) -> Calibration:
    """Whether and how to calibrate the kept model, from its validation log-odds and, where given, those of
    (a sample of) its training sites; nothing is changed here."""
    if (train_log_odds is None) != (train_labels is None):
        raise ValueError("train_log_odds and train_labels go together")
    z = np.asarray(log_odds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    prior = class_prior_entropy(y)
    base = {"policy": policy, "n_validation": int(len(y)), "raw_val_loss": log_loss(z, y), "class_prior_entropy": prior}
    skip = reason_to_skip(policy, stalled, collapsed)
    if skip:
        return Calibration(False, skip, **base)
    if not np.isfinite(z).all():
        return Calibration(False, "non-finite validation outputs", **base)
    on_training = False
    if train_log_odds is not None:
        train_z, train_y = np.asarray(train_log_odds, dtype=np.float64), np.asarray(train_labels, dtype=np.int64)
        if not np.isfinite(train_z).all():
            return Calibration(False, "non-finite outputs on training sites", **base)
        base["train_auroc"], base["ranking_gap_z"] = ranking_gap(train_z, train_y, z, y)
        on_training = sits_at_prior(train_z, train_y) and base["ranking_gap_z"] <= GAIN_Z
    fit_z, fit_y = (train_z, train_y) if on_training else (z, y)
    where = "training" if on_training else "validation"
    base |= {"fitted_on": where, "n_fit": int(len(fit_y)), "fit_prior_entropy": class_prior_entropy(fit_y)}
    fit = fit_platt(fit_z, fit_y)
    if fit is None:
        return Calibration(False, f"the {where} outputs are all equal or the fit did not converge", **base)
    scale, shift = fit
    losses = crossfit_losses(fit_z, fit_y)
    crossfit = float("nan") if losses is None else float(losses.mean())
    gain, z_score = gain_over_prior(losses, fit_y) if losses is not None else (float("nan"), float("nan"))
    calibrated = scale * z + shift
    fitted = {**base, "scale": scale, "shift": shift, "crossfit_loss": crossfit, "crossfit_gain_z": z_score}
    fitted |= {
        "calibrated_val_loss": log_loss(calibrated, y),
        "calibrated_val_accuracy": float(np.mean((calibrated > 0) == y)),
    }
    if on_training:
        fitted["heldout_gain_z"] = gain_over_prior(log_losses(calibrated, y), y)[1]
    raw_fit_loss = log_loss(fit_z, fit_y)
    if not scale > 0:
        return Calibration(False, f"the fitted scale {scale:.3g} is not positive: {where} ranks backwards", **fitted)
    if not math.isfinite(crossfit):
        return Calibration(False, f"too few {where} sequences of a class to judge a calibration out of fold", **fitted)
    if not (gain > LOSS_MARGIN and z_score > GAIN_Z and crossfit < raw_fit_loss):
        return Calibration(
            False,
            f"calibration does not generalise: cross-fitted loss {crossfit:.4f} on {len(fit_y)} {where} sequences "
            f"against the class prior {base['fit_prior_entropy']:.4f} is not lower by more than {LOSS_MARGIN} and "
            f"{GAIN_Z:g} standard errors (z {z_score:.2f}), or not lower than the raw outputs' {raw_fit_loss:.4f}",
            **fitted,
        )
    if on_training and not fitted["heldout_gain_z"] > HELDOUT_Z:
        return Calibration(
            False,
            f"the calibration fitted on training sites does not carry over to the held-out validation sites (loss "
            f"{fitted['calibrated_val_loss']:.4f} against their class prior {prior:.4f}, z "
            f"{fitted['heldout_gain_z']:.2f}, not above {HELDOUT_Z:g})",
            **fitted,
        )
    return Calibration(True, f"calibrated on the {where} sites (Platt scaling)", **fitted)


def fold_into_head(model, scale: float, shift: float) -> None:
    """Rewrite the classifier's last linear layer so its log-odds become ``scale * z + shift``, and record the
    map in the model's config (``bertrbp_calibration``: saved with it; see ``scores_in_fp32``).

    Two-logit (softmax) heads: both rows and biases scale, the bias gap grows by ``shift``; one-logit heads: the row
    and bias scale, the bias grows by ``shift``.
    """
    import torch

    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or head.bias is None or head.out_features not in (1, 2):
        raise TypeError(f"{type(model).__name__} has no linear classifier with a bias and 1 or 2 outputs")
    with torch.no_grad():
        head.weight.mul_(scale)
        head.bias.mul_(scale)
        if head.out_features == 1:
            head.bias += shift
        else:
            head.bias[1] += shift / 2
            head.bias[0] -= shift / 2
    model.config.bertrbp_calibration = {"method": "platt", "scale": scale, "shift": shift}


def forget(model) -> None:
    """Drop a calibration record inherited from a starting checkpoint: training changed the head it described."""
    if getattr(model.config, "bertrbp_calibration", None) is not None:
        model.config.bertrbp_calibration = None


def inference_bf16(device, requested: str, models: Sequence) -> bool:
    """``bertrbp.device.use_bf16`` for scoring ``models``: 'auto' also stays off when one of them was calibrated
    with a large scale (``scores_in_fp32``); 'yes' and 'no' are obeyed."""
    from bertrbp.device import use_bf16

    on = use_bf16(device, requested)
    if on and requested == "auto" and any(scores_in_fp32(model) for model in models):
        log.info("bf16 off: a model's calibration magnified its log-odds, which bf16 rounding would blur")
        return False
    return on


def scores_in_fp32(model) -> bool:
    """Whether ``--bf16 auto`` should score ``model`` (or an ensemble holding it) in float32: a calibration that
    magnified the log-odds more than ``FP32_ABOVE_SCALE``-fold magnifies bf16's rounding of the hidden states too
    (measured on a calibrated stalled model: logits 0.69 apart on average between bf16 and fp32)."""
    for module in model.modules():
        record = getattr(getattr(module, "config", None), "bertrbp_calibration", None)
        if isinstance(record, dict) and abs(record.get("scale", 1.0)) > FP32_ABOVE_SCALE:
            return True
    return False


def calibration_line(record: dict) -> str:
    """One line for the model card: what was fitted, on what, and the losses it is judged by."""
    where = record.get("fitted_on") or "validation"
    held_out = (
        f"; on the held-out validation sites {record['calibrated_val_loss']:.4f} against their prior "
        f"{record['class_prior_entropy']:.4f}"
        if where == "training"
        else ""
    )
    return (
        f"Platt scaling on {record.get('n_fit') or record['n_validation']} {where} sequences (log-odds x "
        f"{record['scale']:.4g} {record['shift']:+.4g}): cross-fitted loss {record['crossfit_loss']:.4f} against the "
        f"class prior {record['fit_prior_entropy']:.4f}, {record['crossfit_gain_z']:.1f} standard errors lower"
        f"{held_out} (raw validation loss {record['raw_val_loss']:.4f}; the kept epoch's validation numbers are the "
        "raw model's)"
    )


def calibrated_text(calibration: Calibration, epoch: int | None = None) -> str:
    """The log line when a stalled kept model was calibrated instead of left at the prior."""
    where = f" (kept model, epoch {epoch})" if epoch is not None else ""
    return (
        f"the kept model's raw outputs sat at the class prior{where}, but its ranking carries information: "
        f"{calibration_line(calibration.to_dict())}. The calibration is written into the model's output layer "
        "(--calibrate no leaves it as trained)."
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))
