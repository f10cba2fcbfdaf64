"""bertrbp-prepare: build training, test and non-training sets from CLIP data, reproducibly.

Reads eCLIP TSV, RBP-31/RBP-24 FASTA, BERT-RBP k-mer TSV, RBPsuite positive/negative pairs, or BED + genome;
drops non-ACGT letters and duplicates, samples up to N per class, splits (random, by chromosome or by sequence
similarity) and writes NAME.train.fa, NAME.test.fa, NAME.nontrain.fa and NAME.manifest.json; optionally lifts
coordinates over with a chain file and labels transcript regions from a GTF.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import VersionOption, log, make_app, run, seed_option, setup_logging
from bertrbp.prepare.pipeline import PrepareOptions, run_prepare

app = make_app(__doc__)


def _split_list(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.command()
def prepare(
    inputs: list[Path] = typer.Argument(
        None, help="Sequence files (FASTA/TSV/k-mer TSV, plain or gzip) or RBPsuite folders."
    ),
    output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Folder for the outputs."),
    prefix: str = typer.Option("", "--prefix", help="Output name prefix (default: first input's name)."),
    fmt: str = typer.Option("auto", "--format", help="auto, fasta, tsv, kmer-tsv, rbp24 or rbpsuite."),
    label: int | None = typer.Option(None, "--label", help="Give every positional/BED input this label (0 or 1)."),
    positives: list[Path] = typer.Option([], "--positives", help="File(s) of bound sequences (label 1)."),
    negatives: list[Path] = typer.Option([], "--negatives", help="File(s) of unbound sequences (label 0)."),
    bed: list[Path] = typer.Option([], "--bed", help="BED6 site file(s); sequences are cut from --genome."),
    genome: Path | None = typer.Option(
        None,
        "--genome",
        help="Indexed (plain or bgzip) genome FASTA for --bed; without --bed, the liftover target genome.",
    ),
    bed_label_column: str = typer.Option(
        "none", "--bed-label-column", help="none, name or score: BED column holding 0/1."
    ),
    rbp24_mode: str = typer.Option(
        "full", "--rbp24-mode", help="RBP-24: full (flanks + viewpoint) or viewpoint (uppercase only)."
    ),
    length: int | None = typer.Option(
        None, "--length", help="RBP-24: window length centred on the viewpoint (trim, or pad with N)."
    ),
    coords: str = typer.Option(
        "auto", "--coords", help="Header coordinate convention: auto, bed, one-based, zero-based-closed."
    ),
    drop_n: bool = typer.Option(True, "--drop-n/--keep-n", help="Drop sequences containing N (paper: drop)."),
    min_length: int = typer.Option(1, "--min-length", help="Drop shorter sequences."),
    max_length: int | None = typer.Option(None, "--max-length", help="Drop longer sequences."),
    dedup: bool = typer.Option(True, "--dedup/--no-dedup", help="Drop exact duplicate sequences (paper: drop)."),
    max_per_class: int | None = typer.Option(
        12600,
        "--max-per-class",
        help="Sample at most this many per class (paper 12600, authors' script 15000; 0 = all).",
    ),
    test_size: str = typer.Option(
        "6000", "--test-size", help="Test set size: a count (paper 6000) or a fraction (script 0.2)."
    ),
    val_fraction: float = typer.Option(
        0.0, "--val-fraction", help="Fraction of the non-test rest for NAME.val.fa (script 0.2)."
    ),
    split: str = typer.Option(
        "random",
        "--split",
        help="random, locus (overlapping windows kept together), auto (locus when some windows with coordinates "
        "overlap, else random), chromosome (whole chromosomes held out) or similarity (near-duplicates kept "
        "together).",
    ),
    test_chromosomes: list[str] = typer.Option(
        [], "--test-chromosomes", help="With --split chromosome: hold out these (comma-separated)."
    ),
    similarity_k: int = typer.Option(8, "--similarity-k", help="k-mer size for near-duplicate detection."),
    similarity_threshold: float = typer.Option(
        0.5, "--similarity-threshold", help="k-mer Jaccard at which two sequences are near-duplicates."
    ),
    chain: Path | None = typer.Option(
        None, "--chain", help="UCSC chain file to lift coordinates over (e.g. hg19ToHg38.over.chain.gz)."
    ),
    target_genome: Path | None = typer.Option(
        None, "--target-genome", help="Genome of the chain's target assembly: keep only identical lifted sequences."
    ),
    gtf: Path | None = typer.Option(None, "--gtf", help="Ensembl/GENCODE GTF: write transcript-region labels."),
    k: int = typer.Option(3, "--k", help="k-mer size of the token labels."),
    seed: int = seed_option("Random seed for sampling and splitting."),
    version: bool | None = VersionOption,
) -> None:
    """Prepare per-RBP datasets: filter, sample, split (leakage-aware), liftover, annotate."""
    setup_logging()
    options = PrepareOptions(
        output_dir=output_dir,
        prefix=prefix,
        inputs=list(inputs or []),
        fmt=fmt,
        label=label,
        positives=list(positives),
        negatives=list(negatives),
        bed=list(bed),
        genome=genome,
        bed_label_column=bed_label_column,
        rbp24_mode=rbp24_mode,
        length=length,
        coords=coords,
        drop_n=drop_n,
        min_length=min_length,
        max_length=max_length,
        dedup=dedup,
        max_per_class=max_per_class or None,
        test_size=test_size,
        val_fraction=val_fraction,
        split=split,
        test_chromosomes=_split_list(test_chromosomes),
        similarity_k=similarity_k,
        similarity_threshold=similarity_threshold,
        chain=chain,
        target_genome=target_genome,
        gtf=gtf,
        k=k,
        seed=seed,
    )
    manifest = run_prepare(options)
    log.info("wrote %s: %s", output_dir, {n: s["total"] for n, s in manifest["splits"].items()})


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
