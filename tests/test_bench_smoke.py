"""The benchmarks start and produce their tables (tiny --smoke sizes), and their bookkeeping is right:
analytic FLOP counts match torch's own count, accuracy rows are appended incrementally and skipped on rerun,
and the published means are taken over the same experiments as ours."""

from __future__ import annotations

import csv
import importlib
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def bench(name: str):
    return importlib.import_module(name)


def test_bert_flop_count_matches_torch_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from bertrbp.model import load_classifier

    speed = bench("speed")
    model, tokenizer, _ = load_classifier("mini", seed=0, attention="eager")
    model.eval()
    ids, mask = tokenizer.encode_batch(["ACGT" * 25 + "A"], 512)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    analytic = speed.bert_forward_flops(model.config, ids.shape[1])
    assert ids.shape[1] == 101  # 99 3-mers + [CLS] + [SEP]
    assert analytic == pytest.approx(counter.get_total_flops(), rel=0.01)


def test_fixed_cost_and_per_rbp_extrapolation():
    speed = bench("speed")
    # 900 training sequences at 100 seq/s (9 s) + 100 validation at 1000 seq/s (0.1 s) in a 12.1 s job: 3 s fixed
    assert speed.fixed_cost({"n": 900, "wall_s": 12.1}, 100.0, 1000.0) == pytest.approx(3.0)
    assert speed.per_rbp_seconds(3.0, 100.0, 1000.0) == pytest.approx(3.0 + 576.0 + 3 * 2133 / 1000)


def test_speed_smoke_writes_tables_and_json(tmp_path, capsys):
    out = tmp_path / "speed.json"
    bench("speed").main(["--smoke", "--sizes", "tiny", "--threads", "1", "--output", str(out)])
    result = json.loads(out.read_text())
    tiny = result["sizes"]["tiny"]
    for task in ("forward", "predict", "trainstep", "trainer", "finetune", "forward_maps", "attention"):
        assert tiny[task]["seq_s"] > 0, task
    assert result["matmul"]["flops_s"] > 0
    assert set(result["fold"]["engines"]) == {"vienna", "linearpartition"}
    printed = capsys.readouterr().out
    assert "| tiny |" in printed and "attention-stats" in printed
    # its workers ran in this process and silence logging while they run: that must not outlive them (it hid the
    # warnings later tests on the same pytest worker look for)
    assert logging.root.manager.disable == logging.NOTSET


