"""The training recipe defaults (learning rates per model kind, epochs, early stopping, bf16 policy) are pinned
here, and a random-init preset trained at its defaults learns instead of stalling or collapsing."""

from __future__ import annotations

import json

import pytest

from inprocess import run_cli
from synthetic import motif_sequences, write_fasta


@pytest.mark.parametrize(
    "source, lr, epochs, patience, min_steps",
    [
        ("zhihan1996/DNA_bert_3", 2e-4, 3, 2, 0),  # pretrained checkpoint: the BERT-RBP authors' recipe
        ("bertrbp-mini-k3", 5e-4, 8, 2, 0),  # a checkpoint narrower than DNABERT: its width's random-init rate
        ("bertrbp-small-k3", 2e-4, 8, 2, 0),  # the gains in its card were measured at this recipe
        ("tiny", 1e-3, 8, 2, 300),  # random init: a floor of 300 optimizer steps on small sets
        ("mini", 5e-4, 8, 2, 300),
        ("small", 2e-4, 8, 2, 300),
        ("medium", 1e-4, 8, 2, 300),
        ("base", 1e-4, 8, 2, 300),
        ("cnn", 1e-3, 10, 2, 0),
    ],
)
def test_default_recipe_per_model_kind(source, lr, epochs, patience, min_steps):
    from bertrbp.recipe import default_recipe

    recipe = default_recipe(source)
    assert (recipe.lr, recipe.epochs, recipe.patience, recipe.min_steps) == (lr, epochs, patience, min_steps)
    assert default_recipe(source, recipe="paper").min_steps == 0  # the authors' protocol has no floor


def test_the_step_floor_yields_to_explicit_epochs_and_to_an_explicit_floor():
    from bertrbp.recipe import resolve

    assert resolve("mini", epochs=1).min_steps == 0  # --epochs 1 alone: at most one epoch, as asked
    assert resolve("mini", epochs=1, min_steps=50).min_steps == 50
    assert resolve("cnn", min_steps=100).min_steps == 100
    assert resolve("mini", patience=0).min_steps == 300  # other settings keep the recipe's floor


def test_the_step_floor_adds_epochs_on_small_sets_and_holds_off_early_stopping(tmp_path):
    """32 sequences in batches of 16 = 2 steps an epoch; the validation loss only gets worse after epoch 1."""
    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, TrainConfig, train
    from bertrbp.training.trainer import planned_epochs
    from test_finetune import _tiny_problem

    assert planned_epochs(TrainConfig(epochs=8, min_steps=300), 15) == 20  # 500 eCLIP sites: 15 steps an epoch
    assert planned_epochs(TrainConfig(epochs=8, min_steps=300), 254) == 8  # all sites: the floor adds nothing
    assert planned_epochs(TrainConfig(epochs=8, min_steps=300), 16) == 19  # 18.75 epochs: round up
    assert planned_epochs(TrainConfig(epochs=8), 15) == 8

    data = _tiny_problem(32)
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)

    def worsening(model, ctx):
        return {"val_loss": 0.5 + ctx.epoch}

    def run(**settings):
        config = TrainConfig(batch_size=16, threads=1, bf16="no", **settings)
        return train(load_classifier("tiny", seed=0)[0], source, config, epoch_end=worsening)

    no_floor = run(epochs=6, patience=1)
    assert no_floor.stopped_early and len(no_floor.history) == 2 and no_floor.planned_epochs == 6
    held = run(epochs=6, patience=1, min_steps=8)  # no stop before step 8 (epoch 4), then at once
    assert held.stopped_early and len(held.history) == 4 and held.global_step == 8
    more = run(epochs=2, patience=0, min_steps=8)  # 2 epochs x 2 steps < 8: four epochs planned and run
    assert (more.planned_epochs, more.total_steps, more.global_step, len(more.history)) == (4, 8, 8, 4)


@pytest.mark.parametrize("preset, lr, epochs", [("tiny", 1e-3, 8), ("small", 2e-4, 8), ("base", 2e-4, 3)])
def test_a_local_checkpoint_trains_by_its_width(tmp_path, preset, lr, epochs):
    """Only DNABERT-wide checkpoints keep the paper's 2e-4 x 3 epochs; the paper recipe stays the paper's."""
    from bertrbp.model import preset_config
    from bertrbp.recipe import default_recipe

    folder = tmp_path / preset
    folder.mkdir()
    preset_config(preset).to_json_file(folder / "config.json")
    recipe = default_recipe(str(folder))
    assert (recipe.lr, recipe.epochs, recipe.patience) == (lr, epochs, 2)
    paper = default_recipe(str(folder), recipe="paper")
    assert (paper.lr, paper.epochs, paper.patience) == (2e-4, 3, 0)


