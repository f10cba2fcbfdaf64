"""Indexed genome reader, strand-aware BED reader and reverse complement."""

from __future__ import annotations

import pytest

from bertrbp.errors import InputError
from bertrbp.io.genome import GenomeFasta, read_bed, reverse_complement


@pytest.fixture()
def genome(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1 test\nACGTACGTAA\nCCGGTTAAGG\n>2\nNNNNACGT\n")
    return path


def test_reverse_complement_keeps_case_and_reads_u():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgU") == "Acgt"


def test_fetch_half_open_and_minus_strand(genome):
    with GenomeFasta(genome) as g:
        assert g.lengths == {"chr1": 20, "2": 8}
        assert g.fetch("chr1", 8, 12) == "AACC"  # crosses the line wrap
        assert g.fetch("chr1", 8, 12, "-") == "GGTT"
        assert g.fetch("1", 0, 4) == "ACGT"  # Ensembl name for a UCSC genome
        assert g.fetch("chr2", 4, 8) == "ACGT"
        with pytest.raises(InputError, match="outside"):
            g.fetch("chr1", 15, 21)
        with pytest.raises(InputError, match="not in"):
            g.fetch("chrX", 0, 2)


def test_read_bed_and_extract(genome, tmp_path):
    bed = tmp_path / "s.bed"
    bed.write_text("track name=x\n#c\nchr1\t8\t12\tsiteA\t1\t-\nchr1\t0\t4\tsiteB\t0\t+\n")
    intervals = list(read_bed(bed))
    assert [(i.chrom, i.start, i.end, i.name, i.strand, i.line) for i in intervals] == [
        ("chr1", 8, 12, "siteA", "-", 3),
        ("chr1", 0, 4, "siteB", "+", 4),
    ]
    with GenomeFasta(genome) as g:
        assert [g.fetch_interval(i) for i in intervals] == ["GGTT", "ACGT"]


def test_a_dot_name_is_no_name_so_sites_keep_their_coordinates(genome, tmp_path):
    """bedtools writes '.' for a nameless interval: before, prepare's ids (and scan's targets) were '.', '.~2'."""
    from bertrbp.prepare.sources import SourceSpec, read_bed_sites

    bed = tmp_path / "s.bed"
    bed.write_text("chr1\t8\t12\t.\t0\t-\nchr1\t0\t4\t.\t0\t+\nchr1\t4\t8\tsiteC\t0\t+\n")
    assert [i.display_id() for i in read_bed(bed)] == ["chr1:8-12(-)", "chr1:0-4(+)", "siteC"]
    spec = SourceSpec([], "auto", 1, [], [], [bed], genome, "none")
    assert [(r.id, r.seq) for r in read_bed_sites(spec)] == [
        ("chr1:8-12(-)", "GGTT"),
        ("chr1:0-4(+)", "ACGT"),
        ("siteC", "ACGT"),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t5\n", "at least 3 columns"),
        ("chr1\tx\t5\n", "whole numbers"),
        ("chr1\t5\t5\n", "empty or negative"),
        ("chr1\t1\t5\tn\t0\t*\n", "strand"),
    ],
)
def test_bad_bed_lines(tmp_path, line, message):
    bed = tmp_path / "bad.bed"
    bed.write_text(line)
    with pytest.raises(InputError, match=message):
        list(read_bed(bed))


def test_bed_without_strand_refused_when_required(tmp_path):
    bed = tmp_path / "b.bed"
    bed.write_text("chr1\t1\t5\n")
    assert list(read_bed(bed))[0].strand == "."
    with pytest.raises(InputError, match="strand-specific"):
        list(read_bed(bed, require_strand=True))


@pytest.mark.parametrize("change", ["longer sequence", "index of another genome", "sequence appended"])
def test_an_index_written_for_another_version_of_the_fasta_is_refused(genome, tmp_path, change):
    """pyfaidx trusts a .fai newer than the FASTA: a genome restored with its old timestamp gave wrong bases."""
    import os

    from bertrbp.errors import InputError

    with GenomeFasta(genome) as g:  # writes g.fa.fai
        assert g.fetch("2", 4, 8) == "ACGT"
    fai = tmp_path / "g.fa.fai"
    if change == "longer sequence":
        genome.write_text(">chr1 test\nACGTACGTAA\nCCGGTTAAGG\nTT\n>2\nNNNNACGT\n")
    elif change == "index of another genome":
        other = tmp_path / "other.fa"
        other.write_text(">chr1\nACGTACGTAA\nCCGGTTAAGG\n>2\nNNNNACGT\n")
        with GenomeFasta(other):
            pass
        fai.write_bytes((tmp_path / "other.fa.fai").read_bytes())
    else:
        with open(genome, "a") as handle:
            handle.write(">3\nACGU\n")
    os.utime(genome, (fai.stat().st_mtime - 100, fai.stat().st_mtime - 100))  # as cp -p or rsync -t leave it
    with pytest.raises(InputError, match=r"g.fa.fai: this index does not match .*Remove g.fa.fai"):
        GenomeFasta(genome)
    fai.unlink()
    with GenomeFasta(genome) as g:  # rebuilt by pyfaidx once removed
        assert g.fetch("2", 4, 8) == "ACGT"


