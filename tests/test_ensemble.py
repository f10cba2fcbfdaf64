"""Ensembles: the logit is the mean of the members' logits in every tool; finetune trains members and writes an
ensemble folder that the predict-side tools take as one --model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inprocess import run_cli
from synthetic import motif_sequences, write_fasta


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two tiny BERTs of different seeds saved as checkpoints."""
    from bertrbp.model import load_classifier, save_checkpoint

    d = tmp_path_factory.mktemp("members")
    folders = []
    for seed in (1, 2):
        model, tokenizer, _ = load_classifier("tiny", seed=seed)
        folders.append(save_checkpoint(model, tokenizer, d / f"m{seed}"))
    return folders


def test_ensemble_logit_is_the_mean_of_member_logits(members):
    from bertrbp.inference import score_sequences
    from bertrbp.model import load_classifier, open_classifier

    seqs = [s for _, s, _ in motif_sequences(20, seed=21, length=51)]
    device = torch.device("cpu")
    single = [
        score_sequences(load_classifier(str(f))[0].eval(), load_classifier(str(f))[1], seqs, device).logit
        for f in members
    ]
    ensemble, tokenizer, _ = open_classifier([str(f) for f in members])
    combined = score_sequences(ensemble.eval(), tokenizer, seqs, device)
    np.testing.assert_allclose(combined.logit, np.mean(single, axis=0), rtol=0, atol=1e-5)
    np.testing.assert_allclose(combined.probability, 1 / (1 + np.exp(-combined.logit)), atol=1e-12)
    assert np.abs(single[0] - single[1]).max() > 1e-3  # the members differ, so the mean is a real test


def test_predict_with_several_models_writes_mean_logits(members, tmp_path):
    fasta = write_fasta(tmp_path / "x.fa", motif_sequences(12, seed=22, length=51))
    outputs = []
    for i, args in enumerate(
        [["--model", members[0]], ["--model", members[1]], ["--model", members[0], "--model", members[1]]]
    ):
        assert run_cli("predict", *args, fasta, "-o", tmp_path / f"p{i}.tsv", "--threads", "1") == 0
        rows = [line.split("\t") for line in (tmp_path / f"p{i}.tsv").read_text().splitlines()[1:]]
        outputs.append(np.array([float(r[2]) for r in rows]))
    np.testing.assert_allclose(outputs[2], (outputs[0] + outputs[1]) / 2, atol=2e-5)


def test_scan_ensemble_flag_gives_one_column_of_mean_scores(members, tmp_path):
    from bertrbp.scan.models import open_models
    from bertrbp.scan.scanner import model_scorer

    seqs = [s for _, s, _ in motif_sequences(6, seed=23, length=41)]
    separate = open_models([str(f) for f in members], "cpu", "no", window=41)
    merged = open_models([str(f) for f in members], "cpu", "no", window=41, ensemble=True)
    assert [m.name for m in merged.models] == ["ensemble"]
    p = model_scorer(separate.models, separate.tokenizer, separate.device)(seqs)
    q = model_scorer(merged.models, merged.tokenizer, merged.device)(seqs)[0]
    logit = lambda x: np.log(x / (1 - x))  # noqa: E731
    np.testing.assert_allclose(logit(q), logit(p).mean(0), atol=1e-4)


