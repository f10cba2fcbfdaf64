"""Transcript choice and region labels on a hand-built GTF (one gene on each strand)."""

from __future__ import annotations

import json
import random

import pytest

from bertrbp.errors import InputError
from bertrbp.io.gtf import read_gtf
from bertrbp.io.sequences import Coordinates
from bertrbp.prepare.boundaries import BOUNDARY_TYPES, boundary_tokens
from bertrbp.prepare.gtf import pick_transcripts
from bertrbp.prepare.regions import REGIONS, RegionIndex, token_labels


def _gtf_line(feature, start, end, strand, gene, tx, extra=""):
    return f'chr1\ttest\t{feature}\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{gene}"; transcript_id "{tx}";{extra}\n'


GTF = "".join(
    [
        "#!genome-build test\n",
        # G1, plus strand. T1: APPRIS principal, TSL 2, shorter -> chosen over T2 (TSL 1, longer)
        _gtf_line(
            "transcript",
            101,
            400,
            "+",
            "G1",
            "T1",
            ' tag "basic"; tag "appris_principal_1"; transcript_support_level "2";',
        ),
        _gtf_line("exon", 101, 200, "+", "G1", "T1"),
        _gtf_line("exon", 301, 400, "+", "G1", "T1"),
        _gtf_line("CDS", 151, 200, "+", "G1", "T1"),
        _gtf_line("CDS", 301, 350, "+", "G1", "T1"),
        _gtf_line("stop_codon", 351, 353, "+", "G1", "T1"),
        _gtf_line("transcript", 51, 450, "+", "G1", "T2", ' transcript_support_level "1";'),
        _gtf_line("exon", 51, 450, "+", "G1", "T2"),
        # G2, minus strand. T3 (TSL 1) beats T4 (TSL NA) although T4 is longer
        _gtf_line(
            "exon", 1001, 1100, "-", "G2", "T3", ' transcript_support_level "1 (assigned to previous version 2)";'
        ),
        _gtf_line("exon", 1201, 1300, "-", "G2", "T3", ' transcript_support_level "1";'),
        _gtf_line("CDS", 1051, 1100, "-", "G2", "T3"),
        _gtf_line("CDS", 1201, 1250, "-", "G2", "T3"),
        _gtf_line("exon", 901, 1300, "-", "G2", "T4", ' transcript_support_level "NA";'),
        # G3: ties on APPRIS and TSL -> the longer transcript
        _gtf_line("exon", 2001, 2050, "+", "G3", "T5"),
        _gtf_line("exon", 2001, 2080, "+", "G3", "T6"),
    ]
)


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
    sites = [
        (145, 155, "+", 1),
        (1245, 1255, "-", 1),
        (1095, 1105, "-", 1),
        (395, 405, "+", 0),
        (2500, 2510, "+", 0),
        (1245, 1255, "+", 0),
    ]
    bed.write_text("".join(f"chr1\t{s}\t{e}\ts{i}\t{lab}\t{st}\n" for i, (s, e, st, lab) in enumerate(sites)))
    out = tmp_path / "out"
    run_tool(
        "prepare",
        "--bed",
        bed,
        "--genome",
        genome,
        "--bed-label-column",
        "score",
        "--gtf",
        gtf,
        "--test-size",
        "2",
        "-o",
        out,
        "--prefix",
        "r",
    )
    seq = {row.split("\t")[0]: row.split("\t")[1:] for row in (out / "r.sequence_regions.tsv").read_text().splitlines()}
    assert seq["id"] == list(REGIONS)
    assert seq["s0"] == ["1", "0", "1", "0", "1", "0"]
    assert seq["s4"] == ["0", "0", "0", "0", "0", "1"]
    tok = [row.split("\t") for row in (out / "r.token_regions.tsv").read_text().splitlines()]
    columns = [*REGIONS, "boundary", *(f"boundary_{name}" for name in BOUNDARY_TYPES)]
    assert tok[0] == ["id", *columns]
    tok = {row[0]: dict(zip(columns, row[1:])) for row in tok[1:]}
    assert tok["s1"]["5utr"] == "11111000" and tok["s1"]["boundary"] == "00011000"
    assert tok["s1"]["boundary_5utr_cds"] == "00011000" and tok["s1"]["boundary_exon_intron"] == "0" * 8
    # 3'UTR then intergenic: a transcript end, not a region boundary (the old flag fired here).
    assert tok["s3"]["boundary"] == "0" * 8 and tok["s3"]["boundary_transcript_end"] == "00011000"
    assert tok["s2"]["boundary_intron_exon"] == "00011000"  # minus strand: intron [1100,1200) | exon
    assert all(len(cell) == 8 for row in tok.values() for cell in row.values())
    nuc = {
        row.split("\t")[0]: row.split("\t")[1:] for row in (out / "r.nucleotide_regions.tsv").read_text().splitlines()
    }
    assert nuc["s2"][REGIONS.index("intron")] == "1111100000"
    assert json.loads((out / "r.manifest.json").read_text())["annotation"]["annotated"] == 6