@pytest.mark.parametrize(
    "text",
    [
        ">a\nACGT\nACGT",  # full last line, no final newline
        ">a\r\nACGT\r\nACGT",
        ">a desc\nACGTAC\n>b\n>c\nAC\n\n",  # an empty record, a short last line, a blank line at the end
        "; a comment\n>a\nACGT\nAC\n>b\nACGT\n",
    ],
)
def test_a_matching_index_is_accepted_whatever_the_layout(tmp_path, text):
    path = tmp_path / "g.fa"
    path.write_bytes(text.encode())
    with GenomeFasta(path) as g:  # builds the index, then checks it
        assert g.fetch("a", 0, 4) == "ACGT"
    with GenomeFasta(path) as g:  # reads the existing one
        assert g.fetch("a", 0, 4) == "ACGT"


def _bgzip(path, text: str) -> None:
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as handle:
        handle.write(text.encode())


def test_a_bgzip_genome_with_the_index_of_another_version_is_refused(tmp_path):
    """The bgzip case skipped the check: a genome replaced under an older timestamp gave wrong sequences."""
    import os

    from bertrbp.errors import InputError

    path = tmp_path / "g.fa.gz"
    _bgzip(path, ">chr1\nACGTACGTAA\nCCGGTTAAGG\n>2\nNNNNACGT\n")
    with GenomeFasta(path) as g:  # writes g.fa.gz.fai and .gzi, then checks them
        assert g.fetch("2", 4, 8) == "ACGT"
    with GenomeFasta(path) as g:
        assert g.fetch("chr1", 8, 12) == "AACC"
    fai = tmp_path / "g.fa.gz.fai"
    _bgzip(path, ">chr1\nACGTACGTAA\nCCGGTTAAGG\nTT\n>2\nNNNNACGT\n")
    os.utime(path, (fai.stat().st_mtime - 100, fai.stat().st_mtime - 100))
    with pytest.raises(InputError, match="g.fa.gz.fai: this index does not match"):
        GenomeFasta(path)


def test_a_genome_pyfaidx_cannot_index_is_one_error_and_leaves_no_index(tmp_path):
    from bertrbp.errors import InputError

    path = tmp_path / "g.fa"
    path.write_text(">chr1\nACGT\n\n\n")  # pyfaidx: RuntimeError, a traceback before
    with pytest.raises(InputError, match="cannot index the genome FASTA"):
        GenomeFasta(path)
    assert not (tmp_path / "g.fa.fai").exists()


def test_a_truncated_bgzip_genome_is_one_error_and_a_linked_index_is_kept(tmp_path):
    from bertrbp.errors import InputError

    path = tmp_path / "g.fa.gz"
    _bgzip(path, ">chr1\n" + "ACGT" * 20000 + "\n>chr2\n" + "GGCC" * 20000 + "\n")
    with GenomeFasta(path):
        pass
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3])  # .fai and .gzi intact: Bio's bgzf raised a ValueError traceback
    with pytest.raises(InputError, match="truncated or corrupt|cannot index"):
        GenomeFasta(path)
    plain = tmp_path / "p.fa"
    plain.write_text(">a\nACGT\n\n\n")  # pyfaidx cannot index it
    (tmp_path / "p.fa.fai").symlink_to(tmp_path / "elsewhere.fai")  # the user's link, dangling
    with pytest.raises(InputError):
        GenomeFasta(plain)
    assert (tmp_path / "p.fa.fai").is_symlink()


def test_checking_an_index_opens_the_fasta_once_not_once_per_record(tmp_path, monkeypatch):
    """Why: the index check opened the FASTA for each record's header: 8.2 s of a 12 s start on 200,000 contigs."""
    import builtins

    path = tmp_path / "g.fa"
    path.write_text("".join(f">c{i}\nACGTACGT\n" for i in range(50)))
    GenomeFasta(path).close()  # builds the index
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) == str(path):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    with GenomeFasta(path) as g:
        assert g.fetch("c49", 0, 4) == "ACGT"
    assert len(opened) <= 3  # pyfaidx's handle and the check's, not one per record
