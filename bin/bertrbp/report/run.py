"""The summary tool's job: collect every RBP's models, then write the table and the HTML report together."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.report.collect import FLOOR_KIND

log = logging.getLogger("bertrbp")

TABLE_NAME = "metrics_summary.tsv"
REPORT_NAME = "report.html"


@dataclass
class SummaryOptions:
    """What bertrbp-summary was asked to do (one field per flag; ``predictions``/``training`` are [NAME=]PATH)."""

    output_dir: Path
    metrics: Sequence[Path] = field(default_factory=list)
    predictions: Sequence[str] = field(default_factory=list)
    training: Sequence[str] = field(default_factory=list)
    floor_model: str = FLOOR_KIND
    title: str = "bert-rbp summary"


def run_summary(options: SummaryOptions) -> list:
    """Write ``metrics_summary.tsv`` and ``report.html`` (both appear only when both are complete); returns the
    rows, one per RBP and model, and warns about every model whose verdict failed."""
    from bertrbp.io.atomic import atomic_open
    from bertrbp.report.collect import collect
    from bertrbp.report.html import render
    from bertrbp.report.metrics import to_tsv

    rows = collect(options.metrics or [], options.predictions or [], options.training or [], options.floor_model)
    table = to_tsv(rows)
    page = render(rows, options.title)
    output_dir = Path(options.output_dir)
    # atomic_open makes the folder and, if writing fails, removes it again when it made it
    with atomic_open(output_dir / REPORT_NAME) as report_handle, atomic_open(output_dir / TABLE_NAME) as table_handle:
        report_handle.write(page)
        table_handle.write(table)
    failed = [r for r in rows if r.verdict and r.verdict.failed]
    for row in failed:
        log.warning("%s (%s model): %s - %s", row.rbp, row.model, row.verdict.headline, "; ".join(row.verdict.reasons))
    log.info(
        "summarised %d model(s) of %d RBP(s) into %s (%d stalled or collapsed)",
        len(rows),
        len({r.rbp for r in rows}),
        output_dir,
        len(failed),
    )
    return rows
