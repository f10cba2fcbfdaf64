"""The variant-effect tool's job: check each VCF allele against the genome, score ref/alt windows, write TSV.

Output (one row per allele, strand and model): chrom pos id ref alt strand model ref_prob alt_prob delta_prob
ref_logit alt_logit delta_logit note, with delta = alt - ref (negative: the variant weakens binding).
Alleles not scored go to ``<output stem>.skipped.tsv`` (chrom pos id ref alt reason), always written (only logged when
the output is a device or a pipe).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.variants.vcf import Variant, iter_vcf

log = logging.getLogger("bertrbp")

COLUMNS = [
    "chrom",
    "pos",
    "id",
    "ref",
    "alt",
    "strand",
    "model",
    "ref_prob",
    "alt_prob",
    "delta_prob",
    "ref_logit",
    "alt_logit",
    "delta_logit",
    "note",
]
SKIPPED_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "reason"]
MISMATCH_CHOICES = ("fail", "skip")


@dataclass
class Job:
    variant: Variant
    strand: str
    ref: str
    alt: str
    note: str


@dataclass
class EffectSummary:
    scored: int
    skipped: int
    rows: int
    skipped_path: Path | None


def skipped_path_for(output: Path) -> Path | None:
    """``<output stem>.skipped.tsv``, or None when ``output`` is a device or a pipe (``-o /dev/stdout``).

    Why None: beside a device there is no folder of the user's: ``-o /dev/stdout`` created /dev/stdout.skipped.tsv
    as root and failed without root; the skipped alleles are then only logged (one warning each).
    """
    from bertrbp.io.atomic import is_special

    if is_special(output):
        return None
    name = output.name[:-4] if output.name.endswith(".tsv") else output.name
    return output.with_name(f"{name}.skipped.tsv")


class SkipReport:
    """The skipped-alleles table: each unscored allele with its reason, also logged as a warning."""

    def __init__(self, handle) -> None:
        self.handle, self.count = handle, 0  # handle None: logged only (see skipped_path_for)
        if handle is not None:
            handle.write("\t".join(SKIPPED_COLUMNS) + "\n")

    def __call__(self, variant: Variant, reason: str) -> None:
        log.warning("not scored: %s: %s", variant.where(), reason)
        fields = [variant.chrom, variant.pos, variant.id, variant.ref, variant.alt, reason]
        if self.handle is not None:
            self.handle.write("\t".join(map(str, fields)) + "\n")
        self.count += 1


def iter_jobs(
    vcf: Path, genome, window: int, k: int, strand_index, on_mismatch: str, skip: SkipReport
) -> Iterator[Job]:
    """Scorable (variant, strand) windows; every unscorable allele goes to ``skip`` with its reason.

    A window shorter than ``k`` (a contig shorter than k, or one a deletion shortens below it) has no k-mer to
    score: it is skipped with its reason, not left to fail the whole run with an error that names no variant.
    """
    from bertrbp.variants.windows import check_ref, variant_windows

    for variant, problem in iter_vcf(vcf):
        if not problem:
            problem = check_ref(variant, genome)
            if problem and on_mismatch == "fail":
                raise InputError(
                    f"{variant.source}: line {variant.line}: {problem}. Nothing was written. Fix the VCF or the "
                    "genome, or pass --on-ref-mismatch skip to report such variants in the skipped file."
                )
        if problem:
            skip(variant, problem)
            continue
        strands = ["+"] if strand_index is None else strand_index.strands(variant.chrom, variant.start, variant.end)
        if not strands:
            skip(variant, "outside every feature of the strand annotation; strand unknown")
            continue
        for strand in strands:
            windows = variant_windows(variant, genome, window, strand)
            shortest = min(len(windows.ref), len(windows.alt))
            if shortest < k:
                allele = "REF" if len(windows.ref) == shortest else "ALT"
                skip(
                    variant,
                    f"the {allele} window is {shortest} nt (a contig shorter than the window), fewer than k={k}",
                )
                break
            yield Job(variant, strand, windows.ref, windows.alt, windows.note)


@dataclass
class VariantEffectOptions:
    """What bertrbp-variant-effect was asked to do (one field per flag; ``models`` are the ``--model`` specs)."""

    models: Sequence[str]
    vcf: Path
    genome: Path
    output: Path
    window: int = 101
    strand_bed: Path | None = None
    gtf: Path | None = None
    on_ref_mismatch: str = "fail"
    batch_size: int = 64
    device: str = "auto"
    bf16: str = "auto"
    ensemble: bool = False


def run_variant_effect(options: VariantEffectOptions) -> EffectSummary:
    """Score every allele of the VCF with every model; outputs appear only when the run succeeds."""
    from tqdm import tqdm

    from bertrbp.inference import batched, score_sequences
    from bertrbp.io.atomic import atomic_open, refuse_overwriting_inputs
    from bertrbp.io.genome import GenomeFasta
    from bertrbp.io.model_outputs import refuse_outputs_in_models
    from bertrbp.scan.models import open_models, parse_model_spec
    from bertrbp.variants.strand import bed_strand_index, gtf_strand_index

    window, strand_bed, gtf, on_mismatch = options.window, options.strand_bed, options.gtf, options.on_ref_mismatch
    if on_mismatch not in MISMATCH_CHOICES:
        raise InputError(f"--on-ref-mismatch {on_mismatch!r}: choose fail or skip.")
    if strand_bed is not None and gtf is not None:
        raise InputError("give --strand-bed or --gtf, not both.")
    strand_index = bed_strand_index(strand_bed) if strand_bed else gtf_strand_index(gtf) if gtf else None
    opened = open_models(options.models, options.device, options.bf16, window, options.ensemble)
    models, tokenizer, device, bf16_on = opened.models, opened.tokenizer, opened.device, opened.bf16
    skipped_path = skipped_path_for(options.output)
    outputs = {"-o": options.output} | ({"the skipped-alleles table": skipped_path} if skipped_path else {})
    refuse_overwriting_inputs(
        outputs,
        {"--vcf": [options.vcf], "--genome": [options.genome], "--strand-bed": [strand_bed], "--gtf": [gtf]},
    )
    refuse_outputs_in_models(outputs, [parse_model_spec(spec)[1] for spec in options.models])
    scored = rows = 0
    with (
        GenomeFasta(options.genome) as genome,
        atomic_open(options.output, "w") as out,
        atomic_open(skipped_path, "w") if skipped_path else contextlib.nullcontext() as skipped,
        tqdm(unit="variant", desc="variants", disable=None) as bar,
    ):
        out.write("\t".join(COLUMNS) + "\n")
        report = SkipReport(skipped)
        jobs = iter_jobs(options.vcf, genome, window, tokenizer.k, strand_index, on_mismatch, report)
        for batch in batched(jobs, max(1, options.batch_size // 2)):
            seqs = [job.ref for job in batch] + [job.alt for job in batch]
            lines = []
            for named in models:
                scores = score_sequences(named.model, tokenizer, seqs, device, bf16_on)
                n = len(batch)
                for i, job in enumerate(batch):
                    v = job.variant
                    rp, ap = scores.probability[i], scores.probability[n + i]
                    rl, al = scores.logit[i], scores.logit[n + i]
                    lines.append(
                        "\t".join(
                            [
                                v.chrom,
                                str(v.pos),
                                v.id,
                                v.ref,
                                v.alt,
                                job.strand,
                                named.name,
                                f"{rp:.6f}",
                                f"{ap:.6f}",
                                f"{ap - rp:.6f}",
                                f"{rl:.6f}",
                                f"{al:.6f}",
                                f"{al - rl:.6f}",
                                job.note,
                            ]
                        )
                        + "\n"
                    )
            out.writelines(lines)
            rows += len(lines)
            scored += len(batch)
            bar.update(len(batch))
    return EffectSummary(scored, report.count, rows, skipped_path)
