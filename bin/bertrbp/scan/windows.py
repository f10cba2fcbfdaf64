"""What to scan and the windows cut from it, generated lazily so a chromosome never becomes a window list.

A ``ScanTarget`` is one sequence in *genome (forward) orientation*: a FASTA record (its own coordinate
system, strand '+') or a BED region of a genome. Windows are laid from the left with the given stride, plus
one final window flush with the right end, so every nucleotide is covered. On a '-' region each window is
reverse-complemented before scoring (the model reads the transcript strand) while positions stay in genome
order, so profiles and peaks come out sorted by genome coordinate on both strands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bertrbp.errors import InputError
from bertrbp.io.genome import reverse_complement

CHUNK = 1_000_000  # nt fetched from the genome at a time


@dataclass
class ScanTarget:
    """A sequence to scan: ``fetch(a, b)`` returns local forward bases ``[a, b)``; genome pos = start + a."""

    name: str
    chrom: str
    start: int
    length: int
    strand: str
    fetch: Callable[[int, int], str]

    def genome_position(self, local: int) -> int:
        return self.start + local

    def offset(self, local: int) -> int:
        """Position counted along the scored strand (5'->3' of the transcript), 0-based."""
        return self.length - 1 - local if self.strand == "-" else local


def window_starts(length: int, window: int, stride: int) -> Iterator[int]:
    """Left ends of the windows over ``length`` nt: 0, stride, ... and one flush with the end if needed."""
    if stride < 1:
        raise InputError(f"--stride {stride}: must be at least 1.")
    if length <= window:
        yield 0
        return
    last = length - window
    start = 0
    while start < last:
        yield start
        start += stride
    yield last


def iter_windows(target: ScanTarget, window: int, stride: int, chunk: int = CHUNK) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, sequence)`` per window, fetching the target ``chunk`` nt at a time."""
    buffer_start, buffer = 0, ""
    for start in window_starts(target.length, window, stride):
        end = min(start + window, target.length)
        if end > buffer_start + len(buffer) or start < buffer_start:
            buffer_start = start
            buffer = target.fetch(start, min(target.length, start + max(chunk, window)))
        seq = buffer[start - buffer_start : end - buffer_start]
        yield start, end, reverse_complement(seq) if target.strand == "-" else seq


def fasta_target(record_id: str, seq: str) -> ScanTarget:
    """A FASTA record scanned on its own strand in its own coordinates (chrom = record id)."""
    return ScanTarget(record_id, record_id, 0, len(seq), "+", lambda a, b: seq[a:b])


def bed_targets(bed_path, genome) -> Iterator[ScanTarget]:
    """One target per BED region, read from ``genome`` (a GenomeFasta) on the region's strand ('.' = '+')."""
    from bertrbp.io.genome import read_bed

    for interval in read_bed(bed_path):
        where = f"{interval.source}: line {interval.line}"
        chrom = genome.resolve(interval.chrom)
        if chrom is None or interval.end > genome.lengths[chrom]:
            genome.fetch(interval.chrom, interval.start, interval.end, where=where)  # raises the clear error

        def fetch(a: int, b: int, iv=interval, where=where) -> str:
            return genome.fetch(iv.chrom, iv.start + a, iv.start + b, "+", where=where)

        strand = "-" if interval.strand == "-" else "+"
        yield ScanTarget(interval.display_id(), interval.chrom, interval.start, interval.length, strand, fetch)
