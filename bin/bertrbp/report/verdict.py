"""Can a user trust this model? One verdict per model from everything the summary was given.

Levels, worst first:
- ``collapsed``: a constant or chance-level predictor (finetune's validation check, the same check on the test
  predictions, or a test AUROC within 0.02 of 0.5 when only metrics are given);
- ``stalled``: the model barely moved from the class prior (finetune's check, the same on the test predictions,
  or every test prediction on one side of the threshold: MCC 0 at accuracy = one class's share). Its ranking
  may be usable, its probabilities are not; this is the demo's RBFOX2 at MCC 0;
- ``below-floor``: test AUROC not above the k-mer floor of the same RBP (it learned nothing 1-5-mer counts cannot);
- ``ok``: none of the above; ``unknown``: nothing to judge by.
The thresholds are bertrbp.collapse's, so the report and finetune's warnings agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bertrbp.collapse import AUROC_MARGIN
from bertrbp.report.inputs import TestScores, TrainingRun

COLLAPSED, STALLED, BELOW_FLOOR, OK, UNKNOWN = "collapsed", "stalled", "below-floor", "ok", "unknown"
FAILED = (COLLAPSED, STALLED)  # shown as red banners
HEADLINES = {
    COLLAPSED: "COLLAPSED",
    STALLED: "STALLED",
    BELOW_FLOOR: "BELOW K-MER FLOOR",
    OK: "LEARNED",
    UNKNOWN: "NOT JUDGED",
}
ADVICE = {
    COLLAPSED: "Do not use this model. Lower --lr (e.g. 2e-4), warm up longer (--warmup-ratio 0.2), use a larger "
    "effective batch (--grad-accum), and check that both classes are present and labels match sequences.",
    STALLED: "Do not trust its probabilities (its ranking may still be usable). Train longer (--min-steps, e.g. "
    "600), on more data, or start from a pretrained checkpoint.",
    # the remedy named is the one measured to work: the benchmarks' best CPU recipe beat the k-mer floor on all 30
    # eCLIP and 21 RBP-31 sets, while neither up to 8 epochs nor the pretrained mini BERT lifted the demo BERT above it
    BELOW_FLOOR: "A logistic regression on 1-5-mer counts does at least as well: prefer a trusted model of this RBP "
    "(the k-mer model at least), or, unless this model is that recipe already, the benchmarks' best CPU recipe, "
    "above the floor on every eCLIP and RBP-31 set measured (bertrbp-finetune --model kmer-pos --model kmer-gbt "
    "--model cnn --seeds 42,43,44; in the pipeline --baseline_model kmer-pos,kmer-gbt,cnn).",
    OK: "",
    UNKNOWN: "Give the predictions TSV (--predictions) or the finetune run (--training) to judge this model.",
}


@dataclass
class Verdict:
    level: str
    reasons: list[str] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return HEADLINES[self.level]

    @property
    def advice(self) -> str:
        return ADVICE[self.level]

    @property
    def failed(self) -> bool:
        return self.level in FAILED


def _one_sided(values: dict) -> str | None:
    """MCC exactly 0 with the accuracy of always answering one class: every prediction is on one side."""
    mcc, accuracy, n, positives = (values.get(k) for k in ("mcc", "accuracy", "n", "n_positive"))
    if None in (mcc, accuracy, n, positives) or not n or mcc != 0.0:
        return None
    share = positives / n
    tolerance = 0.5 / n
    if abs(accuracy - share) <= tolerance:
        side = "bound (1)"
    elif abs(accuracy - (1 - share)) <= tolerance:
        side = "unbound (0)"
    else:
        return None
    threshold = values.get("threshold")
    at = f" {threshold:g}" if threshold is not None else ""
    return (
        f"test set: every prediction is {side} at the{at} threshold (MCC 0, accuracy {accuracy:.3f} = that "
        "class's share)"
    )


def _stall_reason(where: str, diagnosis: dict) -> str:
    loss, prior, spread = (diagnosis.get(k) for k in ("val_loss", "class_prior_entropy", "prediction_std"))
    if None in (loss, prior, spread):
        return f"{where}: the model has barely moved from the class prior"
    return (
        f"{where}: loss {loss:.4f} is no better than the class prior ({prior:.4f}) and predicted "
        f"probabilities vary by std {spread:.1e}"
    )


def judge(
    values: dict, training: TrainingRun | None, scores: TestScores | None, floor_auroc: float | None, is_floor: bool
) -> Verdict:
    """The verdict of one model; ``values`` are its test metrics (auroc, mcc, ...; None where unknown)."""
    collapsed: list[str] = []
    stalled: list[str] = []
    where_val = f"validation (kept epoch {training.kept_epoch})" if training else ""
    if training and training.collapsed:
        collapsed += [f"{where_val}: {r}" for r in training.diagnosis.get("reasons", [])] or [
            f"{where_val}: finetune marked the model collapsed"
        ]
    if scores and scores.diagnosis.get("collapsed"):
        collapsed += [f"test set: {r}" for r in scores.diagnosis.get("reasons", [])]
    auroc = values.get("auroc")
    if not scores and auroc is not None and abs(auroc - 0.5) < AUROC_MARGIN:
        collapsed.append(f"test set: AUROC {auroc:.3f} is within {AUROC_MARGIN} of 0.5 (chance-level ranking)")
    if training and training.stalled:
        stalled.append(_stall_reason(where_val, training.diagnosis))
    if scores and scores.diagnosis.get("stalled"):
        stalled.append(_stall_reason("test set", scores.diagnosis))
    one_sided = _one_sided(values)
    if one_sided:
        stalled.append(one_sided)
    floor_reason = []
    if not is_floor and floor_auroc is not None and auroc is not None and auroc <= floor_auroc:
        floor_reason.append(
            f"test AUROC {auroc:.3f} is not above the k-mer floor {floor_auroc:.3f} " f"({auroc - floor_auroc:+.3f})"
        )
    if collapsed:
        return Verdict(COLLAPSED, collapsed + stalled + floor_reason)
    if stalled:
        return Verdict(STALLED, stalled + floor_reason)
    calibrated = _calibration_note(training)
    if floor_reason:
        return Verdict(BELOW_FLOOR, floor_reason + calibrated)
    if auroc is None and training is None:
        return Verdict(UNKNOWN, [])
    reasons = []
    if auroc is not None:
        reasons.append(f"test AUROC {auroc:.3f}")
        if floor_auroc is not None and not is_floor:
            reasons.append(f"{auroc - floor_auroc:+.3f} over the k-mer floor")
    return Verdict(OK, reasons + calibrated)


def _calibration_note(training: TrainingRun | None) -> list[str]:
    """Say so when finetune calibrated the kept model (and whether its raw probabilities sat at the class prior)."""
    record = training.calibration if training else {}
    if not record.get("applied"):
        return []
    why = (
        "the kept epoch's raw outputs sat at the class prior; "
        if training.diagnosis.get("stalled_before_calibration")
        else ""
    )
    crossfit = record.get("crossfit_loss", record.get("crossfit_val_loss", float("nan")))  # older runs: the latter
    prior = record.get("fit_prior_entropy", record.get("class_prior_entropy", float("nan")))
    where = record.get("fitted_on") or "validation"
    held_out = (
        f"; held-out validation loss {record['calibrated_val_loss']:.4f} vs prior {record['class_prior_entropy']:.4f}"
        if where == "training" and record.get("calibrated_val_loss") is not None
        else ""
    )
    return [
        f"probabilities calibrated on {where} sites ({why}cross-fitted loss {crossfit:.4f} vs prior {prior:.4f}"
        f"{held_out})"
    ]
