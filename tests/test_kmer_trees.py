"""kmer-gbt: boosted trees on k-mer features learn what a linear k-mer model cannot, score in torch exactly as
scikit-learn does, save without pickle, reload identically, refuse damaged node arrays, and join ensembles."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inprocess import run_cli
from synthetic import write_fasta

MOTIF_A, MOTIF_B = "GCATGC", "TTAGGT"


def xor_sequences(n: int, seed: int, length: int = 101) -> list[tuple[str, str, int]]:
    """Bound (1) when a site holds exactly one of two motifs (A in half the sites, B in a quarter, independently):
    a weighting of k-mer frequencies ranks at best 3 of 4 bound sites right (AUROC 0.75); trees can split on both."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        has_a, has_b = i % 2 == 0, (i // 2) % 4 == 0
        if has_a:
            seq[10 : 10 + len(MOTIF_A)] = list(MOTIF_A)
        if has_b:
            seq[60 : 60 + len(MOTIF_B)] = list(MOTIF_B)
        out.append((f"x{seed}_{i}", "".join(seq), int(has_a != has_b)))
    return out


def _dataset(records):
    from bertrbp.io.sequences import SequenceRecord
    from bertrbp.io.tokens import tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    rows = [SequenceRecord(i, s, label) for i, s, label in records]
    return tokenize_records(rows, KmerTokenizer(3))


@pytest.fixture(scope="module")
def trees_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("kmer_gbt")
    train = write_fasta(d / "train.fa", xor_sequences(800, seed=21))
    test = write_fasta(d / "test.fa", xor_sequences(400, seed=22))
    for kind in ("kmer-gbt", "kmer-pos"):
        args = ("finetune", "--train", train, "--output-dir", d / kind, "--model", kind, "--threads", "1")
        assert run_cli(*args) == 0
        assert run_cli("predict", "--model", d / kind, test, "-o", d / f"{kind}.tsv", "--threads", "1") == 0
        assert run_cli("evaluate", d / f"{kind}.tsv", "-o", d / f"{kind}.json") == 0
    return d, test


def test_trees_learn_a_motif_interaction_the_linear_kmer_model_cannot(trees_run):
    d, _ = trees_run
    trees = json.loads((d / "kmer-gbt.json").read_text())["auroc"]
    linear = json.loads((d / "kmer-pos.json").read_text())["auroc"]
    assert trees > 0.9 and linear < 0.8, (trees, linear)


def test_the_card_and_files_say_what_was_trained(trees_run):
    from bertrbp.model import model_kind

    d, _ = trees_run
    assert (
        model_kind(str(d / "kmer-gbt" / "model")) == "kmer-gbt"
        and model_kind(str(d / "kmer-pos" / "model")) == "kmer-pos"
    )
    config = json.loads((d / "kmer-gbt" / "model" / "config.json").read_text())
    assert config["model_type"] == "bertrbp-kmer" and config["head"] == "trees" and config["tree_count"] > 5
    assert not list((d / "kmer-gbt" / "model").glob("*.pkl")) and not list((d / "kmer-gbt" / "model").glob("*.bin"))
    card = json.loads((d / "kmer-gbt" / "model_card.json").read_text())
    assert card["model_kind"] == "kmer-gbt" and card["hyperparameters"]["trees"] == config["tree_count"]
    assert "gradient-boosted trees" in (d / "kmer-gbt" / "model_card.md").read_text()


def test_the_torch_walk_scores_exactly_as_scikit_learn_and_survives_save_and_load(tmp_path):
    from bertrbp.inference import score_sequences
    from bertrbp.kmer import POSITION_BINS, dataset_features, new_kmer
    from bertrbp.kmer_trees import fit_kmer_trees
    from bertrbp.model import load_classifier, save_checkpoint
    from bertrbp.tokenizer import KmerTokenizer

    train, val = _dataset(xor_sequences(600, seed=31)), _dataset(xor_sequences(200, seed=32))
    model = new_kmer(KmerTokenizer(3).vocab_size, position_bins=POSITION_BINS, head="trees")
    fit = fit_kmer_trees(model, train, val, seed=3, threads=1)
    expected = fit.classifier.decision_function(dataset_features(model, val.input_ids, val.attention_mask))
    with torch.inference_mode():
        out = model.eval()(torch.from_numpy(val.input_ids.astype(np.int64)), torch.from_numpy(val.attention_mask))
    log_odds = (out.logits[:, 1] - out.logits[:, 0]).double().numpy()
    np.testing.assert_allclose(log_odds, expected, rtol=1e-5, atol=1e-5)
    assert expected.std() > 0.5  # not a constant

    saved = save_checkpoint(model, KmerTokenizer(3), tmp_path / "saved")
    again, tokenizer, report = load_classifier(str(saved))
    assert report.pretrained and again.config.head == "trees"
    seqs = [s for _, s, _ in xor_sequences(30, seed=33)] + ["ACGTNNACGTTGCATGAA"]
    before = score_sequences(model, tokenizer, seqs, torch.device("cpu"))
    after = score_sequences(again, tokenizer, seqs, torch.device("cpu"))
    assert np.array_equal(before.logit, after.logit)


def test_the_fit_does_not_depend_on_the_thread_count():
    from bertrbp.kmer import POSITION_BINS, new_kmer
    from bertrbp.kmer_trees import fit_kmer_trees

    train, val = _dataset(xor_sequences(600, seed=41)), _dataset(xor_sequences(100, seed=42))
    models = [new_kmer(69, position_bins=POSITION_BINS, head="trees") for _ in range(2)]
    for model, threads in zip(models, (1, 2)):
        fit_kmer_trees(model, train, val, seed=5, threads=threads)
    one, two = (m.state_dict() for m in models)
    assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_damaged_node_arrays_are_refused_with_one_line(trees_run, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from bertrbp.errors import InputError
    from bertrbp.model import load_classifier

    d, _ = trees_run
    broken = tmp_path / "broken"
    shutil.copytree(d / "kmer-gbt" / "model", broken)
    tensors = load_file(str(broken / "model.safetensors"))
    tensors["node_left"][0] = 10**9
    save_file(tensors, str(broken / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(InputError, match="k-mer trees are damaged.*node_left points outside"):
        load_classifier(str(broken))
    shutil.copy(d / "kmer-gbt" / "model" / "model.safetensors", broken / "model.safetensors")
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "tree_depth": config["tree_depth"] - 1}))
    with pytest.raises(InputError, match="tree_depth .* does not reach a leaf"):  # it would score mid-tree
        load_classifier(str(broken))
    (broken / "config.json").write_text(json.dumps({**config, "head": "forest"}))
    with pytest.raises(InputError, match="head='forest'"):
        load_classifier(str(broken))


def test_trees_join_an_ensemble_with_the_linear_model(trees_run, tmp_path):
    d, test = trees_run
    train = write_fasta(tmp_path / "train.fa", xor_sequences(800, seed=21))
    args = ("finetune", "--train", train, "--output-dir", tmp_path / "ens", "--model", "kmer-pos,kmer-gbt")
    assert run_cli(*args, "--threads", "1") == 0
    assert run_cli("predict", "--model", tmp_path / "ens", test, "-o", tmp_path / "p.tsv", "--threads", "1") == 0
    assert run_cli("evaluate", tmp_path / "p.tsv", "-o", tmp_path / "m.json") == 0
    members = json.loads((tmp_path / "ens" / "model" / "ensemble.json").read_text())
    assert len(members["members"]) == 2
    assert json.loads((tmp_path / "m.json").read_text())["auroc"] > 0.85
