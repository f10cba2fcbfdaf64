"""The validation split keeps overlapping CLIP sites on one side (bertrbp.validation_split, --val-split)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertrbp import validation_split
from bertrbp.errors import InputError
from bertrbp.io.sequences import coordinates_in_id, iter_records
from bertrbp.io.tokens import TokenizedDataset, tokenize_records
from bertrbp.tokenizer import KmerTokenizer
from bertrbp.validation_split import fold_count, locus_groups, split_validation
from inprocess import run_cli
from synthetic import motif_sequences


def _dataset(ids: list[str], labels: list[int]) -> TokenizedDataset:
    n = len(ids)
    return TokenizedDataset(
        np.zeros((n, 4), dtype=np.int32), np.ones((n, 4), dtype=np.int8), np.asarray(labels), np.asarray(ids), 3
    )


def _clustered(n_loci: int, seed: int) -> tuple[list[str], list[int]]:
    """RBP-31-style ids: each locus holds 1-4 windows 20 nt apart (overlapping), all of the locus's label."""
    rng = np.random.default_rng(seed)
    ids, labels = [], []
    for locus in range(n_loci):
        label = int(locus % 3 == 0)
        for shift in range(int(rng.integers(1, 5))):
            start = 10_000 * locus + 20 * shift
            ids.append(f"chr{1 + locus % 2},{'+-'[locus % 4 // 2]},{start},{start + 100}")
            labels.append(label)
    return ids, labels


def test_locus_groups_join_chains_of_overlapping_and_touching_windows_only():
    ids = [
        "chr1,+,100,200",
        "chr1,+,150,250",  # overlaps the first
        "chr1,+,240,340",  # overlaps the second only: same group through the chain
        "chr1,+,340,440",  # shares the third's closed end (RBP-31 intervals are closed): same group
        "chr1,+,442,542",  # a gap of one nucleotide: apart
        "chr1,-,120,220",  # other strand: apart
        "chr2,+,100,200",  # other chromosome: apart
        "ALKBH5.train_1;chr1,160,230,+",  # RBP-24 style id, overlapping the first two on chr1 +
    ]
    groups = locus_groups(ids)
    assert groups[0] == groups[1] == groups[2] == groups[3] == groups[7]
    assert len({groups[0], groups[4], groups[5], groups[6]}) == 4
    assert locus_groups([*ids, "s1_7"]) is None  # one id without coordinates: no locus grouping


def test_rbp24_viewpoints_are_widened_to_their_windows():
    """GraphProt ids name a short viewpoint; the sequence adds about 150 nt of flank on each side."""
    ids = ["a;chr5,1000,1030,-", "b;chr5,1200,1230,-"]  # viewpoints 170 nt apart
    assert len(set(locus_groups(ids))) == 2
    assert len(set(locus_groups(ids, lengths=[330, 330]))) == 1  # windows of 330 nt overlap
    assert len(set(locus_groups(["chr1,+,100,200", "chr1,+,202,302"], lengths=[101, 101]))) == 2  # closed: no widening


def test_fold_count_comes_closest_to_the_fraction():
    assert [fold_count(f) for f in (0.1, 0.2, 0.3, 0.4, 0.45, 0.7)] == [10, 5, 3, 3, 2, 3]


def test_coordinates_in_id_reads_the_three_header_styles():
    assert coordinates_in_id("chr1,+,69302,69402").start == 69302
    assert coordinates_in_id("x_12;chr5,137088438,137088480,-").strand == "-"
    assert coordinates_in_id("chr1:14361-14462(+)").end == 14462
    assert coordinates_in_id("s0_1") is None


