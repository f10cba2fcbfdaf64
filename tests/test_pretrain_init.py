"""bertrbp-pretrain --init-model: stages chain (masked LM, then multi-task; a finished run on a new schedule)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from bertrbp.errors import InputError
from bertrbp.pretrain.init_model import (
    HEADS_FILE,
    continue_task_heads,
    load_start,
    resolve_init_model,
    starting_weights_lines,
)
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


def test_resume_accepts_the_same_start_under_another_path(tmp_path):
    """The identity holds the start's weights checksum, not its folder name: a moved or renamed start resumes."""
    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks, lr=STILL))
    options = _multitask(tmp_path, "run", tasks, init_model=str(tmp_path / "first" / "model"))
    options.train.save_steps = 2
    pretrain(options)
    shutil.copytree(tmp_path / "first" / "model", tmp_path / "moved" / "weights")
    resumed = pretrain(_multitask(tmp_path, "run", tasks, init_model=str(tmp_path / "moved" / "weights"), resume=True))
    assert resumed["initialised_from"]["weights_sha256"] == sha256(tmp_path / "first" / "model" / "model.safetensors")


def test_the_card_records_the_start_as_checked_with_its_exclusions_and_no_absolute_path(tmp_path):
    tasks = _tasks(tmp_path)
    held_out = write_fasta(tmp_path / "held_out.fa", motif_sequences(60, seed=1)[:5])
    pretrain(_multitask(tmp_path, "first", tasks, exclude=[held_out]))
    start = resolve_init_model(str(tmp_path / "first" / "model"), "tiny", 3)
    # the start's card changes after the check: the new card must describe the start that was checked
    card_path = tmp_path / "first" / "model" / "model_card.json"
    first_card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**first_card, "results": {"global_step": 999}}))
    recorded = start.record
    assert recorded["steps"] == first_card["results"]["global_step"] != 999
    assert recorded["source"] == "first/model"  # the checksum identifies the start, not this machine's path
    assert recorded["exclusion"]["excluded_sequences"] == first_card["exclusion"]["excluded_sequences"] > 0
    assert [f["sha256"] for f in recorded["exclusion"]["files"]] == [sha256(held_out)]
    lines = starting_weights_lines(recorded)
    assert "first/model" in lines[0] and "excluded" in lines[1]


def test_task_heads_are_continued_only_from_a_runs_own_model_folder(tmp_path):
    """A bundled or hand-made folder has no heads of its own: a task_heads file that happens to lie beside it
    belongs to something else and must not be read."""
    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks))
    shutil.copytree(tmp_path / "first" / "model", tmp_path / "bundle" / "mine-k3")
    shutil.copy(tmp_path / "first" / HEADS_FILE, tmp_path / "bundle" / HEADS_FILE)
    heads = torch.nn.Linear(64, 2)
    before = heads.weight.detach().clone()
    assert (
        continue_task_heads(
            heads, ["RBFOX", "PUM"], resolve_init_model(str(tmp_path / "bundle" / "mine-k3"), "tiny", 3)
        )
        == 0
    )
    assert torch.equal(heads.weight, before)
    assert (
        continue_task_heads(heads, ["RBFOX", "PUM"], resolve_init_model(str(tmp_path / "first" / "model"), "tiny", 3))
        == 2
    )


