"""bertrbp-summary: gather every RBP's models into one table and an HTML report a user can trust a model by.

Per model: test metrics, a verdict (collapsed, stalled, not above the k-mer floor, learned) and the margin over
its RBP's k-mer floor; per RBP: ROC and PR curves (--predictions), per-epoch training curves, run parameters and
software versions (--training). Names: 'RBP' is the main model, 'RBP.tag' another model of the same RBP
('RBFOX2.baseline', 'RBFOX2.kmer'); the model tagged --floor-model (or trained with --model kmer) is the floor.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import VersionOption, make_app, run, setup_logging
from bertrbp.report.collect import FLOOR_KIND
from bertrbp.report.run import REPORT_NAME, TABLE_NAME, SummaryOptions, run_summary

app = make_app(__doc__)


@app.command()
def summary(
    metrics: list[Path] | None = typer.Argument(
        None,
        help="Metrics JSON files from bertrbp-evaluate (one per RBP and model); optional when --predictions "
        "are given (the same metrics are then computed from them).",
    ),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help=f"Folder for {TABLE_NAME} and {REPORT_NAME}."),
    predictions: list[str] | None = typer.Option(
        None,
        "--predictions",
        "-p",
        metavar="[NAME=]TSV",
        help="Test predictions TSV from bertrbp-predict (with labels): ROC/PR curves and a test-set stall check. "
        "Repeat per model. Without NAME= the name is the file name less .predictions.tsv.",
    ),
    training: list[str] | None = typer.Option(
        None,
        "--training",
        "-t",
        metavar="[NAME=]PATH",
        help="A bertrbp-finetune output folder (or its metrics.json / model_card.json): per-epoch curves, the "
        "collapse/stall verdict, run parameters and versions. Repeat per model; finetune's file names say "
        "nothing of the RBP, so write NAME=PATH, e.g. RBFOX2_HepG2.kmer=runs/kmer.",
    ),
    floor_model: str = typer.Option(
        FLOOR_KIND,
        "--floor-model",
        help="Model tag of each RBP's k-mer floor (a run with model_kind 'kmer' also "
        "counts when no model has this tag).",
    ),
    title: str = typer.Option("bert-rbp summary", "--title", help="Title of the HTML report."),
    version: bool | None = VersionOption,
) -> None:
    """One row per RBP and model. Both outputs appear only when both are complete."""
    setup_logging()
    options = SummaryOptions(
        output_dir=output_dir,
        metrics=metrics or [],
        predictions=predictions or [],
        training=training or [],
        floor_model=floor_model,
        title=title,
    )
    run_summary(options)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
