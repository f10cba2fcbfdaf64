"""bertrbp-attention-stats: which attention heads of a BERT-RBP model specialise in region types, region
boundaries and RNA structure (the paper's attention analysis), with tables, arrays and figures."""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.attention.run import AttentionStatsOptions, run_attention_stats
from bertrbp.cli.common import (
    DeviceOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    make_app,
    run,
    seed_option,
    setup_logging,
)

app = make_app(__doc__)


@app.command()
def attention_stats(
    model: str = typer.Option(..., "--model", help="Fine-tuned checkpoint folder (or hub id / preset)."),
    sequences: Path = typer.Option(..., "--sequences", help="Sequences (FASTA, TSV or k-mer TSV); ids unique."),
    output_dir: Path = typer.Option(..., "--output-dir", help="Folder for tables, arrays.npz and figures/."),
    sequence_labels: Path | None = typer.Option(
        None, "--sequence-labels", help="Sequence labels TSV (id + 0/1 column per property, e.g. region types)."
    ),
    token_labels: list[Path] | None = typer.Option(
        None, "--token-labels", help="Token labels TSV (id + 0/1 string per property); repeat for several files."
    ),
    compare_model: str | None = typer.Option(
        None,
        "--compare-model",
        help="Second model (BERT-baseline, or the fine-tuned model's pretrained start): the same outputs as the main "
        "model (compare_* tables, heatmaps, CV comparison, binned curves) and Pearson similarity of patterns.",
    ),
    fixed_head: str | None = typer.Option(
        None,
        "--fixed-head",
        help="LAYER-HEAD (1-based, e.g. 4-2) binned for every property in both models; default: the main model's "
        "most specialized head of its highest-CV property.",
    ),
    batch_size: int = batch_size_option(32),
    device: str = DeviceOption,
    threads: int = ThreadsOption,
    max_sequences: int | None = typer.Option(
        None,
        "--max-sequences",
        min=1,
        help="Analyse at most N sequences, a seeded sample stratified by label (default: all of them).",
    ),
    seed: int = seed_option("Seed of the --max-sequences sample and of the binned subsets."),
    bins: int = typer.Option(15, "--bins", min=2, help="Attention bins of the binned analysis (paper: 15)."),
    percentile: float = typer.Option(
        99.5, "--percentile", min=50.0, max=100.0, help="Keep items up to this attention percentile (paper: 99.5)."
    ),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG/SVG figures."),
    version: bool | None = VersionOption,
) -> None:
    """Compute relative attention to [CLS] per sequence property (Eq. 1), attention ratios per token property
    (Eq. 2), each property's most specialized head, binned probabilities with Spearman's rho, and optionally the
    similarity to a second model. Attention runs in float32 (no bf16) with eager attention."""
    setup_logging()
    options = AttentionStatsOptions(
        model=model,
        sequences=sequences,
        output_dir=output_dir,
        sequence_labels=sequence_labels,
        token_labels=token_labels or [],
        compare_model=compare_model,
        fixed_head=fixed_head,
        batch_size=batch_size,
        device=device,
        threads=threads,
        max_sequences=max_sequences,
        seed=seed,
        bins=bins,
        percentile=percentile,
        figures=not no_figures,
    )
    run_attention_stats(options)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
