"""bertrbp-prepare on real slices of every input format: sizes, reproducibility, disjoint and leak-free splits."""

from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

from bertrbp.io.sequences import Coordinates, SequenceRecord, iter_records
from bertrbp.prepare.rbp24 import shape_record
from bertrbp.prepare.similarity import jaccard, kmer_set
from helpers import run_tool


def _fasta(path: Path) -> dict[str, tuple[str, int]]:
    return {r.id: (r.seq, r.label) for r in iter_records(path)}


def _eclip_slice(shared_data, tmp_path, n_pos=150, n_neg=300, extra: list[str] = ()) -> Path:
    with gzip.open(shared_data / "eclip" / "RBFOX2_HepG2.tsv.gz", "rt") as handle:
        lines = handle.readlines()
    pos = [line for line in lines if line.rstrip().endswith("1")][:n_pos]
    neg = [line for line in lines if line.rstrip().endswith("0")][:n_neg]
    path = tmp_path / "RBFOX2_slice.tsv"
    path.write_text("".join(pos + neg + list(extra)))
    return path


def _check_disjoint(splits: dict[str, dict]) -> None:
    names = [n for n in splits if n != "nontrain"]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not set(splits[a]) & set(splits[b])
            assert not {s for s, _ in splits[a].values()} & {s for s, _ in splits[b].values()}
    assert not set(splits["train"]) & set(splits["nontrain"])


def test_eclip_random_split_sizes_reproducible(shared_data, tmp_path):
    data = _eclip_slice(shared_data, tmp_path)
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        run_tool(
            "prepare",
            data,
            "-o",
            out,
            "--prefix",
            "x",
            "--max-per-class",
            "120",
            "--test-size",
            "60",
            "--val-fraction",
            "0.2",
            "--seed",
            "7",
        )
        runs.append({s: (out / f"x.{s}.fa").read_text() for s in ("train", "val", "test", "nontrain")})
    assert runs[0] == runs[1]
    out = tmp_path / "a"
    splits = {s: _fasta(out / f"x.{s}.fa") for s in ("train", "val", "test", "nontrain")}
    manifest = json.loads((out / "x.manifest.json").read_text())
    kept = 450 - manifest["dropped"]["total"]
    # 240 sampled (120 per class): 60 test (30/30), then 20 % of 180 = 36 val, 144 train
    assert manifest["splits"]["test"] == {"total": 60, "class_0": 30, "class_1": 30}
    assert manifest["splits"]["val"]["total"] == 36 and manifest["splits"]["train"]["total"] == 144
    assert manifest["splits"]["nontrain"]["total"] == kept - 144
    assert len(splits["nontrain"]) == kept - 144
    _check_disjoint(splits)
    assert set(splits["test"]) | set(splits["val"]) <= set(splits["nontrain"])
    assert manifest["overlap"]["train_vs_test"]["identical_sequences"] == 0
    assert len(manifest["inputs"][0]["sha256"]) == 64
    other = tmp_path / "c"
    run_tool(
        "prepare", data, "-o", other, "--prefix", "x", "--max-per-class", "120", "--test-size", "60", "--seed", "8"
    )
    assert (other / "x.test.fa").read_text() != runs[0]["test"]


def test_eclip_drops_duplicates_and_n(shared_data, tmp_path):
    with gzip.open(shared_data / "eclip" / "RBFOX2_HepG2.tsv.gz", "rt") as handle:
        first = handle.readline()
    seq = first.split("\t")[0]
    extra = [first, f"{seq}\t0\n", f"{'N' + seq[1:]}\t0\n"]  # duplicate, conflicting copy, N-containing
    data = _eclip_slice(shared_data, tmp_path, 40, 60, extra)
    out = tmp_path / "o"
    run_tool("prepare", data, "-o", out, "--prefix", "x", "--test-size", "0.2")
    reasons = json.loads((out / "x.manifest.json").read_text())["dropped"]["reasons"]
    assert reasons["conflicting_label"]["count"] == 3  # both positive copies and the negative copy
    assert reasons["contains_N"]["count"] >= 1
    everything = {**_fasta(out / "x.train.fa"), **_fasta(out / "x.nontrain.fa")}
    assert seq not in {s for s, _ in everything.values()}
    assert all("N" not in s for s, _ in everything.values())


