"""Liftover on a hand-written chain file, coordinates computed by hand."""

from __future__ import annotations

import random

import pytest

from bertrbp.errors import InputError
from bertrbp.io.genome import reverse_complement
from bertrbp.io.sequences import Coordinates, SequenceRecord
from bertrbp.prepare.filters import DropLog
from bertrbp.prepare.liftover import ChainMapper, lift_records

# chain 1: chrA[100,200) -> chrB[500,600), gap (10 source, 20 target), chrA[210,400) -> chrB[620,810)
# chain 2: chrA[500,600) -> chrC minus strand [100,200), i.e. chrC plus strand [800,900) reversed
# chains 3 and 4: chrA[750,800) maps twice (ambiguous)
CHAIN = """chain 1000 chrA 1000 + 100 400 chrB 2000 + 500 810 1
100\t10\t20
190

chain 900 chrA 1000 + 500 600 chrC 1000 - 100 200 2
100

chain 50 chrA 1000 + 700 800 chrB 2000 + 1000 1100 3
100

chain 40 chrA 1000 + 750 800 chrC 1000 + 0 50 4
50
"""


@pytest.fixture()
def chain(tmp_path):
    path = tmp_path / "test.over.chain"
    path.write_text(CHAIN)
    return path


@pytest.mark.parametrize(
    "site, expected, reason",
    [
        (("chrA", 120, 150, "+"), ("chrB", 520, 550, "+"), ""),
        (("chrA", 210, 215, "-"), ("chrB", 620, 625, "-"), ""),
        (("chrA", 520, 530, "+"), ("chrC", 870, 880, "-"), ""),  # minus chain: 1000 - 130 .. 1000 - 120
        (("chrA", 520, 530, "-"), ("chrC", 870, 880, "+"), ""),
        (("chrA", 190, 230, "+"), None, "liftover_length_changed"),  # spans the unequal gap
        (("chrA", 205, 208, "+"), None, "liftover_unmapped"),  # inside the gap
        (("chrZ", 1, 5, "+"), None, "liftover_unmapped"),
        (("chrA", 760, 770, "+"), None, "liftover_ambiguous"),
        (("chrA", 380, 520, "+"), None, "liftover_split"),  # ends on two chains
    ],
)
def test_lift_against_hand_computation(chain, site, expected, reason):
    lifted, why = ChainMapper(chain).lift(Coordinates(*site))
    assert why == reason
    assert (None if lifted is None else (lifted.chrom, lifted.start, lifted.end, lifted.strand)) == expected


def test_real_chain_file_loads_and_lifts(shared_data):
    mapper = ChainMapper(shared_data / "liftover" / "hg19ToHg38.over.chain.gz")
    lifted, why = mapper.lift(Coordinates("chr1", 1_000_000, 1_000_101, "+"))
    assert why == "" and lifted.chrom == "chr1" and lifted.end - lifted.start == 101
    assert lifted.start != 1_000_000  # hg38 shifted this region


def _genomes(tmp_path, mutate: bool):
    rng = random.Random(1)
    chr_a = "".join(rng.choice("ACGT") for _ in range(1000))
    chr_b = ["A"] * 2000
    chr_b[500:600] = chr_a[100:200]
    chr_b[620:810] = chr_a[210:400]
    if mutate:
        chr_b[535] = "C" if chr_b[535] != "C" else "G"
    chr_c = ["A"] * 1000
    chr_c[800:900] = reverse_complement(chr_a[500:600])
    target = tmp_path / "target.fa"
    target.write_text(f">chrB\n{''.join(chr_b)}\n>chrC\n{''.join(chr_c)}\n")
    return chr_a, target


def _record(chr_a: str, start: int, end: int, strand: str) -> SequenceRecord:
    seq = chr_a[start:end] if strand == "+" else reverse_complement(chr_a[start:end])
    return SequenceRecord(f"s{start}", seq, 1, seq, Coordinates("chrA", start, end, strand))


def test_identity_check_with_target_genome(chain, tmp_path):
    chr_a, target = _genomes(tmp_path, mutate=True)
    records = [
        _record(chr_a, 120, 150, "+"),
        _record(chr_a, 530, 540, "+"),
        _record(chr_a, 520, 560, "-"),
        _record(chr_a, 300, 320, "+"),
    ]
    log = DropLog()
    kept = lift_records(records, chain, log, target)
    assert [r.id for r in kept] == ["s530", "s520", "s300"]  # s120 covers the mutated base 535 (chrA 135)
    assert log.counts == {"liftover_sequence_changed": 1}
    assert (kept[0].coords.chrom, kept[0].coords.start, kept[0].coords.end) == ("chrC", 860, 870)
    assert kept[2].coords == Coordinates("chrB", 710, 730, "+")
    assert kept[0].extra["source_coords"] == Coordinates("chrA", 530, 540, "+")


def test_bad_chain_file(tmp_path):
    bad = tmp_path / "bad.chain"
    bad.write_text("chain 1 chrA 1000 + 0 10 chrB 1000 + 0 20 1\n10\n")
    with pytest.raises(InputError, match="not a valid UCSC chain"):
        ChainMapper(bad)


