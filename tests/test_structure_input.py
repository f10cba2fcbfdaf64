"""Structure-aware input (finetune --structure): right features, the same at train and predict time, kept by the
saved model, used by predict without a flag, and worth something on a planted structure-only signal."""

from __future__ import annotations

import numpy as np
import pytest

from inprocess import run_cli
from synthetic import write_fasta

# A GC stem of 8 pairs closing an AAAA loop, between A-only flanks (A pairs only with U; there is none).
FLANK, STEM5, LOOP, STEM3 = "AAAAAA", "GGGGGGGG", "AAAA", "CCCCCCCC"
HAIRPIN = FLANK + STEM5 + LOOP + STEM3 + FLANK
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def hairpin_sequences(n: int, seed: int, length: int = 60, stem: int = 12, loop: int = 4) -> list[tuple[str, str, int]]:
    """(id, sequence, label): label 1 holds a random hairpin (random stem, its reverse complement, random loop) at
    a random place; label 0 is the same sequence shuffled: the same composition, the hairpin gone. Only structure
    (base pairing at a distance) tells them apart, not k-mer content."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        arm = "".join(rng.choice(list("ACGT"), stem))
        hairpin = arm + "".join(rng.choice(list("ACGT"), loop)) + arm.translate(COMPLEMENT)[::-1]
        start = int(rng.integers(0, length - len(hairpin)))
        seq[start : start + len(hairpin)] = list(hairpin)
        label = i % 2
        if not label:
            seq = list(rng.permutation(seq))
        out.append((f"h{seed}_{i}", "".join(seq), label))
    return out


@pytest.fixture(autouse=True)
def _fresh_cache():
    from bertrbp.structure_input import clear_caches

    clear_caches()
    yield
    clear_caches()


# ---------------------------------------------------------------- features


def test_hairpin_features_by_hand():
    from bertrbp.structure_input import StructureSpec, feature_names, token_features

    spec = StructureSpec("both")
    names = feature_names("both")
    assert names == ["nucleotide", "unpaired"] + [f"element_{c}" for c in "FTIHMS"]
    features = token_features(HAIRPIN, spec, k=3)
    assert features.shape == (len(HAIRPIN) - 2, len(names))
    col = {name: features[:, i] for i, name in enumerate(names)}
    stem5 = range(len(FLANK), len(FLANK) + len(STEM5) - 2)  # tokens wholly inside the 5' arm
    loop_start = len(FLANK) + len(STEM5)
    assert np.all(col["nucleotide"] == 1)
    assert np.all(col["unpaired"][list(stem5)] < 0.1), col["unpaired"]
    assert np.all(col["element_S"][list(stem5)] == 1)
    # the token of the 4 loop nucleotides' middle (AAA of the loop) is unpaired hairpin loop
    loop_token = loop_start + 1 - 0
    assert col["unpaired"][loop_token] > 0.5 and col["element_H"][loop_token] == 1
    assert col["element_F"][0] == 1 and col["element_T"][-1] == 1  # dangling ends
    # a token straddling stem and loop is two-thirds stem, one-third hairpin loop
    straddle = loop_start - 2
    assert col["element_S"][straddle] == pytest.approx(2 / 3) and col["element_H"][straddle] == pytest.approx(1 / 3)
    # each token is the mean of its 3 nucleotides
    assert np.allclose(features.sum(1)[1:-1], (1 + col["unpaired"] + 1)[1:-1])


def test_sequence_read_back_from_kmer_ids():
    from bertrbp.structure_input import sequence_from_kmer_ids
    from bertrbp.tokenizer import KmerTokenizer

    for k in (3, 6):
        tok = KmerTokenizer(k)
        seq = "ACGTTGCAAGGCTTACNACGGTTAC"
        assert sequence_from_kmer_ids(tok.kmer_ids(seq), k) == seq
    # a base covered only by [UNK] tokens is folded as N (it pairs with nothing)
    assert sequence_from_kmer_ids(KmerTokenizer(3).kmer_ids("ANACGT"), 3) == "NNACGT"


@pytest.mark.parametrize("source", ["tiny", "cnn"])
def test_conversion_starts_as_the_sequence_only_model_and_is_recorded(source):
    import torch

    from bertrbp.inference import score_sequences
    from bertrbp.model import load_classifier
    from bertrbp.structure_input import CONFIG_KEY, structure_spec_of, with_structure_input

    model, tok, _ = load_classifier(source, seed=0)
    model.eval()
    structured = with_structure_input(model, "unpaired").eval()
    assert getattr(structured.config, CONFIG_KEY)["features"] == "unpaired"
    assert structure_spec_of(model) is None and structure_spec_of(structured).engine == "vienna"
    seqs = [HAIRPIN, "ACGT" * 10]
    cpu = torch.device("cpu")
    assert np.array_equal(
        score_sequences(model, tok, seqs, cpu).logit, score_sequences(structured, tok, seqs, cpu).logit
    )
    with pytest.raises(Exception, match="already uses --structure unpaired"):
        with_structure_input(structured, "elements")


def _random_structure_model(features: str = "both", source: str = "tiny"):
    import torch

    from bertrbp.model import load_classifier
    from bertrbp.structure_input import with_structure_input

    model, tok, _ = load_classifier(source, seed=0)
    model = with_structure_input(model, features).eval()
    with torch.no_grad():
        torch.manual_seed(1)
        model.structure_projection.weight.normal_(0, 1.0)
    return model, tok


@pytest.mark.parametrize(
    ("source", "class_name"), [("tiny", "StructureBertForSequenceClassification"), ("cnn", "CnnClassifier")]
)
def test_saved_model_predicts_the_same_after_reload_and_whatever_the_batch(tmp_path, source, class_name):
    import torch

    from bertrbp.io.sequences import iter_records
    from bertrbp.model import load_classifier, save_checkpoint
    from bertrbp.predict import predict_records
    from bertrbp.structure_input import structure_spec_of

    model, tok = _random_structure_model(source=source)
    fasta = write_fasta(tmp_path / "in.fa", hairpin_sequences(40, seed=5))
    cpu = torch.device("cpu")
    before = [p.logit for p in predict_records(model, tok, iter_records(fasta), cpu, batch_size=64)]
    save_checkpoint(model, tok, tmp_path / "m")
    reloaded, tok2, report = load_classifier(str(tmp_path / "m"))
    assert type(reloaded).__name__ == class_name and not report.newly_initialised
    assert structure_spec_of(reloaded).features == "both"
    reloaded.eval()
    after = [p.logit for p in predict_records(reloaded, tok2, iter_records(fasta), cpu, batch_size=64)]
    one_by_one = [p.logit for p in predict_records(reloaded, tok2, iter_records(fasta), cpu, batch_size=1)]
    assert before == after == one_by_one


@pytest.mark.parametrize("source", ["tiny", "cnn"])
def test_integrated_gradients_on_a_structure_model(source):
    import torch

    from bertrbp.attribution.ig import integrated_gradients

    model, tok = _random_structure_model("unpaired", source)
    result = integrated_gradients(model, tok, HAIRPIN, torch.device("cpu"), steps=16)
    assert abs(result.delta) < 0.05 * max(1e-3, abs(result.logit - result.baseline_logit)) + 1e-4
    assert np.any(result.tokens != 0)


# ---------------------------------------------------------------- training, prediction, the tools


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Tiny BERTs trained with and without --structure unpaired on a structure-only signal (hairpin vs shuffled),
    recording the features the model saw for every sequence at training time."""
    import torch

    import bertrbp.structure_input as si
    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.training import TrainConfig

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("structure")
    train = write_fasta(d / "train.fa", hairpin_sequences(400, seed=1))
    test = write_fasta(d / "test.fa", hairpin_sequences(100, seed=2))
    seen: dict[str, np.ndarray] = {}
    original = si.token_features

    def recording(seq, spec, k, where="sequence"):
        seen[seq] = original(seq, spec, k, where)
        return seen[seq]

    si.clear_caches()
    si.token_features = recording
    try:
        for structure in ("none", "unpaired"):
            options = FinetuneOptions(
                train=[train],
                output_dir=d / structure,
                model="tiny",
                lr=3e-3,
                structure=structure,
                train_config=TrainConfig(epochs=5, batch_size=16, threads=1, patience=0),
            )
            finetune(options)
    finally:
        si.token_features = original
        si.clear_caches()
    return d, train, test, seen


