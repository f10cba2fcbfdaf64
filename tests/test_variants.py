"""Variant effect: REF checks, fixed-length windows for SNVs/indels/contig ends, strand, and motif-breaking deltas."""

from __future__ import annotations

import random

import pytest

from bertrbp.errors import InputError
from bertrbp.io.genome import GenomeFasta, reverse_complement
from bertrbp.variants.strand import StrandIndex, gtf_strand_index
from bertrbp.variants.vcf import Variant, iter_vcf
from bertrbp.variants.windows import check_ref, variant_windows
from helpers import run_tool
from motif_model import MOTIF, WINDOW, plant, quiet_background

MOTIF_AT = 150  # 0-based; VCF positions 151..156


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = random.Random(21)
    chr1 = plant(quiet_background(rng, 300), MOTIF_AT)
    chr2 = quiet_background(rng, 30)
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    path.write_text(f">chr1\n{chr1}\n>chr2\n{chr2}\n")
    return path, chr1, chr2


def _vcf(path, rows):
    path.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join("\t".join(map(str, row)) + "\t.\t.\t.\n" for row in rows)
    )
    return path


def test_windows_keep_length_for_snv_indels_and_contig_ends(genome):
    path, chr1, chr2 = genome
    with GenomeFasta(path) as fa:
        snv = variant_windows(Variant("chr1", 153, "", chr1[152], "A"), fa, 41)
        assert snv.ref == chr1[152 - 20 : 152 + 21] and snv.alt == chr1[132:152] + "A" + chr1[153:173]
        deletion = variant_windows(Variant("chr1", 151, "", chr1[150:154], chr1[150]), fa, 41)
        assert len(deletion.ref) == len(deletion.alt) == 41 and MOTIF not in deletion.alt
        insertion = variant_windows(Variant("chr1", 151, "", chr1[150], chr1[150] + "GGGGG"), fa, 41)
        assert len(insertion.alt) == 41 and "GGGGG" in insertion.alt
        start = variant_windows(Variant("chr1", 1, "", chr1[0], "A"), fa, 41)
        assert start.ref == chr1[:41] and start.alt == "A" + chr1[1:41] and "shifted" in start.note
        end = variant_windows(Variant("chr1", 300, "", chr1[299], "A"), fa, 41)
        assert end.ref == chr1[-41:] and end.alt == chr1[-41:-1] + "A"
        short = variant_windows(Variant("chr2", 5, "", chr2[4], "A"), fa, 41)
        assert short.ref == chr2 and "shorter" in short.note
        minus = variant_windows(Variant("chr1", 153, "", chr1[152], "A"), fa, 41, "-")
        assert (minus.ref, minus.alt) == (reverse_complement(snv.ref), reverse_complement(snv.alt))
        assert "does not match the genome" in check_ref(Variant("chr1", 151, "", "A", "C"), fa)
        assert "chr1:151" in check_ref(Variant("chr1", 151, "", "A", "C"), fa)
        assert check_ref(Variant("chr1", 151, "", "T", "C"), fa) == ""


def test_vcf_reader_reports_unscorable_alleles(tmp_path):
    path = _vcf(tmp_path / "v.vcf", [("chr1", 5, "rs1", "A", "C,<DEL>"), ("chr1", 9, ".", "AC", "A")])
    got = [(v.pos, v.alt, bool(problem)) for v, problem in iter_vcf(path)]
    assert got == [(5, "C", False), (5, "<DEL>", True), (9, "A", False)]
    (tmp_path / "bad.vcf").write_text("chr1\tx\t.\tA\tC\n")
    with pytest.raises(InputError, match="line 1"):
        list(iter_vcf(tmp_path / "bad.vcf"))


