"""The evaluate tool's job: metrics of a labelled predictions TSV, a metrics JSON and optional ROC/PR plots.

Torch-free (the evaluate image has no torch): it reads the TSV bertrbp-predict wrote, never a model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")


@dataclass
class EvaluateOptions:
    """What bertrbp-evaluate was asked to do (one field per flag)."""

    predictions: Path
    output: Path
    plots_dir: Path | None = None
    name: str = ""


def run_evaluate(options: EvaluateOptions) -> dict:
    """Write the metrics JSON (and plots); returns the metrics. Unlabelled predictions are refused, naming one."""
    from bertrbp.io.atomic import atomic_open
    from bertrbp.io.predictions import read_predictions
    from bertrbp.metrics import binary_metrics

    ids, probabilities, labels = read_predictions(options.predictions)
    unlabelled = [i for i, lab in zip(ids, labels) if lab is None]
    if unlabelled:
        raise InputError(
            f"{options.predictions}: {len(unlabelled)} predictions have no label (first: '{unlabelled[0]}'). "
            "Predict from labelled inputs (class:0/1 headers, a TSV label column) or with --label."
        )
    metrics = binary_metrics(labels, probabilities, where=str(options.predictions))
    if options.name:
        metrics = {"name": options.name, **metrics}
    if options.plots_dir is not None:
        from bertrbp.plots import write_curve_plots

        write_curve_plots(labels, probabilities, metrics, options.plots_dir, options.name)
    with atomic_open(options.output, "w") as handle:
        handle.write(json.dumps(metrics, indent=2) + "\n")
    log.info(
        "AUROC %.4f, AUPRC %.4f on %d sequences -> %s", metrics["auroc"], metrics["auprc"], metrics["n"], options.output
    )
    return metrics
