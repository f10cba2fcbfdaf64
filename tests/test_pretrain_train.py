"""Pretraining end to end: loss falls, exact --resume, exclusion refusal through the tool, outputs."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from bertrbp.errors import InputError
from bertrbp.pretrain import run as run_module
from bertrbp.pretrain.run import PretrainOptions, pretrain
from bertrbp.training import TrainConfig
from helpers import assert_same_weights, run_tool
from inprocess import run_cli

MOTIFS = ["ACGTTGCA", "GGGAAATT", "TATACCGC", "CTCTAGAG"]


def motif_corpus(path, n: int = 160, seed: int = 0):
    """Sequences built from four 8-mers: predictable context, so a tiny model learns it in a few dozen steps."""
    rng = random.Random(seed)
    lines = [f">s{i}\n" + "".join(rng.choice(MOTIFS) for _ in range(8)) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def options(tmp_path, corpus, **train) -> PretrainOptions:
    settings = dict(lr=2e-3, epochs=4, batch_size=16, warmup_ratio=0.1, seed=3, threads=1)
    settings.update(train)
    return PretrainOptions(
        corpus=[corpus],
        output_dir=tmp_path / "out",
        model_size="tiny",
        window=64,
        stride=32,
        val_fraction=0.1,
        train=TrainConfig(**settings),
    )


def test_loss_falls_on_a_small_corpus(tmp_path):
    corpus = motif_corpus(tmp_path / "corpus.fa")
    metrics = pretrain(options(tmp_path, corpus))
    history = metrics["history"]
    assert len(history) == 4 and metrics["global_step"] == 4 * 9
    # uniform guessing over 64 k-mers costs ln 64 = 4.16
    assert history[0]["val_loss"] > history[-1]["val_loss"] + 0.5
    assert history[-1]["val_loss"] < 3.2 and history[-1]["val_masked_accuracy"] > 0.1  # chance: 1/64
    out = tmp_path / "out"
    card = json.loads((out / "model_card.json").read_text())
    assert card["architecture"] == "BertForMaskedLM" and card["corpus"]["windows"] == 160
    assert card["results"]["final"]["val_loss"] == history[-1]["val_loss"]
    assert "## Corpus" in (out / "model_card.md").read_text()
    assert {"config.json", "model.safetensors", "vocab.txt"} <= {p.name for p in (out / "model").iterdir()}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["train_windows"] == 144 and saved["val_windows"] == 16


def test_resume_continues_exactly(tmp_path, monkeypatch):
    corpus = motif_corpus(tmp_path / "corpus.fa", n=64)
    full = options(tmp_path / "full", corpus, epochs=2, save_steps=3)
    pretrain(full)

    shared_train = run_module.train

    def interrupted(*args, **kwargs):
        def stop(step, loss):
            if step == 7:  # epoch 2, after the step-6 checkpoint (4 steps per epoch)
                raise KeyboardInterrupt

        return shared_train(*args, on_step=stop, **kwargs)

    monkeypatch.setattr(run_module, "train", interrupted)
    broken = options(tmp_path / "part", corpus, epochs=2, save_steps=3)
    with pytest.raises(KeyboardInterrupt):
        pretrain(broken)
    assert not (tmp_path / "part" / "out" / "model").exists()
    monkeypatch.setattr(run_module, "train", shared_train)
    with pytest.raises(InputError, match="--resume"):
        pretrain(broken)  # an interrupted run is never silently restarted over
    broken.resume = True
    metrics = pretrain(broken)
    assert metrics["resumed_from_step"] == 6
    assert_same_weights(*(tmp_path / run / "out" / "model" / "model.safetensors" for run in ("full", "part")))


def test_tool_refuses_a_corpus_overlapping_the_test_set(tmp_path):
    corpus = motif_corpus(tmp_path / "corpus.fa", n=20)
    test = tmp_path / "test.tsv"
    test.write_text(corpus.read_text().splitlines()[5] + "\t1\n")  # record s2's sequence
    out = tmp_path / "out"
    result = run_tool(
        "pretrain",
        "--corpus",
        corpus,
        "--output-dir",
        out,
        "--exclude",
        test,
        "--model-size",
        "tiny",
        "--window",
        "64",
        "--threads",
        "1",
        check=False,
    )
    assert result.returncode == 2
    assert "error: the corpus shares 1 sequence(s)" in result.stderr and "record 's2'" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("blocker", ["metrics.json", "model_card.md", "model", "checkpoints"])
def test_an_output_blocked_in_the_output_dir_is_refused_before_training(tmp_path, blocker):
    """A folder named metrics.json (or a file named model) was found only when the outputs were written, after
    the whole training: exit 2 with model/ published and metrics.json and the cards missing, or the run lost."""
    corpus = motif_corpus(tmp_path / "corpus.fa", n=40)
    out = tmp_path / "out"
    out.mkdir()
    if blocker in ("model", "checkpoints"):
        (out / blocker).write_text("mine\n")
    else:
        (out / blocker).mkdir()
    with pytest.raises(InputError, match="in the way"):
        pretrain(options(tmp_path, corpus, max_steps=1))
    assert sorted(p.name for p in out.iterdir()) == [blocker]  # nothing trained, nothing written


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny run: --resume on it reuses checkpoints/corpus and publishes the model again."""
    root = tmp_path_factory.mktemp("finished")
    corpus = motif_corpus(root / "corpus.fa", n=20)
    pretrain(options(root, corpus, epochs=1))
    return root