@pytest.mark.parametrize("width, lr", [(32, 1e-3), (96, 1e-3), (192, 5e-4), (384, 2e-4), (640, 1e-4)])
def test_a_checkpoint_between_preset_widths_takes_the_rate_of_the_widest_preset_it_exceeds(tmp_path, width, lr):
    """Not only the preset widths: a 384-wide checkpoint must not fall back to the paper's 2e-4 x 3 epochs."""
    from bertrbp.recipe import default_recipe

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": width}))
    recipe = default_recipe(str(tmp_path))
    assert (recipe.lr, recipe.epochs, recipe.patience) == (lr, 8, 2)


def test_paper_rate_is_an_explicit_choice_and_user_settings_win():
    from bertrbp.errors import InputError
    from bertrbp.recipe import PAPER_RANDOM_INIT_LR, default_recipe, resolve

    assert PAPER_RANDOM_INIT_LR == 2e-3
    assert default_recipe("small", "paper").lr == 2e-3 and default_recipe("small").lr == 2e-4
    assert default_recipe("cnn", "paper").lr == 1e-3  # the policy concerns random-init BERTs only
    assert resolve("mini", lr=3e-4, epochs=2, patience=0) == type(resolve("mini"))(3e-4, 2, 0, min_steps=0)
    with pytest.raises(InputError, match="--lr-policy"):
        default_recipe("mini", "fast")


def test_model_kind_of_sources(tmp_path):
    from bertrbp.model import load_classifier, model_kind, save_checkpoint

    assert [model_kind(s) for s in ("tiny", "cnn", "kmer", "kmer-pos", "org/model")] == [
        "bert-random",
        "cnn",
        "kmer",
        "kmer-pos",
        "bert-pretrained",
    ]
    for source in ("cnn", "kmer", "kmer-pos"):  # a saved folder keeps its kind (kmer-pos: by its position bins)
        model, tokenizer, _ = load_classifier(source, seed=0)
        assert model_kind(str(save_checkpoint(model, tokenizer, tmp_path / source))) == source


def test_bf16_policy():
    import torch

    from bertrbp.device import cpu_has_native_bf16, use_bf16

    amx = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_bf16 amx_tile\n"
    plain = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n"
    assert cpu_has_native_bf16(amx) and not cpu_has_native_bf16(plain)
    assert use_bf16(torch.device("cpu"), "auto") == cpu_has_native_bf16()
    assert use_bf16(torch.device("cpu"), "yes") and not use_bf16(torch.device("cpu"), "no")
    assert use_bf16(torch.device("cuda"), "auto")


