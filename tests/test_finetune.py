"""Fine-tuning learns a planted motif, resumes exactly, and flags collapsed models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_tool
from inprocess import run_cli
from synthetic import motif_sequences, write_fasta


@pytest.fixture(scope="module")
def motif_run(tmp_path_factory):
    """A tiny BERT fine-tuned on 500 motif/no-motif sequences, plus a held-out test set."""
    import torch

    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.training import TrainConfig

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("motif")
    train = write_fasta(d / "train.fa", motif_sequences(500, seed=1))
    test = write_fasta(d / "test.fa", motif_sequences(200, seed=2))
    options = FinetuneOptions(
        train=[train],
        output_dir=d / "out",
        model="tiny",
        lr=1e-3,
        keep="best",
        train_config=TrainConfig(epochs=3, batch_size=16, threads=1),
    )
    return d, test, finetune(options)


def test_learns_planted_motif(motif_run):
    import torch

    from bertrbp.io.sequences import iter_records
    from bertrbp.metrics import binary_metrics
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records

    d, test, result = motif_run
    model, tokenizer, report = load_classifier(str(d / "out" / "model"))
    assert report.pretrained and not report.newly_initialised
    predictions = list(predict_records(model.eval(), tokenizer, iter_records(test), torch.device("cpu")))
    metrics = binary_metrics([p.label for p in predictions], [p.probability for p in predictions])
    assert metrics["auroc"] > 0.9, metrics
    assert result.collapsed is False


def test_outputs_and_model_card(motif_run):
    d, _, result = motif_run
    out = d / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    for epoch in metrics["epochs"]:
        assert {"train_loss", "val_loss", "val_auroc", "val_auprc", "val_accuracy"} <= set(epoch)
    aurocs = [e["val_auroc"] for e in metrics["epochs"]]
    assert metrics["kept_epoch"] == 1 + int(np.argmax(aurocs))
    assert metrics["collapsed"] is False
    card = json.loads((out / "model_card.json").read_text())
    import hashlib

    assert card["data"]["train_files"][0]["sha256"] == hashlib.sha256((d / "train.fa").read_bytes()).hexdigest()
    assert card["data"]["counts"]["train"]["total"] + card["data"]["counts"]["validation"]["total"] == 500
    assert card["data"]["counts"]["validation"] == {"total": 50, "label_0": 25, "label_1": 25}  # stratified
    assert card["hyperparameters"]["lr"] == 1e-3 and card["hyperparameters"]["adam_eps"] == 1e-8
    assert card["seed"] == 42 and card["software"]["torch"]
    assert card["load_report"]["newly_initialised"]  # random init: everything is new
    assert (out / "model" / "model.safetensors").exists() and (out / "model" / "vocab.txt").read_text().startswith(
        "[PAD]"
    )
    assert "AUROC" in (out / "model_card.md").read_text()


def _tiny_problem(n=96):
    from bertrbp.io.sequences import SequenceRecord
    from bertrbp.io.tokens import tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    records = [SequenceRecord(i, s, lab) for i, s, lab in motif_sequences(n, seed=3, length=41)]
    return tokenize_records(records, KmerTokenizer(3))


class _Interrupt(Exception):
    pass


def test_resume_gives_identical_weights(tmp_path):
    """Kill a run mid-epoch (after a step checkpoint), resume it: final weights equal an uninterrupted run's."""
    import torch

    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, TrainConfig, train

    data = _tiny_problem()
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)
    config = TrainConfig(lr=1e-3, epochs=2, batch_size=16, grad_accum=2, save_steps=2, threads=1, log_every=1)

    def fresh():
        return load_classifier("tiny", seed=0)[0]  # dropout 0.1 is active, so RNG state matters

    def val(model, ctx):
        return {"probe": float(next(model.parameters()).detach().sum())}

    reference = fresh()
    ref_result = train(reference, source, config, checkpoint_dir=tmp_path / "a", epoch_end=val)

    def stop_at_5(step, loss):
        if step == 5:  # 3 steps per epoch: resumes from the mid-epoch-2 checkpoint of step 4
            raise _Interrupt

    interrupted = fresh()
    with pytest.raises(_Interrupt):
        train(interrupted, source, config, checkpoint_dir=tmp_path / "b", epoch_end=val, on_step=stop_at_5)

    def stop_at_3(step, loss):
        if step == 3:
            raise _Interrupt

    # a second interruption mid-epoch 1 in another directory exercises the mid-epoch (step 2) checkpoint
    with pytest.raises(_Interrupt):
        train(fresh(), source, config, checkpoint_dir=tmp_path / "c", epoch_end=val, on_step=stop_at_3)

    for directory in ("b", "c"):
        resumed = fresh()
        result = train(resumed, source, config, checkpoint_dir=tmp_path / directory, resume=True, epoch_end=val)
        assert result.resumed_from_step in (2, 4)
        assert result.global_step == ref_result.global_step == 6
        for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items()):
            assert torch.equal(a, b), f"{directory}: {name} differs after resume"
        assert [h["probe"] for h in result.history] == [h["probe"] for h in ref_result.history]


