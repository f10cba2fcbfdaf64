"""The pretrained checkpoints that ship in assets/models (``bertrbp-mini-k3``, made on CPUs, and ``bertrbp-small-k3``,
made on a GPU): each loads offline by its short name, and its model card's exclusion report keeps every test split
of ../shared/data (and the demo's sites) out of pretraining."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from bertrbp.model import load_classifier, model_kind, resolve_model_source
from bertrbp.provenance import sha256
from helpers import REPO, run_tool

NAMES = ("bertrbp-mini-k3", "bertrbp-small-k3")
MODELS = REPO / "assets" / "models"
sys.path.insert(0, str(REPO / "bench"))
from pretrain_multitask import UNSEEN  # noqa: E402  (never a task; every sequence excluded)

UNSEEN_ECLIP = set(UNSEEN)


@pytest.fixture(scope="module", params=NAMES)
def name(request) -> str:
    if not (MODELS / request.param / "config.json").exists():
        pytest.skip(f"{MODELS / request.param} is not in this checkout")
    return request.param


@pytest.fixture(scope="module")
def card(name) -> dict:
    return json.loads((MODELS / name / "model_card.json").read_text())


def _relative(path: str) -> str:
    """A card path relative to the data folder it came from (…/shared/data/rbp31/X/test.fa.gz -> rbp31/X/test.fa.gz)."""
    parts = Path(path).parts
    return "/".join(parts[parts.index("data") + 1 :]) if "data" in parts else Path(path).name


def test_it_is_small_and_its_weights_are_the_ones_the_card_describes(name, card):
    weights = MODELS / name / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024**2
    assert card["weights_sha256"] == sha256(weights)
    assert card["k"] == 3 and card["tool"] == "bertrbp-pretrain" and len(card["tasks"]) >= 20


def test_it_loads_by_short_name_with_no_network(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("BERTRBP_MODELS", raising=False)
    assert resolve_model_source(name) == str(MODELS / name)
    assert model_kind(name) == "bert-pretrained"
    model, tokenizer, report = load_classifier(name)
    assert next(model.parameters()).dtype == torch.float32  # fine-tuned in float32 on a CPU, whatever made it
    assert tokenizer.k == 3 and report.pretrained
    assert report.newly_initialised == ["classifier.bias", "classifier.weight"]  # encoder and pooler all loaded


def test_exclusion_report_is_consistent(card):
    exclusion = card["exclusion"]
    assert exclusion["records_dropped"] == sum(row["excluded"] for row in exclusion["tasks"]) > 0
    assert exclusion["records_read"] == sum(row["read"] for row in exclusion["tasks"])
    assert all(row["kept"] <= row["read"] - row["excluded"] for row in exclusion["tasks"])
    task_files = {_relative(row["file"]) for row in exclusion["tasks"]}
    excluded = {_relative(f["file"]) for f in exclusion["files"]}
    assert not task_files & excluded
    assert not any(name.split("eCLIP_")[-1] in UNSEEN_ECLIP for name in card["tasks"])
    # 23,967 RBP-31 training sites are another RBP-31 experiment's test site: at least those were dropped
    rbp31_dropped = sum(row["excluded"] for row in exclusion["tasks"] if not row["task"].startswith("eCLIP_"))
    assert rbp31_dropped >= 23_967


def test_every_test_split_of_the_shared_data_was_excluded(card, shared_data):
    listed = {_relative(f["file"]): f["sha256"] for f in card["exclusion"]["files"]}
    required = [
        *shared_data.glob("rbp31/*/test.fa.gz"),
        *shared_data.glob("rbp24/*.ls.*.fa.gz"),
        *shared_data.glob("tial1/*.tsv.gz"),
        *(shared_data / "eclip" / f"{name}.tsv.gz" for name in UNSEEN_ECLIP),
    ]
    assert len(required) >= 21 + 48 + 2 + 10
    for path in required:
        key = str(path.relative_to(shared_data))
        assert listed.get(key) == sha256(path), f"{key} is not in the exclusion list with its current checksum"
    eclip_tests = {key for key in listed if key.endswith(".test.fa")}
    assert {Path(k).name.split(".")[0] for k in eclip_tests} == {
        p.name.split(".")[0] for p in shared_data.glob("eclip/*.tsv.gz")
    }
    for demo in sorted((REPO / "assets" / "demo").glob("*.tsv")):
        assert listed.get(demo.name) == sha256(demo), f"demo file {demo.name} not excluded"


@pytest.mark.slow
def test_an_eclip_test_split_in_the_report_is_the_one_prepare_makes(card, shared_data, tmp_path):
    """The eCLIP test splits are made by prepare (seed 42, as bench/accuracy.py does); remake one and compare."""
    listed = {Path(f["file"]).name: f["sha256"] for f in card["exclusion"]["files"]}
    run_tool(
        "prepare",
        shared_data / "eclip" / "SLBP_K562.tsv.gz",
        "--output-dir",
        tmp_path,
        "--prefix",
        "SLBP_K562",
        "--seed",
        "42",
    )
    assert listed["SLBP_K562.test.fa"] == sha256(tmp_path / "SLBP_K562.test.fa")


def test_finetune_starts_from_it_by_name(name, tmp_path):
    from synthetic import motif_sequences, write_fasta

    train = write_fasta(tmp_path / "train.fa", motif_sequences(80, seed=3))
    run_tool(
        "finetune",
        "--train",
        train,
        "--model",
        name,
        "--output-dir",
        tmp_path / "ft",
        "--epochs",
        "1",
        "--threads",
        "1",
    )
    card = json.loads((tmp_path / "ft" / "model_card.json").read_text())
    assert card["model_source"] == name and card["model_kind"] == "bert-pretrained" and card["pretrained"]
    loaded = card["load_report"]["loaded"]
    assert "bert.pooler.dense.weight" in loaded and "bert.encoder.layer.3.output.dense.weight" in loaded
