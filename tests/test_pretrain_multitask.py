"""Multi-task pretraining (one head per experiment on a shared encoder) and short names for bundled checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from bertrbp.errors import InputError
from bertrbp.model import load_classifier, model_kind, resolve_model_source
from bertrbp.pretrain import multitask_run
from bertrbp.pretrain.exclusion import ExclusionSet, reverse_complement
from bertrbp.pretrain.multitask import UNLABELLED, TaskTable, build_task_table, parse_task
from bertrbp.pretrain.run import PretrainOptions, pretrain
from bertrbp.training import TrainConfig
from helpers import assert_same_weights, run_tool
from synthetic import motif_sequences, write_fasta


def test_task_table_merges_shared_sequences_and_drops_excluded_either_strand(tmp_path):
    shared, only_a, only_b, test_site = "ACGT" * 10, "AAAC" * 10, "GGGT" * 10, "TTGCA" * 8
    a = write_fasta(tmp_path / "a.fa", [("s1", shared, 1), ("s2", only_a, 0), ("s3", test_site, 1)])
    b = write_fasta(tmp_path / "b.fa", [("t1", shared, 0), ("t2", only_b, 1), ("t3", reverse_complement(test_site), 0)])
    excluded = ExclusionSet()
    excluded.add(test_site, "test.fa: record 'x'")
    table = build_task_table([("A", a), ("B", b)], excluded, max_length=500)
    assert sorted(table.sequences) == sorted([shared, only_a, only_b])
    row = {seq: table.labels[i].tolist() for i, seq in enumerate(table.sequences)}
    assert row[shared] == [1, 0] and row[only_a] == [0, UNLABELLED] and row[only_b] == [UNLABELLED, 1]
    report = {r["task"]: r for r in table.report}
    assert (report["A"]["read"], report["A"]["excluded"], report["A"]["kept"]) == (3, 1, 2)
    assert (report["B"]["read"], report["B"]["excluded"], report["B"]["kept"], report["B"]["positives"]) == (3, 1, 2, 1)


@pytest.mark.parametrize("spec", ["novalue", "=x.fa", "name="])
def test_task_spec_must_be_name_equals_file(spec):
    with pytest.raises(InputError, match="NAME=FILE"):
        parse_task(spec)


@pytest.mark.parametrize("spec", ["A,B=x.fa", "PUM 2=x.fa", "PUM2/K562=x.fa"])
def test_task_names_are_plain_so_the_head_list_stays_unambiguous(spec):
    with pytest.raises(InputError, match="letters, digits"):
        parse_task(spec)
    assert parse_task("18_ICLIP_hnRNPL_U266_group-x.y= a.fa ") == ("18_ICLIP_hnRNPL_U266_group-x.y", Path("a.fa"))


def test_multitask_pretraining_learns_each_task_and_its_encoder_loads_into_finetune(tmp_path):
    """Two tasks with different planted motifs; one test site planted in a task file must be dropped and reported."""
    rbfox = motif_sequences(300, seed=1)  # TGCATG in positives
    pum = [(i, s.replace("TGCATG", "TGTAAA"), y) for i, s, y in motif_sequences(300, seed=2)]
    test_site = rbfox[0]
    task_a = write_fasta(tmp_path / "rbfox.fa", rbfox)
    task_b = write_fasta(tmp_path / "pum.fa", pum)
    test = write_fasta(tmp_path / "test.fa", [("x", reverse_complement(test_site[1]), test_site[2])])
    out = tmp_path / "mt"
    run_tool(
        "pretrain",
        *("--objective", "multitask", "--task", f"RBFOX={task_a}", "--task", f"PUM={task_b}", "--exclude", test),
        *("--output-dir", out, "--model-size", "tiny", "--epochs", "6", "--batch-size", "32", "--lr", "2e-3"),
        *("--val-fraction", "0.2", "--threads", "1", "--seed", "5"),
    )
    card = json.loads((out / "model_card.json").read_text())
    assert card["tasks"] == ["RBFOX", "PUM"]
    by_task = {row["task"]: row for row in card["exclusion"]["tasks"]}
    assert by_task["RBFOX"]["excluded"] == 1 and by_task["PUM"]["excluded"] == 0
    assert card["exclusion"]["files"][0]["name"] == "test.fa" and len(card["exclusion"]["files"][0]["sha256"]) == 64
    task_auroc = card["results"]["val_task_auroc"]
    # 60 validation sequences each: a head that learned nothing sits at 0.5 +- 0.08
    assert min(task_auroc.values()) > 0.65 and sum(task_auroc.values()) / 2 > 0.75, task_auroc
    heads = load_file(out / "task_heads.safetensors")
    assert heads["weight"].shape == (2, 64)
    assert "| RBFOX | 300 | 1 | 299 |" in (out / "model_card.md").read_text()

    model, _, report = load_classifier(str(out / "model"))
    assert report.pretrained and report.newly_initialised == ["classifier.bias", "classifier.weight"]
    assert any(name.startswith("bert.pooler") for name in report.loaded)  # the pooler the heads trained is kept
    assert model_kind(str(out / "model")) == "bert-pretrained"


def test_multitask_and_mlm_inputs_are_not_mixed(tmp_path):
    data = write_fasta(tmp_path / "a.fa", motif_sequences(20, seed=0))
    result = run_tool(
        "pretrain", "--objective", "multitask", "--corpus", data, "--output-dir", tmp_path / "o", check=False
    )
    assert result.returncode == 2 and result.stderr.startswith("error: --objective multitask")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_bundled_checkpoint_loads_by_its_short_name(tmp_path, monkeypatch, tiny_checkpoint):
    collection = tmp_path / "models"
    (collection / "lab-tiny-k3").mkdir(parents=True)
    for item in tiny_checkpoint.iterdir():
        (collection / "lab-tiny-k3" / item.name).write_bytes(item.read_bytes())
    monkeypatch.setenv("BERTRBP_MODELS", str(collection))
    assert resolve_model_source("lab-tiny-k3") == str(collection / "lab-tiny-k3")
    assert resolve_model_source("tiny") == "tiny" and resolve_model_source("org/model") == "org/model"
    model, _, report = load_classifier("lab-tiny-k3")
    reference, _, _ = load_classifier(str(tiny_checkpoint))
    assert report.pretrained
    for (name, value), (_, expected) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert np.array_equal(value.numpy(), expected.numpy()), name
    assert model_kind("lab-tiny-k3") == "bert-pretrained"
    from bertrbp.training.checkpoint import model_identity

    # --resume compares the bundled weights by checksum, not just the name
    assert model_identity("lab-tiny-k3") == model_identity(str(tiny_checkpoint))
    assert model_identity("lab-tiny-k3")["source"] == "folder"
    with pytest.raises(InputError, match="lab-tiny-k3"):  # the error lists what is installed
        load_classifier("lab-tiny-k4")


def _bad_inputs(tmp_path):
    """name -> (extra pretrain arguments, a phrase the one error line must contain)."""
    good = write_fasta(tmp_path / "good.fa", motif_sequences(20, seed=0))
    unlabelled = tmp_path / "unlabelled.fa"
    unlabelled.write_text(">a\nACGTACGTACGT\n>b\nTTTTACGTAAAA\n")
    bound_only = write_fasta(tmp_path / "bound.fa", [(i, s, 1) for i, s, _ in motif_sequences(20, seed=1)])
    short = write_fasta(tmp_path / "short.fa", [*motif_sequences(20, seed=0), ("tiny", "ACG", 1)])
    return {
        # read twice: validation windows with copies in training (mlm), two heads on one file's labels (multitask)
        "corpus given twice": (["--objective", "mlm", "--corpus", good, "--corpus", good], "the same file as --corpus"),
        "task file under two names": (["--task", f"A={good}", "--task", f"B={good}"], "the same file as --task A="),
        # shorter than --k 4: found by the tokenizer mid-training, with no file named and checkpoints/ left behind
        "record shorter than k": (["--task", f"A={short}", "--k", "4"], "'tiny' (line 41) is 3 nt, shorter than k=4"),
        "no labels": (["--task", f"A={good}", "--task", f"B={unlabelled}"], "has no label"),
        "repeated name": (["--task", f"A={good}", "--task", f"A={bound_only}"], "distinct"),
        "missing file": (["--task", f"A={good}", "--task", f"B={tmp_path / 'nope.fa'}"], "--task B="),
        "every site excluded": (["--task", f"A={good}", "--exclude", good], "no sequences left"),
        "one class only": (["--task", f"A={good}", "--task", f"B={bound_only}"], "one class"),
        "task with mlm": (["--objective", "mlm", "--task", f"A={good}", "--corpus", good], "--objective multitask"),
        "no training left": (["--task", f"A={good}", "--val-fraction", "0.99"], "no training sequences"),
        "unknown size": (["--task", f"A={good}", "--model-size", "huge"], "unknown model size"),
        "mlm unknown size": (["--objective", "mlm", "--corpus", good, "--model-size", "huge"], "unknown model size"),
        "mlm no training left": (["--objective", "mlm", "--corpus", good, "--val-fraction", "0.99"], "no training"),
        "mlm-only option": (
            ["--task", f"A={good}", "--window", "64", "--on-overlap", "drop"],
            "--window, --on-overlap",
        ),
        "resume into a new folder": (["--task", f"A={unlabelled}", "--resume"], "has no label"),
        "mlm resume into a new folder": (["--objective", "mlm", "--corpus", good, "--resume", "--k", "9"], "k=9"),
    }


BAD_INPUTS = ["no labels", "repeated name", "missing file", "every site excluded", "one class only", "task with mlm"]
BAD_INPUTS += ["no training left", "unknown size", "mlm unknown size", "mlm no training left"]
BAD_INPUTS += ["resume into a new folder", "mlm resume into a new folder", "mlm-only option", "record shorter than k"]
BAD_INPUTS += ["corpus given twice", "task file under two names"]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_multitask_input_is_one_error_line_and_leaves_nothing(tmp_path, case):
    arguments, phrase = _bad_inputs(tmp_path)[case]
    objective = [] if "--objective" in arguments else ["--objective", "multitask"]
    out = tmp_path / "out"
    size = [] if "--model-size" in arguments else ["--model-size", "tiny"]
    result = run_tool("pretrain", *objective, *arguments, "--output-dir", out, *size, "--threads", "1", check=False)
    errors = [line for line in result.stderr.strip().splitlines() if "error" in line.lower()]
    assert result.returncode == 2 and len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert phrase in errors[0] and "Traceback" not in result.stderr
    assert not out.exists()  # not even checkpoints/run.json


def _multitask_options(tmp_path, tasks, **changes) -> PretrainOptions:
    config = TrainConfig(lr=2e-3, epochs=2, batch_size=16, warmup_ratio=0.1, seed=3, threads=1, save_steps=3)
    return PretrainOptions(
        corpus=[], objective="multitask", tasks=tasks, output_dir=tmp_path / "out", model_size="tiny",
        val_fraction=0.1, train=config, **changes,
    )  # fmt: skip


def test_multitask_resume_continues_exactly_and_refuses_a_rebuilt_table_that_differs(tmp_path, monkeypatch):
    tasks = [("A", write_fasta(tmp_path / "a.fa", motif_sequences(40, seed=1))), ("B", _second_task(tmp_path))]
    pretrain(_multitask_options(tmp_path / "full", tasks))

    shared_train = multitask_run.train

    def interrupted(*args, on_step=None, **kwargs):
        def step(number, loss):
            if on_step is not None:
                on_step(number, loss)
            if number == 7:  # epoch 2 (5 steps each), after the step-6 checkpoint
                raise KeyboardInterrupt

        return shared_train(*args, on_step=step, **kwargs)

    monkeypatch.setattr(multitask_run, "train", interrupted)
    broken = _multitask_options(tmp_path / "part", tasks)
    with pytest.raises(KeyboardInterrupt):
        pretrain(broken)
    monkeypatch.setattr(multitask_run, "train", shared_train)
    broken.resume = True

    shared_build = multitask_run.build_task_table

    def one_sequence_fewer(*args, **kwargs):  # what a change to the reading or exclusion code would do
        table = shared_build(*args, **kwargs)
        return TaskTable(table.names, table.sequences[:-1], table.labels[:-1], table.report)

    monkeypatch.setattr(multitask_run, "build_task_table", one_sequence_fewer)
    with pytest.raises(InputError, match="different task table"):
        pretrain(broken)
    monkeypatch.setattr(multitask_run, "build_task_table", shared_build)
    renamed = _multitask_options(tmp_path / "part", [tasks[1], tasks[0]], resume=True)
    with pytest.raises(InputError, match="different data"):
        pretrain(renamed)
    metrics = pretrain(broken)
    assert metrics["resumed_from_step"] == 6
    assert_same_weights(*(tmp_path / run / "out" / "model" / "model.safetensors" for run in ("full", "part")))


def _second_task(tmp_path):
    records = [(i, s.replace("TGCATG", "TGTAAA"), y) for i, s, y in motif_sequences(40, seed=2)]
    return write_fasta(tmp_path / "b.fa", records)


def test_a_collection_cannot_shadow_a_built_in_model_name(tmp_path, monkeypatch, tiny_checkpoint):
    for name in ("tiny", "kmer", "cnn"):
        (tmp_path / name).mkdir()
        for item in tiny_checkpoint.iterdir():
            (tmp_path / name / item.name).write_bytes(item.read_bytes())
    monkeypatch.setenv("BERTRBP_MODELS", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)  # the folders are not paths relative to here
    assert [resolve_model_source(name) for name in ("tiny", "kmer", "cnn")] == ["tiny", "kmer", "cnn"]
    assert model_kind("tiny") == "bert-random" and model_kind("kmer") == "kmer"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"distinct_sequ', "tasks.json: unreadable (Unterminated string"),
        (b"[80]", "tasks.json: not a task-table record (a JSON object is expected)."),
        (b"\xff\xfe", "tasks.json: unreadable ('utf-8' codec can't decode byte 0xff"),
    ],
)
def test_resume_with_a_damaged_task_table_record_is_one_error_naming_it(tmp_path, capsys, content, message):
    """checkpoints/tasks.json cut short, edited to a list or not text was a JSONDecodeError, AttributeError or
    UnicodeDecodeError traceback on --resume; now one error line names it and says what to delete."""
    from inprocess import run_cli

    a = write_fasta(tmp_path / "a.fa", motif_sequences(40, seed=1))
    tasks = ["--task", f"A={a}", "--task", f"B={_second_task(tmp_path)}"]
    out = tmp_path / "out"
    arguments = ["--objective", "multitask", *tasks, "--output-dir", out, "--model-size", "tiny", "--max-steps", "1"]
    arguments += ["--batch-size", "16", "--threads", "1"]
    assert run_cli("pretrain", *arguments) == 0
    (out / "checkpoints" / "tasks.json").write_bytes(content)
    capsys.readouterr()
    assert run_cli("pretrain", *arguments, "--resume") == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {out / 'checkpoints' / message}" in err
    assert f"Delete {out / 'checkpoints'} to start over." in err and "Traceback" not in err
