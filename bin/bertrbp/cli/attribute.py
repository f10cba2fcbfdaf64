"""bertrbp-attribute: which nucleotides drive a model's prediction, by integrated gradients and mutagenesis.

Writes into --output-dir: predictions.tsv, ig.tsv / ig_tokens.tsv (integrated gradients over the k-mer word
embeddings from a [PAD]/[UNK]/zero baseline; each nucleotide gets the mean of the tokens covering it),
ism.tsv (delta log-odds of every single-nucleotide substitution, L x 4, and importance = -mean delta),
logos/ (sequence logos of the first --max-logos sequences) and motif_summary.tsv (the top-attributed
k-mers of the bound sequences: label 1, or probability >= 0.5 without labels).
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.attribution.run import AttributeOptions, run_attribute
from bertrbp.cli.common import (
    DeviceOption,
    FormatOption,
    ThreadsOption,
    VersionOption,
    log,
    make_app,
    run,
)
from bertrbp.cli.torch_tool import start_torch_tool

app = make_app(__doc__)


@app.command()
def attribute(
    input: Path = typer.Argument(..., help="Sequences (FASTA, TSV or k-mer TSV), each within the model's length."),
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="Checkpoint or ensemble folder; repeat to attribute an ensemble (mean of the models' logits; IG is the "
        "mean of the members' IG). The k-mer model supports --method ism only.",
    ),
    output_dir: Path = typer.Option(
        ..., "--output-dir", help="Folder for the outputs (created if needed); other files in it are left alone."
    ),
    method: str = typer.Option("both", "--method", help="ig, ism or both."),
    steps: int = typer.Option(50, "--steps", help="Integrated-gradients steps (raise if the reported delta is large)."),
    baseline: str = typer.Option("pad", "--baseline", help="IG baseline embedding: pad, unk or zero."),
    top_kmers: int = typer.Option(20, "--top-kmers", min=1, help="Rows of the motif summary."),
    motif_length: int = typer.Option(6, "--motif-length", min=1, help="k-mer length of the motif summary."),
    max_logos: int = typer.Option(20, "--max-logos", min=0, help="Draw logos for this many sequences (0: none)."),
    logo_format: str = typer.Option("png", "--logo-format", help="png or svg."),
    fmt: str = FormatOption,
    device: str = DeviceOption,
    threads: int = ThreadsOption,
    version: bool | None = VersionOption,
) -> None:
    """Attribute predictions to nucleotides and summarise the motifs of bound sequences."""
    start_torch_tool(threads)
    options = AttributeOptions(
        models=model,
        input=input,
        output_dir=output_dir,
        method=method,
        steps=steps,
        baseline=baseline,
        top_kmers=top_kmers,
        motif_length=motif_length,
        max_logos=max_logos,
        logo_format=logo_format,
        fmt=fmt,
        device=device,
    )
    summary = run_attribute(options)
    ig = "" if summary.max_ig_delta is None else f"; largest IG completeness error {summary.max_ig_delta:.3g}"
    log.info("attributed %d sequences (%d bound) into %s%s", summary.sequences, summary.bound, output_dir, ig)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