def test_locus_split_keeps_every_group_on_one_side_and_both_classes_on_both():
    ids, labels = _clustered(600, seed=1)
    data = _dataset(ids, labels)
    groups = dict(zip(ids, locus_groups(ids)))
    train, val, used = split_validation(data, 0.1, seed=7, how="auto")
    assert used == "locus"
    assert not {groups[i] for i in train.ids} & {groups[i] for i in val.ids}
    assert len(train) + len(val) == len(data)
    assert 0.07 < len(val) / len(data) < 0.13
    assert abs(val.labels.mean() - data.labels.mean()) < 0.05  # stratified
    again = split_validation(data, 0.1, seed=7, how="locus")[1]
    assert list(again.ids) == list(val.ids)  # seeded: members of one ensemble share it
    other = split_validation(data, 0.1, seed=8, how="locus")[1]
    assert list(other.ids) != list(val.ids)


def test_fractions_above_one_half_take_the_other_folds():
    ids, labels = _clustered(600, seed=2)
    data = _dataset(ids, labels)
    train, val, used = split_validation(data, 0.7, seed=3, how="locus")
    assert used == "locus"
    assert 0.6 < len(val) / len(data) < 0.73


def test_auto_keeps_the_random_split_when_no_window_overlaps():
    ids = [f"chr1,+,{1000 * i},{1000 * i + 100}" for i in range(200)]
    data = _dataset(ids, [i % 2 for i in range(200)])
    assert split_validation(data, 0.1, seed=0, how="auto")[2] == "random"
    assert split_validation(data, 0.1, seed=0, how="locus")[2] == "locus"


def test_auto_falls_back_to_random_without_coordinates_and_locus_refuses():
    ids = [f"s{i}" for i in range(200)]
    data = _dataset(ids, [i % 2 for i in range(200)])
    assert split_validation(data, 0.1, seed=0, how="auto")[2] == "random"
    with pytest.raises(InputError, match="'s0' in the training data has none"):
        split_validation(data, 0.1, seed=0, how="locus")


def test_locus_split_refuses_too_few_groups_and_auto_falls_back(monkeypatch):
    ids = [f"chr1,+,{100 + 10 * i},{200 + 10 * i}" for i in range(40)] + ["chr2,+,100,200"]  # two groups
    data = _dataset(ids, [i % 2 for i in range(41)])
    with pytest.raises(InputError, match="at least 10 groups of non-overlapping sites, but there are 2 in the tr"):
        split_validation(data, 0.1, seed=0, how="locus")
    warnings = []  # the tools' logger may not propagate to pytest's caplog after a CLI test set it up
    monkeypatch.setattr(validation_split.log, "warning", lambda text, *args: warnings.append(text % args))
    train, val, used = split_validation(data, 0.1, seed=0, how="auto")
    assert used == "random" and len(val) == 5 and set(val.labels) == {0, 1}
    assert warnings == [
        "--val-split auto: a 0.1 validation split needs at least 10 groups of non-overlapping sites, but there "
        "are 2 in the training data; using a random split instead."
    ]


def test_the_locus_split_is_computed_once_per_process_for_the_same_data(monkeypatch):
    ids, labels = _clustered(60, seed=2)
    data = _dataset(ids, labels)
    calls = []
    real = validation_split._grouped
    monkeypatch.setattr(validation_split, "_grouped", lambda *a: calls.append(a[2:]) or real(*a))
    validation_split._GROUPED_SPLITS.clear()
    first = split_validation(data, 0.1, seed=5, how="locus")[1]
    second = split_validation(data, 0.1, seed=5, how="locus")[1]
    assert calls == [(0.1, 5)] and list(first.ids) == list(second.ids)
    split_validation(data, 0.1, seed=6, how="locus")  # another seed is another split
    assert calls == [(0.1, 5), (0.1, 6)]


def _write_clustered_fasta(path, n_loci: int) -> None:
    ids, labels = _clustered(n_loci, seed=4)
    seqs = motif_sequences(len(ids), seed=5)
    with open(path, "w") as handle:
        for record_id, label, (_, seq, _) in zip(ids, labels, seqs):
            handle.write(f">{record_id}; class:{label}\n{seq}\n")


def _write_plain_fasta(path, n: int) -> None:
    path.write_text("".join(f">s{i} class:{i % 2}\n{seq}\n" for i, (_, seq, _) in enumerate(motif_sequences(n, 1))))