def test_gpu_bench_smoke_runs_on_cpu(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    bench("gpu_bench").main(["--smoke", "--device", "cpu", "--output", str(out)])
    result = json.loads(out.read_text())
    assert result["predict"]["sequences"] == 200
    assert result["finetune"]["sequences"] * result["finetune"]["epochs"] > 0
    assert result["predict"]["seq_s"] > 0 and result["raw_forward"]["seq_s"] > 0
    assert "| predict" in capsys.readouterr().out


def test_accuracy_report_means_over_common_experiments(tmp_path, shared_data):
    accuracy = bench("accuracy")
    rows = {
        "x": [("1_PARCLIP_AGO1234_hg19", "0.700", "0.750"), ("3_HITSCLIP_Ago2_binding_clusters", "0.900", "0.850")],
        "kmer": [("1_PARCLIP_AGO1234_hg19", "0.710", "0.7"), ("3_HITSCLIP_Ago2_binding_clusters", "0.850", "0.8")],
        "x_max6000": [("1_PARCLIP_AGO1234_hg19", "0.720", "0.7")],
    }
    for tag, experiments in rows.items():
        for experiment, test, val in experiments:
            full = {field: "1" for field in accuracy.FIELDS}
            full.update(experiment=experiment, test_auroc=test, val_auroc=val, collapsed="False")
            full.update(load_before="1.00/1.00/1.00", model="cnn")
            accuracy.append_row(accuracy.results_path("rbp31", tag, tmp_path), full)
    lines = accuracy.report(tmp_path).splitlines()
    # x: test (0.700 + 0.900) / 2, validation (0.750 + 0.850) / 2, above the floor on 1 of 2;
    # DeepRKE (0.790 + 0.882) / 2 = 0.836; iDeepS (0.773 + 0.865) / 2 = 0.819
    mean_line = next(line for line in lines if line.startswith("| x | 2 |"))
    assert [c.strip() for c in mean_line.split("|")[2:8]] == ["2", "**0.800**", "0.800", "1 of 2", "0.836", "0.819"]
    # a setting trained on a subset is not compared with the floor trained on every site
    subset_line = next(line for line in lines if line.startswith("| x_max6000 | 1 |"))
    assert subset_line.split("|")[5].strip() == ""


def test_accuracy_smoke_appends_and_resumes(tmp_path, shared_data, capsys):
    accuracy = bench("accuracy")
    args = [
        "--smoke",
        "--suite",
        "tial1",
        "--threads",
        "1",
        "--results",
        str(tmp_path / "res"),
        "--work",
        str(tmp_path / "work"),
        "--data",
        str(shared_data),
    ]
    accuracy.main(args)
    path = tmp_path / "res" / "accuracy_tial1_smoke.tsv"
    with open(path) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 1
    assert 0.0 <= float(rows[0]["test_auroc"]) <= 1.0
    assert int(rows[0]["n_test"]) == 200 and rows[0]["collapsed"] in ("True", "False")
    history = json.loads((tmp_path / "res" / "finetune_metrics" / "tial1_smoke_TIAL1.json").read_text())
    assert len(history["epochs"]) == 1  # --smoke trains one epoch
    assert float(rows[0]["val_auroc"]) == pytest.approx(history["validation"]["val_auroc"], abs=1e-4)
    assert rows[0]["calibrated"] == str(history["calibration"]["applied"])
    accuracy.main(args)  # a rerun skips the finished experiment
    assert "skip TIAL1" in capsys.readouterr().out
    with open(path) as handle:
        assert len(list(csv.DictReader(handle, delimiter="\t"))) == 1


def test_accuracy_rows_score_a_calibrated_model_before_and_after_calibration():
    """One scoring of the test split: the raw columns undo finetune's calibration on the same log-odds."""
    from bertrbp.io.predictions import Prediction

    accuracy = bench("accuracy")
    raw = np.array([0.010, 0.012, 0.011, 0.013, 0.009, 0.014])  # a stalled model: every probability above 0.5
    labels = [0, 1, 0, 1, 0, 1]
    scale, shift = 1000.0, -11.5
    predictions = [Prediction(f"s{i}", 0.0, float(scale * z + shift), y) for i, (z, y) in enumerate(zip(raw, labels))]
    columns = accuracy.calibration_columns(predictions, {"applied": True, "scale": scale, "shift": shift})
    assert columns["calibrated"] is True
    assert columns["test_mcc_raw"] == 0 and columns["test_accuracy_raw"] == 0.5  # all predicted bound
    assert columns["test_mcc"] == 1.0 and columns["test_accuracy"] == 1.0
    assert columns["test_log_loss_raw"] == pytest.approx(round(float(np.mean(np.logaddexp(0, raw) - raw * labels)), 4))
    declined = {"applied": False, "scale": scale, "shift": shift}  # fitted but not applied: nothing to undo
    untouched = accuracy.calibration_columns(predictions, declined)
    assert untouched["test_mcc_raw"] == 1.0 and untouched["calibrated"] is False
    assert accuracy.calibration_columns(predictions, {})["calibrated"] == ""  # a model finetune did not judge


def test_accuracy_ensemble_row_scores_each_member_alone(tmp_path, shared_data):
    """An ensemble row carries each member's own test AUROC: the same number a run of that member alone gets."""
    accuracy = bench("accuracy")
    common = ["--suite", "tial1", "--threads", "1", "--max-train", "400", "--max-test", "200"]
    common += ["--results", str(tmp_path / "res"), "--work", str(tmp_path / "work"), "--data", str(shared_data)]
    accuracy.main([*common, "--model", "kmer,kmer-pos", "--tag", "pair"])
    accuracy.main([*common, "--model", "kmer-pos", "--tag", "alone"])
    pair = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_pair.tsv")[0]
    alone = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_alone.tsv")[0]
    members = dict(cell.split("=") for cell in pair["member_test_auroc"].split(";"))
    assert sorted(members) == ["kmer-pos_seed42", "kmer_seed42"]
    assert float(members["kmer-pos_seed42"]) == pytest.approx(float(alone["test_auroc"]), abs=1e-4)
    assert alone["member_test_auroc"] == ""


def test_ensemble_plus_member_rebuilds_the_runs_own_validation_split_and_joins_by_log_odds(tmp_path, shared_data):
    """The member's validation and test AUROC equal those its accuracy row recorded (so the split is finetune's
    own); joining a run with itself changes nothing; runs with different validation splits are refused."""
    accuracy, plus = bench("accuracy"), bench("ensemble_plus_member")
    common = ["--suite", "tial1", "--threads", "1", "--max-train", "400", "--max-test", "200"]
    common += ["--results", str(tmp_path / "res"), "--work", str(tmp_path / "work"), "--data", str(shared_data)]
    accuracy.main([*common, "--model", "kmer,kmer-pos", "--tag", "pair"])
    accuracy.main([*common, "--model", "kmer", "--tag", "alone"])
    accuracy.main([*common, "--model", "kmer", "--tag", "other-split", "--seed", "7"])
    alone = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_alone.tsv")[0]
    work = tmp_path / "work" / "tial1"
    result = plus.compare(work / "pair" / "TIAL1", work / "alone" / "TIAL1", 2, 42, 0.1)
    assert result["val_member"] == pytest.approx(float(alone["val_auroc"]), abs=1e-4)
    assert result["test_member"] == pytest.approx(float(alone["test_auroc"]), abs=1e-4)
    itself = plus.compare(work / "alone" / "TIAL1", work / "alone" / "TIAL1", 1, 42, 0.1)
    assert itself["val_joined"] == itself["val_member"] and itself["test_joined"] == itself["test_member"]
    with pytest.raises(SystemExit, match="do not share a validation split"):
        plus.compare(work / "pair" / "TIAL1", work / "other-split" / "TIAL1", 2, 42, 0.1)
    # a run whose model stays elsewhere (a GPU machine's) joins by its saved validation log-odds, to the same numbers
    saved = plus.write_validation_predictions(work / "alone" / "TIAL1", 42, 0.1)
    shutil.rmtree(work / "alone" / "TIAL1" / "finetune" / "model")  # the model can no longer be scored
    assert saved.name == "val_predictions.tsv" and not list(saved.parent.glob("*.partial"))
    assert plus.compare(work / "pair" / "TIAL1", work / "alone" / "TIAL1", 2, 42, 0.1) == pytest.approx(
        result, abs=1e-4
    )
    # --tag: the joined model's row, from both runs' rows (suite and tags from the folders' names)
    joining = ["--ensemble", str(work / "pair"), "--member", str(work / "alone"), "--members", "2", "--tag", "joined"]
    plus.main([*joining, "--results", str(tmp_path / "res"), "TIAL1"])
    pair = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_pair.tsv")[0]
    joined = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_joined.tsv")[0]
    assert float(joined["test_auroc"]) == pytest.approx(result["test_joined"], abs=1e-4)
    assert float(joined["val_auroc"]) == pytest.approx(result["val_joined"], abs=1e-4)
    assert float(joined["train_wall_s"]) == pytest.approx(float(pair["train_wall_s"]) + float(alone["train_wall_s"]))
    assert joined["model"] == "kmer,kmer-pos,kmer" and joined["reused_members"] == "pair;alone"
    assert joined["member_test_auroc"].endswith(f";alone={alone['test_auroc']}") and joined["test_mcc"] == ""
    assert joined["val_loss"] == "" and joined["pretrained"] == "False"  # the ensemble's own loss is not the join's
    with pytest.raises(SystemExit, match="would append to a source run's own rows"):
        plus.main([*joining[:-1], "pair", "--results", str(tmp_path / "res"), "TIAL1"])


def test_cnn_variants_train_the_named_architecture_on_validation_only(tmp_path, shared_data):
    """Each row trains the variant it names (a BiLSTM only where asked), reads no test split and is skipped on
    rerun; the report averages only variants that ran every column."""
    variants = bench("cnn_variants")
    results = tmp_path / "variants.tsv"
    common = ["--experiments", "23_PARCLIP_PUM2_hg19", "--max-train", "400", "--work", str(tmp_path / "w")]
    variants.main([*common, "--variants", "one-conv", "lstm", "--results", str(results)])
    rows = {r["variant"]: r for r in csv.DictReader(open(results), delimiter="\t")}
    assert set(rows) == {"one-conv", "lstm"} and rows["lstm"]["experiment"] == "23_PARCLIP_PUM2_hg19_max400"
    for variant, lstm in (("one-conv", None), ("lstm", 32)):
        saved = tmp_path / "w" / variant / "23_PARCLIP_PUM2_hg19_max400" / "seed42" / "model" / "config.json"
        assert json.loads(saved.read_text())["lstm_hidden"] == (lstm or 0)
        assert 0.5 < float(rows[variant]["val_auroc"]) <= 1  # PUM2's motif is learnable from 360 sites
    assert not list((tmp_path / "w").rglob("test*"))
    variants.main([*common, "--variants", "one-conv", "--results", str(results)])  # already there: skipped
    assert len(results.read_text().splitlines()) == 3
    results.write_text(
        results.read_text() + "X_max400\tthree-conv\t3\t0\t42\t0.7\t1\t1\t1\t1\t0\n"
    )  # a variant on another experiment only
    table = variants.report(results)
    assert "| three-conv | – | 0.7000 | – |" in table
    assert f"**{(float(rows['lstm']['val_auroc'])):.4f}**" not in table  # no mean where a column is missing


def test_accuracy_reuse_trains_only_new_members(tmp_path, shared_data):
    """--reuse: a CNN seed that another tag trained is taken as is (same member test AUROC, same weights), only the
    new seed is trained, and the row names what it reused."""
    accuracy = bench("accuracy")
    common = ["--suite", "tial1", "--threads", "1", "--max-train", "400", "--max-test", "200", "--model", "kmer,cnn"]
    common += ["--results", str(tmp_path / "res"), "--work", str(tmp_path / "work"), "--data", str(shared_data)]
    accuracy.main([*common, "--seeds", "42", "--tag", "one"])
    accuracy.main([*common, "--seeds", "42,43", "--tag", "two", "--reuse", "one"])
    one = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_one.tsv")[0]
    two = accuracy.read_rows(tmp_path / "res" / "accuracy_tial1_two.tsv")[0]
    assert two["reused_members"] == "one/cnn_seed42"  # the k-mer member is refitted, the new seed trained
    first = dict(cell.split("=") for cell in one["member_test_auroc"].split(";"))
    second = dict(cell.split("=") for cell in two["member_test_auroc"].split(";"))
    assert sorted(second) == ["cnn_seed42", "cnn_seed43", "kmer_seed42"]
    assert second["cnn_seed42"] == first["cnn_seed42"] and second["kmer_seed42"] == first["kmer_seed42"]
    members = tmp_path / "work" / "tial1"
    card = json.loads(
        (members / "two" / "TIAL1" / "finetune" / "members" / "cnn_seed42" / "model_card.json").read_text()
    )
    assert card["resumed_from_step"] == card["optimizer_steps"] > 0  # resumed at its last step: no step trained
    fresh = json.loads(
        (members / "two" / "TIAL1" / "finetune" / "members" / "cnn_seed43" / "model_card.json").read_text()
    )
    assert fresh["resumed_from_step"] is None
    other_sites = [a if a != "400" else "300" for a in common]  # another --max-train: other training sites
    with pytest.raises(SystemExit, match="trained on other sites"):
        accuracy.main([*other_sites, "--seeds", "42,43", "--tag", "three", "--reuse", "one"])
    with pytest.raises(SystemExit):  # its own tag: refused before anything is read or deleted
        accuracy.main([*common, "--seeds", "42,43", "--tag", "two", "--reuse", "two"])
    assert (members / "two" / "TIAL1" / "finetune" / "members" / "cnn_seed42" / "model_card.json").exists()


@pytest.mark.parametrize("given", [["--checkpoint", "cand/model"], ["--checkpoint-name", "cand"]])
def test_pretrained_vs_random_takes_a_candidate_checkpoint_only_with_its_name(given, capsys):
    """One without the other would file a candidate's rows under the shipped checkpoint's tag (or skip by them)."""
    import pretrained_vs_random

    with pytest.raises(SystemExit) as stop:
        pretrained_vs_random.main(["run", "--suite", "eclip", "--experiments", "NONE", *given])
    assert stop.value.code == 2 and "--checkpoint and --checkpoint-name go together" in capsys.readouterr().err


def test_pretrained_vs_random_table_summarises_seen_unseen_and_all_sets(tmp_path, monkeypatch):
    """The issue's goal is over all 30 eCLIP sets: beside the seen and unseen rows comes their union, with the
    mean and median difference and the wins counted on the same experiments for both arms."""
    import accuracy
    import pretrained_vs_random as pvr

    monkeypatch.setattr(accuracy, "RESULTS", tmp_path)
    unseen, seen = pvr.UNSEEN[0], "SEEN_ONE_K562"
    aurocs = {"pretrained": {unseen: 0.80, seen: 0.70}, "random": {unseen: 0.70, seen: 0.72}, "kmer": {unseen: 0.75}}
    for arm, by_name in aurocs.items():
        for name, auroc in by_name.items():
            row = {"experiment": name, "n_train": 1800, "n_val": 200, "test_auroc": auroc, "epochs_run": 3,
                   "train_wall_s": 10, "load_before": "1.0/1.0/1.0"}  # fmt: skip
            accuracy.append_row(accuracy.results_path("eclip", pvr.tag(arm, 2000), tmp_path), row)
    stalled = accuracy.history_path(tmp_path, "eclip", pvr.tag("random", 2000), seen)  # finetune's verdict file
    stalled.parent.mkdir(parents=True)
    stalled.write_text('{"stalled": true, "collapse": {"class_prior_entropy": 0.64}, "epochs": [{"val_loss": 0.64}]}')
    calibrated = accuracy.history_path(tmp_path, "eclip", pvr.tag("pretrained", 2000), seen)
    calibrated.write_text(
        '{"stalled": false, "calibration": {"applied": true}, "collapse": {"class_prior_entropy": 0.64}, '
        '"epochs": [{"val_loss": 0.641}]}'
    )
    pvr.main(["table"])
    rows = {row["experiment"]: row for row in accuracy.read_rows(tmp_path / "pretrained_vs_random.tsv")}
    assert (rows[seen]["stalled_random"], rows[seen]["left_prior_random"]) == ("True", "False")
    assert (rows[seen]["stalled_pretrained"], rows[seen]["calibrated_pretrained"]) == ("False", "True")
    assert rows[seen]["calibrated_random"] == "False"  # a verdict file without a calibration record
    assert rows[unseen]["stalled_random"] == "" and rows[unseen]["calibrated_pretrained"] == ""  # no verdict file
    lines = (tmp_path / "pretrained_vs_random.md").read_text().splitlines()
    assert (
        lines[2] == "| eclip | 2000 | no | 1 | 0.8000 | 0.7000 | +0.1000 | +0.1000 | 1/1 | 0.7500 (1) | 0, 0 | 0, 0 |"
    )
    assert lines[3] == "| eclip | 2000 | yes | 1 | 0.7000 | 0.7200 | -0.0200 | -0.0200 | 0/1 |  | 0, 1 | 1, 0 |"
    assert (
        lines[4] == "| eclip | 2000 | all | 2 | 0.7500 | 0.7100 | +0.0400 | +0.0400 | 1/2 | 0.7500 (1) | 0, 1 | 1, 0 |"
    )
    assert len(lines) == 5


def test_pretrained_vs_random_table_pairs_a_checkpoint_with_random_init_of_its_own_size(tmp_path, monkeypatch):
    """bertrbp-small-k3 is compared with a random-init small (pvr_random-small_*), not with the mini rows that
    share the plain tag; its table goes to its own files."""
    import accuracy
    import pretrained_vs_random as pvr

    monkeypatch.setattr(accuracy, "RESULTS", tmp_path)
    name = pvr.UNSEEN[0]
    for tag, auroc in (("pvr_pretrained-small_n500", 0.80), ("pvr_random-small_n500", 0.74), ("pvr_random_n500", 0.6)):
        row = {"experiment": name, "n_train": 450, "n_val": 50, "test_auroc": auroc, "epochs_run": 3,
               "train_wall_s": 10, "load_before": "1.0/1.0/1.0"}  # fmt: skip
        accuracy.append_row(accuracy.results_path("eclip", tag, tmp_path), row)
    pvr.main(["table", "--checkpoint-name", "small", "--random-name", "small"])
    (row,) = accuracy.read_rows(tmp_path / "pretrained_vs_random_small.tsv")
    assert (row["auroc_pretrained"], row["auroc_random"], row["difference"]) == ("0.8", "0.74", "+0.0600")
    pvr.main(["table", "--checkpoint-name", "small"])  # the random arm of the shipped checkpoint's table
    (row,) = accuracy.read_rows(tmp_path / "pretrained_vs_random_small.tsv")
    assert row["auroc_random"] == "0.6"


def test_an_experiment_claimed_by_a_live_run_is_skipped_and_a_dead_runs_claim_is_taken_over(tmp_path):
    """Two runs of one tag share a work folder: only one may train an experiment at a time, and a claim left by a
    killed run must not block a rerun."""
    import os
    import subprocess

    accuracy = bench("accuracy")
    marker = tmp_path / "tag" / ".EXP.claim"
    with accuracy.claim(marker) as first:
        assert first and marker.read_text() == str(os.getpid())
        with accuracy.claim(marker) as second:
            assert second is False
    assert not marker.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    marker.write_text(dead.stdout.strip())  # the pid of a process that has exited
    with accuracy.claim(marker) as taken:
        assert taken
    assert not marker.exists()


def test_ship_checkpoint_gains_only_replaces_the_gains_and_nothing_else(tmp_path):
    """A re-measured gains table reaches a shipped checkpoint without its pretraining run: the card's gains and
    the README's last section change, the weights and every other line do not."""
    ship = bench("ship_checkpoint")
    folder = tmp_path / "models" / "ck"
    folder.mkdir(parents=True)
    for name in ship.FILES:
        (folder / name).write_bytes(f"{name} bytes".encode())
    head = "# ck\n\n## Results (validation)\n- loss 1.0\n"
    (folder / "README.md").write_text(head + ship.GAINS_HEADER + "(old)\n\n| old |\n")
    card = {"usage": "u", "finetuning_gains": {"rows": [], "recipe": "lr 2e-4, its own"}}
    (folder / "model_card.json").write_text(json.dumps(card))
    md, tsv = tmp_path / "gains.md", tmp_path / "gains.tsv"
    md.write_text("| new table |\n")
    tsv.write_text("suite\texperiment\neclip\tA\n")
    ship.main(["--gains-only", "--name", "ck", "--models", str(tmp_path / "models"), "--gains-md", str(md),
               "--gains-tsv", str(tsv)])  # fmt: skip
    readme = (folder / "README.md").read_text()
    assert readme.startswith(head) and readme.endswith("| new table |\n") and "| old |" not in readme
    assert readme.count("## Fine-tuning gains") == 1
    card = json.loads((folder / "model_card.json").read_text())
    assert card["usage"] == "u" and card["finetuning_gains"]["rows"] == [{"suite": "eclip", "experiment": "A"}]
    assert card["finetuning_gains"]["recipe"] == "lr 2e-4, its own" and "(lr 2e-4, its own)" in readme  # not mini's
    assert all((folder / name).read_bytes() == f"{name} bytes".encode() for name in ship.FILES)
    with pytest.raises(SystemExit):  # neither --run nor --gains-only
        ship.main(["--name", "ck", "--models", str(tmp_path / "models")])


def test_calibration_gate_simulation_separates_memorised_from_real_rankings():
    """The simulation behind HELDOUT_Z: training sites give far more power than validation alone on a real ranking,
    and a ranking memorised on training only rarely passes."""
    gate = bench("calibration_gate")
    real_with_training = gate.applied_share(1.0, 1.0, trials=30)
    real_validation_only = gate.applied_share(1.0, 1.0, trials=30, training=False)
    memorised = gate.applied_share(1.0, 0.0, trials=30)
    assert real_with_training > real_validation_only + 0.3 and memorised < 0.1


def test_spare_sites_scores_only_the_training_sites_a_subset_run_left_out(tmp_path, shared_data, capsys):
    """bench/spare_sites.py: the pool it scores is the complement of the run's seeded --max-train subset (never a
    site the run trained or validated on), and a rerun skips what is done."""
    accuracy, spare = bench("accuracy"), bench("spare_sites")
    where = ["--results", str(tmp_path / "res"), "--work", str(tmp_path / "work"), "--data", str(shared_data)]
    accuracy.main(["--smoke", "--suite", "tial1", "--threads", "1", *where])  # 400 training sites, tag "smoke"
    args = ["--suite", "tial1", "--tags", "smoke", "--limit", "300", *where]
    spare.main(args)
    (row,) = accuracy.read_rows(tmp_path / "res" / "spare_sites_tial1.tsv")
    assert row["max_train"] == "400" and row["n_spare"] == "300" and row["tag"] == "smoke"
    from bertrbp.io.tokens import load_tokens

    trained = set(load_tokens(tmp_path / "work" / "tial1" / "smoke" / "TIAL1" / "train.npz").ids)
    pool = spare.spare_data("tial1", "TIAL1", 400, 42, shared_data, tmp_path / "work", 0)
    assert len(trained) == 400 and not trained & set(pool.ids) and len(pool) + 400 == 4800
    spare.main(args)
    assert "skip smoke TIAL1: done" in capsys.readouterr().out
    assert len(accuracy.read_rows(tmp_path / "res" / "spare_sites_tial1.tsv")) == 1


def test_val_split_compare_pairs_experiments_and_averages_only_shared_ones(tmp_path, capsys):
    accuracy, compare = bench("accuracy"), bench("val_split_compare")
    rows = {
        "before": [("1_A", 0.95, 0.88, "1+7", 700.0), ("2_B", 0.90, 0.80, "1+6", 500.0), ("3_C", 0.7, 0.6, "1+2", 1.0)],
        "after": [("1_A", 0.89, 0.89, "1+3", 400.0), ("2_B", 0.81, 0.79, "1+4", 300.0)],
    }
    for tag, entries in rows.items():
        for name, val, test, epochs, seconds in entries:
            row = {"suite": "rbp31", "experiment": name, "tag": tag, "val_auroc": val, "test_auroc": test}
            row |= {"epochs_run": epochs, "train_wall_s": seconds}
            accuracy.append_row(accuracy.results_path("rbp31", tag, tmp_path), row)
    compare.main(["--before", "before", "--after", "after", "--results", str(tmp_path)])
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith("| 1_A | 0.9500 | 0.8800 | +0.070 | 0.8900 | 0.8900 | +0.000 | +0.0100 | 1+7 / 1+3 |")
    assert "3_C" not in "\n".join(table)  # finished under one split only
    assert table[-1].startswith("| **mean of 2** (1 of 2 up on test) | 0.9250 | 0.8400 | +0.085 | 0.8500 | 0.8400 |")
    assert table[-1].rstrip().endswith("| +0.0000 | | 1200 / 700 |")


def test_test_split_leak_report_pairs_both_splits_and_averages_only_complete_experiments(tmp_path, monkeypatch):
    leak = bench("test_split_leak")
    monkeypatch.setattr(leak, "TSV", tmp_path / "leak.tsv")
    for name, split, share, own, official in [
        ("1_A", "random", 0.2, 0.90, 0.86),
        ("1_A", "locus", 0.0, 0.87, 0.86),
        ("2_B", "random", 0.1, 0.80, 0.79),
        ("2_B", "locus", 0.0, 0.84, 0.80),
        ("3_C", "random", 0.3, 0.70, 0.60),
    ]:
        row = {"experiment": name, "split": split, "test_overlapping_train": share, "auroc_own_test": own}
        leak.append(row | {"auroc_official_test": official, "gap": own - official})
    assert leak.done() == {("1_A", "random"), ("1_A", "locus"), ("2_B", "random"), ("2_B", "locus"), ("3_C", "random")}
    table = leak.report().splitlines()
    assert table[2] == "| 1_A | 20.0% / 0.0% | 0.9000 / 0.8700 | 0.8600 / 0.8600 | +0.0400 / +0.0100 |"
    assert "3_C" not in "\n".join(table)  # the locus split did not run
    assert table[-1] == "| **mean of 2** | 15.0% / 0.0% | 0.8500 / 0.8550 | 0.8250 / 0.8300 | +0.0250 / +0.0250 |"


def test_gpu_pretrain_fits_its_steps_to_the_time_and_caps_the_epochs():
    gpu = bench("gpu_pretrain")
    # 1,332 steps an epoch of 512; 0.0149 s a step (+30 %) and 6 s an epoch: 204 s fit 8,544 steps, capped at 5 epochs
    assert gpu.plan_steps(204.0, 0.0149, 681_766, 512, 5) == (6660, 5)
    assert gpu.plan_steps(204.0, 0.0149, 681_766, 512, 9) == (8544, 7)
    assert gpu.plan_steps(60.0, 0.0149, 681_766, 512, 5) == (2513, 2)  # time runs out inside the second epoch
    assert gpu.plan_steps(1e6, 0.0149, 681_766, 512, 2) == (2664, 2)  # hours to spare: at most 2 epochs
    assert gpu.plan_steps(0.0, 0.0149, 681_766, 512, 2) == (1, 1)


def test_gpu_pretrain_runs_the_goal_first_with_both_arms_side_by_side(tmp_path):
    gpu = bench("gpu_pretrain")
    order = gpu.jobs({"eclip": ["AATF_K562", "HNRNPK_K562"], "rbp31": ["1_PARCLIP_AGO1234_hg19"]})
    assert order[:4] == [
        ("eclip", "HNRNPK_K562", "pretrained", 2000),  # an unseen set first: what a user with a new RBP gets
        ("eclip", "HNRNPK_K562", "random", 2000),
        ("eclip", "AATF_K562", "pretrained", 2000),
        ("eclip", "AATF_K562", "random", 2000),
    ]
    assert [job[3] for job in order] == [2000] * 4 + [500] * 4 + [2000] * 2 + [500] * 2
    args = gpu.parse(["--out", str(tmp_path), "--device", "cuda"])
    random_argv = gpu.job_argv(("eclip", "HNRNPK_K562", "random", 500), tmp_path / "ckpt", args)
    pretrained_argv = gpu.job_argv(("eclip", "HNRNPK_K562", "pretrained", 500), tmp_path / "ckpt", args)
    assert random_argv[random_argv.index("--model") + 1] == "small" and "--min-steps" in random_argv
    assert "--min-steps" not in pretrained_argv and str(tmp_path / "ckpt") in pretrained_argv
    assert random_argv[random_argv.index("--tag") + 1] == "pvr_random-small_n500"
    chosen = gpu.parse(["--out", str(tmp_path), "--checkpoint", "ck", "--sizes", "rbp31:0", "eclip:0"])
    assert chosen.sizes == [("rbp31", 0), ("eclip", 0)] and gpu.tag("random", 0, "small") == "pvr_random-small_nall"
    one_arm = gpu.parse(["--out", str(tmp_path), "--sizes", "rbp31:0", "--arms", "pretrained"])
    assert gpu.jobs({"rbp31": ["1_PARCLIP_AGO1234_hg19"]}, one_arm.sizes, tuple(one_arm.arms)) == [
        ("rbp31", "1_PARCLIP_AGO1234_hg19", "pretrained", 0)
    ]
    with pytest.raises(SystemExit):
        gpu.parse(["--out", str(tmp_path), "--sizes", "tial1:500"])
    assert pretrained_argv[pretrained_argv.index("--lr") + 1] == "0.0002"  # the finetune tool's rate for width 256
    assert random_argv[random_argv.index("--lr") + 1] == "0.0002"


def test_gpu_pretrain_merges_the_workers_rows_under_one_header(tmp_path):
    gpu = bench("gpu_pretrain")
    for worker, rows in (("w00", ["a\t1"]), ("w01", ["b\t2", "c\t3"]), ("w02", [])):
        (tmp_path / "results" / worker).mkdir(parents=True)
        (tmp_path / "results" / worker / "accuracy_eclip_x.tsv").write_text("\n".join(["experiment\tauroc", *rows]))
    run = tmp_path / "work" / "rbp31" / "pvr_pretrained-small_nall" / "24_PARCLIP_QKI_hg19"
    run.mkdir(parents=True)
    for name in ("test_predictions.tsv", "val_predictions.tsv"):
        (run / name).write_text(f"{name}\n")
    (tmp_path / "work" / "rbp31" / "pvr_pretrained-small_nall" / "8_PARCLIP_ELAVL1_hg19").mkdir()  # unfinished
    gpu.merge_results(tmp_path, tmp_path / "work")
    assert (tmp_path / "accuracy_eclip_x.tsv").read_text() == "experiment\tauroc\na\t1\nb\t2\nc\t3\n"
    back = tmp_path / "predictions" / "rbp31" / "pvr_pretrained-small_nall"
    assert [p.name for p in back.iterdir()] == ["24_PARCLIP_QKI_hg19"]
    assert (back / "24_PARCLIP_QKI_hg19" / "val_predictions.tsv").read_text() == "val_predictions.tsv\n"


def test_refresh_tables_rewrites_only_between_the_markers():
    refresh = bench("refresh_tables")
    report = (
        "### rbp31\n\n| experiment | a |\n|---|---|\n\n| setting | experiments | x |\n|---|---|---|\n| a | 2 | 0.9 |\n"
    )
    sections = refresh.report_sections(report)
    text = (
        "intro\n<!-- accuracy.py --report: rbp31 (begin) -->\nold\n<!-- accuracy.py --report: rbp31 (end) -->\n"
        "mid\n<!-- accuracy.py --report: rbp31 settings (begin) -->\nold\n"
        "<!-- accuracy.py --report: rbp31 settings (end) -->\n"
        "<!-- accuracy.py --report: eclip (begin) -->\nkept\n<!-- accuracy.py --report: eclip (end) -->\nend\n"
    )
    new = refresh.refreshed(text, sections)
    assert new.startswith("intro\n<!-- accuracy.py --report: rbp31 (begin) -->\n| experiment | a |\n")
    assert "\nmid\n<!-- accuracy.py --report: rbp31 settings (begin) -->\n| setting | experiments | x |\n" in new
    assert "| a | 2 | 0.9 |\n<!-- accuracy.py --report: rbp31 settings (end) -->" in new
    assert "(begin) -->\nkept\n<!--" in new and new.endswith("end\n") and "old" not in new  # no eclip rows: kept
    assert refresh.refreshed(new, sections) == new
