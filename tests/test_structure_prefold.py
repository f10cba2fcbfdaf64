"""A run's sequences folded once, ahead of training (bertrbp.structure_prefold): the same features a model folds
for itself, each distinct sequence once, and ensemble members trained side by side (--jobs) fold nothing."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from inprocess import run_cli
from synthetic import motif_sequences, write_fasta


@pytest.fixture(autouse=True)
def _fresh_cache():
    from bertrbp.structure_input import clear_caches

    clear_caches()
    yield
    clear_caches()


def _count_folds(monkeypatch) -> list[str]:
    """Record every sequence the structure code folds itself (not found among the folds made ahead)."""
    import bertrbp.structure_input as si

    folded: list[str] = []
    original = si.fold_rna

    def counting(rna, options, where="sequence"):
        folded.append(rna)
        return original(rna, options, where)

    monkeypatch.setattr(si, "fold_rna", counting)
    return folded


def test_folds_made_ahead_on_two_processes_give_the_features_a_model_folds_for_itself(monkeypatch):
    from bertrbp.structure_input import StructureSpec, clear_caches, install_folds, token_features
    from bertrbp.structure_prefold import fold_table

    seqs = [seq for _, seq, _ in motif_sequences(300, seed=5, length=61)]
    spec = StructureSpec("both")
    folded = _count_folds(monkeypatch)
    by_itself = [token_features(seq, spec, 3) for seq in seqs]
    assert len(folded) == len(seqs)  # no table: every sequence folded here
    clear_caches()
    rnas = [seq.replace("T", "U") for seq in seqs]
    install_folds({spec.fold_options(): fold_table(rnas, spec.fold_options(), workers=2)})
    folded.clear()
    ahead = [token_features(seq, spec, 3) for seq in seqs]
    assert folded == []
    assert all(np.array_equal(a, b) for a, b in zip(by_itself, ahead))
    token_features("GGGGAAAACCCCTTTT", spec, 3)  # not in the table: folded as before
    assert len(folded) == 1
    token_features(seqs[0], StructureSpec("elements"), 3)  # other fold options (no unpaired probabilities)
    assert len(folded) == 2


def test_run_sequences_are_the_distinct_rna_of_the_training_and_validation_files(tmp_path):
    from bertrbp.structure_prefold import run_sequences

    train = write_fasta(tmp_path / "train.fa", [("a", "acgtAC", 1), ("b", "ACGUAC", 0), ("c", "GGGCCC", 1)])
    val = write_fasta(tmp_path / "val.fa", [("d", "GGGCCC", 0), ("e", "UUUAAA", 1)])
    assert run_sequences([train], val, "auto", 3) == ["ACGUAC", "GGGCCC", "UUUAAA"]
    long = write_fasta(tmp_path / "long.fa", [("f", "ACGU" * 129, 1), ("g", "ACGUAC", 0), ("h", "ACGU" * 128, 1)])
    assert run_sequences([long], None, "auto", 3) == ["ACGUAC", "ACGU" * 128]  # 516 nt: refused by a 512-position
    tokens = tmp_path / "train.npz"  # model when it reads it, so not folded ahead; 512 nt is taken
    assert run_cli("tokenize", train, "-o", tokens, "--k", "3") == 0
    assert run_sequences([tokens], None, "auto", 3) == ["ACGUAC", "GGGCCC"]  # read back from the k-mer ids


def test_a_sequence_with_n_is_folded_ahead_as_the_model_reads_it_back(tmp_path, monkeypatch):
    """A nucleotide covered only by k-mers holding an N reads back as N (the first A of the first sequence, the A
    between two Ns of the second): the table holds that form, so the model finds it."""
    from bertrbp.structure_input import StructureSpec, install_folds, sequence_from_kmer_ids, token_features
    from bertrbp.structure_prefold import fold_table, run_sequences
    from bertrbp.tokenizer import KmerTokenizer

    written = ["ANCGTACGGTNNACGTTAGC", "ACGNANACGT"]
    train = write_fasta(tmp_path / "train.fa", [("a", written[0], 1), ("b", written[1], 0)])
    rnas = run_sequences([train], None, "auto", 3)
    assert rnas == ["NNCGUACGGUNNACGUUAGC", "ACGNNNACGU"]
    spec = StructureSpec("unpaired")
    install_folds({spec.fold_options(): fold_table(rnas, spec.fold_options(), workers=1)})
    folded = _count_folds(monkeypatch)
    for seq in written:  # what a model does: the sequence its k-mer ids spell
        token_features(sequence_from_kmer_ids(KmerTokenizer(3).kmer_ids(seq), 3), spec, 3)
    assert folded == []


def _finetune(train, out, *extra):
    return run_cli(
        "finetune", "--train", train, "--output-dir", out, "--model", "cnn", "--seeds", "3,4", "--structure",
        "unpaired", "--epochs", "2", "--min-steps", "0", "--batch-size", "16", *extra,
    )  # fmt: skip


def test_members_trained_side_by_side_fold_nothing_and_train_the_models_of_one_at_a_time(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO, logger="bertrbp")  # the tool's log; each worker logs to its stderr at that level
    train = write_fasta(tmp_path / "train.fa", motif_sequences(200, seed=31, length=61))
    alone, together = tmp_path / "alone", tmp_path / "together"
    assert _finetune(train, alone, "--threads", "1") == 0
    capfd.readouterr()
    assert _finetune(train, together, "--threads", "2", "--jobs", "2") == 0
    err = capfd.readouterr().err  # the workers' own stderr too (file descriptor 2)
    assert "folded the 200 distinct training and validation sequences once, on 2 processes" in caplog.text
    counts = re.findall(r"\[(cnn_seed\d)\].*structure: (\d+) sequences folded in this process so far, (\d+) found", err)
    assert sorted(name for name, _, _ in counts) == ["cnn_seed3", "cnn_seed4"], err
    assert all(folded == "0" and int(found) >= 200 for _, folded, found in counts), counts
    metrics = [json.loads((out / "metrics.json").read_text())["validation"] for out in (alone, together)]
    assert metrics[0] == metrics[1]


def test_a_training_file_without_labels_is_refused_before_any_folding(tmp_path, monkeypatch, capsys):
    train = tmp_path / "train.fa"
    train.write_text(">a class:1\nACGTACGTAC\n>b\nGGGCCCAAAT\n")
    folded = _count_folds(monkeypatch)
    assert _finetune(train, tmp_path / "out", "--threads", "1") == 2
    assert folded == []
    assert "record 'b' (line 3) has no label" in capsys.readouterr().err


def test_a_folding_process_that_dies_leaves_each_model_to_fold_its_own(tmp_path, monkeypatch, caplog):
    import bertrbp.structure_prefold as prefold
    from bertrbp.errors import InputError

    def died(*_):
        raise InputError("a worker process died while handling the sequences from ACGT... (3 of them)")

    monkeypatch.setattr(prefold, "fold_table", died)
    caplog.set_level(logging.INFO, logger="bertrbp")
    train = write_fasta(tmp_path / "train.fa", motif_sequences(100, seed=7, length=41))
    folded = _count_folds(monkeypatch)
    assert run_cli("finetune", "--train", train, "--output-dir", tmp_path / "out", "--model", "cnn", "--structure",
                   "unpaired", "--epochs", "1", "--min-steps", "0", "--threads", "1") == 0  # fmt: skip
    assert "folding ahead stopped (a worker process died" in caplog.text
    assert len(folded) == 100  # the model folded every sequence itself
