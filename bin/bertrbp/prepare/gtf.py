"""Pick one representative transcript per gene from a GTF's transcripts (read by ``bertrbp.io.gtf``).

Choice order (why: the isoform most likely expressed): APPRIS principal (principal_1 best, then
principal_2..5, then alternative), then transcript support level (1 best, NA last), then the longest spliced
length, then the transcript id for a stable tie-break.
"""

from __future__ import annotations

import re

from bertrbp.io.gtf import Transcript


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
    """One transcript per gene and locus (chromosome, strand), by APPRIS, then TSL, then length, then id.

    Per locus: a gene id on two chromosomes (PAR genes on chrX and chrY) keeps a transcript on each."""
    best: dict[tuple[str, str, str], Transcript] = {}
    for tx in transcripts.values():
        gene = (tx.gene_id, tx.chrom, tx.strand)
        current = best.get(gene)
        key = (appris_rank(tx.tags), tsl_rank(tx.tsl), -tx.length, tx.transcript_id)
        if current is None or key < (
            appris_rank(current.tags),
            tsl_rank(current.tsl),
            -current.length,
            current.transcript_id,
        ):
            best[gene] = tx
    return sorted(best.values(), key=lambda t: (t.chrom, t.span, t.transcript_id))