def _start_with_config(tiny_checkpoint, folder, **changes):
    """A copy of the tiny checkpoint whose config.json differs from the preset in ``changes``."""
    shutil.copytree(tiny_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


def test_a_start_whose_tensors_differ_in_shape_is_refused_before_loading(tmp_path, tiny_checkpoint):
    """A config that claims the preset's shape over weights of another shape (hand-edited, or written by another
    tool) is caught by comparing tensor shapes, not by a size-mismatch traceback from load_state_dict."""
    from transformers import BertConfig, BertModel

    from bertrbp.model import preset_config
    from bertrbp.pretrain.mlm import build_mlm_model

    folder = _start_with_config(tiny_checkpoint, tmp_path / "start")
    other = BertModel(BertConfig(**{**preset_config("tiny").to_dict(), "max_position_embeddings": 256}))
    save_file({name: t.contiguous() for name, t in other.state_dict().items()}, str(folder / "model.safetensors"))
    with pytest.raises(InputError, match=r"position_embeddings.weight has shape \(256, 64\)"):
        resolve_init_model(str(folder), "tiny", 3)
    load_start(build_mlm_model("tiny", 3, seed=0), resolve_init_model(str(tiny_checkpoint), "tiny", 3))  # the same


def _wrong_starts(tmp_path, tiny_checkpoint) -> dict[str, tuple[list, str]]:
    cnn = tmp_path / "cnn_model"
    run_tool("finetune", "--model", "cnn", "--train", _tasks(tmp_path)[0][1], "--output-dir", cnn, "--epochs", "1")
    positions = _start_with_config(tiny_checkpoint, tmp_path / "positions", max_position_embeddings=256)
    return {
        "k": (["--init-model", tiny_checkpoint, "--k", "4"], "pass --k 3"),
        "size": (["--init-model", tiny_checkpoint, "--model-size", "mini"], "pass --model-size tiny"),
        "cnn": (["--init-model", cnn / "model", "--model-size", "tiny"], "only a k-mer BERT"),
        "missing": (["--init-model", tmp_path / "nowhere", "--model-size", "tiny"], "not a checkpoint folder"),
        "positions": (["--init-model", positions, "--model-size", "tiny"], "max_position_embeddings 256"),
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
    args = (tmp_path / "second", "mine-k3", tmp_path / "gains.md", tmp_path / "gains.tsv", tmp_path / "models")
    with pytest.raises(SystemExit):  # a continued stage must say what chose it over the shipped one
        ship(*args)
    assert not (tmp_path / "models" / "mine-k3").exists()
    folder = ship(*args, decided_by="its spare-site AUROC on 3 held-out sets")
    card = json.loads((folder / "model_card.json").read_text())
    assert card["shipping_decision"] == "its spare-site AUROC on 3 held-out sets"
    assert "What decided to ship it is its spare-site AUROC on 3 held-out sets;" in (folder / "README.md").read_text()
    assert card["weights_sha256"] == sha256(folder / "model.safetensors")
    assert card["usage"].startswith("bertrbp-finetune --model mine-k3 ")
    assert card["finetuning_gains"]["rows"] == [{"suite": "eclip", "difference": "+0.0182"}]
    text = (folder / "README.md").read_text()
    assert "--model mine-k3 " in text and str(tmp_path / "second" / "model") not in text
    assert "not comparable" in text and "| eclip | +0.0182 |" in text
    assert card["initialised_from"]["source"] == "first/model" and str(tmp_path / "first") not in text
    assert card["initialised_from"]["exclusion"] is None and "the start was itself" not in text  # none excluded


def test_ship_checkpoint_drops_the_absolute_start_path_of_an_older_card(tmp_path):
    """Cards written before the start was recorded by ``source`` name its absolute path: the shipped card and its
    README must not, and they gain the start's exclusion report when the start is still there with those weights."""
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    from ship_checkpoint import ship

    tasks = _tasks(tmp_path)
    held_out = write_fasta(tmp_path / "held_out.fa", motif_sequences(60, seed=1)[:5])
    pretrain(_multitask(tmp_path, "first", tasks, exclude=[held_out]))
    pretrain(_multitask(tmp_path, "second", tasks, init_model=str(tmp_path / "first" / "model")))
    start = tmp_path / "first" / "model"
    older = {"name": "model", "weights_sha256": sha256(start / "model.safetensors"), "path": str(start), "steps": 8}
    for card_path in (tmp_path / "second" / "model" / "model_card.json", tmp_path / "second" / "model_card.json"):
        card = json.loads(card_path.read_text())
        card_path.write_text(json.dumps({**card, "initialised_from": older}))
    readme = tmp_path / "second" / "model" / "README.md"
    readme.write_text("\n".join(
        line if not line.startswith("- started from") else starting_weights_lines(older)[0]
        for line in readme.read_text().splitlines()
    ))  # fmt: skip
    assert str(start) in readme.read_text()
    (tmp_path / "gains.md").write_text("| suite |\n|---|\n")
    (tmp_path / "gains.tsv").write_text("suite\n")
    args = (tmp_path / "second", "mine-k3", tmp_path / "gains.md", tmp_path / "gains.tsv", tmp_path / "models")
    folder = ship(*args, decided_by="a test")
    shipped = json.loads((folder / "model_card.json").read_text())["initialised_from"]
    assert "path" not in shipped and shipped["source"] == "first/model"
    assert shipped["exclusion"]["files"][0]["sha256"] == sha256(held_out)
    text = (folder / "README.md").read_text()
    assert str(start) not in text and "started from first/model" in text and "5 sequences of 1 files excluded" in text

    # a README without its results section is refused, and the shipped folder stays as it was
    readme.write_text(readme.read_text().replace("## Results (validation)", "## Results"))
    shipped_before = {f.name: f.read_bytes() for f in folder.iterdir()}
    with pytest.raises(SystemExit):
        ship(*args, decided_by="a test")
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == shipped_before
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["mine-k3"]


def test_the_start_entry_names_no_absolute_path_at_any_depth_and_survives_an_odd_card(tmp_path):
    """Older cards name their start by an absolute ``path`` (nested when stages chain), list exclusion files as
    bare paths and may hold ``results: null``: the new entry must carry none of those paths and not fail."""
    from bertrbp.pretrain.init_model import start_record

    folder = tmp_path / "run2" / "model"
    folder.mkdir(parents=True)
    older = {
        "results": None,
        "exclusion": {"excluded_sequences": 3, "files": ["/abs/data/rbp31/EXP/test.fa.gz"]},
        "initialised_from": {
            "name": "model", "path": "/abs/run1/model", "weights_sha256": "ab",
            "initialised_from": {"name": "model", "path": "/abs/run0/model", "weights_sha256": "cd"},
        },
    }  # fmt: skip
    record = start_record(str(folder), folder, "ef", older)
    assert record["source"] == "run2/model" and record["steps"] is None
    assert record["exclusion"] == {"excluded_sequences": 3, "files": [{"file": "EXP/test.fa.gz", "sha256": None}]}
    assert record["initialised_from"]["source"] == "run1/model"
    assert record["initialised_from"]["initialised_from"]["source"] == "run0/model"
    assert "/abs" not in json.dumps(record) and str(tmp_path) not in json.dumps(record)
    assert start_record("bertrbp-mini-k3", folder, "ef", {})["source"] == "bertrbp-mini-k3"  # a bundled name as given


def test_ship_checkpoint_retire_as_keeps_the_outgoing_card_and_points_to_its_committed_weights(tmp_path, capsys):
    """--retire-as: the replaced card goes to candidates/ with an entry whose ``git show`` command gives back the
    replaced weights (the card's checksum); weights not committed as shipped are refused before anything changes."""
    import subprocess
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    import ship_checkpoint

    tasks = _tasks(tmp_path)
    pretrain(_multitask(tmp_path, "first", tasks))
    pretrain(_multitask(tmp_path, "second", tasks, init_model=str(tmp_path / "first" / "model")))
    repo = tmp_path / "repo"
    models, candidates = repo / "assets" / "models", repo / "bench" / "candidates"
    (tmp_path / "gains.md").write_text("| suite |\n|---|\n")
    (tmp_path / "gains.tsv").write_text("suite\n")
    gains = ["--gains-md", str(tmp_path / "gains.md"), "--gains-tsv", str(tmp_path / "gains.tsv")]
    where = ["--name", "mine-k3", "--models", str(models), "--candidates", str(candidates), *gains]
    ship_checkpoint.main(["--run", str(tmp_path / "first"), *where])
    shipped = models / "mine-k3"
    outgoing_card = (shipped / "model_card.json").read_bytes()
    outgoing_sha = json.loads(outgoing_card)["weights_sha256"]
    retire = ["--run", str(tmp_path / "second"), "--retire-as", "mine-k3-stage1", "--decided-by", "a\nrule", *where]

    def refused(argv, phrase):
        capsys.readouterr()  # drop what the runs before printed
        with pytest.raises(SystemExit) as stop:
            ship_checkpoint.main(argv)
        error = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(error) == 1 and phrase in error[0], error
        assert not candidates.exists()

    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    refused(retire, "git cannot read the history")  # no commit yet
    assert (shipped / "model_card.json").read_bytes() == outgoing_card
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "ship stage 1"], check=True)
    ship_checkpoint.main(["--run", str(tmp_path / "second"), "--decided-by", "x", *where])  # shipped, not committed
    refused(retire, "not committed as shipped")
    subprocess.run([*git, "checkout", "-q", "--", "."], check=True)
    assert (shipped / "model_card.json").read_bytes() == outgoing_card
    refused([*retire[:3], "../outside", *retire[4:]], "not a plain folder name")

    ship_checkpoint.main(retire)
    archived = candidates / "mine-k3-stage1"
    assert (archived / "model_card.json").read_bytes() == outgoing_card
    assert sorted(p.name for p in archived.iterdir()) == sorted(ship_checkpoint.CARD_FILES)
    assert (archived / "README.md").read_text().startswith("> Retired: shipped as `mine-k3` until ")
    assert sha256(shipped / "model.safetensors") != outgoing_sha  # the second stage is shipped now
    entry = (candidates / "README.md").read_text()
    assert entry.count("- `mine-k3-stage1/`") == 1 and "What chose its successor: a rule\n" in entry
    show = entry.split("`git show ")[1].split(" > ")[0]
    weights = subprocess.run([*git, "show", show], check=True, capture_output=True).stdout
    assert hashlib.sha256(weights).hexdigest() == outgoing_sha

    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "ship stage 2"], check=True)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:  # the archive name is taken: refused, the shipped stage stays
        ship_checkpoint.main(["--run", str(tmp_path / "first"), *retire[2:]])
    assert stop.value.code == 2 and "exists already" in capsys.readouterr().err
    assert sha256(shipped / "model.safetensors") != outgoing_sha


