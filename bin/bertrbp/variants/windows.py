"""Reference and alternate windows of fixed length centred on a variant, for SNVs and short indels.

Both alleles are placed in their genomic context (``flank`` nt either side) to form a reference and an
alternate haplotype; each window is cut from its haplotype centred on the allele's middle, so an indel keeps
the window length: a deletion pulls in more downstream sequence, an insertion pushes it out. Near a contig
end the window is shifted to stay inside the contig (length kept, variant off-centre; ``note`` says
so); a contig shorter than the window is scored whole. On '-' both windows are reverse-complemented.
"""

from __future__ import annotations

from dataclasses import dataclass

from bertrbp.errors import InputError
from bertrbp.io.genome import reverse_complement
from bertrbp.variants.vcf import Variant


@dataclass
class VariantWindows:
    ref: str
    alt: str
    note: str = ""


def check_ref(variant: Variant, genome) -> str:
    """'' when REF matches the genome, else a message naming chrom:pos, the VCF REF and the genome bases."""
    name = genome.resolve(variant.chrom)
    if name is None:
        return f"{variant.chrom}:{variant.pos}: chromosome {variant.chrom!r} is not in the genome {genome.path}"
    if variant.end > genome.lengths[name]:
        return (
            f"{variant.chrom}:{variant.pos}: REF {variant.ref} runs past the end of {name} "
            f"(length {genome.lengths[name]})"
        )
    found = genome.fetch(variant.chrom, variant.start, variant.end)
    if found != variant.ref:
        return (
            f"{variant.chrom}:{variant.pos}: REF {variant.ref} does not match the genome ({found}); "
            "wrong assembly or a mis-normalised VCF"
        )
    return ""


def _cut(haplotype: str, centre: int, window: int) -> tuple[str, bool]:
    """``window`` nt of ``haplotype`` centred on ``centre``, shifted inside when the haplotype ends first."""
    if len(haplotype) <= window:
        return haplotype, len(haplotype) < window
    start = centre - window // 2
    clamped = min(max(start, 0), len(haplotype) - window)
    return haplotype[clamped : clamped + window], clamped != start


def variant_windows(variant: Variant, genome, window: int, strand: str = "+") -> VariantWindows:
    """The ref and alt windows (already checked REF) on ``strand``."""
    name = genome.resolve(variant.chrom)
    if name is None:
        raise InputError(f"{variant.where()}: chromosome not in the genome.")
    length = genome.lengths[name]
    flank = window + max(len(variant.ref), len(variant.alt))
    left_start, right_end = max(0, variant.start - flank), min(length, variant.end + flank)
    left = genome.fetch(name, left_start, variant.start) if variant.start > left_start else ""
    right = genome.fetch(name, variant.end, right_end) if right_end > variant.end else ""
    ref, ref_shift = _cut(left + variant.ref + right, len(left) + len(variant.ref) // 2, window)
    alt, alt_shift = _cut(left + variant.alt + right, len(left) + len(variant.alt) // 2, window)
    note = ""
    if len(left) + len(variant.ref) + len(right) < window:
        note = f"contig shorter than the window; scored {len(ref)} nt"
    elif ref_shift or alt_shift:
        note = "window shifted inside the contig end; variant off-centre"
    if strand == "-":
        ref, alt = reverse_complement(ref), reverse_complement(alt)
    return VariantWindows(ref, alt, note)