def test_resume_refuses_changed_settings(tmp_path):
    from bertrbp.errors import InputError
    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, TrainConfig, train

    data = _tiny_problem(32)
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)
    train(
        load_classifier("tiny", seed=0)[0],
        source,
        TrainConfig(epochs=1, batch_size=16, threads=1),
        checkpoint_dir=tmp_path,
    )
    with pytest.raises(InputError, match="different settings"):
        train(
            load_classifier("tiny", seed=0)[0],
            source,
            TrainConfig(epochs=1, batch_size=8, threads=1),
            checkpoint_dir=tmp_path,
            resume=True,
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda state: state.update(epoch="1"), "(epoch is '1', not a whole number >= 0)"),
        (lambda state: state.update(global_step=-3), "(global_step is -3, not a whole number >= 0)"),
        (lambda state: state.update(history=[[0.5]]), "(history is list, not a list of epoch records)"),
        # a position past this run's end finished at once with exit 0, publishing the checkpoint's weights as trained
        (lambda state: state.update(epoch=10**6), "(epoch is 1000000, past this run's 2 epochs)"),
        (lambda state: state.update(global_step=500), "(global_step is 500, past this run's 2 steps)"),
        (lambda state: state.update(batch_pos=7), "(batch_pos is 7, past this run's 2 batches an epoch)"),
        (lambda state: state.update(config=None), "(config is None, not an object of settings)"),
        (lambda state: state.update(optimizer={}), "the saved states do not fit this run (KeyError: 'param_groups')"),
        (lambda state: state["model"].popitem(), "the saved states do not fit this run (RuntimeError: Error(s) in"),
        (lambda state: state["rng"].pop("numpy"), "the saved states do not fit this run (KeyError: 'numpy')"),
    ],
)
def test_resume_refuses_an_edited_trainer_state_naming_the_field(tmp_path, edit, message):
    """trainer_state.pt loads safely (weights_only), but a checkpoint with the right keys and wrong contents (an
    edit, another run's states) was a traceback: TypeError in the loop, AttributeError on the settings, KeyError or
    RuntimeError in torch's load_state_dict. Now one InputError names the file, the field and what to do."""
    import torch

    from bertrbp.errors import InputError
    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, TrainConfig, train
    from bertrbp.training.checkpoint import STATE_FILE

    data = _tiny_problem(32)
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)
    config = TrainConfig(epochs=2, batch_size=16, threads=1, max_steps=2)
    train(load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    edit(state)
    torch.save(state, tmp_path / STATE_FILE)
    with pytest.raises(InputError) as refused:
        train(load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path, resume=True)
    text = str(refused.value)
    assert text.startswith(f"{tmp_path / STATE_FILE}: ") and message in text
    assert text.endswith(f"Delete {tmp_path} to start over without --resume.")


def test_optimizer_groups_and_schedule():
    import torch

    from bertrbp.model import load_classifier
    from bertrbp.training import TrainConfig, build_optimizer, warmup_linear

    model = load_classifier("tiny", seed=0)[0]
    decay, plain = build_optimizer(model, TrainConfig(), torch.device("cpu")).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert all(names[id(p)].endswith("bias") or "LayerNorm" in names[id(p)] for p in plain["params"])
    assert any("LayerNorm.weight" in names[id(p)] for p in plain["params"])
    assert all(not names[id(p)].endswith("bias") for p in decay["params"])
    f = warmup_linear(100, 0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0) and f(10) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.5) and f(100) == 0.0