def test_finetune_trains_an_ensemble_folder_the_tools_take_as_one_model(tmp_path):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(240, seed=24, length=61))
    test = write_fasta(tmp_path / "test.fa", motif_sequences(40, seed=25, length=61))
    out = tmp_path / "ens"
    assert (
        run_cli(
            "finetune",
            "--train",
            train,
            "--output-dir",
            out,
            "--model",
            "tiny",
            "--model",
            "kmer",
            "--seeds",
            "3,4",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--threads",
            "1",
        )
        == 0
    )
    manifest = json.loads((out / "model" / "ensemble.json").read_text())
    assert [m["name"] for m in manifest["members"]] == ["tiny_seed3", "tiny_seed4", "kmer_seed3"]  # k-mer once
    for m in manifest["members"]:
        assert (out / "model" / m["path"] / "config.json").exists()
        assert (out / "members" / m["name"] / "metrics.json").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_kind"] == "ensemble" and len(metrics["members"]) == 3
    # every member validated on the same split: same counts in every member card
    counts = {
        json.dumps(json.loads((out / "members" / m["name"] / "model_card.json").read_text())["data"]["counts"])
        for m in manifest["members"]
    }
    assert len(counts) == 1
    assert run_cli("predict", "--model", out, test, "-o", tmp_path / "a.tsv", "--threads", "1") == 0
    paths = [out / "model" / m["path"] for m in manifest["members"]]
    assert (
        run_cli("predict", *sum((["--model", p] for p in paths), []), test, "-o", tmp_path / "b.tsv", "--threads", "1")
        == 0
    )
    assert (tmp_path / "a.tsv").read_text() == (tmp_path / "b.tsv").read_text()

    # the summary report shows the ensemble's own validation AUROC (it has no epochs of its own to read it from)
    summary = tmp_path / "summary"
    assert (
        run_cli(
            "summary",
            "--predictions",
            f"RBP.ens={tmp_path / 'a.tsv'}",
            "--training",
            f"RBP.ens={out}",
            "--output-dir",
            summary,
        )
        == 0
    )
    rows = [line.split("\t") for line in (summary / "metrics_summary.tsv").read_text().splitlines()]
    row = dict(zip(rows[0], rows[1]))
    assert row["kind"] == "ensemble"
    assert float(row["val_auroc"]) == pytest.approx(metrics["validation"]["val_auroc"], abs=1e-4)


def test_seed_options_are_checked(capsys, tmp_path):
    from bertrbp.errors import InputError
    from bertrbp.finetune_ensemble import parse_seeds

    assert parse_seeds("1,2,3", 0, 42) == [1, 2, 3]
    assert parse_seeds(None, 3, 42) == [42, 43, 44]
    assert parse_seeds(None, 0, 7) == [7]
    for bad in ("1,x", "2,2"):
        with pytest.raises(InputError, match="--seeds"):
            parse_seeds(bad, 0, 42)
    with pytest.raises(InputError, match="not both"):
        parse_seeds("1,2", 2, 42)


def test_integrated_gradients_of_an_ensemble_are_the_mean_of_members_and_complete(members):
    from bertrbp.attribution.ig import integrated_gradients
    from bertrbp.model import load_classifier, open_classifier

    seq = motif_sequences(1, seed=26, length=41)[0][1]
    device = torch.device("cpu")
    parts = [
        integrated_gradients(load_classifier(str(f))[0].eval(), load_classifier(str(f))[1], seq, device, 16)
        for f in members
    ]
    ensemble, tokenizer, _ = open_classifier([str(f) for f in members])
    combined = integrated_gradients(ensemble.eval(), tokenizer, seq, device, 16)
    np.testing.assert_allclose(combined.nucleotides, np.mean([p.nucleotides for p in parts], axis=0), atol=1e-9)
    # completeness: attributions sum to the ensemble's log-odds minus the mean baseline log-odds (up to IG error)
    assert (
        abs(combined.tokens.sum() - (combined.logit - combined.baseline_logit))
        <= max(abs(p.delta) for p in parts) + 1e-6
    )


def test_one_model_value_can_name_an_ensemble_but_an_existing_path_is_never_split(tmp_path):
    """`--model kmer-pos,cnn` (how the pipeline's --baseline_model and Galaxy pass an ensemble) is two members;
    a folder whose name holds a comma stays one model."""
    from bertrbp.finetune_ensemble import member_plan

    plan = member_plan(["kmer-pos,cnn", "tiny"], [1, 2], 1)
    assert [m.name for m in plan] == ["kmer-pos_seed1", "cnn_seed1", "cnn_seed2", "tiny_seed1", "tiny_seed2"]
    odd = tmp_path / "run,2"
    odd.mkdir()
    assert [m.source for m in member_plan([str(odd)], [1], 1)] == [str(odd)]