def test_cli_bed_genome_chain(chain, tmp_path):
    from helpers import run_tool

    chr_a, target = _genomes(tmp_path, mutate=False)
    source = tmp_path / "source.fa"
    source.write_text(f">chrA\n{chr_a}\n")
    bed = tmp_path / "sites.bed"
    bed.write_text(
        "".join(
            [
                "chrA\t120\t150\ta\t1\t+\n",
                "chrA\t300\t330\tb\t1\t-\n",
                "chrA\t530\t560\tc\t1\t+\n",
                "chrA\t220\t250\td\t0\t+\n",
                "chrA\t250\t280\te\t0\t-\n",
                "chrA\t350\t380\tf\t0\t+\n",
                "chrA\t205\t208\tg\t0\t+\n",
            ]
        )
    )
    out = tmp_path / "out"
    run_tool(
        "prepare",
        "--bed",
        bed,
        "--genome",
        source,
        "--bed-label-column",
        "score",
        "--chain",
        chain,
        "--target-genome",
        target,
        "--test-size",
        "2",
        "--output-dir",
        out,
        "--prefix",
        "x",
    )
    import json

    manifest = json.loads((out / "x.manifest.json").read_text())
    assert manifest["dropped"]["reasons"]["liftover_unmapped"]["count"] == 1
    bed_out = {line.split("\t")[3]: line.split("\t") for line in (out / "x.sites.bed").read_text().splitlines()}
    assert bed_out["c"][:3] == ["chrC", "840", "870"] and bed_out["c"][5] == "-"
    assert bed_out["a"][:3] == ["chrB", "520", "550"]
    assert "g" not in bed_out


@pytest.mark.parametrize(
    "option, message",
    [("--target-genome", "--target-genome checks lifted sequences"), ("--genome", "--genome is read with --bed")],
)
def test_a_genome_nothing_reads_is_refused(chain, tmp_path, option, message):
    """Without --chain (or --bed) nothing is lifted or cut, so the identity check asked for never ran (exit 0)."""
    from helpers import run_tool

    _, target = _genomes(tmp_path, mutate=False)
    sites = tmp_path / "sites.fa"
    sites.write_text(">a class:1\nACGTACGTAC\n>b class:0\nTTGACCATGA\n")
    out = tmp_path / "out"
    result = run_tool("prepare", sites, option, target, "--output-dir", out, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {message}")
    assert not out.exists()


def test_an_id_that_names_the_source_interval_names_the_lifted_one(chain, tmp_path):
    """Kept, the id named the source assembly's place: a target-assembly GTF read from it labelled the wrong site."""
    from bertrbp.io.sequences import coordinates_in_id

    chr_a, _ = _genomes(tmp_path, mutate=False)
    named, coordinate_id, both = (_record(chr_a, *site) for site in ((300, 320, "+"), (530, 540, "+"), (530, 540, "+")))
    coordinate_id.id = "chrA:530-540(+)"  # a nameless BED site, or an RBPsuite header
    both.id = "MYC|chrA:530-540(+)|x"  # a name beside the coordinates
    log = DropLog()
    kept = lift_records([named, coordinate_id, both], chain, log)
    assert kept[0].id == "s300"  # a name is a name
    assert coordinates_in_id(kept[1].id) == kept[1].coords == Coordinates("chrC", 860, 870, "-")
    assert kept[2].id == "MYC|chrC:860-870(-)|x"
    assert log.renamed == [("chrA:530-540(+)", "chrC:860-870(-)"), ("MYC|chrA:530-540(+)|x", "MYC|chrC:860-870(-)|x")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chrA\t100\t200\tsite\n", "no 'chain' lines; not a UCSC chain file"),
        ("", "no 'chain' lines; not a UCSC chain file"),
        (
            CHAIN.replace("chrB 2000", "chrB 600"),
            "chain 1 (chrA -> chrB): its target interval 500-810 is not within the target size 600",
        ),
        (
            CHAIN.replace("chrC 1000", "chrC 150"),
            "chain 2 (chrA -> chrC): its target interval 100-200 is not within the target size 150",
        ),
    ],
)
def test_a_chain_file_without_chains_or_with_wrong_sizes_is_one_error_naming_it(tmp_path, capsys, text, message):
    """pyliftover skips lines that are not chains and trusts the header sizes: a BED passed as --chain lifted
    nothing and prepare blamed its filters ("only class [] is left"); a chain with a too small target size lifted
    sites past the chromosome's end (chrB:700-720 of a 600 nt chrB) or, on a minus chain, to negative starts, exit 0.
    """
    from inprocess import run_cli

    rng = random.Random(0)
    sites = tmp_path / "in.fa"
    sites.write_text(
        "".join(
            f">chrA:{s}-{s + 20}(+) class:{i % 2}\n{''.join(rng.choice('ACGT') for _ in range(20))}\n"
            for i, s in enumerate(range(100, 300, 5))
        )
    )
    (tmp_path / "x.chain").write_text(text)
    out = tmp_path / "out"
    assert run_cli("prepare", sites, "-o", out, "--chain", tmp_path / "x.chain", "--test-size", "4") == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {tmp_path / 'x.chain'}: {message}" in err and not out.exists()
