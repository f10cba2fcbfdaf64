"""Transcript choice and region labels on a hand-built GTF (one gene on each strand)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from bertrbp.errors import InputError
from bertrbp.io.sequences import Coordinates
from bertrbp.io.gtf import read_gtf
from bertrbp.prepare.gtf import pick_transcripts
from bertrbp.prepare.regions import REGIONS, RegionIndex, token_labels


def _gtf_line(feature, start, end, strand, gene, tx, extra=""):
    return f'chr1\ttest\t{feature}\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{gene}"; transcript_id "{tx}";{extra}\n'


GTF = "".join([
    "#!genome-build test\n",
    # G1, plus strand. T1: APPRIS principal, TSL 2, shorter -> chosen over T2 (TSL 1, longer)
    _gtf_line("transcript", 101, 400, "+", "G1", "T1", ' tag "basic"; tag "appris_principal_1"; transcript_support_level "2";'),
    _gtf_line("exon", 101, 200, "+", "G1", "T1"),
    _gtf_line("exon", 301, 400, "+", "G1", "T1"),
    _gtf_line("CDS", 151, 200, "+", "G1", "T1"),
    _gtf_line("CDS", 301, 350, "+", "G1", "T1"),
    _gtf_line("stop_codon", 351, 353, "+", "G1", "T1"),
    _gtf_line("transcript", 51, 450, "+", "G1", "T2", ' transcript_support_level "1";'),
    _gtf_line("exon", 51, 450, "+", "G1", "T2"),
    # G2, minus strand. T3 (TSL 1) beats T4 (TSL NA) although T4 is longer
    _gtf_line("exon", 1001, 1100, "-", "G2", "T3", ' transcript_support_level "1 (assigned to previous version 2)";'),
    _gtf_line("exon", 1201, 1300, "-", "G2", "T3", ' transcript_support_level "1";'),
    _gtf_line("CDS", 1051, 1100, "-", "G2", "T3"),
    _gtf_line("CDS", 1201, 1250, "-", "G2", "T3"),
    _gtf_line("exon", 901, 1300, "-", "G2", "T4", ' transcript_support_level "NA";'),
    # G3: ties on APPRIS and TSL -> the longer transcript
    _gtf_line("exon", 2001, 2050, "+", "G3", "T5"),
    _gtf_line("exon", 2001, 2080, "+", "G3", "T6"),
])


@pytest.fixture()
def gtf(tmp_path):
    path = tmp_path / "genes.gtf"
    path.write_text(GTF)
    return path


def test_transcript_choice(gtf):
    chosen = {t.gene_id: t.transcript_id for t in pick_transcripts(read_gtf(gtf))}
    assert chosen == {"G1": "T1", "G2": "T3", "G3": "T6"}


def _column(matrix, name):
    return "".join(str(v) for v in matrix[:, REGIONS.index(name)])


@pytest.fixture()
def index(gtf):
    return RegionIndex(pick_transcripts(read_gtf(gtf)))


def test_plus_strand_labels_and_boundaries(index):
    m = index.label(Coordinates("chr1", 145, 155, "+"))  # 5'UTR [100,150), CDS [150,200)
    assert _column(m, "5utr") == "1111100000"
    assert _column(m, "cds") == "0000011111"
    assert _column(m, "exon") == "1" * 10 and _column(m, "intron") == "0" * 10
    carries, boundary = token_labels(m, 3)
    assert "".join(map(str, boundary)) == "00011000"
    assert "".join(map(str, carries[:, REGIONS.index("5utr")])) == "11111000"
    m3 = index.label(Coordinates("chr1", 395, 405, "+"))  # 3'UTR [353,400), then intergenic
    assert _column(m3, "3utr") == "1111100000" and _column(m3, "intergenic") == "0000011111"
    m_stop = index.label(Coordinates("chr1", 349, 355, "+"))  # stop codon [350,353) counts as CDS
    assert _column(m_stop, "cds") == "111100" and _column(m_stop, "3utr") == "000011"


def test_minus_strand_labels_in_site_orientation(index):
    m = index.label(Coordinates("chr1", 1245, 1255, "-"))  # CDS [1200,1250), 5'UTR [1250,1300) on minus
    assert _column(m, "5utr") == "1111100000"
    assert _column(m, "cds") == "0000011111"
    m2 = index.label(Coordinates("chr1", 1095, 1105, "-"))  # intron [1100,1200) then CDS
    assert _column(m2, "intron") == "1111100000" and _column(m2, "cds") == "0000011111"
    m3 = index.label(Coordinates("chr1", 1045, 1055, "-"))  # CDS then 3'UTR [1000,1050)
    assert _column(m3, "cds") == "1111100000" and _column(m3, "3utr") == "0000011111"
    same_place_plus = index.label(Coordinates("chr1", 1245, 1255, "+"))  # strand-aware: no plus gene here
    assert _column(same_place_plus, "intergenic") == "1" * 10


def test_ensembl_chromosome_names_match(index):
    assert _column(index.label(Coordinates("1", 145, 150, "+")), "5utr") == "11111"


def test_bad_gtf(tmp_path):
    bad = tmp_path / "bad.gtf"
    bad.write_text("chr1\ttest\texon\t10\t20\n")
    with pytest.raises(InputError, match="9 tab-separated"):
        read_gtf(bad)


def test_cli_writes_region_label_files(gtf, tmp_path):
    from helpers import run_tool

    rng = random.Random(0)
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice("ACGT") for _ in range(3000)) + "\n")
    bed = tmp_path / "sites.bed"
    sites = [(145, 155, "+", 1), (1245, 1255, "-", 1), (1095, 1105, "-", 1), (395, 405, "+", 0),
             (2500, 2510, "+", 0), (1245, 1255, "+", 0)]
    bed.write_text("".join(f"chr1\t{s}\t{e}\ts{i}\t{lab}\t{st}\n" for i, (s, e, st, lab) in enumerate(sites)))
    out = tmp_path / "out"
    run_tool("prepare", "--bed", bed, "--genome", genome, "--bed-label-column", "score", "--gtf", gtf,
             "--test-size", "2", "-o", out, "--prefix", "r")
    seq = {row.split("\t")[0]: row.split("\t")[1:] for row in (out / "r.sequence_regions.tsv").read_text().splitlines()}
    assert seq["id"] == list(REGIONS)
    assert seq["s0"] == ["1", "0", "1", "0", "1", "0"]
    assert seq["s4"] == ["0", "0", "0", "0", "0", "1"]
    tok = [row.split("\t") for row in (out / "r.token_regions.tsv").read_text().splitlines()]
    assert tok[0] == ["id", *REGIONS, "boundary"]
    tok = {row[0]: row[1:] for row in tok[1:]}
    assert tok["s1"][REGIONS.index("5utr")] == "11111000" and tok["s1"][-1] == "00011000"
    assert all(len(cell) == 8 for row in tok.values() for cell in row)
    nuc = {row.split("\t")[0]: row.split("\t")[1:] for row in (out / "r.nucleotide_regions.tsv").read_text().splitlines()}
    assert nuc["s2"][REGIONS.index("intron")] == "1111100000"
    assert json.loads((out / "r.manifest.json").read_text())["annotation"]["annotated"] == 6
