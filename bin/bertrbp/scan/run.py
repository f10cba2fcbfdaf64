"""The scan tool's job end to end: load models, walk every target, write profile, bedGraphs and peaks."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.scan.windows import ScanTarget, bed_targets, fasta_target, window_starts

log = logging.getLogger("bertrbp")


@dataclass
class ScanSummary:
    targets: int
    windows: int
    positions: int
    peaks: int
    paths: dict


def iter_targets(fasta: Path | None, bed: Path | None, genome_path: Path | None) -> Iterator[ScanTarget]:
    """Targets from ``--input FASTA`` or ``--bed BED --genome FA`` (exactly one of the two)."""
    if (fasta is None) == (bed is None):
        raise InputError("give either --input FASTA or --bed BED with --genome FA (not both, not neither).")
    if fasta is not None:
        from bertrbp.io.sequences import check_unique_ids, iter_records

        for record in check_unique_ids(iter_records(fasta, "fasta")):
            yield fasta_target(record.id, record.seq)
        return
    if genome_path is None:
        raise InputError("--bed needs --genome FA (the genome FASTA the BED coordinates refer to).")
    from bertrbp.io.genome import GenomeFasta

    with GenomeFasta(genome_path) as genome:
        yield from bed_targets(bed, genome)


@dataclass
class ScanOptions:
    """What bertrbp-scan was asked to do (one field per flag; ``models`` are the ``--model`` specs, NAME=DIR)."""

    models: Sequence[str]
    output_prefix: Path
    fasta: Path | None = None
    bed: Path | None = None
    genome: Path | None = None
    window: int = 101
    stride: int = 10
    threshold: float = 0.5
    batch_size: int = 64
    aggregate: str = "mean"
    device: str = "auto"
    bf16: str = "auto"
    ensemble: bool = False


def run_scan(options: ScanOptions) -> ScanSummary:
    """Scan every target with every model; outputs appear only if the whole scan succeeds."""
    from tqdm import tqdm

    from bertrbp.io.atomic import refuse_overwriting_inputs
    from bertrbp.io.model_outputs import refuse_outputs_in_models
    from bertrbp.scan.models import open_models, parse_model_spec
    from bertrbp.scan.outputs import ScanWriter, output_paths
    from bertrbp.scan.profile import AGGREGATES
    from bertrbp.scan.scanner import model_scorer, scan_target

    window, stride, batch_size, aggregate = options.window, options.stride, options.batch_size, options.aggregate
    if stride < 1 or batch_size < 1:
        raise InputError(f"--stride ({stride}) and --batch-size ({batch_size}) must be at least 1.")
    if stride > window:
        raise InputError(
            f"--stride {stride} is longer than --window {window}: the nucleotides between windows would have no "
            "score. Give a stride of at most the window (the default 10 with --window 101)."
        )
    if aggregate not in AGGREGATES:
        raise InputError(f"--aggregate {aggregate!r}: choose one of {', '.join(AGGREGATES)}.")
    opened = open_models(options.models, options.device, options.bf16, window, options.ensemble)
    models, tokenizer = opened.models, opened.tokenizer
    outputs = {
        f"--output-prefix ({key})": path
        for key, path in output_paths(options.output_prefix, [m.name for m in models]).items()
    }
    refuse_overwriting_inputs(
        outputs, {"--input": [options.fasta], "--bed": [options.bed], "--genome": [options.genome]}
    )
    refuse_outputs_in_models(outputs, [parse_model_spec(spec)[1] for spec in options.models])
    score = model_scorer(models, tokenizer, opened.device, opened.bf16)
    n_targets = n_windows = 0
    with (
        ScanWriter(options.output_prefix, [m.name for m in models], options.threshold) as writer,
        tqdm(unit="win", desc="scan", disable=None) as progress,
    ):
        for target in iter_targets(options.fasta, options.bed, options.genome):
            if target.length < tokenizer.k:
                log.warning("skipping %s: %d nt is shorter than k=%d", target.name, target.length, tokenizer.k)
                continue
            n_targets += 1
            n_windows += sum(1 for _ in window_starts(target.length, window, stride))
            chunks = scan_target(target, score, len(models), window, stride, batch_size, aggregate, progress)
            writer.write_target(target, chunks)
        if n_targets == 0:
            raise InputError("no sequence long enough to scan; nothing was written.")
    return ScanSummary(n_targets, n_windows, writer.n_positions, writer.n_peaks, writer.paths)
