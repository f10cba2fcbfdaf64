"""bertrbp-prepare --split locus|auto: windows over one locus never straddle the test split (bertrbp.loci)."""

from __future__ import annotations

import gzip
import json
from itertools import islice

import numpy as np

from bertrbp.io.sequences import iter_records
from bertrbp.prepare.leakage import _intervals_overlapping
from inprocess import run_cli


def _clustered_fasta(path, n_loci: int = 120, seed: int = 3) -> None:
    """RBP-31-style records: each locus holds 1-4 windows 20 nt apart (overlapping), all of the locus's label."""
    rng = np.random.default_rng(seed)
    lines = []
    for locus in range(n_loci):
        label = int(locus % 3 == 0)
        for shift in range(int(rng.integers(1, 5))):
            start = 10_000 * (locus + 1) + 20 * shift
            seq = "".join(rng.choice(list("ACGT"), 101))
            lines.append(f"> chr{1 + locus % 3},{'+-'[locus % 2]},{start},{start + 100}; class:{label}\n{seq}\n")
    path.write_text("".join(lines))


def _prepare(data, out, *args) -> dict:
    assert run_cli("prepare", data, "-o", out, "--prefix", "x", "--test-size", "0.25", *args) == 0
    return json.loads((out / "x.manifest.json").read_text())


def test_auto_splits_overlapping_windows_by_locus_and_random_does_not(tmp_path):
    data = tmp_path / "sites.fa"
    _clustered_fasta(data)
    manifest = _prepare(data, tmp_path / "auto", "--split", "auto", "--val-fraction", "0.2")
    assert manifest["overlap"]["split"] == "locus" and manifest["overlap"]["split_requested"] == "auto"
    train = list(iter_records(tmp_path / "auto" / "x.train.fa"))
    for held in ("test", "val"):
        records = list(iter_records(tmp_path / "auto" / f"x.{held}.fa"))
        assert records and _intervals_overlapping(train, records) == 0
        assert manifest["overlap"][f"train_vs_{held}"]["overlapping_intervals"] == 0
    n = sum(manifest["splits"][s]["total"] for s in ("train", "val", "test"))
    assert abs(manifest["splits"]["test"]["total"] - 0.25 * n) <= 4  # whole loci of at most 4 windows
    assert {r.label for r in iter_records(tmp_path / "auto" / "x.test.fa")} == {0, 1}
    random = _prepare(data, tmp_path / "random")  # the default
    assert random["overlap"]["split"] == "random" and random["overlap"]["train_vs_test"]["overlapping_intervals"] > 0
    again = _prepare(data, tmp_path / "again", "--split", "locus", "--val-fraction", "0.2")
    assert (tmp_path / "again" / "x.test.fa").read_text() == (tmp_path / "auto" / "x.test.fa").read_text()
    assert again["overlap"]["split_requested"] == "locus"


def test_the_test_split_reuses_the_chains_auto_made(tmp_path, monkeypatch):
    from bertrbp import loci

    calls = []
    chain = loci.locus_groups
    monkeypatch.setattr(loci, "locus_groups", lambda *a, **k: calls.append(1) or chain(*a, **k))
    data = tmp_path / "sites.fa"
    _clustered_fasta(data)
    manifest = _prepare(data, tmp_path / "auto", "--split", "auto", "--val-fraction", "0.2")
    assert manifest["overlap"]["split"] == "locus" and "val" in manifest["splits"]
    # auto's overlap check and the test split share one chaining; the validation split chains the rest again
    assert len(calls) == 2


def test_auto_keeps_the_random_split_without_coordinates_and_locus_refuses(tmp_path):
    data = tmp_path / "plain.tsv"
    rng = np.random.default_rng(0)
    data.write_text("".join(f"{''.join(rng.choice(list('ACGT'), 40))}\t{i % 2}\n" for i in range(80)))
    assert _prepare(data, tmp_path / "auto", "--split", "auto")["overlap"]["split"] == "random"
    out = tmp_path / "locus"
    assert run_cli("prepare", data, "-o", out, "--prefix", "x", "--split", "locus") == 2
    assert not out.exists() or not any(out.iterdir())


def test_auto_needs_overlap_to_choose_locus(tmp_path):
    data = tmp_path / "apart.fa"
    rng = np.random.default_rng(1)
    data.write_text(
        "".join(
            f"> chr1,+,{1000 * (i + 1)},{1000 * (i + 1) + 100}; class:{i % 2}\n{''.join(rng.choice(list('ACGT'), 101))}\n"
            for i in range(80)
        )
    )
    assert (
        _prepare(data, tmp_path / "auto", "--split", "auto")["overlap"]["split"] == "random"
    )  # no overlap: nothing to keep together


def test_real_rbp31_random_split_leaks_and_auto_does_not(shared_data, tmp_path):
    source = shared_data / "rbp31" / "10_PARCLIP_ELAVL1A_hg19" / "train.fa.gz"
    with gzip.open(source, "rt") as handle:
        head = "".join(islice(handle, 8000))  # 4,000 records, sorted by position: whole clusters of windows
    data = tmp_path / "elavl1a.fa"
    data.write_text(head)
    leaked = _prepare(data, tmp_path / "random", "--split", "random")["overlap"]["train_vs_test"]
    assert leaked["overlapping_intervals"] > 0.1 * leaked["n"]
    kept = _prepare(data, tmp_path / "auto", "--split", "auto")["overlap"]
    assert kept["split"] == "locus" and kept["train_vs_test"]["overlapping_intervals"] == 0