def test_a_model_pinned_to_its_own_seeds_trains_only_those(tmp_path):
    """`CKPT@42` is one member beside the --seeds of the others (the best RBP-31 recipe: three CNNs, one BERT);
    a pin survives a comma list; a folder whose name holds '@' stays one model; repeated seeds are refused."""
    from bertrbp.errors import InputError
    from bertrbp.finetune_ensemble import member_plan

    plan = member_plan(["kmer-pos,cnn,tiny@7"], [1, 2, 3], 1)
    assert [(m.source, m.seed) for m in plan] == [("kmer-pos", 1), ("cnn", 1), ("cnn", 2), ("cnn", 3), ("tiny", 7)]
    assert [m.name for m in member_plan(["tiny@5+6"], [1], 1)] == ["tiny_seed5", "tiny_seed6"]
    assert [m.seed for m in member_plan(["kmer@4+5"], [1], 1)] == [4]  # deterministic: once
    odd = tmp_path / "run@2"
    odd.mkdir()
    assert [(m.source, m.seed) for m in member_plan([str(odd)], [1], 1)] == [(str(odd), 1)]
    with pytest.raises(InputError, match="distinct seeds"):
        member_plan(["tiny@5+5"], [1], 1)
    with pytest.raises(InputError, match="given twice"):  # the same deterministic model, whatever its seed
        member_plan(["kmer", "kmer@5"], [1], 1)
    with pytest.raises(InputError, match="between 0 and 4294967295"):  # numpy's range, refused before training
        member_plan([f"tiny@{2**32}"], [1], 1)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["members"][0].pop("path"), "member 1 has no folder name"),
        (lambda m: m.update(members={"m1": "m1"}), "a list of members"),
        (lambda m: m["members"][1].update(path="."), "member 2's folder '.' is not inside the ensemble folder"),
        (lambda m: m["members"][0].update(path="../m1"), "member 1's folder '../m1' is not inside"),
    ],
)
def test_a_hand_edited_ensemble_manifest_is_one_error_line(members, tmp_path, capsys, edit, message):
    """A member without a path, or members not a list, were tracebacks; a member '.' loaded the ensemble inside
    itself until the recursion limit; '../m1' loaded a model from outside the folder that travels alone."""
    import shutil

    from bertrbp.ensemble import write_manifest

    folder = tmp_path / "ens"
    for number, member in enumerate(members, 1):
        shutil.copytree(member, folder / f"m{number}")
    shutil.copytree(members[0], tmp_path / "m1")  # what '../m1' would reach
    manifest = json.loads(
        write_manifest(folder, [{"name": "a", "path": "m1"}, {"name": "b", "path": "m2"}]).read_text()
    )
    edit(manifest)
    (folder / "ensemble.json").write_text(json.dumps(manifest))
    fasta = write_fasta(tmp_path / "x.fa", motif_sequences(4, seed=1, length=31))
    assert run_cli("predict", "--model", folder, fasta, "-o", tmp_path / "p.tsv", "--threads", "1") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: {folder / 'ensemble.json'}: ") and message in error[0]
    assert not (tmp_path / "p.tsv").exists()


def _ensemble_folder(members, folder):
    """An ensemble folder (ensemble.json beside its member checkpoints) made from the two tiny members."""
    import shutil

    from bertrbp.ensemble import write_manifest

    for member in members:
        shutil.copytree(member, folder / member.name)
    write_manifest(folder, [{"name": m.name, "path": m.name} for m in members])
    return folder


def test_finetune_refuses_an_ensemble_as_its_starting_model(members, tmp_path, capsys):
    """An ensemble folder (or a finetune run folder holding one) as --model trained the whole ensemble for an epoch,
    then crashed with a traceback (exit 1) when saving its first checkpoint."""
    ensemble = _ensemble_folder(members, tmp_path / "run" / "model")
    train = write_fasta(tmp_path / "train.fa", motif_sequences(40, seed=27, length=41))
    for start in (ensemble, ensemble.parent):
        out = tmp_path / f"out_{start.name}"
        code = run_cli("finetune", "--train", train, "--model", start, "--output-dir", out, "--epochs", "1")
        assert code == 2
        assert "is an ensemble; fine-tuning starts from one model" in capsys.readouterr().err
        assert not out.exists()