def _predict_cli(model_dir, fasta, out) -> dict[str, float]:
    from bertrbp.predict import read_predictions

    assert run_cli("predict", "--model", model_dir, fasta, "-o", out, "--threads", "1") == 0
    ids, probabilities, _ = read_predictions(out)
    return dict(zip(ids, probabilities))


def _auroc(fasta, predictions: dict[str, float]) -> float:
    from bertrbp.io.sequences import iter_records
    from bertrbp.metrics import binary_metrics

    records = list(iter_records(fasta))
    return binary_metrics([r.label for r in records], [predictions[r.id] for r in records])["auroc"]


def test_structure_signal_is_learned_with_structure_not_without(planted, tmp_path):
    d, _, test, _ = planted
    off = _auroc(test, _predict_cli(d / "none", test, tmp_path / "off.tsv"))
    on = _auroc(test, _predict_cli(d / "unpaired", test, tmp_path / "on.tsv"))
    assert on > 0.85 and on - off > 0.15, (on, off)


def test_cnn_learns_the_structure_signal_with_structure_not_without(tmp_path):
    """The CNN with --structure unpaired separates hairpins from their shuffles; the sequence-only CNN cannot."""
    train = write_fasta(tmp_path / "train.fa", hairpin_sequences(400, seed=1))
    test = write_fasta(tmp_path / "test.fa", hairpin_sequences(100, seed=2))
    scores = {}
    for structure in ("none", "unpaired"):
        out = tmp_path / structure
        common = [
            "--train",
            train,
            "--model",
            "cnn",
            "--epochs",
            "6",
            "--patience",
            "0",
            "--batch-size",
            "16",
            "--lr",
            "3e-3",
        ]
        assert run_cli("finetune", *common, "--structure", structure, "--output-dir", out, "--threads", "1") == 0
        scores[structure] = _auroc(test, _predict_cli(out / "model", test, tmp_path / f"{structure}.tsv"))
    assert scores["unpaired"] > 0.85 and scores["unpaired"] - scores["none"] > 0.15, scores


