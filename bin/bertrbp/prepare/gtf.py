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
    """One transcript per gene and locus, by APPRIS, then TSL, then length, then id.

    A locus is a chromosome and strand and a run of overlapping transcripts: a gene id on two chromosomes (PAR
    genes on chrX and chrY), or twice on one chromosome far apart (segmental duplications), keeps a transcript at
    each place."""
    genes: dict[tuple[str, str, str], list[Transcript]] = {}
    for tx in transcripts.values():
        genes.setdefault((tx.gene_id, tx.chrom, tx.strand), []).append(tx)
    chosen = [min(locus, key=_choice_key) for group in genes.values() for locus in _overlapping_runs(group)]
    return sorted(chosen, key=lambda t: (t.chrom, t.span, t.transcript_id))


def _choice_key(tx: Transcript) -> tuple[int, int, int, str]:
    return appris_rank(tx.tags), tsl_rank(tx.tsl), -tx.length, tx.transcript_id


def _overlapping_runs(group: list[Transcript]) -> list[list[Transcript]]:
    """``group`` split into runs whose spans overlap one after another (sorted by start)."""
    runs: list[list[Transcript]] = []
    end = -1
    for tx in sorted(group, key=lambda t: t.span):
        start, stop = tx.span
        if not runs or start >= end:
            runs.append([])
        runs[-1].append(tx)
        end = max(end, stop) if start < end else stop
    return runs