def resume_copy(finished_run, tmp_path):
    """A copy of the finished run and the options that resume it."""
    shutil.copytree(finished_run / "out", tmp_path / "out")
    resumed = options(tmp_path, finished_run / "corpus.fa", epochs=1)
    resumed.resume = True
    return resumed


def test_resume_rebuilds_a_corpus_whose_recipe_was_cut_short(finished_run, tmp_path):
    """recipe.json was written in place after the corpus, so a run killed then left it cut short and --resume
    stopped with a JSONDecodeError traceback; now it is written atomically and an unreadable one means the
    corpus is built again (run.json already checked that the data are the same)."""
    resumed = resume_copy(finished_run, tmp_path)
    recipe = tmp_path / "out" / "checkpoints" / "corpus" / "recipe.json"
    recipe.write_text('{"objective": "ml')
    finished = json.loads((finished_run / "out" / "metrics.json").read_text())
    assert pretrain(resumed)["global_step"] == finished["global_step"]
    assert json.loads(recipe.read_text())["objective"] == "mlm"


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("lengths.i32", lambda data: data[:-12], "lengths.i32: 68 bytes, not the 80 of 20 windows (truncated?)"),
        ("windows.u8", lambda data: data[:100], "windows.u8: 100 bytes, not the 1280 of 20 windows of 64 nt"),
        ("windows.u8", lambda data: data[:70] + b"\xe9" + data[71:], "windows.u8: byte 70 (window 1) is 0xe9, not"),
        ("corpus.json", lambda data: data[:40], "corpus.json: unreadable"),
        ("corpus.json", lambda data: data.replace(b'"window": 64', b'"window": "64"'), 'window is "64", not a'),
        ("corpus.json", lambda data: data.replace(b'"window": 64', b'"window": 32'), "windows.u8: 1280 bytes, not"),
    ],
)
def test_resume_refuses_a_damaged_corpus_naming_the_file(finished_run, tmp_path, capsys, name, damage, message):
    """A truncated or edited file of the corpus --resume reuses was a traceback (memory map, JSON, dataclass) or,
    for lengths.i32, training on part of the corpus with exit 0; now one error line names the file and says to
    delete the corpus folder so it is rebuilt."""
    resume_copy(finished_run, tmp_path)
    path = tmp_path / "out" / "checkpoints" / "corpus" / name
    path.write_bytes(damage(path.read_bytes()))
    arguments = ["--corpus", finished_run / "corpus.fa", "--output-dir", tmp_path / "out", "--model-size", "tiny"]
    arguments += ["--window", "64", "--stride", "32", "--val-fraction", "0.1", "--batch-size", "16", "--lr", "2e-3"]
    arguments += ["--warmup-ratio", "0.1", "--seed", "3", "--threads", "1", "--resume"]
    assert run_cli("pretrain", *arguments) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and message in err and "Traceback" not in err
    assert f"Delete {path.parent} (it is rebuilt from --corpus)" in err