def test_similarity_split_keeps_near_duplicates_together(shared_data, tmp_path):
    with gzip.open(shared_data / "eclip" / "RBFOX2_HepG2.tsv.gz", "rt") as handle:
        rows = [line.rstrip("\n").split("\t") for line in islice(handle, 60)]
    shifted = [f"{s[6:]}ACGTAC\t{lab}\n" for s, lab in rows[:60]]  # 6-nt shifted copies: Jaccard ~0.88
    data = _eclip_slice(shared_data, tmp_path, 100, 200, shifted)
    out = tmp_path / "o"
    run_tool(
        "prepare",
        data,
        "-o",
        out,
        "--prefix",
        "x",
        "--split",
        "similarity",
        "--test-size",
        "0.25",
        "--val-fraction",
        "0.2",
    )
    splits = {s: _fasta(out / f"x.{s}.fa") for s in ("train", "val", "test", "nontrain")}
    _check_disjoint(splits)
    train_sets = [kmer_set(s, 8) for s, _ in splits["train"].values()]
    for name in ("test", "val"):
        for seq, _ in splits[name].values():
            ks = kmer_set(seq, 8)
            assert max(jaccard(ks, t) for t in train_sets) < 0.5
    manifest = json.loads((out / "x.manifest.json").read_text())
    assert manifest["overlap"]["train_vs_test"]["near_duplicates"] == 0
    n = manifest["splits"]["train"]["total"] + manifest["splits"]["val"]["total"] + manifest["splits"]["test"]["total"]
    assert manifest["splits"]["test"]["total"] == round(0.25 * n)
    random_out = tmp_path / "r"
    run_tool("prepare", data, "-o", random_out, "--prefix", "x", "--test-size", "0.25")
    random_report = json.loads((random_out / "x.manifest.json").read_text())["overlap"]["train_vs_test"]
    assert random_report["near_duplicates"] > 0  # the planted copies do leak in a random split


def _rbp31_slice(shared_data, tmp_path, every=50) -> Path:
    """Every 50th record of a real RBP-31 training set (sorted by chromosome, so all chromosomes appear)."""
    exp = sorted((shared_data / "rbp31").iterdir())[0]
    with gzip.open(exp / "train.fa.gz", "rt") as handle:
        records = handle.read().split(">")[1:]
    path = tmp_path / "rbp31.fa"
    path.write_text("".join(">" + r for r in records[::every]))
    return path


def test_rbp31_chromosome_split(shared_data, tmp_path):
    data = _rbp31_slice(shared_data, tmp_path)
    out = tmp_path / "o"
    run_tool("prepare", data, "-o", out, "--prefix", "x", "--split", "chromosome", "--test-size", "0.3")
    manifest = json.loads((out / "x.manifest.json").read_text())
    assert manifest["overlap"]["train_vs_test"]["shared_chromosomes"] == []
    bed = [line.split("\t") for line in (out / "x.sites.bed").read_text().splitlines()]
    assert all(int(e) - int(s) == 101 for _, s, e, *_ in bed)  # closed RBP-31 headers -> half-open BED
    train_chroms = {r.coords.chrom for r in iter_records(out / "x.train.fa")}
    test_chroms = {r.coords.chrom for r in iter_records(out / "x.test.fa")}
    assert train_chroms and test_chroms and not train_chroms & test_chroms
    named = tmp_path / "n"
    run_tool("prepare", data, "-o", named, "--prefix", "x", "--split", "chromosome", "--test-chromosomes", "chr1")
    assert {r.coords.chrom for r in iter_records(named / "x.test.fa")} == {"chr1"}
    assert "chr1" not in {r.coords.chrom for r in iter_records(named / "x.train.fa")}


