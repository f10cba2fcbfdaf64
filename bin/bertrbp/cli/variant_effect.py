"""bertrbp-variant-effect: how SNVs and short indels in a VCF change each model's predicted binding.

For each ALT allele the reference and alternate windows (--window nt, centred on the variant, length kept for
indels) are read from the genome on the transcript strand (--strand-bed or --gtf; '+' without them; both
strands when features on both overlap) and scored by every --model. Output TSV, one row per allele, strand
and model: chrom pos id ref alt strand model ref_prob alt_prob delta_prob ref_logit alt_logit delta_logit note
(delta = alt - ref). REF must match the genome: --on-ref-mismatch fail (default) stops with chrom:pos; skip
lists such alleles, with symbolic alleles and unannotated ones, in OUTPUT-stem.skipped.tsv (always written; with
-o a device or pipe, such as /dev/stdout, only as warnings on stderr).
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
from bertrbp.variants.run import VariantEffectOptions, run_variant_effect

app = make_app(__doc__)


@app.command()
def variant_effect(
    model: list[str] = typer.Option(..., "--model", help="Checkpoint folder (repeat for several; NAME=DIR names it)."),
    vcf: Path = typer.Option(..., "--vcf", help="VCF of variants (plain or gzip)."),
    genome: Path = typer.Option(..., "--genome", help="Genome FASTA the VCF refers to (indexed on first use)."),
    output: Path = typer.Option(..., "--output", "-o", help="Effects TSV to write."),
    window: int = typer.Option(101, "--window", help="Window length in nt (the model's training length)."),
    strand_bed: Path | None = typer.Option(
        None, "--strand-bed", help="BED of transcribed features (strand in column 6)."
    ),
    gtf: Path | None = typer.Option(None, "--gtf", help="GTF whose genes/transcripts/exons give the strand."),
    on_ref_mismatch: str = typer.Option("fail", "--on-ref-mismatch", help="fail (default) or skip (report, go on)."),
    batch_size: int = batch_size_option(64, "Windows per forward pass."),
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
    """Score reference vs alternate alleles with one or more models."""
    start_torch_tool(threads)
    options = VariantEffectOptions(
        models=model,
        vcf=vcf,
        genome=genome,
        output=output,
        window=window,
        strand_bed=strand_bed,
        gtf=gtf,
        on_ref_mismatch=on_ref_mismatch,
        batch_size=batch_size,
        device=device,
        bf16=bf16,
        ensemble=ensemble,
    )
    summary = run_variant_effect(options)
    log.info(
        "scored %d allele-strands (%d rows) into %s; %d alleles not scored (see %s)",
        summary.scored,
        summary.rows,
        output,
        summary.skipped,
        summary.skipped_path or "the warnings above",
    )


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
