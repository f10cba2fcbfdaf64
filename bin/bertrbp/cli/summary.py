"""bertrbp-summary: gather every RBP's evaluation metrics into one table and an HTML report with plots."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bertrbp.cli.common import VersionOption, log, make_app, run, setup_logging
from bertrbp.io.atomic import atomic_open
from bertrbp.report.html import render
from bertrbp.report.metrics import gather, to_tsv
from bertrbp.report.plots import metric_bars, main_vs_other

app = make_app(__doc__)

TABLE_NAME = "metrics_summary.tsv"
REPORT_NAME = "report.html"


@app.command()
def summary(
    metrics: List[Path] = typer.Argument(..., help="Metrics JSON files from bertrbp-evaluate (one per RBP and model)."),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help=f"Folder for {TABLE_NAME} and {REPORT_NAME}."),
    title: str = typer.Option("bert-rbp summary", "--title", help="Title of the HTML report."),
    version: Optional[bool] = VersionOption,
) -> None:
    """One row per metrics file: the name (evaluate --name, else the file name) splits into RBP and model at the
    first '.', so 'RBFOX2.baseline' is RBFOX2's baseline model. Both outputs appear only when both are complete."""
    setup_logging()
    rows = gather(metrics)
    plots = {
        "AUROC per RBP": metric_bars(rows, "auroc"),
        "AUPRC per RBP": metric_bars(rows, "auprc"),
        "Main model vs other models (e.g. the random-init baseline)": main_vs_other(rows, "auroc"),
    }
    table = to_tsv(rows)
    page = render(rows, plots, title)
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_open(output_dir / REPORT_NAME) as report_handle, atomic_open(output_dir / TABLE_NAME) as table_handle:
        report_handle.write(page)
        table_handle.write(table)
    log.info("summarised %d model(s) of %d RBP(s) into %s", len(rows), len({r.rbp for r in rows}), output_dir)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
