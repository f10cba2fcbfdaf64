"""bertrbp-fold: MEA secondary structures and per-nucleotide / per-token structural element labels."""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import MAX_THREADS, VersionOption, make_app, run, setup_logging
from bertrbp.fold.engines import DEFAULT_ENGINE, DEFAULT_MAX_LENGTH
from bertrbp.fold.run import FoldRunOptions, run_fold

app = make_app(__doc__)


@app.command()
def fold(
    inputs: list[Path] = typer.Argument(
        ..., help="Sequence files: FASTA (plain/gzip), SEQUENCE<TAB>LABEL TSV or k-mer TSV."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Structures TSV: id, sequence, structure, elements."),
    token_labels: Path | None = typer.Option(
        None, "--token-labels", help="Also write per-k-mer-token labels (id F T I H M S, 0/1 strings)."
    ),
    engine: str = typer.Option(DEFAULT_ENGINE, "--engine", help="vienna (ViennaRNA) or linearpartition."),
    gamma: float = typer.Option(3.0, "--gamma", min=0.0, help="MEA gamma: higher favours more base pairs."),
    beam_size: int = typer.Option(100, "--beam-size", help="LinearPartition beam (0 = no pruning, exact)."),
    mode: str = typer.Option("vienna", "--mode", help="LinearPartition parameters: vienna (Turner 2004) or eterna."),
    threads: int = typer.Option(
        0, "--threads", min=0, max=MAX_THREADS, help="Worker processes (0 = all CPUs of the task; no more than those)."
    ),
    k: int = typer.Option(3, "--k", min=1, max=6, help="k-mer size of the model's tokens, for --token-labels."),
    bpp: Path | None = typer.Option(
        None, "--bpp", help="Also write each nucleotide's unpaired probability (id, comma-separated values)."
    ),
    energy: bool = typer.Option(
        False, "--energy", help="Add the ensemble free energy column (kcal/mol; EternaFold units with --mode eterna)."
    ),
    fmt: str = typer.Option("auto", "--format", help="auto, fasta, tsv or kmer-tsv."),
    max_length: int = typer.Option(
        DEFAULT_MAX_LENGTH, "--max-length", help="Refuse records longer than this (nt); memory grows with its square."
    ),
    version: bool | None = VersionOption,
) -> None:
    """Fold every sequence into its maximum expected accuracy (MEA) structure and label each nucleotide
    F (5' dangling end), T (3' dangling end), I (internal loop or bulge), H (hairpin), M (multiloop) or S (stem).
    Sequences are folded as upper-case RNA (T read as U, N left unpaired); outputs keep the input order and ids."""
    setup_logging()
    options = FoldRunOptions(
        inputs=inputs,
        output=output,
        token_labels=token_labels,
        engine=engine,
        gamma=gamma,
        beam_size=beam_size,
        mode=mode,
        threads=threads,
        k=k,
        bpp=bpp,
        energy=energy,
        fmt=fmt,
        max_length=max_length,
    )
    run_fold(options)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