def test_classification_head_stays_float32_under_bf16():
    """bf16 logits have steps of ~0.008: nearly-equal scores would tie. The head runs in float32."""
    import torch

    from bertrbp.model import load_classifier
    from bertrbp.tokenizer import KmerTokenizer

    model, _, _ = load_classifier("tiny", seed=0)
    ids, mask = KmerTokenizer(3).encode_batch(["ACGTTGCAAGT" * 3, "ACGTTGCAAGA" * 3])
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model.eval()(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
    assert logits.dtype == torch.float32


def test_early_stopping_stops_after_patience_and_keeps_the_decision_on_resume(tmp_path):
    from bertrbp.model import load_classifier
    from bertrbp.training import ArrayBatches, EarlyStopping, TrainConfig, train
    from test_finetune import _tiny_problem

    stop = EarlyStopping(2)
    assert not stop.should_stop([{"val_loss": 0.6}, {"val_loss": 0.5}, {"val_loss": 0.55}])
    assert stop.should_stop([{"val_loss": 0.6}, {"val_loss": 0.5}, {"val_loss": 0.55}, {"val_loss": 0.51}])
    assert not EarlyStopping(0).should_stop([{"val_loss": 0.1}] + [{"val_loss": 1.0}] * 5)
    assert not stop.should_stop([{"train_loss": 1.0}] * 5)  # no validation metric: never stops

    data = _tiny_problem(32)
    source = ArrayBatches(input_ids=data.input_ids, attention_mask=data.attention_mask, labels=data.labels)
    losses = iter([0.6, 0.5, 0.7, 0.8, 0.4, 0.3])  # best at epoch 2, no better for the next 2: stop after 4

    def validate(model, ctx):
        return {"val_loss": next(losses)}

    config = TrainConfig(epochs=6, batch_size=16, threads=1, patience=2, bf16="no")
    result = train(load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path, epoch_end=validate)
    assert result.stopped_early and [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    again = train(
        load_classifier("tiny", seed=0)[0], source, config, checkpoint_dir=tmp_path, resume=True, epoch_end=validate
    )
    assert again.stopped_early and len(again.history) == 4  # resumed: stays stopped, trains nothing more


def test_random_init_preset_at_defaults_learns_without_stall_or_collapse(tmp_path):
    """tiny at its default recipe (no --lr, no --epochs) on a planted motif: learns, and trains its step floor."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(400, seed=31, length=61))
    out = tmp_path / "out"
    assert run_cli("finetune", "--train", train, "--output-dir", out, "--model", "tiny", "--threads", "1") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    card = json.loads((out / "model_card.json").read_text())
    assert card["hyperparameters"]["lr"] == 1e-3 and card["hyperparameters"]["patience"] == 2
    # 400 sites: 360 train in batches of 32 = 12 steps an epoch, so the 300-step floor plans 25 epochs, all run
    assert card["hyperparameters"]["epochs"] == 8 and card["hyperparameters"]["min_steps"] == 300
    assert metrics["early_stopping"]["planned_epochs"] == 25 and len(metrics["epochs"]) == 25
    card_text = (out / "model_card.md").read_text()
    assert "25 of 25 epochs" in card_text and "at least 300 steps" in card_text
    assert metrics["model_kind"] == "bert-random"
    assert not metrics["collapsed"] and not metrics["stalled"]
    assert metrics["validation"]["val_auroc"] > 0.9
    assert not metrics["early_stopping"]["stopped_early"]  # the floor is first reached at the last planned epoch


def test_cli_documents_the_recipe_flags():
    from helpers import run_tool

    text = " ".join(run_tool("finetune", "--help").stdout.split())
    for flag in ("--patience", "--lr-policy", "--recipe", "--seeds", "--ensemble", "kmer"):
        assert flag in text
    assert "2e-3" in text  # the paper's rate is documented as an explicit choice


@pytest.mark.parametrize("source, lr", [("zhihan1996/DNA_bert_3", 2e-4), ("small", 2e-3), ("tiny", 2e-3)])
def test_paper_recipe_sets_the_authors_training(source, lr):
    """--recipe paper: 32 x 4 = 128, no validation carve, 3 epochs, last kept, no early stop, fp32, paper's rate."""
    from bertrbp.recipe import resolve

    recipe = resolve(source, recipe="paper")
    assert (recipe.lr, recipe.epochs, recipe.patience, recipe.grad_accum) == (lr, 3, 0, 4)
    assert (recipe.val_fraction, recipe.keep, recipe.bf16, recipe.name) == (0.0, "last", "no", "paper")
    default = resolve(source)
    assert (default.grad_accum, default.val_fraction, default.keep, default.bf16) == (1, 0.1, "best", "auto")


def test_explicit_settings_win_over_the_paper_recipe():
    from bertrbp.errors import InputError
    from bertrbp.recipe import resolve

    mine = resolve(
        "small", lr=1e-4, epochs=1, patience=1, recipe="paper", grad_accum=2, val_fraction=0.2, keep="best", bf16="yes"
    )
    assert (mine.lr, mine.epochs, mine.patience, mine.grad_accum, mine.val_fraction, mine.keep, mine.bf16) == (
        1e-4,
        1,
        1,
        2,
        0.2,
        "best",
        "yes",
    )
    assert resolve("small", recipe="paper", lr_policy="default").lr == 2e-4  # the project's rate, paper protocol
    assert resolve("small", lr_policy="paper").lr == 2e-3 and resolve("small", lr_policy="paper").keep == "best"
    assert resolve("kmer", recipe="paper").val_fraction == 0.1  # the k-mer fit needs its validation split
    assert resolve("kmer-pos", recipe="paper") == resolve("kmer", recipe="paper")
    with pytest.raises(InputError, match="--recipe"):
        resolve("mini", recipe="authors")


def test_paper_recipe_trains_on_every_record_and_keeps_the_last_epoch(tmp_path):
    """A tiny run under --recipe paper (epochs cut to 2 explicitly): 256 records, 2 optimizer steps of 128 per
    epoch, no validation set, epoch 2 kept, fp32; the card and metrics.json record the recipe."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(256, seed=5, length=41))
    out = tmp_path / "out"
    assert (
        run_cli(
            "finetune",
            "--train",
            train,
            "--output-dir",
            out,
            "--model",
            "tiny",
            "--recipe",
            "paper",
            "--epochs",
            "2",
            "--threads",
            "1",
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    card = json.loads((out / "model_card.json").read_text())
    hp = card["hyperparameters"]
    assert card["data"]["counts"]["train"] == {"total": 256, "label_0": 128, "label_1": 128}
    assert card["data"]["counts"]["validation"] is None and card["data"]["validation_source"].startswith("none")
    assert (hp["recipe"], hp["lr"], hp["epochs"], hp["batch_size"], hp["grad_accum"], hp["effective_batch"]) == (
        "paper",
        2e-3,
        2,
        32,
        4,
        128,
    )
    assert (hp["patience"], hp["val_fraction"], hp["keep"], hp["bf16"], card["bf16"]) == (0, 0.0, "last", "no", False)
    assert card["optimizer_steps"] == 4  # 256 records / 128 per step x 2 epochs: every record trained on
    assert metrics["recipe"] == "paper" and metrics["kept"] == "last"
    assert metrics["kept_epoch"] == 2 and [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["validation"]["val_auroc"] is None and not metrics["early_stopping"]["stopped_early"]
    assert "Recipe: paper" in (out / "model_card.md").read_text()


def test_no_validation_set_refuses_best_epoch_selection(tmp_path, capsys):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(64, seed=5, length=41))
    out = tmp_path / "out"
    code = run_cli(
        "finetune",
        "--train",
        train,
        "--output-dir",
        out,
        "--model",
        "tiny",
        "--recipe",
        "paper",
        "--keep",
        "best",
        "--threads",
        "1",
    )
    assert code == 2 and "--keep last" in capsys.readouterr().err and not (out / "metrics.json").exists()


def test_min_steps_from_the_command_line_reaches_the_run_and_its_card(tmp_path):
    """--epochs 1 --min-steps 6 on 72 sequences (64 train in batches of 32 = 2 steps an epoch): 3 epochs, 6 steps."""
    train = write_fasta(tmp_path / "train.fa", motif_sequences(72, seed=5, length=41))
    out = tmp_path / "out"
    argv = ["--train", train, "--output-dir", out, "--model", "tiny", "--epochs", "1", "--min-steps", "6"]
    assert run_cli("finetune", *argv, "--threads", "1") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    card = json.loads((out / "model_card.json").read_text())
    assert (card["hyperparameters"]["epochs"], card["hyperparameters"]["min_steps"]) == (1, 6)
    assert metrics["early_stopping"]["planned_epochs"] == 3 and len(metrics["epochs"]) == 3
    assert card["optimizer_steps"] == 6


def test_every_text_that_states_the_step_floor_states_the_recipe_value(repo):
    """The floor's value is written in help texts the code cannot format (schema, Galaxy, README, configs): each
    such statement must match bertrbp.recipe.BERT_MIN_STEPS, so changing the default cannot leave one behind."""
    import re

    from bertrbp.recipe import BERT_MIN_STEPS

    pattern = re.compile(r"at least (\d+) (?:optimizer )?steps|(\d+) for a random-init BERT|min_steps, (\d+)")
    files = ["README.md", "nextflow_schema.json", "galaxy/bertrbp_finetune.xml", "conf/test.config",
             "bin/bertrbp/cli/finetune.py", "scripts/demo.sh", "docs/architecture.md"]  # fmt: skip
    found = {
        (name, int(next(g for g in match.groups() if g)))
        for name in files
        for match in pattern.finditer((repo / name).read_text())
    }
    assert {name for name, _ in found} == set(files)  # each file states it (else the pattern went stale)
    assert {value for _, value in found} == {BERT_MIN_STEPS}, sorted(found)
