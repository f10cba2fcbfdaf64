"""The evaluate tool's job: metrics of a labelled predictions TSV, a metrics JSON and optional ROC/PR plots.

Torch-free (the evaluate image has no torch): it reads the TSV bertrbp-predict wrote, never a model.
"""

from __future__ import annotations

import json
import logging
import os
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


def output_files(options: EvaluateOptions) -> dict[str, Path]:
    """Every file the run writes, by how the user named it; refuses a plots folder that is the JSON's path.

    Why: the plots are named by the tool (``roc.png``...), so ``-o plots/roc.png`` replaced a plot with the JSON,
    and predictions kept as ``plots/pr.svg`` were overwritten by the plot, both with exit 0.
    """
    from bertrbp.plots import plot_files

    files = {"-o": Path(options.output)}
    if options.plots_dir is not None:
        plots, output = (Path(os.path.abspath(path)) for path in (options.plots_dir, options.output))
        if plots == output or output in plots.parents:  # the plots were published, then the JSON failed: exit 2
            raise InputError(
                f"--plots-dir {options.plots_dir} is, or lies inside, the -o path {options.output}; give the "
                "metrics JSON and the plots folder different paths."
            )
        for path in plot_files(options.plots_dir):
            files[f"the plot {path.name} (--plots-dir)"] = path
    return files


def run_evaluate(options: EvaluateOptions) -> dict:
    """Write the metrics JSON (and plots); returns the metrics. Unlabelled predictions are refused, naming one."""
    from bertrbp.io.atomic import atomic_open, refuse_overwriting_inputs
    from bertrbp.io.predictions import read_prediction_table
    from bertrbp.metrics import binary_metrics

    refuse_overwriting_inputs(output_files(options), {"the predictions": [options.predictions]})
    table = read_prediction_table(options.predictions)
    ids, probabilities, labels = table.ids, table.probabilities, table.labels
    unlabelled = [i for i, lab in zip(ids, labels) if lab is None]
    if unlabelled:
        raise InputError(
            f"{options.predictions}: {len(unlabelled)} predictions have no label (first: '{unlabelled[0]}'). "
            "Predict from labelled inputs (class:0/1 headers, a TSV label column) or with --label."
        )
    metrics = binary_metrics(labels, probabilities, where=str(options.predictions), ranking=table.ranking)
    if options.name:
        metrics = {"name": options.name, **metrics}
    if options.plots_dir is not None:
        from bertrbp.plots import write_curve_plots

        write_curve_plots(labels, table.ranking, metrics, options.plots_dir, options.name)
    with atomic_open(options.output, "w") as handle:
        handle.write(json.dumps(metrics, indent=2) + "\n")
    log.info(
        "AUROC %.4f, AUPRC %.4f on %d sequences -> %s", metrics["auroc"], metrics["auprc"], metrics["n"], options.output
    )
    return metrics
