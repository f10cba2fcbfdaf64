"""Read a GTF (Ensembl/GENCODE, plain or gzip): its feature lines, and its transcripts with exons and CDS.

The one GTF parser of the suite: region labels (prepare) and the strand of variants (variant-effect) both read
GTFs through it. Coordinates become 0-based half-open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.sequences import numbered_lines

_ATTR = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')


@dataclass
class GtfFeature:
    """One feature line (0-based half-open); the attributes column is parsed on demand."""

    chrom: str
    feature: str
    start: int
    end: int
    strand: str
    attribute_text: str
    where: str

    def attributes(self) -> dict[str, list[str]]:
        return parse_attributes(self.attribute_text, self.where)


def iter_features(path: str | Path, features: frozenset[str] | set[str]) -> Iterator[GtfFeature]:
    """The lines of ``path`` whose feature type (column 3) is in ``features``, checked, in file order."""
    path = Path(path)
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        where = f"{path}: line {number}"
        if len(cols) != 9:
            raise InputError(f"{where}: a GTF line has 9 tab-separated columns, found {len(cols)}.")
        if cols[2] not in features:
            continue
        try:
            start, end = int(cols[3]) - 1, int(cols[4])  # GTF is 1-based inclusive
        except ValueError:
            raise InputError(f"{where}: start/end {cols[3]!r}/{cols[4]!r} are not whole numbers.") from None
        if start < 0 or end <= start:
            raise InputError(f"{where}: bad interval {cols[3]}-{cols[4]} (need 1 <= start <= end).")
        yield GtfFeature(cols[0], cols[2], start, end, cols[6], cols[8], where)


_TRANSCRIPT_FEATURES = frozenset({"exon", "CDS", "stop_codon", "transcript"})


@dataclass
class Transcript:
    transcript_id: str
    gene_id: str
    chrom: str
    strand: str
    exons: list[tuple[int, int]] = field(default_factory=list)
    cds: list[tuple[int, int]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    tsl: str = ""

    @property
    def length(self) -> int:
        return sum(e - s for s, e in self.exons)

    @property
    def span(self) -> tuple[int, int]:
        return min(s for s, _ in self.exons), max(e for _, e in self.exons)


def parse_attributes(text: str, where: str) -> dict[str, list[str]]:
    """GTF column 9 as key -> values (``tag`` repeats in GENCODE)."""
    out: dict[str, list[str]] = {}
    for match in _ATTR.finditer(text):
        out.setdefault(match.group(1), []).append(match.group(2) if match.group(2) is not None else match.group(3))
    if "transcript_id" not in out and "gene_id" not in out:
        raise InputError(f"{where}: no gene_id/transcript_id attributes; is this a GTF (not GFF3)?")
    return out


def read_gtf(path: str | Path) -> dict[str, Transcript]:
    """Transcripts (with exons and CDS incl. stop codons) of a GTF, keyed by transcript id; a repeated id is
    another transcript where it sits on another chromosome or strand (``id@chromstrand``) or where a second
    ``transcript`` line or an overlapping exon shows another copy on the same one (``id@chromstrand#2``).

    Why: UCSC refGene reuses ids (PAR genes, segmental duplications). Merged, a chr3 exon made a chr1 site
    exonic, and two copies 1 Mb apart on one chromosome made the whole megabase one intron.
    """
    transcripts: dict[str, Transcript] = {}
    current: dict[tuple[str, str, str], str] = {}  # (id, chrom, strand) -> key of the copy its rows go to
    with_line: set[str] = set()  # keys whose transcript line has been read
    for row in iter_features(path, _TRANSCRIPT_FEATURES):
        if row.strand not in ("+", "-"):
            raise InputError(f"{row.where}: bad strand {row.strand!r} (need + or -).")
        attrs = row.attributes()
        if "transcript_id" not in attrs:
            continue
        tid = attrs["transcript_id"][0]
        place = (tid, row.chrom, row.strand)
        key = current.get(place)
        if key is None or _another_copy(transcripts[key], row, key in with_line):
            key = current[place] = _copy_key(transcripts, tid, row)
            transcripts[key] = Transcript(tid, attrs.get("gene_id", [tid])[0], row.chrom, row.strand)
        tx = transcripts[key]
        tx.tags.update(attrs.get("tag", []))
        if "transcript_support_level" in attrs:
            tx.tsl = attrs["transcript_support_level"][0]
        if row.feature == "transcript":
            with_line.add(key)
        elif row.feature == "exon":
            tx.exons.append((row.start, row.end))
        else:
            tx.cds.append((row.start, row.end))
    transcripts = {tid: tx for tid, tx in transcripts.items() if tx.exons}
    if not transcripts:
        raise InputError(f"{path}: no transcripts with exon lines found. Give an Ensembl or GENCODE GTF.")
    return transcripts


def _another_copy(tx: Transcript, row: GtfFeature, has_line: bool) -> bool:
    """Whether ``row`` starts another copy of ``tx``'s id: one transcript has one transcript line, and its exons
    never overlap."""
    if row.feature == "transcript":
        return has_line
    return row.feature == "exon" and any(s < row.end and row.start < e for s, e in tx.exons)


def _copy_key(transcripts: dict[str, Transcript], tid: str, row: GtfFeature) -> str:
    """``tid`` for the first copy, ``tid@chromstrand`` for the first elsewhere, then ``#2``, ``#3``, ..."""
    if tid not in transcripts:
        return tid
    base = f"{tid}@{row.chrom}{row.strand}"
    key, count = base, 1
    while key in transcripts:
        count += 1
        key = f"{base}#{count}"
    return key