def test_auto_places_a_record_without_usable_coordinates_alone_and_locus_refuses_it(tmp_path):
    data = tmp_path / "sites.fa"
    _clustered_fasta(data)
    short = "> chr1,-,156455141,156455241; class:1\n" + "ACGT" * 15 + "\n"  # 60 nt for 101: coordinates dropped
    data.write_text(data.read_text() + short)
    manifest = _prepare(data, tmp_path / "auto", "--split", "auto")
    assert (
        manifest["overlap"]["split"] == "locus" and manifest["overlap"]["train_vs_test"]["overlapping_intervals"] == 0
    )
    out = tmp_path / "locus"
    assert run_cli("prepare", data, "-o", out, "--prefix", "x", "--test-size", "0.25", "--split", "locus") == 2
    assert not out.exists() or not any(out.iterdir())


def _windows(path, rows) -> None:
    """rows: (chrom, start, label) of 60-nt windows, in RBP-31's id format."""
    rng = np.random.default_rng(8)
    path.write_text(
        "".join(
            f"> {chrom},+,{start},{start + 60}; class:{label}\n{''.join(rng.choice(list('ACGT'), 60))}\n"
            for chrom, start, label in rows
        )
    )


def test_a_group_split_that_leaves_a_side_without_a_class_is_refused(tmp_path, capsys):
    """Whole groups move together: one chain of every window left the test split empty, and test chromosomes
    holding every negative left a one-class training set, both with exit 0."""
    from inprocess import run_cli

    one_chain = tmp_path / "chain.fa"
    _windows(one_chain, [("chr1", 1000 + 10 * i, i % 2) for i in range(20)])
    assert run_cli("prepare", one_chain, "-o", tmp_path / "a", "--split", "locus", "--test-size", "0.2") == 2
    assert "both sides need sequences of each class" in capsys.readouterr().err
    by_chrom = tmp_path / "chroms.fa"
    _windows(by_chrom, [("chr1", 1000 * i, 1) for i in range(10)] + [("chr2", 1000 * i, i % 2) for i in range(10)])
    args = ["--split", "chromosome", "--test-chromosomes", "chr2"]
    assert run_cli("prepare", by_chrom, "-o", tmp_path / "b", *args) == 2
    err = capsys.readouterr().err
    assert "kept 10 (class 0: 0, class 1: 10)" in err and "--test-chromosomes" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_ucsc_and_ensembl_names_of_one_chromosome_are_one_chromosome(tmp_path, capsys):
    """chr1 and 1 were two chromosomes: overlapping sites from a UCSC and an Ensembl file split apart, and
    --test-chromosomes 1 left the chr1 sites in training."""
    from bertrbp import loci
    from bertrbp.io.sequences import Coordinates
    from bertrbp.prepare.leakage import chromosome_of
    from inprocess import run_cli

    groups = loci.locus_groups([Coordinates("chr1", 100, 200, "+"), Coordinates("1", 150, 250, "+")])
    assert groups[0] == groups[1]
    assert {chromosome_of(name) for name in ("1", "chr1", "chr1_KI270766v1_alt")} == {"chr1"}
    assert chromosome_of("MT") == chromosome_of("chrM") == "chrM"
    mixed = tmp_path / "mixed.fa"
    _windows(mixed, [("chr1", 1000 * i, i % 2) for i in range(6)] + [("1", 10_000 + 1000 * i, i % 2) for i in range(6)]
             + [("chr2", 1000 * i, i % 2) for i in range(12)])  # fmt: skip
    args = ["--split", "chromosome", "--test-chromosomes", "1", "--prefix", "x"]
    assert run_cli("prepare", mixed, "-o", tmp_path / "out", *args) == 0
    test_ids = [line for line in (tmp_path / "out" / "x.test.fa").read_text().splitlines() if line.startswith(">")]
    assert len(test_ids) == 12 and {i.split(",")[0] for i in test_ids} == {">chr1", ">1"}
    assert run_cli("prepare", mixed, "-o", tmp_path / "zz", "--split", "chromosome", "--test-chromosomes", "chrZZ") == 2
    # a warning (a list shared by many RBPs may name a chromosome without sites), then an empty test side refused
    assert "held out 0" in capsys.readouterr().err


def test_the_manifest_names_chromosomes_as_the_data_spells_them():
    from bertrbp.io.sequences import Coordinates, SequenceRecord
    from bertrbp.prepare.leakage import chromosome_of, spelled_as_given

    records = [
        SequenceRecord(f"r{i}", "ACGT", 1, "ACGT", Coordinates(c, 0, 4, "+"))
        for i, c in enumerate(["MT", "X", "1_KI270706v1_random"])
    ]
    assert spelled_as_given({chromosome_of(r.coords.chrom) for r in records}, records) == ["1", "MT", "X"]


def test_a_seeded_chromosome_split_is_the_same_whatever_the_spelling(tmp_path):
    """Chromosomes are shuffled in the order of their UCSC names, so `1`..`5` and `chr1`..`chr5` draw one split."""
    from bertrbp.io.sequences import Coordinates, SequenceRecord
    from bertrbp.prepare.pipeline import PrepareOptions, chromosome_split

    def records(prefix: str) -> list[SequenceRecord]:
        return [
            SequenceRecord(f"r{i}", "ACGT", i % 2, "ACGT", Coordinates(f"{prefix}{1 + i % 5}", 10 * i, 10 * i + 4, "+"))
            for i in range(40)
        ]

    options = PrepareOptions(output_dir=tmp_path, split="chromosome")
    ensembl, ucsc = (chromosome_split(records(prefix), options, 0.3, "--test-size", 1, True) for prefix in ("", "chr"))
    assert ensembl == ucsc
    assert 1 <= len({1 + i % 5 for i in ucsc[0]}) < 5  # whole chromosomes held out, not all of them