def test_finetune_records_the_split_it_used(tmp_path):
    train = tmp_path / "train.fa"
    _write_clustered_fasta(train, 240)
    out = tmp_path / "run"
    assert run_cli("finetune", "--train", train, "--output-dir", out, "--model", "kmer", "--threads", "1") == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["hyperparameters"]["val_split"] == "locus"  # auto, resolved
    assert "overlapping sites kept on one side" in card["data"]["validation_source"]
    plain = tmp_path / "plain.fa"
    _write_plain_fasta(plain, 120)
    assert run_cli("finetune", "--train", plain, "--output-dir", tmp_path / "p", "--model", "kmer") == 0
    assert json.loads((tmp_path / "p" / "model_card.json").read_text())["hyperparameters"]["val_split"] == "random"


def test_resume_refuses_another_split_and_members_share_one(tmp_path, capsys):
    train = tmp_path / "train.fa"
    _write_clustered_fasta(train, 240)
    out = tmp_path / "run"
    common = ("--train", train, "--output-dir", out, "--threads", "1", "--epochs", "1", "--jobs", "1")
    cnn = ("--model", "cnn", "--cnn-conv-layers", "1", "--cnn-lstm", "0")
    assert run_cli("finetune", *common, *cnn, "--model", "kmer") == 0
    cards = [json.loads(p.read_text()) for p in sorted((out / "members").glob("*/model_card.json"))]
    assert [c["data"]["counts"]["validation"] for c in cards][0] == cards[1]["data"]["counts"]["validation"]
    assert json.loads((out / "model_card.json").read_text())["val_split"] == "locus"
    capsys.readouterr()
    single = tmp_path / "single"
    args = ("--train", train, "--output-dir", single, "--threads", "1", "--epochs", "1", *cnn)
    assert run_cli("finetune", *args) == 0
    assert run_cli("finetune", *args, "--resume", "--val-split", "random") == 2
    assert '"split": "locus"' in capsys.readouterr().err
    assert run_cli("finetune", *args, "--resume", "--val-split", "locus") == 0  # auto and locus: the same split


def test_finetune_refuses_a_bad_val_split_without_outputs(tmp_path, capsys, monkeypatch):
    train = tmp_path / "train.fa"
    _write_clustered_fasta(train, 60)
    out = tmp_path / "run"
    args = ("--train", train, "--output-dir", out, "--model", "kmer", "--threads", "1")
    assert run_cli("finetune", *args, "--val-split", "chromosome") == 2
    assert "--val-split must be one of auto, locus, random" in capsys.readouterr().err
    plain = tmp_path / "plain.fa"
    _write_plain_fasta(plain, 60)
    folded = []
    monkeypatch.setattr("bertrbp.structure_prefold.fold_table", lambda *a, **k: folded.append(1) or {})
    locus = ("--model", "cnn", "--val-split", "locus", "--structure", "unpaired")
    assert run_cli("finetune", "--train", plain, "--output-dir", out, *locus) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "needs genomic coordinates" in err and str(plain) in err
    assert not folded  # refused before any folding
    assert not out.exists()


def test_real_rbp31_random_split_leaks_what_the_locus_split_keeps_apart(shared_data):
    """10_PARCLIP_ELAVL1A: nearly every bound training site overlaps another; its test split overlaps none."""
    path = shared_data / "rbp31" / "10_PARCLIP_ELAVL1A_hg19" / "train.fa.gz"
    data = tokenize_records(iter_records(path), KmerTokenizer(3))
    groups = dict(zip(data.ids, locus_groups(data.ids)))

    def leaked(train, val) -> float:
        seen = {groups[i] for i in train.ids}
        bound = [i for i, label in zip(val.ids, val.labels) if label == 1]
        return sum(groups[i] in seen for i in bound) / len(bound)

    assert leaked(*split_validation(data, 0.1, 42, "random")[:2]) > 0.8
    assert leaked(*split_validation(data, 0.1, 42, "locus")[:2]) == 0.0