def test_rbp24_modes(shared_data, tmp_path):
    pos = shared_data / "rbp24" / "PARCLIP_PUM2.ls.positives.fa.gz"
    neg = shared_data / "rbp24" / "PARCLIP_PUM2.ls.negatives.fa.gz"
    out = tmp_path / "o"
    run_tool(
        "prepare",
        pos,
        neg,
        "--format",
        "rbp24",
        "--rbp24-mode",
        "viewpoint",
        "--length",
        "50",
        "--test-size",
        "0.2",
        "-o",
        out,
        "--prefix",
        "x",
    )
    records = list(iter_records(out / "x.train.fa"))
    assert records and all(len(r.seq) == 50 for r in records)
    assert {r.label for r in records} == {0, 1}
    full = tmp_path / "f"
    run_tool("prepare", pos, neg, "--format", "rbp24", "--test-size", "0.2", "-o", full, "--prefix", "x")
    lengths = {len(r.seq) for r in iter_records(full / "x.train.fa")}
    assert max(lengths) > 100  # flanks kept


def test_rbp24_window_by_hand():
    raw = "aaaccCGUACgguuu"  # viewpoint CGUAC at 5..10
    rec = shape_record(SequenceRecord("r", raw.upper(), 1, raw, Coordinates("chr1", 100, 105, "-")), "viewpoint", 3)
    assert rec.seq == "GTA" and rec.raw == "GUA" and rec.coords == Coordinates("chr1", 101, 104, "-")
    rec = shape_record(SequenceRecord("r", raw.upper(), 1, raw, Coordinates("chr1", 100, 105, "+")), "viewpoint", 9)
    assert rec.seq == "NNCGTACNN" and rec.coords is None
    rec = shape_record(SequenceRecord("r", raw.upper(), 1, raw, Coordinates("chr1", 100, 105, "+")), "full", 9)
    assert rec.seq == "CCCGTACGG" and rec.raw == "ccCGUACgg" and rec.coords == Coordinates("chr1", 98, 107, "+")
    rec = shape_record(SequenceRecord("r", raw.upper(), 1, raw, Coordinates("chr1", 100, 105, "-")), "full", None)
    assert rec.seq == raw.upper().replace("U", "T") and rec.coords == Coordinates("chr1", 95, 110, "-")


