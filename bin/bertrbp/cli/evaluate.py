"""bertrbp-evaluate: AUROC, AUPRC, accuracy, F1 and MCC of a predictions TSV, with ROC and PR plots.

Reads bertrbp-predict's TSV (labels from its label column), writes a metrics JSON (auroc, auprc, accuracy, f1,
mcc, n, n_positive, threshold; threshold 0.5 on the probability) and, with --plots-dir, roc.png/.svg and
pr.png/.svg.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import VersionOption, log, make_app, run, setup_logging

app = make_app(__doc__)


@app.command()
def evaluate(
    predictions: Path = typer.Argument(..., help="Predictions TSV from bertrbp-predict, with labels."),
    output: Path = typer.Option(..., "--output", "-o", help="Metrics JSON to write."),
    plots_dir: Path | None = typer.Option(None, "--plots-dir", help="Write ROC and PR plots (PNG, SVG) here."),
    name: str = typer.Option("", "--name", help="Dataset name for the JSON and plot titles."),
    version: bool | None = VersionOption,
) -> None:
    """Evaluate predictions against their labels."""
    import json

    from bertrbp.errors import InputError
    from bertrbp.io.atomic import atomic_open
    from bertrbp.io.predictions import read_predictions
    from bertrbp.metrics import binary_metrics

    setup_logging()
    ids, probabilities, labels = read_predictions(predictions)
    unlabelled = [i for i, lab in zip(ids, labels) if lab is None]
    if unlabelled:
        raise InputError(
            f"{predictions}: {len(unlabelled)} predictions have no label (first: '{unlabelled[0]}'). Predict from "
            "labelled inputs (class:0/1 headers, a TSV label column) or with --label."
        )
    metrics = binary_metrics(labels, probabilities, where=str(predictions))
    if name:
        metrics = {"name": name, **metrics}
    if plots_dir is not None:
        from bertrbp.plots import write_curve_plots

        write_curve_plots(labels, probabilities, metrics, plots_dir, name)
    with atomic_open(output, "w") as handle:
        handle.write(json.dumps(metrics, indent=2) + "\n")
    typer.echo(json.dumps(metrics))
    log.info("AUROC %.4f, AUPRC %.4f on %d sequences -> %s", metrics["auroc"], metrics["auprc"], metrics["n"], output)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
