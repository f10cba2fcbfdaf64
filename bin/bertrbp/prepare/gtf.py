"""Read an Ensembl/GENCODE GTF and pick one representative transcript per gene.

Choice order (why: the isoform most likely expressed): APPRIS principal (principal_1 best, then
principal_2..5, then alternative), then transcript support level (1 best, NA last), then the longest spliced
length, then the transcript id for a stable tie-break. Coordinates become 0-based half-open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.sequences import _lines

_ATTR = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')


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
    """Transcripts (with exons and CDS incl. stop codons) of a GTF, keyed by transcript id."""
    path = Path(path)
    transcripts: dict[str, Transcript] = {}
    for number, line in _lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        where = f"{path}: line {number}"
        if len(cols) != 9:
            raise InputError(f"{where}: a GTF line has 9 tab-separated columns, found {len(cols)}.")
        feature = cols[2]
        if feature not in ("exon", "CDS", "stop_codon", "transcript"):
            continue
        try:
            start, end = int(cols[3]) - 1, int(cols[4])
        except ValueError:
            raise InputError(f"{where}: start/end {cols[3]!r}/{cols[4]!r} are not whole numbers.") from None
        if start < 0 or end <= start or cols[6] not in "+-" or len(cols[6]) != 1:
            raise InputError(f"{where}: bad interval {cols[3]}-{cols[4]} or strand {cols[6]!r} (need + or -).")
        attrs = parse_attributes(cols[8], where)
        if "transcript_id" not in attrs:
            continue
        tid = attrs["transcript_id"][0]
        tx = transcripts.get(tid)
        if tx is None:
            tx = transcripts[tid] = Transcript(tid, attrs.get("gene_id", [tid])[0], cols[0], cols[6])
        tx.tags.update(attrs.get("tag", []))
        if "transcript_support_level" in attrs:
            tx.tsl = attrs["transcript_support_level"][0]
        if feature == "exon":
            tx.exons.append((start, end))
        elif feature in ("CDS", "stop_codon"):
            tx.cds.append((start, end))
    transcripts = {tid: tx for tid, tx in transcripts.items() if tx.exons}
    if not transcripts:
        raise InputError(f"{path}: no transcripts with exon lines found. Give an Ensembl or GENCODE GTF.")
    return transcripts


def appris_rank(tags: set[str]) -> int:
    """1-5 for appris_principal_1..5, 6-7 for appris_alternative_1..2, 9 without an APPRIS tag."""
    best = 9
    for tag in tags:
        m = re.fullmatch(r"appris_(principal|alternative)_(\d+)", tag)
        if m:
            best = min(best, int(m.group(2)) + (0 if m.group(1) == "principal" else 5))
    return best


def tsl_rank(tsl: str) -> int:
    """Transcript support level 1..5; 'NA' or missing rank last."""
    first = tsl.split()[0] if tsl else ""
    return int(first) if first.isdigit() else 9


def pick_transcripts(transcripts: dict[str, Transcript]) -> list[Transcript]:
    """One transcript per gene, by APPRIS, then TSL, then length, then id."""
    best: dict[str, Transcript] = {}
    for tx in transcripts.values():
        current = best.get(tx.gene_id)
        key = (appris_rank(tx.tags), tsl_rank(tx.tsl), -tx.length, tx.transcript_id)
        if current is None or key < (appris_rank(current.tags), tsl_rank(current.tsl), -current.length,
                                     current.transcript_id):
            best[tx.gene_id] = tx
    return sorted(best.values(), key=lambda t: (t.chrom, t.span, t.transcript_id))
