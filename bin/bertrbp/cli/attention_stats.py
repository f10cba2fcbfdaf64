"""bertrbp-attention-stats: which attention heads of a BERT-RBP model specialise in region types, region
boundaries and RNA structure (the paper's attention analysis), with tables, arrays and figures."""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import (
    DeviceOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    log,
    make_app,
    run,
    setup_logging,
)
from bertrbp.errors import InputError

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
    seed: int = typer.Option(42, "--seed", help="Seed of the --max-sequences sample and of the binned subsets."),
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
    from bertrbp.attention.analysis import Settings, analyse, load_inputs, parse_head
    from bertrbp.attention.engine import open_model
    from bertrbp.attention.report import write_results
    from bertrbp.device import resolve_device, set_threads
    from bertrbp.model import is_preset, load_tokenizer

    # Labels are checked against the sequences before torch is even imported: bad input fails in a second.
    head = parse_head(fixed_head) if fixed_head is not None else None
    k = 3 if is_preset(model) else load_tokenizer(model).k
    inputs = load_inputs(sequences, k, sequence_labels, token_labels or [], max_sequences, seed)
    set_threads(threads)
    torch_device = resolve_device(device)
    main_model = open_model(model, torch_device)
    if main_model.k != k:
        raise InputError(f"{model}: the loaded model uses k={main_model.k}, its vocabulary k={k}.")
    other = open_model(compare_model, torch_device) if compare_model else None
    settings = Settings(batch_size=batch_size, n_bins=bins, percentile=percentile, seed=seed, fixed_head=head)
    counts = inputs.sample.summary()
    log.info(
        "analysing %d of %d sequences (%s; by label: %s) with %s (%d layers x %d heads) on %s",
        counts["analysed"],
        counts["in_file"],
        counts["method"],
        counts["analysed_by_label"],
        model,
        main_model.n_layers,
        main_model.n_heads,
        torch_device,
    )
    results = analyse(main_model, inputs, settings, other)
    write_results(results, output_dir, with_figures=not no_figures)
    for level in ("sequence", "token"):
        for prop, spec in results.specialization[level].items():
            log.info(
                "%s %s: most specialized head %s (CV %.3f)", level, prop, spec["most_specialized_head"], spec["cv"]
            )
    if results.fixed_head is not None:
        from bertrbp.attention.formulas import head_name

        log.info("fixed head binned for every property: %s", head_name(*results.fixed_head))
    log.info("wrote %s", output_dir)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