def test_collapse_diagnosis():
    from bertrbp.collapse import diagnose, stall_text, warning_text

    labels = np.array([0, 1] * 50)
    constant = diagnose(labels, np.full(100, 0.31), 0.5, 0.6931)
    assert constant["collapsed"] and any("constant" in r for r in constant["reasons"])
    text = warning_text(constant, 2e-3, 32, 1)
    assert "WARNING" in text and "--lr" in text and "--grad-accum 4" in text and "--warmup-ratio" in text
    healthy_p = np.where(labels == 1, 0.8, 0.2) + np.linspace(0, 0.01, 100)
    assert not diagnose(labels, healthy_p, 0.95, 0.3)["collapsed"]
    assert diagnose(labels, np.linspace(0, 1, 100), 0.505, 0.69)["collapsed"]  # chance-level ranking
    assert diagnose(labels, np.full(100, np.nan), float("nan"), float("nan"))["collapsed"]
    # ranking above chance but output still at the prior (as a barely trained model): stalled, not collapsed
    barely = 0.5 + np.where(labels == 1, 1e-3, -1e-3) + np.linspace(0, 1e-4, 100)
    stalled = diagnose(labels, barely, 0.69, 0.6931)
    assert stalled["stalled"] and not stalled["collapsed"]
    assert "barely moved" in stall_text(stalled) and "--min-steps" in stall_text(stalled)
    assert not diagnose(labels, healthy_p, 0.95, 0.3)["stalled"]


def test_cli_flags_forced_collapse(tmp_path):
    """A model whose head outputs zeros (constant predictor) and cannot move (tiny lr) is flagged and fails."""
    import torch

    from bertrbp.model import load_classifier, save_checkpoint

    model, tokenizer, _ = load_classifier("tiny", seed=0)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
    start = save_checkpoint(model, tokenizer, tmp_path / "zero_head")
    train = write_fasta(tmp_path / "train.fa", motif_sequences(80, seed=4, length=31))
    out = tmp_path / "out"
    result = run_tool(
        "finetune",
        "--train",
        train,
        "--output-dir",
        out,
        "--model",
        start,
        "--lr",
        "1e-12",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--threads",
        "1",
        "--fail-on-collapse",
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "WARNING: THE MODEL COLLAPSED" in result.stderr and "--lr" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["collapsed"] is True and metrics["collapse"]["reasons"]
    assert json.loads((out / "model_card.json").read_text())["collapsed"] is True
    assert "collapsed" in (out / "model_card.md").read_text()


def test_cli_help_mentions_effective_batch():
    result = run_tool("finetune", "--help")
    assert "effective batch of 128" in " ".join(result.stdout.split())
    assert "--grad-accum" in result.stdout


def test_cli_bad_input_exits_2_without_outputs(tmp_path, capsys):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a class:1\nACGTXX\n>b class:0\nACGTAC\n")
    out = tmp_path / "out"
    assert run_cli("finetune", "--train", bad, "--output-dir", out, "--model", "tiny", "--threads", "1") == 2
    stderr = capsys.readouterr().err
    assert "error:" in stderr and "bad.fa" in stderr and "'X'" in stderr
    assert not (out / "model").exists() and not (out / "metrics.json").exists()
    unlabeled = tmp_path / "nolabel.fa"
    unlabeled.write_text(">a\nACGTAC\n")
    assert run_cli("finetune", "--train", unlabeled, "--output-dir", out, "--model", "tiny", "--threads", "1") == 2
    assert "no label" in capsys.readouterr().err
    one_class = write_fasta(tmp_path / "one.fa", [(f"x{i}", "ACGTACGTAC", 1) for i in range(20)])
    assert run_cli("finetune", "--train", one_class, "--output-dir", out, "--model", "tiny", "--threads", "1") == 2
    assert "each class needs" in capsys.readouterr().err
    assert not (out / "model").exists()


def test_an_output_dir_over_the_start_model_or_an_input_is_refused_and_changes_nothing(
    tiny_checkpoint, tmp_path, capsys
):
    """--model RUN/model --output-dir RUN replaced the start's weights with the new ones, and --output-dir
    RUN/model wrote the new run's model and cards into the start's folder, both with exit 0."""
    import shutil

    start = tmp_path / "run" / "model"
    shutil.copytree(tiny_checkpoint, start)
    before = {p.name: p.read_bytes() for p in start.iterdir()}
    train = write_fasta(tmp_path / "train.fa", motif_sequences(40, seed=3, length=41))
    for out in (start.parent, start):
        assert run_cli("finetune", "--train", train, "--model", start, "--output-dir", out, "--threads", "1") == 2
        assert "would replace the --model folder" in capsys.readouterr().err
        assert {p.name: p.read_bytes() for p in start.iterdir()} == before
    assert sorted(p.name for p in start.parent.iterdir()) == ["model"]
    kept = start.parent / "metrics.json"
    shutil.copy(train, kept)
    assert run_cli("finetune", "--train", kept, "--model", "tiny", "--output-dir", start.parent, "--threads", "1") == 2
    assert "would replace the --train file" in capsys.readouterr().err
    assert kept.read_bytes() == train.read_bytes()


@pytest.mark.parametrize("blocker", ["metrics.json", "model_card.json", "model", "members"])
def test_an_output_blocked_in_the_output_dir_is_refused_before_training(tmp_path, capsys, blocker):
    """A folder named metrics.json was found only after training: exit 2 with model/ published and no metrics or
    cards beside it. A file named members blocks only an ensemble (a single model writes no members/)."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(60, seed=8, length=31))
    out = tmp_path / "out"
    out.mkdir()
    if blocker in ("model", "members"):
        (out / blocker).write_text("mine\n")
    else:
        (out / blocker).mkdir()
    ensemble = ["--model", "kmer", "--model", "kmer-pos"] if blocker == "members" else ["--model", "kmer"]
    assert run_cli("finetune", "--train", train, *ensemble, "--output-dir", out, "--threads", "1") == 2
    assert "in the way" in capsys.readouterr().err.strip().splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == [blocker]  # nothing trained, nothing written
    if blocker == "members":  # one model: members/ is not an output, so the file is no obstacle
        assert run_cli("finetune", "--train", train, "--model", "kmer", "--output-dir", out, "--threads", "1") == 0
        assert (out / "members").read_text() == "mine\n" and (out / "model").is_dir()


def test_a_run_whose_loss_turns_nan_stops_and_publishes_nothing(tmp_path, capsys):
    """At --lr 1e20 the weights overflow: the run trained on and published a NaN model with exit 0 before."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(80, seed=4, length=31))
    out = tmp_path / "out"
    args = ["--train", train, "--model", "tiny", "--lr", "1e20", "--epochs", "2", "--output-dir", out]
    assert run_cli("finetune", *args, "--threads", "1") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: training diverged: the training loss of epoch 1") and "Lower --lr" in error
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]  # no model/, metrics or cards