def test_kmer_tsv_and_rbpsuite_layouts(shared_data, tmp_path):
    with gzip.open(shared_data / "tial1" / "dev.tsv.gz", "rt") as handle:
        lines = handle.readlines()
    kmer = tmp_path / "tial1.tsv"
    kmer.write_text(lines[0] + "".join(lines[1:101]) + "".join(lines[-100:]))
    out = tmp_path / "k"
    run_tool("prepare", kmer, "-o", out, "--prefix", "x", "--test-size", "40", "--format", "kmer-tsv")
    manifest = json.loads((out / "x.manifest.json").read_text())
    assert (
        manifest["splits"]["test"]["total"] == 40
        and manifest["splits"]["train"]["total"] == 200 - 40 - manifest["dropped"]["total"]
    )
    assert all(len(s) == 101 for s, _ in _fasta(out / "x.train.fa").values())
    suite = tmp_path / "suite"
    suite.mkdir()
    train = _fasta(out / "x.train.fa")
    (suite / "TIAL1.positive.fa").write_text("".join(f">{i}\n{s}\n" for i, (s, label) in train.items() if label == 1))
    (suite / "TIAL1.negative.fa").write_text("".join(f">{i}\n{s}\n" for i, (s, label) in train.items() if label == 0))
    o2, o3 = tmp_path / "s2", tmp_path / "s3"
    run_tool("prepare", suite, "--format", "rbpsuite", "-o", o2, "--prefix", "t", "--test-size", "0.25")
    run_tool(
        "prepare",
        "--positives",
        suite / "TIAL1.positive.fa",
        "--negatives",
        suite / "TIAL1.negative.fa",
        "-o",
        o3,
        "--prefix",
        "t",
        "--test-size",
        "0.25",
    )
    got2 = {**_fasta(o2 / "t.train.fa"), **_fasta(o2 / "t.test.fa")}
    assert got2 == train
    assert (o2 / "t.test.fa").read_text() == (o3 / "t.test.fa").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.fa"], "not found"),
        (["unlabelled.fa"], "has no label"),
        (["labelled.fa", "--test-size", "500"], "not smaller than"),
        (["labelled.fa", "--split", "chromosome"], "no genomic coordinates"),
        (["labelled.fa", "--gtf", "bad.gtf"], "9 tab-separated"),
        (["labelled.fa", "--split", "sideways"], "--split must be"),
        (["--bed", "sites.bed"], "needs --genome"),
    ],
)
def test_bad_inputs_exit_2_without_output(tmp_path, args, message):
    (tmp_path / "unlabelled.fa").write_text(">a\nACGT\n>b\nACGA\n")
    (tmp_path / "labelled.fa").write_text(
        "".join(f">s{i} class:{i % 2}\nACGT{'ACGT'[i % 4] * (i + 1)}\n" for i in range(20))
    )
    (tmp_path / "bad.gtf").write_text("chr1\tx\texon\t1\t5\n")
    (tmp_path / "sites.bed").write_text("chr1\t0\t5\ta\t1\t+\n")
    out = tmp_path / "out"
    result = run_tool("prepare", *args, "-o", out, check=False, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") or "\nerror:" in result.stderr
    assert message in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_alt_contigs_count_as_their_chromosome():
    from bertrbp.prepare.leakage import chromosome_groups

    records = [
        SequenceRecord(str(i), "ACGT", 0, "ACGT", Coordinates(c, 0, 4, "+"))
        for i, c in enumerate(["chr1", "chr1_KI270766v1_alt", "chr2", "chrUn_gl000220"])
    ]
    assert chromosome_groups(records) == ["chr1", "chr1", "chr2", "chrUn_gl000220"]


def test_iupac_codes_cut_from_a_genome_count_as_n(tmp_path):
    """hg19 holds a few IUPAC codes; passed through, prepare wrote R into train.fa and finetune refused the file."""
    import random

    from inprocess import run_cli

    rng = random.Random(2)
    chrom = [rng.choice("ACGT") for _ in range(600)]
    chrom[105] = "R"
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join(chrom) + "\n")
    sites = [(100 + 40 * i, 130 + 40 * i, i % 2) for i in range(12)]
    (tmp_path / "s.bed").write_text("".join(f"chr1\t{s}\t{e}\ts{i}\t{lab}\t+\n" for i, (s, e, lab) in enumerate(sites)))
    common = [
        "--bed",
        tmp_path / "s.bed",
        "--genome",
        tmp_path / "g.fa",
        "--bed-label-column",
        "score",
        "--test-size",
        "2",
    ]
    assert run_cli("prepare", *common, "-o", tmp_path / "dropped", "--prefix", "r") == 0
    written = "".join((tmp_path / "dropped" / f"r.{part}.fa").read_text() for part in ("train", "test"))
    assert ">s0" not in written and written.count(">") == 11  # the site over the R is dropped with the N sites
    assert run_cli("prepare", *common, "-o", tmp_path / "kept", "--prefix", "r", "--keep-n") == 0
    written = "".join((tmp_path / "kept" / f"r.{part}.fa").read_text() for part in ("train", "test"))
    assert written.count(">") == 12 and "R" not in "".join(
        line for line in written.splitlines() if not line.startswith(">")
    )


def test_a_bad_test_size_is_refused_before_the_input_is_read(tmp_path):
    """validate() refused other bad options at once; --test-size waited until the whole input had been read."""
    result = run_tool(
        "prepare", tmp_path / "not_read_yet.fa", "--test-size", "a fifth", "-o", tmp_path / "out", check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --test-size 'a fifth' is neither a count (e.g. 6000) nor a fraction (e.g. 0.2)."
    )
    assert not (tmp_path / "out").exists()