def _types(index, start, end, strand, k=3):
    """Token strings per boundary type (and the aggregated flag) of one site."""
    m = boundary_tokens(index, Coordinates("chr1", start, end, strand), k)
    names = ["boundary", *BOUNDARY_TYPES]
    return {name: "".join(map(str, m[:, i])) for i, name in enumerate(names)}


# Every junction of the hand-built GTF, 0-based: (genomic junction g, strand, type). G1 (+): exons [100,200)
# [300,400), CDS [150,353) with the stop codon. G2 (-): exons [1000,1100) [1200,1300), CDS [1050,1250), read
# from 1300 down to 1000, so its 5'UTR|CDS junction is at 1250 and its exon|intron (donor) at 1200.
JUNCTIONS = [
    (150, "+", "5utr_cds"),
    (353, "+", "cds_3utr"),
    (200, "+", "exon_intron"),
    (300, "+", "intron_exon"),
    (100, "+", "transcript_start"),
    (400, "+", "transcript_end"),
    (1250, "-", "5utr_cds"),
    (1050, "-", "cds_3utr"),
    (1200, "-", "exon_intron"),
    (1100, "-", "intron_exon"),
    (1300, "-", "transcript_start"),
    (1000, "-", "transcript_end"),
]


@pytest.mark.parametrize("g,strand,kind", JUNCTIONS)
def test_each_boundary_type_on_both_strands(index, g, strand, kind):
    # Site [g-3, g+7): the junction lies 3 nt from the site's genomic start. On + that is between site
    # nucleotides 2|3 (3-mers 1 and 2 span it); on - the site is read backwards, so it is between 6|7 (3-mers 5, 6).
    types = _types(index, g - 3, g + 7, strand)
    expected = "01100000" if strand == "+" else "00000110"
    assert types[kind] == expected
    assert all(v == "0" * 8 for name, v in types.items() if name not in (kind, "boundary"))
    region_boundary = kind not in ("transcript_start", "transcript_end")
    assert types["boundary"] == (expected if region_boundary else "0" * 8)
    other_strand = _types(index, g - 3, g + 7, "-" if strand == "+" else "+")
    assert all(v == "0" * 8 for v in other_strand.values())  # strand-aware: no gene on the other strand here


def test_cds_starting_at_an_exon_start_is_a_splice_site_not_a_utr_cds_junction(tmp_path):
    path = tmp_path / "g.gtf"
    path.write_text(
        "".join(
            [
                _gtf_line("exon", 1, 100, "+", "G9", "T9"),
                _gtf_line("exon", 201, 300, "+", "G9", "T9"),
                _gtf_line("CDS", 201, 250, "+", "G9", "T9"),  # 5'UTR = all of exon 1; the CDS starts exon 2
            ]
        )
    )
    index = RegionIndex(pick_transcripts(read_gtf(path)))
    types = _types(index, 195, 205, "+")
    assert types["intron_exon"] == "00011000" and types["5utr_cds"] == "0" * 8
    assert _types(index, 245, 255, "+")["cds_3utr"] == "00011000"  # CDS | 3'UTR inside exon 2


def test_k_changes_how_many_tokens_span_a_junction(index):
    m = boundary_tokens(index, Coordinates("chr1", 145, 155, "+"), 5)  # 5-mers: 4 of them span 149|150
    assert "".join(map(str, m[:, 1 + BOUNDARY_TYPES.index("5utr_cds")])) == "011110"


# Headers as the BERT-RBP authors' data writes them (scripts/annotations.ipynb matches
# ">chr[0-9XYM]+:[0-9]+-[0-9]+\([+-]\)" and appends " rbp_bound: <0|1>"): bedtools getfasta -s names,
# 0-based start, end exclusive.
RBPSUITE_HEADERS = [
    ("chr1:145-155(+)", Coordinates("chr1", 145, 155, "+")),
    ("chr1:145-155(+) rbp_bound: 1", Coordinates("chr1", 145, 155, "+")),
    ("chrX:1245-1255(-)", Coordinates("chrX", 1245, 1255, "-")),
    ("chrM:0-10(+)", Coordinates("chrM", 0, 10, "+")),
    ("AARS_K562_12;chr12:1245-1255(-)", Coordinates("chr12", 1245, 1255, "-")),
]


@pytest.mark.parametrize("header,expected", RBPSUITE_HEADERS)
def test_rbpsuite_headers_give_coordinates(tmp_path, header, expected):
    from bertrbp.io.sequences import iter_records
    from bertrbp.prepare.coords import to_bed

    path = tmp_path / "s.fa"
    path.write_text(f">{header}\nACGTACGTAC\n")
    record = next(iter_records(path))
    assert record.coords == expected
    assert to_bed(record.coords, len(record.seq)) == expected  # span = length: already 0-based half-open


