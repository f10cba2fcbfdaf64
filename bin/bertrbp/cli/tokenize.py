"""bertrbp-tokenize: turn sequences into DNABERT k-mer token ids."""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import VersionOption, make_app, run, setup_logging
from bertrbp.io.tokens import TokenizeOptions, run_tokenize

app = make_app(__doc__)


@app.command()
def tokenize(
    inputs: list[Path] = typer.Argument(..., help="FASTA (plain/gzip), SEQUENCE<TAB>LABEL TSV or k-mer TSV files."),
    output: Path = typer.Option(..., "--output", "-o", help="Tokens file to write (.npz)."),
    k: int = typer.Option(3, "--k", help="k-mer size (3, 4, 5 or 6), as in DNABERT."),
    fmt: str = typer.Option("auto", "--format", help="auto, fasta, tsv or kmer-tsv."),
    label: int | None = typer.Option(None, "--label", help="Give every sequence this label (0 or 1)."),
    max_positions: int = typer.Option(512, "--max-positions", help="Model positions; longer inputs are refused."),
    vocab_dir: Path | None = typer.Option(None, "--vocab-dir", help="Also write DNABERT's vocab.txt here."),
    version: bool | None = VersionOption,
) -> None:
    """Tokenize sequences ([CLS] + overlapping k-mers + [SEP]) into an .npz the other tools read."""
    setup_logging()
    options = TokenizeOptions(
        inputs=inputs,
        output=output,
        k=k,
        fmt=fmt,
        label=label,
        max_positions=max_positions,
        vocab_dir=vocab_dir,
    )
    run_tokenize(options)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
