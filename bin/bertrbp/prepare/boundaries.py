"""Region boundaries by type, from the chosen transcripts' own structure (not from differences in labels).

A boundary is a junction between two adjacent nucleotides of a transcript where its region changes, read in the
transcript's 5'->3' direction:

- ``5utr_cds``: last 5'UTR nucleotide | first CDS nucleotide (start codon), when both lie in one exon;
- ``cds_3utr``: last CDS nucleotide (stop codon included) | first 3'UTR nucleotide, when both lie in one exon;
- ``exon_intron``: exon | intron (5' splice site, donor);
- ``intron_exon``: intron | exon (3' splice site, acceptor);
- ``transcript_start`` / ``transcript_end``: the transcript's 5' and 3' ends (genic | intergenic edges). They are
  reported as their own types and are NOT part of the aggregated ``boundary`` flag, which covers the four region
  boundaries only (an earlier flag that compared region labels also fired at genic/intergenic edges and where
  another gene began).

A k-mer token carries a type when one of that type's junctions lies inside it (between two of its nucleotides).
Minus-strand sites are read in the site's 5'->3' orientation, like every other label.
"""

from __future__ import annotations

import numpy as np

from bertrbp.io.gtf import Transcript
from bertrbp.io.sequences import Coordinates

BOUNDARY_TYPES = ("5utr_cds", "cds_3utr", "exon_intron", "intron_exon", "transcript_start", "transcript_end")
REGION_BOUNDARY_TYPES = BOUNDARY_TYPES[:4]


def transcript_junctions(tx: Transcript) -> dict[str, list[int]]:
    """Per type, the genomic junctions ``g`` (between 0-based nucleotides ``g - 1`` and ``g``) of a transcript."""
    exons = sorted(tx.exons)
    plus = tx.strand != "-"
    out: dict[str, list[int]] = {name: [] for name in BOUNDARY_TYPES}
    for (_, end1), (start2, _) in zip(exons, exons[1:]):
        if start2 <= end1:  # touching or overlapping exons: no intron between them
            continue
        out["exon_intron"].append(end1 if plus else start2)
        out["intron_exon"].append(start2 if plus else end1)
    low, high = exons[0][0], exons[-1][1]
    out["transcript_start"].append(low if plus else high)
    out["transcript_end"].append(high if plus else low)
    if tx.cds:
        cds_low, cds_high = min(s for s, _ in tx.cds), max(e for _, e in tx.cds)

        def exonic(position: int) -> bool:
            return any(s <= position < e for s, e in exons)

        # A UTR nucleotide right beside the CDS end, in the same exon, makes a UTR|CDS junction.
        low_side, high_side = exonic(cds_low - 1) and exonic(cds_low), exonic(cds_high) and exonic(cds_high - 1)
        if low_side:
            out["5utr_cds" if plus else "cds_3utr"].append(cds_low)
        if high_side:
            out["cds_3utr" if plus else "5utr_cds"].append(cds_high)
    return out


def site_junctions(junctions: dict[str, list[int]], site: Coordinates) -> np.ndarray:
    """``[n + 1, types]`` 0/1: row ``j`` is the junction before nucleotide ``j`` of the site (site orientation)."""
    n = site.end - site.start
    out = np.zeros((n + 1, len(BOUNDARY_TYPES)), dtype=np.uint8)
    for column, name in enumerate(BOUNDARY_TYPES):
        for g in junctions[name]:
            if site.start < g < site.end:
                out[g - site.start, column] = 1
    return out[::-1].copy() if site.strand == "-" else out


def junction_tokens(junctions: np.ndarray, k: int) -> np.ndarray:
    """``[T, types]`` 0/1 for the overlapping k-mers: a token carries a junction lying between its nucleotides."""
    n_tokens = junctions.shape[0] - 1 - k + 1
    out = np.zeros((max(n_tokens, 0), junctions.shape[1]), dtype=np.uint8)
    for offset in range(1, k):  # token t spans junctions t+1 .. t+k-1
        out |= junctions[offset : offset + n_tokens]
    return out


def boundary_tokens(index, site: Coordinates, k: int) -> np.ndarray:
    """``[T, 1 + types]``: the aggregated region ``boundary`` flag, then one column per ``BOUNDARY_TYPES``.

    ``index`` is a ``prepare.regions.RegionIndex`` (its transcripts on the site's strand are used).
    """
    strand = "+" if site.strand == "." else site.strand
    oriented = Coordinates(site.chrom, site.start, site.end, strand)
    n = site.end - site.start
    total = np.zeros((n + 1, len(BOUNDARY_TYPES)), dtype=np.uint8)
    for tx in index.transcripts_at(oriented):
        total |= site_junctions(index.junctions(tx), oriented)
    types = junction_tokens(total, k)
    region = types[:, : len(REGION_BOUNDARY_TYPES)].max(axis=1, initial=0)
    return np.column_stack([region, types]).astype(np.uint8)