def test_an_output_dir_over_the_start_or_an_input_is_refused_and_changes_nothing(tmp_path):
    """--output-dir RUN/model with --init-model RUN/model replaced the start's model_card.json (its weights then
    carried a card of other weights), and --output-dir RUN replaced the start itself, both with exit 0."""
    corpus = motif_corpus(tmp_path / "corpus.fa", n=40)
    config = dict(lr=2e-3, epochs=1, batch_size=16, warmup_ratio=0.1, seed=3, threads=1, max_steps=1)

    def options(out, **changes) -> PretrainOptions:
        settings = dict(corpus=[corpus], output_dir=out, model_size="tiny", window=64, stride=32)
        return PretrainOptions(**{**settings, **changes}, train=TrainConfig(**config))

    pretrain(options(tmp_path / "first"))
    start = tmp_path / "first" / "model"
    before = {p.name: p.read_bytes() for p in start.iterdir()}
    shutil.rmtree(tmp_path / "first" / "checkpoints")  # a finished run, its checkpoint cleaned away
    for out in (start, start.parent):
        with pytest.raises(InputError, match="--init-model folder"):
            pretrain(options(out, init_model=str(start)))
        assert {p.name: p.read_bytes() for p in start.iterdir()} == before
    assert not (start / "checkpoints").exists() and not (start.parent / "checkpoints").exists()
    pretrain(options(start / "stage2", init_model=str(start)))  # a folder inside the start replaces nothing of it
    assert {p.name: p.read_bytes() for p in start.iterdir() if p.is_file()} == before

    beside = tmp_path / "beside"
    beside.mkdir()
    shutil.copy(corpus, beside / "metrics.json")
    with pytest.raises(InputError, match="--corpus file"):
        pretrain(options(beside, corpus=[beside / "metrics.json"]))
    assert (beside / "metrics.json").read_bytes() == corpus.read_bytes()


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"exclusion": {"files": 5}}, "exclusion in the card"),
        ({"exclusion": {"files": "test.fa"}}, "exclusion in the card"),
        ({"corpus": {"exclusion_files": [7]}}, "corpus in the card"),
        ({"initialised_from": {"path": 3}}, "path in initialised_from in the card"),
    ],
)
def test_a_start_card_with_fields_of_other_types_is_set_aside_with_a_warning(
    tmp_path, tiny_checkpoint, caplog, card, field
):
    """The start's model_card.json is optional (an unreadable one is set aside with a warning), but one with a
    number as its exclusion files or a start path was a TypeError traceback, and a text file list was recorded
    letter by letter as excluded files. Now it is set aside the same way, naming the field."""
    from inprocess import run_cli

    caplog.set_level(logging.INFO, logger="bertrbp")
    start = shutil.copytree(tiny_checkpoint, tmp_path / "start")
    (start / "model_card.json").write_text(json.dumps(card))
    corpus = motif_corpus(tmp_path / "corpus.fa", n=20)
    out = tmp_path / "out"
    arguments = ["--corpus", corpus, "--output-dir", out, "--model-size", "tiny", "--window", "64", "--max-steps", "1"]
    assert run_cli("pretrain", *arguments, "--batch-size", "16", "--threads", "1", "--init-model", start) == 0
    warning = f"--init-model: {start / 'model_card.json'}: {field}, not as bertrbp-pretrain writes it"
    assert [r.levelname for r in caplog.records if warning in r.getMessage()] == ["WARNING"]
    recorded = json.loads((out / "model_card.json").read_text())["initialised_from"]
    assert recorded["exclusion"] is None and recorded["initialised_from"] is None
