"""Pretrained checkpoints in DNABERT's layout load into finetune's loader like DNABERT's own."""

from __future__ import annotations

import json

import torch

from bertrbp.model import load_classifier, save_checkpoint
from bertrbp.tokenizer import KmerTokenizer, dnabert_vocab


def dnabert_like_checkpoint(directory):
    """What a DNABERT download looks like: a BertForMaskedLM config, safetensors weights, 69-token vocab.txt."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=69,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        architectures=["BertForMaskedLM"],
    )
    model = BertForMaskedLM(config)
    model.save_pretrained(directory, safe_serialization=True)
    (directory / "vocab.txt").write_text("\n".join(dnabert_vocab(3)) + "\n")
    return model


def assert_encoder_transferred(mlm, classifier, report):
    encoder = dict(mlm.bert.named_parameters())
    for name, tensor in classifier.bert.named_parameters():
        if name.startswith("pooler."):
            continue
        assert torch.equal(tensor, encoder[name]), name
    assert set(report.newly_initialised) == {
        "classifier.weight",
        "classifier.bias",
        "bert.pooler.dense.weight",
        "bert.pooler.dense.bias",
    }
    assert {f"bert.{n}" for n in encoder} <= set(report.loaded)
    assert report.unexpected and all(name.startswith("cls.predictions") for name in report.unexpected)
    assert report.pretrained and "newly initialised: bert.pooler" in report.summary()


def test_dnabert_layout_written_by_hand_loads_with_encoder_identical(tmp_path):
    mlm = dnabert_like_checkpoint(tmp_path)
    classifier, tokenizer, report = load_classifier(str(tmp_path), seed=1)
    assert tokenizer.k == 3 and tokenizer.vocab_size == 69
    assert_encoder_transferred(mlm, classifier, report)


def test_pretrain_checkpoint_has_dnabert_layout_and_loads_the_same_way(tmp_path):
    from bertrbp.pretrain.mlm import build_mlm_model

    mlm = build_mlm_model("tiny", k=3, seed=0)
    save_checkpoint(mlm, KmerTokenizer(3), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "vocab.txt"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["BertForMaskedLM"] and config["vocab_size"] == 69
    assert (tmp_path / "vocab.txt").read_text().split() == dnabert_vocab(3)
    classifier, _, report = load_classifier(str(tmp_path), seed=1)
    assert_encoder_transferred(mlm, classifier, report)
    # the classification head is freshly initialised, not copied from anywhere: two seeds differ
    other, _, _ = load_classifier(str(tmp_path), seed=2)
    assert not torch.equal(classifier.classifier.weight, other.classifier.weight)


def test_k6_model_uses_dnabert6_vocabulary(tmp_path):
    from bertrbp.pretrain.mlm import build_mlm_model

    mlm = build_mlm_model("tiny", k=6, seed=0)
    assert mlm.config.vocab_size == 4101 and mlm.cls.predictions.decoder.out_features == 4101