def test_rbpsuite_pair_gets_region_labels(gtf, tmp_path):
    """An RBPsuite-style positive/negative pair goes straight to region labels, no BED detour."""
    from helpers import run_tool

    rng = random.Random(1)
    seq = lambda: "".join(rng.choice("ACGT") for _ in range(10))  # noqa: E731
    pos, neg = tmp_path / "X.positive.fa", tmp_path / "X.negative.fa"
    pos.write_text(f">chr1:145-155(+)\n{seq()}\n>chr1:1245-1255(-)\n{seq()}\n>chr1:195-205(+)\n{seq()}\n")
    neg.write_text(f">chr1:2500-2510(+)\n{seq()}\n>chr1:395-405(+)\n{seq()}\n>chr1:1095-1105(-)\n{seq()}\n")
    out = tmp_path / "out"
    run_tool(
        "prepare", "--positives", pos, "--negatives", neg, "--gtf", gtf, "--test-size", "2", "-o", out, "--prefix", "r"
    )
    seq_rows = {r.split("\t")[0]: r.split("\t")[1:] for r in (out / "r.sequence_regions.tsv").read_text().splitlines()}
    assert seq_rows["chr1:145-155(+)"] == ["1", "0", "1", "0", "1", "0"]
    assert seq_rows["chr1:2500-2510(+)"] == ["0", "0", "0", "0", "0", "1"]
    tok = [row.split("\t") for row in (out / "r.token_regions.tsv").read_text().splitlines()]
    tok = {row[0]: dict(zip(tok[0][1:], row[1:])) for row in tok[1:]}
    assert tok["chr1:195-205(+)"]["boundary_exon_intron"] == "00011000"
    assert tok["chr1:1245-1255(-)"]["boundary_5utr_cds"] == "00011000"
    assert json.loads((out / "r.manifest.json").read_text())["annotation"]["annotated"] == 6


def test_one_transcript_id_on_two_chromosomes_is_two_transcripts(tmp_path):
    """Merged, a chr3 exon made a chr1 site exonic; a gene on two chromosomes keeps a transcript on each."""
    path = tmp_path / "par.gtf"
    path.write_text(
        _gtf_line("exon", 101, 200, "+", "G9", "T9")
        + _gtf_line("exon", 801, 900, "+", "G9", "T9").replace("chr1", "chr3", 1)
    )
    transcripts = read_gtf(path)
    assert {(t.transcript_id, t.chrom, tuple(t.exons)) for t in transcripts.values()} == {
        ("T9", "chr1", ((100, 200),)),
        ("T9", "chr3", ((800, 900),)),
    }
    index = RegionIndex(pick_transcripts(transcripts))
    assert _column(index.label(Coordinates("chr1", 850, 860, "+")), "intergenic") == "1" * 10
    assert _column(index.label(Coordinates("chr3", 850, 860, "+")), "exon") == "1" * 10


def test_one_transcript_id_twice_on_one_chromosome_is_two_transcripts(tmp_path):
    """Copies 1 Mb apart on one chromosome and strand (segmental duplications in UCSC refGene, whose GTFs have
    transcript lines): merged, the megabase between them was one intron; the gene keeps a transcript at each."""
    copies = []
    for offset in (0, 1_000_000):
        copies.append(_gtf_line("transcript", 101 + offset, 400 + offset, "+", "G7", "T7"))
        copies.append(_gtf_line("exon", 101 + offset, 200 + offset, "+", "G7", "T7"))
        copies.append(_gtf_line("exon", 301 + offset, 400 + offset, "+", "G7", "T7"))
    path = tmp_path / "dup.gtf"
    path.write_text("".join(copies))
    transcripts = read_gtf(path)
    assert sorted((t.transcript_id, tuple(t.exons)) for t in transcripts.values()) == [
        ("T7", ((100, 200), (300, 400))),
        ("T7", ((1_000_100, 1_000_200), (1_000_300, 1_000_400))),
    ]
    index = RegionIndex(pick_transcripts(transcripts))
    assert _column(index.label(Coordinates("chr1", 500_000, 500_010, "+")), "intergenic") == "1" * 10
    assert _column(index.label(Coordinates("chr1", 1_000_200, 1_000_210, "+")), "intron") == "1" * 10
    assert _column(index.label(Coordinates("chr1", 1_000_390, 1_000_400, "+")), "exon") == "1" * 10


def test_without_transcript_lines_an_overlapping_exon_starts_another_copy(tmp_path):
    """One transcript's exons never overlap; merged, the copies' exons overlapped and made junctions inside exons."""
    path = tmp_path / "dup.gtf"
    path.write_text(
        "".join(_gtf_line("exon", a, b, "+", "G7", "T7") for a, b in ((101, 200), (301, 400), (151, 250), (351, 450)))
    )
    assert sorted(tuple(t.exons) for t in read_gtf(path).values()) == [
        ((100, 200), (300, 400)),
        ((150, 250), (350, 450)),
    ]