def test_cnn_baseline_trains_and_predicts(tmp_path):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(200, seed=5))
    test = write_fasta(tmp_path / "test.fa", motif_sequences(100, seed=6))
    out = tmp_path / "out"
    assert (
        run_cli(
            "finetune",
            "--train",
            train,
            "--output-dir",
            out,
            "--model",
            "cnn",
            "--epochs",
            "6",
            "--batch-size",
            "16",
            "--threads",
            "1",
        )
        == 0
    )
    assert json.loads((out / "model" / "config.json").read_text())["model_type"] == "bertrbp-cnn"
    assert json.loads((out / "model_card.json").read_text())["hyperparameters"]["lr"] == 1e-3  # CNN default
    assert run_cli("predict", "--model", out / "model", test, "-o", tmp_path / "p.tsv", "--threads", "1") == 0
    assert run_cli("evaluate", tmp_path / "p.tsv", "-o", tmp_path / "m.json") == 0
    assert json.loads((tmp_path / "m.json").read_text())["auroc"] > 0.9


def test_cnn_depth_flags_shape_a_new_cnn_and_are_refused_elsewhere(tmp_path, capsys):
    """--cnn-conv-layers/--cnn-lstm build the CNN asked for (config, card, parameter count); without a new CNN to
    shape they are one error line and exit 2, before anything is written."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(120, seed=7))
    common = ["--train", train, "--epochs", "1", "--batch-size", "16", "--threads", "1"]
    shallow, default = tmp_path / "shallow", tmp_path / "default"
    assert (
        run_cli(
            "finetune", *common, "--output-dir", shallow, "--model", "cnn", "--cnn-conv-layers", "1", "--cnn-lstm", "0"
        )
        == 0
    )
    assert run_cli("finetune", *common, "--output-dir", default, "--model", "cnn") == 0
    config = json.loads((shallow / "model" / "config.json").read_text())
    assert (config["conv_layers"], config["lstm_hidden"]) == (1, 0)
    card = json.loads((shallow / "model_card.json").read_text())
    assert card["hyperparameters"]["cnn"] == {"conv_layers": 1, "lstm_hidden": 0, "pool_bins": 4}
    assert json.loads((default / "model_card.json").read_text())["hyperparameters"]["cnn"]["lstm_hidden"] == 32

    def size(folder):
        from bertrbp.model import load_classifier

        return sum(p.numel() for p in load_classifier(str(folder / "model"))[0].parameters())

    assert size(shallow) < size(default) / 2
    # --resume continues only the CNN it started: the same depth resumes, another depth is refused
    assert run_cli("finetune", *common, "--output-dir", shallow, "--model", "cnn", "--resume") == 2
    assert "--resume with different data, split or model" in capsys.readouterr().err
    resumed = ["--model", "cnn", "--cnn-conv-layers", "1", "--cnn-lstm", "0", "--resume"]
    assert run_cli("finetune", *common, "--output-dir", shallow, *resumed) == 0
    # in an ensemble the depth shapes the new CNN only; a saved CNN member keeps its own
    mixed = tmp_path / "mixed"
    members = ["--model", "cnn", "--model", str(default / "model"), "--cnn-lstm", "0"]
    assert run_cli("finetune", *common, "--output-dir", mixed, *members) == 0
    shapes = {json.loads(config.read_text())["lstm_hidden"] for config in (mixed / "model").glob("*/config.json")}
    assert shapes == {0, 32}
    refused = [
        (["--model", "kmer", "--cnn-lstm", "16"], "no --model is the preset 'cnn'"),
        (["--model", str(default / "model"), "--cnn-conv-layers", "3"], "keeps its own architecture"),
        (["--model", "cnn", "--cnn-conv-layers", "0"], "give 1 to 8"),
    ]
    for extra, message in refused:
        out = tmp_path / "refused"
        assert run_cli("finetune", *common, "--output-dir", out, *extra) == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and message in err
        assert not out.exists()


def test_a_run_checkpointed_before_the_step_floor_resumes_at_no_floor_only(tmp_path):
    """Checkpoints written before min_steps existed have no such key: it meant 0 (no floor) then."""
    import torch

    from bertrbp.errors import InputError
    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, TrainConfig, train
    from bertrbp.training.checkpoint import STATE_FILE

    data = _tiny_problem(32)
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)
    config = TrainConfig(epochs=2, batch_size=16, threads=1, max_steps=2)  # stops after one epoch of two
    train(load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / STATE_FILE, weights_only=True)
    del state["config"]["min_steps"]  # as the older code wrote it
    torch.save(state, tmp_path / STATE_FILE)
    with pytest.raises(InputError, match=r"min_steps: 0 -> 300.*--min-steps 0"):
        floor = TrainConfig(epochs=2, batch_size=16, threads=1, max_steps=2, min_steps=300)
        train(load_classifier("tiny", seed=0)[0], source, floor, checkpoint_dir=tmp_path, resume=True)
    again = train(load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path, resume=True)
    assert again.resumed_from_step == 2 and again.global_step == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda best: best.unlink(), "model.safetensors: missing; the kept epoch 1's weights were saved there."),
        (lambda best: best.write_bytes(best.read_bytes()[:100]), "model.safetensors: truncated or corrupt"),
    ],
)
def test_resume_refuses_a_damaged_best_epoch_model(tmp_path, capsys, damage, message):
    """--keep best on --resume reloads checkpoints/best: a cut-short one was a SafetensorError traceback, and a
    missing one published the last epoch's weights under the kept epoch's metrics with exit 0."""
    import torch

    from bertrbp.training.checkpoint import STATE_FILE

    train = write_fasta(tmp_path / "train.fa", motif_sequences(64, seed=7))
    out = tmp_path / "out"
    arguments = ["--train", train, "--model", "tiny", "--epochs", "2", "--min-steps", "0", "--batch-size", "16"]
    arguments += ["--lr", "1e-2", "--threads", "1", "--output-dir", out]
    assert run_cli("finetune", *arguments) == 0
    state = torch.load(out / "checkpoints" / STATE_FILE, weights_only=True)
    state["history"][0]["val_auroc"] = 1.0  # epoch 1 is now the kept one, so its saved weights are reloaded
    torch.save(state, out / "checkpoints" / STATE_FILE)
    best = out / "checkpoints" / "best" / "model.safetensors"
    damage(best)
    before = (out / "model" / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert run_cli("finetune", *arguments, "--resume") == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {best.parent / message}" in err and "Traceback" not in err
    assert (out / "model" / "model.safetensors").read_bytes() == before
