"""The k-mer floor model: its features are true k-mer frequencies, it learns a planted k-mer, saves and reloads
exactly, and every predict-side tool takes it (integrated gradients refuse it with one clear line)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from inprocess import run_cli
from synthetic import MOTIF, motif_sequences, write_fasta


def _naive_frequencies(seq: str, max_k: int = 5) -> np.ndarray:
    """1..max_k-mer frequencies counted on the string (windows with N skipped), in DNABERT's A T C G order."""
    parts = []
    for k in range(1, max_k + 1):
        index = {"".join(p): i for i, p in enumerate(itertools.product("ATCG", repeat=k))}
        counts, n = np.zeros(len(index)), 0
        for i in range(len(seq) - k + 1):
            if seq[i : i + k] in index:
                counts[index[seq[i : i + k]]] += 1
                n += 1
        parts.append(counts / max(n, 1))
    return np.concatenate(parts)


def test_features_are_kmer_frequencies_of_the_sequence_whatever_the_padding_and_n():
    from bertrbp.kmer import new_kmer
    from bertrbp.tokenizer import KmerTokenizer

    seqs = ["ACGTACGTAAACCCGGGTTTNACGTT", "ACGT" * 10, "GGGNNTTTACGA", "TTTT"]
    tokenizer = KmerTokenizer(3)
    ids, mask = tokenizer.encode_batch(seqs)  # padded to the longest
    features = new_kmer(tokenizer.vocab_size).features(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert features.shape == (4, 4 + 16 + 64 + 256 + 1024)
    for row, seq in zip(features, seqs):
        np.testing.assert_allclose(row, _naive_frequencies(seq), atol=1e-6)


@pytest.fixture(scope="module")
def kmer_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("kmer")
    train = write_fasta(d / "train.fa", motif_sequences(400, seed=11))
    test = write_fasta(d / "test.fa", motif_sequences(200, seed=12))
    assert run_cli("finetune", "--train", train, "--output-dir", d / "out", "--model", "kmer", "--threads", "1") == 0
    return d, test


def test_kmer_model_learns_the_planted_kmer(kmer_run):
    from safetensors.torch import load_file

    d, test = kmer_run
    assert run_cli("predict", "--model", d / "out", test, "-o", d / "p.tsv", "--threads", "1") == 0
    assert run_cli("evaluate", d / "p.tsv", "-o", d / "m.json") == 0
    assert json.loads((d / "m.json").read_text())["auroc"] > 0.95
    # the heaviest positive coefficient belongs to a k-mer of the planted motif
    weights = load_file(str(d / "out" / "model" / "model.safetensors"))["weight"].numpy()
    kmers = ["".join(p) for k in range(1, 6) for p in itertools.product("ATCG", repeat=k)]
    assert kmers[int(np.argmax(weights))] in MOTIF


def test_kmer_outputs_identify_the_model(kmer_run):
    d, _ = kmer_run
    config = json.loads((d / "out" / "model" / "config.json").read_text())
    assert config["model_type"] == "bertrbp-kmer" and config["max_k"] == 5
    assert not list((d / "out" / "model").glob("*.bin")) and not list((d / "out" / "model").glob("*.pkl"))
    metrics = json.loads((d / "out" / "metrics.json").read_text())
    assert metrics["model_kind"] == "kmer" and len(metrics["epochs"]) == 1
    assert metrics["epochs"][0]["val_auroc"] > 0.9 and not metrics["collapsed"]
    card = json.loads((d / "out" / "model_card.json").read_text())
    assert card["model_kind"] == "kmer" and card["hyperparameters"]["regularization_c"] in (0.001, 0.01, 0.1)
    assert "logistic regression" in (d / "out" / "model_card.md").read_text()


def test_save_load_round_trip_gives_identical_predictions(kmer_run):
    from bertrbp.inference import score_sequences
    from bertrbp.model import load_classifier, save_checkpoint

    d, _ = kmer_run
    model, tokenizer, report = load_classifier(str(d / "out" / "model"))
    assert type(model).__name__ == "KmerModel" and report.pretrained
    seqs = [s for _, s, _ in motif_sequences(40, seed=13)] + ["ACGTNNACGTTGCATGAA"]
    before = score_sequences(model, tokenizer, seqs, torch.device("cpu"))
    again, tok2, _ = load_classifier(str(save_checkpoint(model, tokenizer, d / "resaved")))
    after = score_sequences(again, tok2, seqs, torch.device("cpu"))
    assert np.array_equal(before.logit, after.logit)
    assert before.logit.std() > 0.5  # not a constant


def test_scan_and_ism_work_and_integrated_gradients_refuse_kmer(kmer_run, capsys):
    d, _ = kmer_run
    target = d / "long.fa"
    target.write_text(">t\n" + "ACGTTACGATCAGT" * 10 + MOTIF + "ACGTTACGATCAGT" * 10 + "\n")
    assert (
        run_cli(
            "scan",
            "--model",
            d / "out",
            "--input",
            target,
            "--output-prefix",
            d / "scan" / "s",
            "--window",
            "41",
            "--stride",
            "5",
            "--threads",
            "1",
        )
        == 0
    )
    assert (d / "scan" / "s.profile.tsv").exists()
    assert (
        run_cli(
            "attribute",
            d / "long.fa",
            "--model",
            d / "out",
            "--output-dir",
            d / "ig",
            "--method",
            "ig",
            "--threads",
            "1",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "error:" in err and "--method ism" in err and "Traceback" not in err
    assert not (d / "ig" / "ig.tsv").exists()
    few = write_fasta(d / "few.fa", motif_sequences(2, seed=14, length=41))
    assert (
        run_cli(
            "attribute",
            few,
            "--model",
            d / "out",
            "--output-dir",
            d / "ism",
            "--method",
            "ism",
            "--max-logos",
            "0",
            "--threads",
            "1",
        )
        == 0
    )
    assert (d / "ism" / "ism.tsv").read_text().count("\n") == 1 + 2 * 41


# ---------------------------------------------------------------- kmer-pos: where along the site a k-mer sits


def _naive_binned(seq: str, bins: int = 10, max_k: int = 3) -> np.ndarray:
    """Per position bin, 1..max_k-mer counts / windows in that bin; a window's bin is its start's share of the
    row's windows (start * bins // windows), counted on the string."""
    parts = []
    for k in range(1, max_k + 1):
        index = {"".join(p): i for i, p in enumerate(itertools.product("ATCG", repeat=k))}
        windows = len(seq) - k + 1
        counts, per_bin = np.zeros((bins, len(index))), np.zeros(bins)
        for start in range(windows):
            b = min(start * bins // windows, bins - 1)
            per_bin[b] += 1
            if seq[start : start + k] in index:
                counts[b, index[seq[start : start + k]]] += 1
        parts.append((counts / np.maximum(per_bin, 1)[:, None]).ravel())
    return np.concatenate(parts)


def test_positional_features_are_per_bin_frequencies_of_each_rows_own_length():
    from bertrbp.kmer import POSITION_BINS, n_features, new_kmer
    from bertrbp.tokenizer import KmerTokenizer

    seqs = ["ACGTACGTAAACCCGGGTTTNACGTTACGATTTAGCA", "ACGT" * 10, "GGGNNTTTACGAAC", "TTTTTTTTTTTTTTTTTTTTCG"]
    tokenizer = KmerTokenizer(3)
    ids, mask = tokenizer.encode_batch(seqs)  # padded to the longest: bins must follow each row's own length
    model = new_kmer(tokenizer.vocab_size, position_bins=POSITION_BINS)
    features = model.features(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert features.shape == (4, n_features(5, POSITION_BINS)) == (4, 1364 + 10 * 84)
    for row, seq in zip(features, seqs):
        np.testing.assert_allclose(row[:1364], _naive_frequencies(seq), atol=1e-6)
        np.testing.assert_allclose(row[1364:], _naive_binned(seq), atol=1e-6)
    # the plain floor's features are the global block alone, unchanged
    plain = new_kmer(tokenizer.vocab_size).features(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    np.testing.assert_array_equal(plain, features[:, :1364])


def _central_motif_sequences(n: int, seed: int, length: int = 101) -> list[tuple[str, str, int]]:
    """Every sequence carries MOTIF once: at the centre for label 1, near either end for label 0. Same k-mer
    content, different place: only a model that sees position can tell them apart."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        label = i % 2
        centre = length // 2 - len(MOTIF) // 2
        start = centre + int(rng.integers(-3, 4)) if label else int(rng.choice([rng.integers(0, 10), length - 16]))
        seq[start : start + len(MOTIF)] = list(MOTIF)
        out.append((f"c{seed}_{i}", "".join(seq), label))
    return out


@pytest.mark.parametrize("model, expected_kind", [("kmer", "kmer"), ("kmer-pos", "kmer-pos"), ("cnn", "cnn")])
def test_position_aware_models_learn_a_motif_that_matters_by_where_it_sits(tmp_path, model, expected_kind):
    """kmer-pos (position bins) and the CNN (max pooled per stretch) see where the motif sits; the floor cannot."""
    from bertrbp.model import model_kind

    train = write_fasta(tmp_path / "train.fa", _central_motif_sequences(600, seed=21))
    test = write_fasta(tmp_path / "test.fa", _central_motif_sequences(300, seed=22))
    out = tmp_path / "out"
    assert run_cli("finetune", "--train", train, "--output-dir", out, "--model", model, "--threads", "1") == 0
    assert run_cli("predict", "--model", out, test, "-o", tmp_path / "p.tsv", "--threads", "1") == 0
    assert run_cli("evaluate", tmp_path / "p.tsv", "-o", tmp_path / "m.json") == 0
    auroc = json.loads((tmp_path / "m.json").read_text())["auroc"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["model_kind"] == expected_kind == model_kind(str(out / "model"))
    if model == "kmer-pos":
        assert auroc > 0.9
        assert card["hyperparameters"]["position_bins"] == 10
        assert "10 position bins" in (out / "model_card.md").read_text()
    elif model == "cnn":
        assert auroc > 0.9
    else:
        assert auroc < 0.7  # the same k-mers in both classes: a bag of k-mers cannot separate them
