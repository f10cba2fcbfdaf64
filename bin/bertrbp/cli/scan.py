"""bertrbp-scan: slide fixed-window RBP models along sequences of any length; write binding profiles and peaks.

Windows of --window nt every --stride nt (plus one flush with the end) are scored by every --model; each
nucleotide gets the mean (or max, --aggregate) probability of the windows covering it. Outputs:
PREFIX.<model>.bedGraph (0-based, runs of equal values merged), PREFIX.profile.tsv (one row per nucleotide:
region chrom pos(1-based) strand offset base <one column per model>) and PREFIX.peaks.bed (runs of the profile
>= --threshold: chrom start end name score(0-1000) strand model max_probability summit). With --bed/--genome,
coordinates are genomic and '-' regions are scored on the reverse complement; otherwise positions are within
each FASTA record. Memory stays bounded on chromosome-sized inputs (windows and profile are streamed).
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import (
    Bf16Option,
    DeviceOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    log,
    make_app,
    run,
)
from bertrbp.cli.torch_tool import start_torch_tool
from bertrbp.scan.run import ScanOptions, run_scan

app = make_app(__doc__)


@app.command()
def scan(
    model: list[str] = typer.Option(
        ..., "--model", help="Checkpoint folder (repeat for several models; NAME=DIR names it)."
    ),
    input: Path | None = typer.Option(None, "--input", help="FASTA of sequences to scan (any length)."),
    bed: Path | None = typer.Option(None, "--bed", help="BED regions to scan (strand in column 6)."),
    genome: Path | None = typer.Option(None, "--genome", help="Genome FASTA for --bed (indexed on first use)."),
    output_prefix: Path = typer.Option(..., "--output-prefix", help="Prefix of the output files."),
    window: int = typer.Option(101, "--window", help="Window length in nt (the model's training length)."),
    stride: int = typer.Option(10, "--stride", help="Step between window starts in nt."),
    threshold: float = typer.Option(
        0.5, "--threshold", min=0.0, max=1.0, help="Profile probability at or above which a peak is called."
    ),
    batch_size: int = batch_size_option(64, "Windows per forward pass."),
    aggregate: str = typer.Option("mean", "--aggregate", help="Per-nucleotide value: mean or max of covering windows."),
    device: str = DeviceOption,
    bf16: str = Bf16Option,
    threads: int = ThreadsOption,
    ensemble: bool = typer.Option(
        False,
        "--ensemble",
        help="Score all --model as one ensemble named 'ensemble' (mean of their logits) instead of one column each.",
    ),
    version: bool | None = VersionOption,
) -> None:
    """Scan sequences or genome regions with one or more models."""
    start_torch_tool(threads)
    options = ScanOptions(
        models=model,
        output_prefix=output_prefix,
        fasta=input,
        bed=bed,
        genome=genome,
        window=window,
        stride=stride,
        threshold=threshold,
        batch_size=batch_size,
        aggregate=aggregate,
        device=device,
        bf16=bf16,
        ensemble=ensemble,
    )
    summary = run_scan(options)
    log.info(
        "scanned %d sequences (%d windows, %d nt): %d peaks; wrote %s",
        summary.targets,
        summary.windows,
        summary.positions,
        summary.peaks,
        ", ".join(str(p) for p in summary.paths.values()),
    )


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