def test_strand_lookup_from_bed_intervals_and_gtf(tmp_path):
    index = StrandIndex([("chr1", 100, 200, "+"), ("chr1", 150, 400, "-"), ("chr2", 0, 10, "+")], "test")
    assert index.strands("chr1", 120, 121) == ["+"]
    assert index.strands("chr1", 160, 161) == ["+", "-"]
    assert index.strands("1", 300, 301) == ["-"]  # chr prefix ignored
    assert index.strands("chr1", 400, 401) == [] and index.strands("chrX", 1, 2) == []
    gtf = tmp_path / "a.gtf"
    gtf.write_text(
        'chr1\tx\ttranscript\t101\t200\t.\t-\t.\tgene_id "g";\n' 'chr1\tx\tCDS\t301\t400\t.\t+\t.\tgene_id "g";\n'
    )
    gtf_index = gtf_strand_index(gtf)
    assert gtf_index.strands("chr1", 100, 101) == ["-"]  # GTF 101 is 0-based 100
    assert gtf_index.strands("chr1", 99, 100) == [] and gtf_index.strands("chr1", 350, 351) == []


def _rows(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def test_motif_breaking_variant_lowers_binding_and_bad_ref_is_reported(motif_checkpoint, genome, tmp_path):
    path, chr1, _ = genome
    alt = "A" if chr1[152] != "A" else "G"
    vcf = _vcf(
        tmp_path / "v.vcf",
        [
            ("chr1", 153, "break", chr1[152], alt),  # the motif's C
            ("chr1", 20, "far", chr1[19], "A" if chr1[19] != "A" else "C"),
            ("chr1", 151, "del", chr1[150:154], chr1[150]),  # deletes GCA of TGCATG
            ("chr1", 300, "end", chr1[299], "A" if chr1[299] != "A" else "C"),
            ("chr1", 40, "badref", "N" if chr1[39] != "N" else "A", "G"),
        ],
    )
    out = tmp_path / "effects.tsv"
    failed = run_tool(
        "variant-effect",
        "--model",
        f"m={motif_checkpoint}",
        "--vcf",
        vcf,
        "--genome",
        path,
        "-o",
        out,
        "--window",
        WINDOW,
        "--threads",
        1,
        check=False,
    )
    assert failed.returncode == 2 and "chr1:40" in failed.stderr and "does not match" in failed.stderr
    assert not out.exists()

    bed = tmp_path / "genes.bed"
    bed.write_text("chr1\t0\t300\tg1\t0\t+\n")
    run_tool(
        "variant-effect",
        "--model",
        f"m={motif_checkpoint}",
        "--vcf",
        vcf,
        "--genome",
        path,
        "-o",
        out,
        "--window",
        WINDOW,
        "--strand-bed",
        bed,
        "--on-ref-mismatch",
        "skip",
        "--threads",
        1,
    )
    rows = {r["id"]: r for r in _rows(out)}
    assert set(rows) == {"break", "far", "del", "end"}
    for row in rows.values():
        assert row["model"] == "m" and row["strand"] == "+"
        assert float(row["delta_logit"]) == pytest.approx(float(row["alt_logit"]) - float(row["ref_logit"]), abs=1e-5)
        assert float(row["delta_prob"]) == pytest.approx(float(row["alt_prob"]) - float(row["ref_prob"]), abs=1e-5)
    assert float(rows["break"]["ref_prob"]) > 0.5
    assert float(rows["break"]["delta_logit"]) < -2 and float(rows["del"]["delta_logit"]) < -2
    assert abs(float(rows["far"]["delta_prob"])) < 0.05
    assert "shifted" in rows["end"]["note"]
    skipped = _rows(tmp_path / "effects.skipped.tsv")
    assert [(r["pos"], r["id"]) for r in skipped] == [("40", "badref")] and "chr1:40" in skipped[0]["reason"]


def test_a_vcf_named_like_the_skipped_table_is_refused_and_kept(motif_checkpoint, genome, tmp_path):
    path, chr1, _ = genome
    vcf = _vcf(tmp_path / "calls.skipped.tsv", [("chr1", 20, "far", chr1[19], "A" if chr1[19] != "A" else "C")])
    before = vcf.read_text()
    result = run_tool(
        "variant-effect", "--model", motif_checkpoint, "--vcf", vcf, "--genome", path, "-o", tmp_path / "calls.tsv",
        "--window", WINDOW, "--threads", 1, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-300:]
    assert "the skipped-alleles table) is also an input of this run (--vcf)" in result.stderr.splitlines()[-1]
    assert vcf.read_text() == before and not (tmp_path / "calls.tsv").exists()


def test_output_to_a_device_writes_no_skipped_table_beside_it(motif_checkpoint, genome, tmp_path):
    """-o /dev/stdout made /dev/stdout.skipped.tsv (as root; without root the run failed): beside a device the
    skipped alleles are only logged."""
    from pathlib import Path

    path, chr1, _ = genome
    vcf = _vcf(tmp_path / "v.vcf", [("chr1", 153, "break", chr1[152], "A,*" if chr1[152] != "A" else "G,*")])
    stray = Path("/dev/stdout.skipped.tsv")
    there = stray.exists()
    result = run_tool(
        "variant-effect", "--model", f"m={motif_checkpoint}", "--vcf", vcf, "--genome", path, "-o", "/dev/stdout",
        "--window", WINDOW, "--threads", 1, check=False,
    )  # fmt: skip
    created = stray.exists() and not there
    if created:
        stray.unlink()  # made by the bug this test guards against
    assert result.returncode == 0, result.stderr[-500:]
    assert not created
    lines = result.stdout.splitlines()
    assert lines[0].startswith("chrom\tpos\tid") and [line.split("\t")[2] for line in lines[1:]] == ["break"]
    assert "not scored" in result.stderr and "ALT '*'" in result.stderr


def test_a_contig_shorter_than_k_skips_its_alleles_and_scores_the_rest(motif_checkpoint, genome, tmp_path):
    """A contig shorter than k (or one a deletion shortens below it) failed the whole run with an error naming no
    variant; its alleles now go to the skipped table with the reason, and the other variants are scored."""
    path, chr1, chr2 = genome
    fasta = tmp_path / "genome.fa"
    fasta.write_text(path.read_text() + ">tiny\nAC\n>small\nACGTA\n")
    vcf = _vcf(
        tmp_path / "v.vcf",
        [
            ("chr1", 153, "break", chr1[152], "A" if chr1[152] != "A" else "G"),
            ("tiny", 1, "tiny_snv", "A", "G"),
            ("small", 2, "small_del", "CGTA", "C"),  # ACGTA -> AC
        ],
    )
    out = tmp_path / "effects.tsv"
    result = run_tool(
        "variant-effect", "--model", f"m={motif_checkpoint}", "--vcf", vcf, "--genome", fasta, "-o", out,
        "--window", WINDOW, "--threads", 1, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-500:]
    assert [r["id"] for r in _rows(out)] == ["break"]
    skipped = {r["id"]: r["reason"] for r in _rows(tmp_path / "effects.skipped.tsv")}
    assert set(skipped) == {"tiny_snv", "small_del"}
    assert "REF window is 2 nt" in skipped["tiny_snv"] and "ALT window is 2 nt" in skipped["small_del"]
    assert all("fewer than k=" in reason for reason in skipped.values())


def test_an_output_inside_the_model_folder_is_refused_and_the_model_kept(motif_checkpoint, genome, tmp_path):
    """-o MODEL/config.json replaced the model's config with the effects table (exit 0), as predict's -o did."""
    import shutil

    path, chr1, _ = genome
    model = shutil.copytree(motif_checkpoint, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    vcf = _vcf(tmp_path / "v.vcf", [("chr1", 153, "break", chr1[152], "A" if chr1[152] != "A" else "G")])
    result = run_tool(
        "variant-effect", "--model", f"m={model}", "--vcf", vcf, "--genome", path, "-o", model / "config.json",
        "--window", WINDOW, "--threads", 1, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-300:]
    assert "would be written into the --model folder" in result.stderr.strip().splitlines()[-1]
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