def test_training_and_prediction_fold_the_same_sequences_to_the_same_features(planted, monkeypatch):
    import torch

    import bertrbp.structure_input as si
    from bertrbp.io.sequences import iter_records
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records

    d, train, _, seen_in_training = planted
    records = list(iter_records(train))
    assert {r.seq for r in records} <= set(seen_in_training)  # every training sequence (incl. validation) folded
    at_predict: dict[str, np.ndarray] = {}
    original = si.token_features

    def recording(seq, spec, k, where="sequence"):
        at_predict[seq] = original(seq, spec, k, where)
        return at_predict[seq]

    monkeypatch.setattr(si, "token_features", recording)
    model, tok, _ = load_classifier(str(d / "unpaired" / "model"))
    list(predict_records(model.eval(), tok, records[:60], torch.device("cpu")))
    assert set(at_predict) == {r.seq for r in records[:60]}
    for seq, values in at_predict.items():
        assert np.array_equal(values, seen_in_training[seq]), seq


def test_predict_uses_the_models_structure_without_a_flag(planted, tmp_path, monkeypatch):
    """The predict tool is given only --model; replacing the folding output changes a structure model's
    predictions and leaves a sequence-only model's alone."""
    import bertrbp.structure_input as si
    from bertrbp.fold.engines import Fold

    d, _, test, _ = planted
    on = _predict_cli(d / "unpaired", test, tmp_path / "on.tsv")
    off = _predict_cli(d / "none", test, tmp_path / "off.tsv")

    def all_unpaired(rna, options, where="sequence"):
        return Fold("." * len(rna), None, np.ones(len(rna)))

    monkeypatch.setattr(si, "fold_rna", all_unpaired)
    si.clear_caches()
    on_flat = _predict_cli(d / "unpaired", test, tmp_path / "on_flat.tsv")
    off_flat = _predict_cli(d / "none", test, tmp_path / "off_flat.tsv")
    assert off_flat == off
    assert sum(abs(on[i] - on_flat[i]) > 1e-4 for i in on) > len(on) // 2


def test_model_card_records_structure(planted):
    import json

    d, _, _, _ = planted
    card = json.loads((d / "unpaired" / "model_card.json").read_text())
    assert card["structure_input"]["features"] == "unpaired"
    assert card["structure_input"]["feature_names"] == ["nucleotide", "unpaired"]
    assert "structure_projection.weight" in card["load_report"]["newly_initialised"]
    assert json.loads((d / "none" / "model_card.json").read_text())["structure_input"] is None
    assert "Structure input: unpaired" in (d / "unpaired" / "model_card.md").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "kmer", "--structure", "unpaired"], "needs a BERT"),
        (["--model", "tiny", "--structure", "loops"], "--structure 'loops' is not known"),
    ],
)
def test_cli_refuses_bad_structure_options(tmp_path, capsys, args, expected):
    train = write_fasta(tmp_path / "t.fa", hairpin_sequences(20, seed=3))
    status = run_cli("finetune", "--train", train, "--output-dir", tmp_path / "out", *args)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and err[0].startswith("error:") and expected in err[0], err
    assert not (tmp_path / "out" / "model").exists()


def test_missing_folding_engine_is_one_clear_error(monkeypatch):
    import importlib.util

    from bertrbp.errors import InputError
    from bertrbp.structure_input import StructureSpec

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "RNA" else real(name, *a))
    with pytest.raises(InputError, match=r"pip install 'bert-rbp\[fold\]'"):
        StructureSpec("unpaired").check()
