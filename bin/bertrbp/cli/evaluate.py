"""bertrbp-evaluate: AUROC, AUPRC, accuracy, F1 and MCC of a predictions TSV, with ROC and PR plots.

Reads bertrbp-predict's TSV (labels from its label column), writes a metrics JSON (auroc, auprc, accuracy, f1,
mcc, n, n_positive, threshold; threshold 0.5 on the probability) and, with --plots-dir, roc.png/.svg and
pr.png/.svg.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bertrbp.cli.common import VersionOption, make_app, run, setup_logging
from bertrbp.evaluate import EvaluateOptions, run_evaluate

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
    setup_logging()
    metrics = run_evaluate(EvaluateOptions(predictions=predictions, output=output, plots_dir=plots_dir, name=name))
    typer.echo(json.dumps(metrics))


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
