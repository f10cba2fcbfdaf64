"""bertrbp-pretrain --init-model: stages chain (masked LM, then multi-task; a finished run on a new schedule)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from bertrbp.errors import InputError
from bertrbp.pretrain.run import PretrainOptions, pretrain
from bertrbp.provenance import sha256
from bertrbp.training import TrainConfig
from helpers import run_tool
from synthetic import motif_sequences, write_fasta
from test_pretrain_train import motif_corpus

STILL = 1e-9  # a learning rate that moves no weight measurably: what comes out is what the run started from


def _tasks(tmp_path):
    rbfox = write_fasta(tmp_path / "rbfox.fa", motif_sequences(60, seed=1))
    pum = [(i, s.replace("TGCATG", "TGTAAA"), y) for i, s, y in motif_sequences(60, seed=2)]
    return [("RBFOX", rbfox), ("PUM", write_fasta(tmp_path / "pum.fa", pum))]


def _multitask(tmp_path, name, tasks, lr=2e-3, **changes) -> PretrainOptions:
    config = TrainConfig(lr=lr, epochs=2, batch_size=16, warmup_ratio=0.1, seed=3, threads=1)
    return PretrainOptions(
        corpus=[], objective="multitask", tasks=tasks, output_dir=tmp_path / name, model_size="tiny",
        val_fraction=0.1, train=config, **changes,
    )  # fmt: skip


def _encoder(path) -> dict:
    """A checkpoint's encoder tensors by BertModel name (a masked-LM checkpoint's ``bert.`` prefix dropped)."""
    tensors = load_file(path)
    return {n.removeprefix("bert."): t for n, t in tensors.items() if not n.startswith("cls.") and "pooler" not in n}


def _assert_close(expected: dict, actual: dict) -> None:
    assert expected.keys() <= actual.keys()
    for name, tensor in expected.items():
        assert torch.allclose(tensor, actual[name], atol=1e-6), name


def test_a_multitask_run_continues_an_earlier_ones_encoder_and_its_heads_by_task_name(tmp_path):
    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks))
    first = tmp_path / "first"
    # the second stage lists the tasks in the other order: each head must follow its task's name, not its row
    pretrain(_multitask(tmp_path, "second", tasks[::-1], lr=STILL, init_model=str(first / "model")))
    second = tmp_path / "second"
    _assert_close(load_file(first / "model" / "model.safetensors"), load_file(second / "model" / "model.safetensors"))
    old, new = load_file(first / "task_heads.safetensors"), load_file(second / "task_heads.safetensors")
    assert torch.allclose(new["weight"][0], old["weight"][1], atol=1e-6)  # PUM
    assert torch.allclose(new["weight"][1], old["weight"][0], atol=1e-6)  # RBFOX
    assert not torch.allclose(old["weight"][0], old["weight"][1], atol=1e-3)  # the swap is visible

    card = json.loads((second / "model_card.json").read_text())
    start = card["initialised_from"]
    assert start["weights_sha256"] == sha256(first / "model" / "model.safetensors")
    assert start["steps"] == json.loads((first / "model_card.json").read_text())["results"]["global_step"]
    assert "started from" in (second / "model_card.md").read_text()

    fresh = pretrain(_multitask(tmp_path, "fresh", tasks, lr=STILL))  # same seed, random start: differs
    assert fresh["initialised_from"] is None
    with pytest.raises(AssertionError):
        _assert_close(
            _encoder(first / "model" / "model.safetensors"), _encoder(tmp_path / "fresh/model/model.safetensors")
        )


def test_masked_lm_then_multitask_keeps_the_masked_lm_encoder(tmp_path):
    config = TrainConfig(lr=2e-3, epochs=1, batch_size=16, warmup_ratio=0.1, seed=3, threads=1)
    mlm = PretrainOptions(
        corpus=[motif_corpus(tmp_path / "corpus.fa")], output_dir=tmp_path / "mlm", model_size="tiny",
        window=64, stride=32, val_fraction=0.1, train=config,
    )  # fmt: skip
    pretrain(mlm)
    pretrain(_multitask(tmp_path, "mt", _tasks(tmp_path), lr=STILL, init_model=str(tmp_path / "mlm" / "model")))
    _assert_close(_encoder(tmp_path / "mlm/model/model.safetensors"), _encoder(tmp_path / "mt/model/model.safetensors"))


def test_resume_refuses_a_different_starting_checkpoint(tmp_path, tiny_checkpoint):
    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks, lr=STILL))
    options = _multitask(tmp_path, "run", tasks, init_model=str(tmp_path / "first" / "model"))
    options.train.save_steps = 2
    pretrain(options)
    other = _multitask(tmp_path, "run", tasks, init_model=str(tiny_checkpoint), resume=True)
    with pytest.raises(InputError, match="init_model"):
        pretrain(other)


def _wrong_starts(tmp_path, tiny_checkpoint) -> dict[str, tuple[list, str]]:
    cnn = tmp_path / "cnn_model"
    run_tool("finetune", "--model", "cnn", "--train", _tasks(tmp_path)[0][1], "--output-dir", cnn, "--epochs", "1")
    return {
        "k": (["--init-model", tiny_checkpoint, "--k", "4"], "pass --k 3"),
        "size": (["--init-model", tiny_checkpoint, "--model-size", "mini"], "pass --model-size tiny"),
        "cnn": (["--init-model", cnn / "model", "--model-size", "tiny"], "only a k-mer BERT"),
        "missing": (["--init-model", tmp_path / "nowhere", "--model-size", "tiny"], "not a checkpoint folder"),
    }


def test_a_wrong_start_is_one_error_line_and_leaves_nothing(tmp_path, tiny_checkpoint):
    task = _tasks(tmp_path)[0][1]
    for case, (args, phrase) in _wrong_starts(tmp_path, tiny_checkpoint).items():
        out = tmp_path / f"out_{case}"
        result = run_tool(
            "pretrain", "--objective", "multitask", "--task", f"A={task}", "--output-dir", out, *args, check=False
        )
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(errors) == 1 and errors[0].startswith("error: "), (case, result.stderr)
        assert phrase in errors[0], (case, errors[0])
        assert not out.exists(), case


def test_ship_checkpoint_copies_the_run_and_its_card_with_the_gains(tmp_path):
    """bench/ship_checkpoint.py: the shipped card describes the shipped weights, names the short name, says that a
    continued run's validation is not comparable with its first stage's, and carries the measured gains."""
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    from ship_checkpoint import ship

    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks))
    pretrain(_multitask(tmp_path, "second", tasks, init_model=str(tmp_path / "first" / "model")))
    (tmp_path / "gains.md").write_text("| suite | difference |\n|---|---|\n| eclip | +0.0182 |\n")
    (tmp_path / "gains.tsv").write_text("suite\tdifference\neclip\t+0.0182\n")
    folder = ship(tmp_path / "second", "mine-k3", tmp_path / "gains.md", tmp_path / "gains.tsv", tmp_path / "models")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["weights_sha256"] == sha256(folder / "model.safetensors")
    assert card["usage"].startswith("bertrbp-finetune --model mine-k3 ")
    assert card["finetuning_gains"]["rows"] == [{"suite": "eclip", "difference": "+0.0182"}]
    text = (folder / "README.md").read_text()
    assert "--model mine-k3 " in text and str(tmp_path / "second" / "model") not in text
    assert "not comparable" in text and "| eclip | +0.0182 |" in text
