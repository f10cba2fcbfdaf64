"""Leakage-aware splitting groups and the report of what overlap remains between splits."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from bertrbp import loci
from bertrbp.errors import InputError
from bertrbp.io.sequences import SequenceRecord, canonical_chrom
from bertrbp.prepare.similarity import cluster, cross_near_duplicates

log = logging.getLogger("bertrbp")

SPLITS = ("auto", "locus", "random", "chromosome", "similarity")


def resolve_split(records: Sequence[SequenceRecord], split: str) -> tuple[str, list[int] | None]:
    """(the split kind used, the locus group of each record when that kind is ``locus``, else None).

    ``auto`` is ``locus`` when some windows overlap (a random split would put windows of one locus on both
    sides), else ``random``. The groups are returned so that the test and validation splits reuse one chaining.
    """
    if split == "locus":
        return split, locus_groups(records)
    if split != "auto":
        return split, None
    groups = locus_groups(records, strict=False)
    if not loci.any_overlap(groups):  # records without coordinates are groups of one: they never overlap
        return "random", None
    unplaced = sum(r.coords is None for r in records)
    if unplaced:
        log.warning(
            "--split auto: %d of %d records have no usable coordinates; each is placed alone in the split by locus",
            unplaced,
            len(records),
        )
    return "locus", groups


def locus_groups(records: Sequence[SequenceRecord], strict: bool = True) -> list[int]:
    """Chain of overlapping windows (same chromosome and strand) of each record. A record without coordinates is
    refused, or with ``strict`` False is a group of its own."""
    for record in records:
        if record.coords is None and strict:
            raise _no_coordinates(record, "locus")
    placed = [i for i, r in enumerate(records) if r.coords is not None]
    chains = loci.locus_groups([records[i].coords for i in placed], [len(records[i].seq) for i in placed]) or []
    groups = list(range(len(placed), len(placed) + len(records)))  # unplaced records: one group each
    for row, chain in zip(placed, chains):
        groups[row] = chain
    return groups


def chromosome_groups(records: Sequence[SequenceRecord]) -> list[str]:
    """Chromosome of each record; refuses records without coordinates."""
    groups = []
    for record in records:
        if record.coords is None:
            raise _no_coordinates(record, "chromosome")
        groups.append(chromosome_of(record.coords.chrom))
    return groups


def _no_coordinates(record: SequenceRecord, split: str) -> InputError:
    return InputError(
        f"{record.source}: record '{record.id}' (line {record.line}) has no genomic coordinates, so "
        f"--split {split} cannot place it. Use inputs with coordinates (RBP-31/RBP-24 headers, BED) "
        "or --split random|similarity."
    )


def chromosome_of(contig: str) -> str:
    """The chromosome a contig belongs to, spelled the UCSC way: ``chr1_KI270766v1_alt``, ``chr1_gl000191_random``
    and Ensembl's ``1`` are chr1."""
    return canonical_chrom(_base_contig(contig))


def _base_contig(contig: str) -> str:
    """``chr1`` for an alt, random or fix contig of chr1 (``chr1_KI270766v1_alt``), else the name itself."""
    return contig.split("_")[0] if contig.endswith(("_alt", "_random", "_fix")) else contig


def spelled_as_given(canonical: set[str], records: Sequence[SequenceRecord]) -> list[str]:
    """``canonical`` chromosome names in the spelling the data first uses (``MT``, ``X``), for the manifest."""
    spelling: dict[str, str] = {}
    for record in records:
        if record.coords is not None:
            name = record.coords.chrom
            spelling.setdefault(chromosome_of(name), _base_contig(name))
    return sorted(spelling.get(name, name) for name in canonical)


def similarity_groups(records: Sequence[SequenceRecord], k: int, threshold: float, seed: int) -> list[int]:
    """Near-duplicate cluster of each record (k-mer Jaccard >= threshold, single linkage)."""
    return cluster([r.seq for r in records], k=k, threshold=threshold, seed=seed)


def _intervals_overlapping(reference: Sequence[SequenceRecord], query: Sequence[SequenceRecord]) -> int:
    """How many query intervals overlap a reference interval on the same chromosome and strand."""
    index: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for record in reference:
        if record.coords is not None:
            c = record.coords
            index[(canonical_chrom(c.chrom), c.strand)].append((c.start, c.end))
    import bisect

    starts, max_end = {}, {}
    for key, spans in index.items():
        spans.sort()
        starts[key] = [s for s, _ in spans]
        running, ends = 0, []
        for _, e in spans:
            running = max(running, e)
            ends.append(running)
        max_end[key] = ends
    count = 0
    for record in query:
        c = record.coords
        key = (canonical_chrom(c.chrom), c.strand) if c is not None else None
        if key not in starts:
            continue
        pos = bisect.bisect_left(starts[key], c.end) - 1  # last reference starting before query end
        if pos >= 0 and max_end[key][pos] > c.start:
            count += 1
    return count


def overlap_report(splits: dict[str, Sequence[SequenceRecord]], k: int, threshold: float, seed: int) -> dict:
    """Overlap between ``train`` and each other split: exact copies, near-duplicates, chromosomes, intervals."""
    train = splits["train"]
    train_seqs = {r.seq for r in train}
    train_chroms = {chromosome_of(r.coords.chrom) for r in train if r.coords is not None}
    report: dict = {"similarity": {"k": k, "jaccard_threshold": threshold}}
    for name, records in splits.items():
        if name == "train" or not records:
            continue
        near = cross_near_duplicates(
            [r.seq for r in train], [r.seq for r in records], k=k, threshold=threshold, seed=seed
        )
        chroms = {chromosome_of(r.coords.chrom) for r in records if r.coords is not None}
        report[f"train_vs_{name}"] = {
            "n": len(records),
            "identical_sequences": sum(r.seq in train_seqs for r in records),
            "near_duplicates": near["query_with_near_duplicate"],
            "max_jaccard_among_candidates": near["max_jaccard_among_candidates"],
            "with_coordinates": sum(r.coords is not None for r in records),
            "shared_chromosomes": spelled_as_given(chroms & train_chroms, [*train, *records]),
            "overlapping_intervals": _intervals_overlapping(train, records),
        }
    return report
