"""bertrbp-summary: every RBP's models in one table and a self-contained HTML report a user can trust a model by
(verdicts, k-mer floor, curves, run parameters); bad input refused without partial outputs.

The builders below write files in the shapes bertrbp-evaluate, bertrbp-predict and bertrbp-finetune write
(test_real_finetune_run_feeds_the_report checks them against a real finetune run); tests/test_report_browser.py
reuses them.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from conftest import REPO, run_tool

METRICS_HEADER = ["name", "rbp", "model", "auroc", "auprc", "accuracy", "f1", "mcc", "n", "n_positive", "threshold"]


def _metrics(folder, stem, auroc, **extra):
    path = folder / f"{stem}.metrics.json"
    path.write_text(
        json.dumps(
            {
                "auroc": auroc,
                "auprc": auroc - 0.1,
                "accuracy": 0.8,
                "f1": 0.75,
                "mcc": 0.5,
                "n": 200,
                "n_positive": 100,
                "threshold": 0.5,
                **extra,
            }
        )
    )
    return path


def write_predictions(path, probabilities, labels):
    """A bertrbp-predict TSV (id probability logit label)."""
    lines = ["id\tprobability\tlogit\tlabel"]
    for i, (p, y) in enumerate(zip(probabilities, labels)):
        p = float(p)
        lines.append(f"s{i}\t{p:.6g}\t{math.log(p / (1 - p)):.6g}\t{int(y)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def learned_scores(separation: float, n: int = 200, seed: int = 0):
    """Probabilities of a model that ranks bound above unbound by ``separation`` (logit units), balanced labels."""
    rng = np.random.default_rng(seed)
    labels = np.array([1] * (n // 2) + [0] * (n - n // 2))
    logits = rng.normal(0, 1, n) + separation * (labels - 0.5)
    return 1 / (1 + np.exp(-logits)), labels


def stalled_scores(n: int = 200, seed: int = 0):
    """A model that barely moved from the prior: every probability within 1e-4 of 0.501 (all 'bound')."""
    rng = np.random.default_rng(seed)
    labels = np.array([1] * (n // 2) + [0] * (n - n // 2))
    return 0.501 + rng.normal(0, 3e-5, n) + 2e-5 * labels, labels


def write_finetune_run(
    folder,
    val_losses,
    val_aurocs,
    *,
    stalled=False,
    collapsed=False,
    kept=None,
    lr=2e-4,
    model_kind=None,
    source="mini",
    prior=0.6931,
    spread=0.05,
):
    """A finetune output folder: metrics.json (per-epoch history, kept epoch, diagnosis) and model_card.json."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = kept or len(val_losses)
    diagnosis = {
        "collapsed": collapsed,
        "stalled": stalled,
        "auroc": val_aurocs[kept - 1],
        "reasons": ["constant predictor: predicted probabilities vary by std 1.0e-08 (< 1e-06)"] if collapsed else [],
        "prediction_std": spread,
        "val_loss": val_losses[kept - 1],
        "class_prior_entropy": prior,
    }
    epochs = [
        {
            "epoch": i + 1,
            "step": 10 * (i + 1),
            "train_loss": loss + 0.01,
            "val_loss": loss,
            "val_auroc": auc,
            "val_auprc": auc,
            "val_accuracy": 0.5,
            "prediction_std": spread,
            "collapsed": collapsed,
            "collapse": diagnosis,
        }
        for i, (loss, auc) in enumerate(zip(val_losses, val_aurocs))
    ]
    metrics = {
        "kept": "best",
        "kept_epoch": kept,
        "validation": {"val_loss": val_losses[kept - 1], "val_auroc": val_aurocs[kept - 1]},
        "collapsed": collapsed,
        "stalled": stalled,
        "collapse": diagnosis,
        "epochs": epochs,
    }
    if model_kind:
        metrics["model_kind"] = model_kind
    card = {
        "tool": "bertrbp-finetune",
        "model_source": source,
        "pretrained": False,
        "load_report": {"summary": f"random initialisation (preset:{source})"},
        "k": 3,
        "data": {
            "train_files": [{"path": "/x/RBP.train.fa", "sha256": "ab" * 32}],
            "validation_source": "stratified 0.1 of the training data (seed 42)",
            "counts": {
                "train": {"total": 540, "label_0": 270, "label_1": 270},
                "validation": {"total": 60, "label_0": 30, "label_1": 30},
            },
        },
        "seed": 42,
        "hyperparameters": {
            "lr": lr,
            "epochs": len(val_losses),
            "batch_size": 32,
            "grad_accum": 4,
            "warmup_ratio": 0.1,
            "weight_decay": 0.01,
            "dropout": 0.1,
        },
        "software": {"python": "3.11.7", "torch": "2.13.0", "transformers": "5.24.0", "bert-rbp": "0.1.0"},
        "device": "cpu (x86_64)",
        "bf16": True,
        "threads": 2,
        "wall_seconds": 61.2,
        "metrics": metrics,
        "collapsed": collapsed,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


def three_rbp_inputs(folder):
    """Command-line arguments for a run with every verdict: RBFOX2 main stalled (the demo's MCC-0 model), HNRNPK
    main learned, HNRNPK baseline below its k-mer floor, QKI without a floor; each RBP with a k-mer floor but QKI."""
    args = []
    runs = {
        "RBFOX2_HepG2": (stalled_scores(seed=1), ([0.6938, 0.6968], [0.43, 0.63]), {"stalled": True, "spread": 6e-5}),
        "RBFOX2_HepG2.kmer": (learned_scores(1.3, seed=2), None, {}),
        "HNRNPK_K562": (learned_scores(2.6, seed=3), ([0.62, 0.51, 0.46], [0.78, 0.86, 0.88]), {}),
        "HNRNPK_K562.baseline": (learned_scores(0.4, seed=4), ([0.69, 0.68], [0.55, 0.58]), {}),
        "HNRNPK_K562.kmer": (learned_scores(1.5, seed=5), ([0.60], [0.80]), {"model_kind": "kmer", "source": "kmer"}),
        "QKI_K562": (learned_scores(2.0, seed=6), ([0.66, 0.58], [0.74, 0.83]), {}),
    }
    for name, ((probabilities, labels), history, options) in runs.items():
        predictions = write_predictions(folder / f"{name}.predictions.tsv", probabilities, labels)
        args += ["--predictions", predictions]
        if history:
            run = write_finetune_run(folder / f"run_{name}", *history, **options)
            args += ["--training", f"{name}={run}"]
    return args


def read_table(out):
    rows = [line.split("\t") for line in (out / "metrics_summary.tsv").read_text().splitlines()]
    return rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}


def section(page, rbp):
    """The HTML of one RBP's collapsed details section."""
    match = re.search(rf'<details class="rbp[^"]*" id="rbp-{re.escape(rbp)}">(.*?)</details>', page, re.S)
    assert match, f"no section for {rbp}"
    return match.group(1)


def test_summary_table_and_report(tmp_path):
    """Today's invocation (metrics JSON only) keeps its table columns and order; the report is self-contained."""
    files = [
        _metrics(tmp_path, "RBFOX2_HepG2", 0.91),
        _metrics(tmp_path, "RBFOX2_HepG2.baseline", 0.82),
        _metrics(tmp_path, "other", 0.77, name="HNRNPK_K562"),
    ]
    out = tmp_path / "out"
    run_tool("summary", *files, "--output-dir", out, "--title", "Demo run")
    header, by_name = read_table(out)
    assert header[: len(METRICS_HEADER)] == METRICS_HEADER
    assert "verdict" in header and "kmer_floor_auroc" in header
    # the file's 'name' field wins over its file name; '.baseline' splits off as the model
    assert [by_name["HNRNPK_K562"][k] for k in ("rbp", "model", "auroc")] == ["HNRNPK_K562", "main", "0.77"]
    assert [by_name["RBFOX2_HepG2.baseline"][k] for k in ("rbp", "model", "auroc")] == [
        "RBFOX2_HepG2",
        "baseline",
        "0.82",
    ]
    assert by_name["RBFOX2_HepG2"]["n"] == "200"
    assert list(by_name) == ["HNRNPK_K562", "RBFOX2_HepG2", "RBFOX2_HepG2.baseline"]
    assert {r["verdict"] for r in by_name.values()} == {"ok"}
    page = (out / "report.html").read_text()
    assert "<title>Demo run</title>" in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the report must not load anything from the network"
    assert "0.910" in page and "0.820" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1  # the AUROC strip; no floor, no scatter
    assert "No model stalled or collapsed" in page


def test_demo_stall_is_flagged_from_metrics_alone(tmp_path):
    """The demo's RBFOX2 (MCC 0, accuracy 0.50: every prediction on one side) no longer looks like any other row,
    even when the pipeline passes nothing but evaluate's metrics; a chance-level AUROC reads as collapsed."""
    files = [
        _metrics(tmp_path, "RBFOX2_HepG2", 0.66, accuracy=0.5, mcc=0.0, f1=0.667),
        _metrics(tmp_path, "HNRNPK_K562", 0.81),
        _metrics(tmp_path, "QKI_K562", 0.51, mcc=0.02),
    ]
    out = tmp_path / "out"
    result = run_tool("summary", *files, "--output-dir", out)
    _, by_name = read_table(out)
    assert by_name["RBFOX2_HepG2"]["verdict"] == "stalled"
    assert "every prediction is bound (1)" in by_name["RBFOX2_HepG2"]["verdict_reasons"]
    assert by_name["QKI_K562"]["verdict"] == "collapsed" and "chance-level" in by_name["QKI_K562"]["verdict_reasons"]
    assert by_name["HNRNPK_K562"]["verdict"] == "ok"
    assert "RBFOX2_HepG2 (main model): STALLED" in result.stderr
    page = (out / "report.html").read_text()
    top, _, rest = page.partition("<h2>Overview</h2>")
    banners = re.findall(r'<div class="banner fail" role="alert"><div class="title">(.*?) &mdash;', top)
    assert sorted(banners) == ["COLLAPSED: QKI_K562", "STALLED: RBFOX2_HepG2"]  # above the overview table
    assert "STALLED: RBFOX2_HepG2" in section(rest, "RBFOX2_HepG2")  # and again in the RBP's own section
    # the stalled row is marked in the overview table
    assert re.search(r'<tr class="fail"><td class="text" data-v="RBFOX2_HepG2">', page)
    assert "No model stalled or collapsed" not in page


def test_each_model_beside_its_kmer_floor(tmp_path):
    """The k-mer floor is the model tagged kmer (or trained with model_kind kmer); every other model of the same
    RBP shows its margin, and one that does not beat the floor is marked."""
    args = three_rbp_inputs(tmp_path)
    out = tmp_path / "out"
    run_tool("summary", *args, "--output-dir", out)
    _, by_name = read_table(out)
    floor = float(by_name["HNRNPK_K562.kmer"]["auroc"])
    for name in ("HNRNPK_K562", "HNRNPK_K562.baseline"):
        row = by_name[name]
        assert float(row["kmer_floor_auroc"]) == pytest.approx(floor)
        assert float(row["auroc_over_floor"]) == pytest.approx(float(row["auroc"]) - floor, abs=2e-6)
    assert float(by_name["HNRNPK_K562"]["auroc_over_floor"]) > 0 and by_name["HNRNPK_K562"]["verdict"] == "ok"
    assert float(by_name["HNRNPK_K562.baseline"]["auroc_over_floor"]) < 0
    assert by_name["HNRNPK_K562.baseline"]["verdict"] == "below-floor"
    assert by_name["HNRNPK_K562.kmer"]["auroc_over_floor"] == "" and by_name["HNRNPK_K562.kmer"]["kind"] == "kmer"
    assert by_name["QKI_K562"]["kmer_floor_auroc"] == "" and by_name["QKI_K562"]["verdict"] == "ok"
    # RBFOX2's floor is found by its tag alone (that run has no finetune folder)
    assert by_name["RBFOX2_HepG2"]["kmer_floor_auroc"] == by_name["RBFOX2_HepG2.kmer"]["auroc"]

    # a floor trained under another tag counts through its model_kind; --floor-model names a different tag
    renamed = [str(a).replace("HNRNPK_K562.kmer", "HNRNPK_K562.lr") for a in args]
    (tmp_path / "HNRNPK_K562.kmer.predictions.tsv").rename(tmp_path / "HNRNPK_K562.lr.predictions.tsv")
    (tmp_path / "run_HNRNPK_K562.kmer").rename(tmp_path / "run_HNRNPK_K562.lr")
    run_tool("summary", *renamed, "--output-dir", out)
    _, by_name = read_table(out)
    assert by_name["HNRNPK_K562"]["kmer_floor_auroc"] == by_name["HNRNPK_K562.lr"]["auroc"]
    run_tool("summary", *renamed, "--floor-model", "baseline", "--output-dir", out)
    _, by_name = read_table(out)
    assert by_name["HNRNPK_K562"]["kmer_floor_auroc"] == by_name["HNRNPK_K562.baseline"]["auroc"]
    assert by_name["RBFOX2_HepG2"]["kmer_floor_auroc"] == ""


def test_predictions_give_the_metrics_curves_and_a_test_set_check(tmp_path):
    """Without metrics files the table's numbers are evaluate's own; ROC/PR curves land in the RBP's section; a
    constant predictor is called collapsed from its test predictions alone."""
    probabilities, labels = learned_scores(2.0, seed=7)
    good = write_predictions(tmp_path / "HNRNPK_K562.predictions.tsv", probabilities, labels)
    constant = write_predictions(tmp_path / "flat.tsv", np.full(200, 0.3), labels)
    out = tmp_path / "out"
    run_tool("summary", "--predictions", good, "--predictions", f"HNRNPK_K562.flat={constant}", "--output-dir", out)
    run_tool("evaluate", good, "-o", tmp_path / "eval.json")
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    _, by_name = read_table(out)
    for key in ("auroc", "auprc", "accuracy", "f1", "mcc"):
        assert float(by_name["HNRNPK_K562"][key]) == pytest.approx(evaluated[key], rel=1e-5)
    assert by_name["HNRNPK_K562.flat"]["verdict"] == "collapsed"
    assert "constant predictor" in by_name["HNRNPK_K562.flat"]["verdict_reasons"]
    body = section((out / "report.html").read_text(), "HNRNPK_K562")
    assert "ROC (test set)" in body and "Precision-recall (test set)" in body
    assert f"main (AUROC {evaluated['auroc']:.3f})" in body
    # the ROC curve runs from (0,0) to (1,1): its polyline starts at the plot's bottom-left corner
    roc = re.search(r"ROC \(test set\)</title>.*?<polyline points=\"([^\"]+)\"", body, re.S).group(1).split()
    assert len(roc) >= 10 and roc[0] != roc[-1]


def test_training_history_verdict_and_run_parameters(tmp_path):
    """A finetune run adds the per-epoch curves (kept epoch ringed), finetune's own stall verdict, and its run
    parameters and software versions."""
    args = three_rbp_inputs(tmp_path)
    out = tmp_path / "out"
    run_tool("summary", *args, "--output-dir", out)
    _, by_name = read_table(out)
    rbfox2 = by_name["RBFOX2_HepG2"]
    assert rbfox2["verdict"] == "stalled" and rbfox2["kept_epoch"] == "2" and rbfox2["val_auroc"] == "0.63"
    assert rbfox2["verdict_reasons"].startswith(
        "validation (kept epoch 2): loss 0.6968 is no better than the class " "prior (0.6931)"
    )
    assert "test set:" in rbfox2["verdict_reasons"]  # the test predictions say the same
    assert by_name["HNRNPK_K562"]["kept_epoch"] == "3" and by_name["HNRNPK_K562"]["kind"] == "mini"
    body = section((out / "report.html").read_text(), "HNRNPK_K562")
    assert "Loss per epoch" in body and "Validation AUROC per epoch" in body and "class prior" in body
    assert "main validation loss: kept, 3 → 0.4600" in body  # the ring on the kept epoch
    losses = re.search(r"<polyline points=\"([^\"]+)\"[^>]*><title>main validation loss</title>", body).group(1)
    assert len(losses.split()) == 3
    for text in (
        "learning rate</td><td>0.0002",
        "32 × 4",
        "torch</td><td>2.13.0",
        "270 bound / 270 unbound",
        "cpu (x86_64) / True / 2",
        "3 / 3",
    ):
        assert text in body, text
    assert "RBFOX2_HepG2" not in body


def test_real_finetune_run_feeds_the_report(tmp_path):
    """The shapes the builders above assume are finetune's: a real (tiny, 1 epoch) run, its predictions and the
    summary agree on the kept epoch, the validation AUROC, the verdict and the versions."""
    sequences = (REPO / "assets" / "demo" / "RBFOX2_HepG2.tsv").read_text().splitlines()
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(sequences[:60] + sequences[-60:]) + "\n")
    test = tmp_path / "test.tsv"
    test.write_text("\n".join(sequences[100:140] + sequences[-140:-100]) + "\n")
    run = tmp_path / "finetune"
    run_tool(
        "finetune",
        "--train",
        train,
        "--output-dir",
        run,
        "--model",
        "tiny",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--batch-size",
        "16",
        "--val-fraction",
        "0.25",
    )
    predictions = tmp_path / "predictions.tsv"
    run_tool("predict", "--model", run / "model", test, "-o", predictions, "--threads", "1")
    out = tmp_path / "out"
    run_tool(
        "summary",
        "--predictions",
        f"RBFOX2_HepG2={predictions}",
        "--training",
        f"RBFOX2_HepG2={run}",
        "--output-dir",
        out,
    )
    metrics = json.loads((run / "metrics.json").read_text())
    card = json.loads((run / "model_card.json").read_text())
    _, by_name = read_table(out)
    row = by_name["RBFOX2_HepG2"]
    assert int(row["kept_epoch"]) == metrics["kept_epoch"]
    assert float(row["val_auroc"]) == pytest.approx(metrics["validation"]["val_auroc"], rel=1e-5)
    if metrics["collapsed"]:
        assert row["verdict"] == "collapsed"
    elif metrics["stalled"]:
        assert row["verdict"] in ("collapsed", "stalled") and "validation (kept epoch 1)" in row["verdict_reasons"]
    body = section((out / "report.html").read_text(), "RBFOX2_HepG2")
    assert f"torch</td><td>{card['software']['torch']}" in body
    assert f"learning rate</td><td>{card['hyperparameters']['lr']:g}" in body
    assert "Loss per epoch" in body and "ROC (test set)" in body

    # the k-mer model (finetune --model kmer) is found as the floor by its model_kind, under any tag
    import importlib.util

    if importlib.util.find_spec("bertrbp.kmer") is None:
        pytest.skip("bertrbp-finetune --model kmer is not in this tree yet; the floor-by-model_kind check needs it")
    kmer_run = tmp_path / "kmer"
    run_tool(
        "finetune",
        "--train",
        train,
        "--output-dir",
        kmer_run,
        "--model",
        "kmer",
        "--threads",
        "1",
        "--val-fraction",
        "0.25",
    )
    kmer_predictions = tmp_path / "kmer.tsv"
    run_tool("predict", "--model", kmer_run / "model", test, "-o", kmer_predictions, "--threads", "1")
    run_tool(
        "summary",
        "--predictions",
        f"RBFOX2_HepG2={predictions}",
        "--training",
        f"RBFOX2_HepG2={run}",
        "--predictions",
        f"RBFOX2_HepG2.lr={kmer_predictions}",
        "--training",
        f"RBFOX2_HepG2.lr={kmer_run}",
        "--output-dir",
        out,
    )
    _, by_name = read_table(out)
    assert by_name["RBFOX2_HepG2.lr"]["kind"] == "kmer"
    assert by_name["RBFOX2_HepG2"]["kmer_floor_auroc"] == by_name["RBFOX2_HepG2.lr"]["auroc"] != ""


def test_input_names_and_bad_inputs_exit_2(tmp_path):
    """Names must match: a predictions file named only by its file name must match a metrics row; one name is
    given once; wrong files get one error line and no outputs."""
    metrics = _metrics(tmp_path, "RBFOX2_HepG2", 0.8)
    probabilities, labels = learned_scores(2.0)
    predictions = write_predictions(tmp_path / "predictions.tsv", probabilities, labels)
    out = tmp_path / "out"

    def refused(*args, says):
        result = run_tool("summary", *args, "--output-dir", out, check=False)
        assert result.returncode == 2, result.stderr
        assert "error:" in result.stderr and says in result.stderr and "Traceback" not in result.stderr
        assert not (out / "report.html").exists() and not (out / "metrics_summary.tsv").exists()

    refused(metrics, "--predictions", predictions, says="RBFOX2_HepG2=")  # 'predictions' matches nothing
    refused(
        metrics,
        "--predictions",
        f"RBFOX2_HepG2={predictions}",
        "--predictions",
        f"RBFOX2_HepG2={predictions}",
        says="already given",
    )
    refused(metrics, "--training", f"RBFOX2_HepG2={metrics}", says="bertrbp-evaluate's test metrics")
    refused(metrics, "--training", f"RBFOX2_HepG2={tmp_path / 'nowhere'}", says="not found")
    unlabelled = tmp_path / "unlabelled.tsv"
    unlabelled.write_text("id\tprobability\tlogit\tlabel\na\t0.4\t-0.4\t\n")
    refused("--predictions", f"X={unlabelled}", says="no label")
    refused(says="nothing to summarise")
    # an explicit NAME= may add a model the metrics do not have
    run_tool("summary", metrics, "--predictions", f"RBFOX2_HepG2.cnn={predictions}", "--output-dir", out)
    assert "RBFOX2_HepG2.cnn" in read_table(out)[1]


def test_bad_input_exits_2_without_outputs(tmp_path):
    good = _metrics(tmp_path, "A", 0.9)
    broken = tmp_path / "B.metrics.json"
    broken.write_text("{not json")
    out = tmp_path / "out"
    result = run_tool("summary", good, broken, "--output-dir", out, check=False)
    assert result.returncode == 2 and "error:" in result.stderr and "B.metrics.json" in result.stderr
    assert not (out / "report.html").exists() and not (out / "metrics_summary.tsv").exists()

    duplicate = tmp_path / "copy"
    duplicate.mkdir()
    result = run_tool("summary", good, _metrics(duplicate, "A", 0.8), "--output-dir", out, check=False)
    assert result.returncode == 2 and "already read" in result.stderr

    wrong = tmp_path / "C.metrics.json"
    wrong.write_text(json.dumps({"auroc": "high"}))
    result = run_tool("summary", wrong, "--output-dir", out, check=False)
    assert result.returncode == 2 and "not a number" in result.stderr
    assert not any(out.iterdir()) if out.exists() else True


def test_one_sided_rule_needs_both_mcc_0_and_one_class_accuracy():
    """MCC 0 alone is not a stall (a model can be wrong both ways in balance); MCC 0 at the accuracy of always
    answering one class is, on either side, and the floor comparison never applies to the floor itself."""
    from bertrbp.report.verdict import judge

    base = {"auroc": 0.7, "n": 200, "n_positive": 60, "threshold": 0.5}
    assert judge({**base, "mcc": 0.0, "accuracy": 0.30}, None, None, None, False).level == "stalled"  # all 'bound'
    verdict = judge({**base, "mcc": 0.0, "accuracy": 0.70}, None, None, None, False)
    assert verdict.level == "stalled" and "unbound (0)" in verdict.reasons[0]
    assert judge({**base, "mcc": 0.0, "accuracy": 0.55}, None, None, None, False).level == "ok"
    assert judge({**base, "mcc": 0.01, "accuracy": 0.30}, None, None, None, False).level == "ok"
    assert judge({**base, "mcc": 0.3, "accuracy": 0.7}, None, None, 0.7, False).level == "below-floor"
    assert judge({**base, "mcc": 0.3, "accuracy": 0.7}, None, None, 0.7, True).level == "ok"
    assert judge({k: None for k in base}, None, None, None, False).level == "unknown"


def test_many_models_below_their_floor_share_one_banner(tmp_path):
    """Hundreds of RBPs: past five, the models below their k-mer floor are listed in one amber banner (one line
    each) so the overview table stays near the top; stalled models keep a red banner each."""
    files = []
    for i in range(7):
        files += [_metrics(tmp_path, f"RBP{i}", 0.70), _metrics(tmp_path, f"RBP{i}.kmer", 0.75)]
    files.append(_metrics(tmp_path, "RBP9", 0.66, accuracy=0.5, mcc=0.0))
    out = tmp_path / "out"
    run_tool("summary", *files, "--output-dir", out)
    top = (out / "report.html").read_text().partition("<h2>Overview</h2>")[0]
    assert top.count('class="banner warn"') == 1 and "7 models are BELOW K-MER FLOOR" in top
    assert all(
        f'href="#rbp-RBP{i}">RBP{i}</a> &mdash; main: test AUROC 0.700 vs k-mer floor 0.750 (-0.050)' in top
        for i in range(7)
    )
    assert top.count('class="banner fail"') == 1 and "STALLED: RBP9" in top


def test_run_parameters_show_the_step_floor_and_the_epochs_it_planned():
    """A random-init BERT on 500 sites runs 20 epochs for its 300-step floor though 8 were asked: the report says
    why, and that early stopping was held until the floor."""
    from bertrbp.report.html import _early_stopping, _planned_epochs
    from bertrbp.report.inputs import TrainingRun

    floor = {"patience": 2, "metric": "val_loss", "stopped_early": False, "min_steps": 300, "planned_epochs": 20}
    run = TrainingRun("ft", history=[{}] * 20, early_stopping=floor)
    assert _planned_epochs(run, {"epochs": 8, "min_steps": 300}) == "20 (8 asked, more for at least 300 steps)"
    assert _early_stopping(run) == "patience 2 on val_loss, not before step 300, ran to the end"
    plain = TrainingRun("ft", history=[{}] * 3, early_stopping={"patience": 2, "stopped_early": True})
    assert _planned_epochs(plain, {"epochs": 8}) == "8"
    assert _early_stopping(plain) == "patience 2 on validation loss, stopped early after epoch 3"


def test_a_calibrated_model_is_judged_on_its_calibrated_outputs_and_says_so():
    """finetune calibrated a kept model whose raw outputs sat at the prior: the verdict follows the written model
    (not stalled) and names the calibration; an uncalibrated stalled run stays stalled."""
    from bertrbp.report.inputs import TrainingRun
    from bertrbp.report.verdict import judge

    values = {"auroc": 0.8, "mcc": 0.35, "accuracy": 0.74, "n": 200, "n_positive": 60, "threshold": 0.5}
    record = {"applied": True, "fitted_on": "training", "crossfit_loss": 0.5012, "fit_prior_entropy": 0.6410}
    record |= {"calibrated_val_loss": 0.5288, "class_prior_entropy": 0.6411}
    was_stalled = {"stalled": False, "stalled_before_calibration": True}
    calibrated = TrainingRun("ft", history=[{}] * 20, kept_epoch=2, calibration=record, diagnosis=was_stalled)
    verdict = judge(values, calibrated, None, 0.75, False)
    assert verdict.level == "ok" and "probabilities calibrated on training sites" in verdict.reasons[-1]
    assert (
        "raw outputs sat at the class prior" in verdict.reasons[-1]
        and "0.5012 vs prior 0.6410" in verdict.reasons[-1]
        and "held-out validation loss 0.5288 vs prior 0.6411" in verdict.reasons[-1]
    )
    asked = TrainingRun("ft", history=[{}] * 20, kept_epoch=2, calibration=record)  # --calibrate yes, not stalled
    assert "class prior;" not in judge(values, asked, None, 0.75, False).reasons[-1]
    stalled = TrainingRun(
        "ft", history=[{}] * 20, kept_epoch=2, stalled=True, calibration={"applied": False},
        diagnosis={"val_loss": 0.641, "class_prior_entropy": 0.641, "prediction_std": 1e-4},
    )  # fmt: skip
    assert judge(values, stalled, None, 0.75, False).level == "stalled"
    assert judge(values, TrainingRun("ft", history=[{}], kept_epoch=1), None, 0.75, False).reasons[-1].startswith("+")


def test_a_model_not_to_trust_names_the_best_trusted_model_of_its_rbp(tmp_path):
    """A banner says which model of the same RBP to use instead: the trusted one with the highest test AUROC (not
    another model below the floor, even a better one), the k-mer floor when nothing else is trusted, and nothing
    when the RBP has no trusted model."""
    files = [
        _metrics(tmp_path, "RBPA", 0.70),
        _metrics(tmp_path, "RBPA.kmer", 0.75),
        _metrics(tmp_path, "RBPA.cnn", 0.82),
        _metrics(tmp_path, "RBPA.weak", 0.74),
        _metrics(tmp_path, "RBPA.aaa", 0.76),  # trusted, listed before cnn, lower: the highest wins, not the first
        _metrics(tmp_path, "RBPB", 0.66, accuracy=0.5, mcc=0.0),  # stalled: every prediction on one side
        _metrics(tmp_path, "RBPB.kmer", 0.70),
        _metrics(tmp_path, "RBPC", 0.66, accuracy=0.5, mcc=0.0),  # stalled, and no other model
        _metrics(tmp_path, "RBPD", 0.85, accuracy=0.5, mcc=0.0),  # stalled, ranks above its trusted floor
        _metrics(tmp_path, "RBPD.kmer", 0.80),
        _metrics(tmp_path, "RBPE", 0.75),  # ties its floor: below it, and the floor is the one to use
        _metrics(tmp_path, "RBPE.kmer", 0.75),
    ]
    out = tmp_path / "out"
    run_tool("summary", *files, "--output-dir", out)
    top = (out / "report.html").read_text().partition("<h2>Overview</h2>")[0]
    banners = {
        re.search(r"(BELOW K-MER FLOOR|STALLED): (\w+) &mdash; (\w+) model", b).group(2, 3): b
        for b in top.split('<div class="banner ')[1:]
    }
    assert set(banners) == {("RBPA", "main"), ("RBPA", "weak"), ("RBPB", "main"), ("RBPC", "main"), ("RBPD", "main"),
                            ("RBPE", "main")}  # fmt: skip
    for model in ("main", "weak"):
        assert (
            "Use instead: the cnn model of RBPA in this report (test AUROC 0.820, learned)" in banners[("RBPA", model)]
        )
    assert "Use instead: the kmer model of RBPB in this report (" in banners[("RBPB", "main")]
    assert "0.700" in banners[("RBPB", "main")].partition("Use instead")[2]
    assert "Use instead" not in banners[("RBPC", "main")]
    assert "Use instead: the kmer model of RBPD in this report (test AUROC 0.800, learned)" in banners[("RBPD", "main")]
    assert "Use instead: the kmer model of RBPE in this report (test AUROC 0.750, learned)" in banners[("RBPE", "main")]
    assert "--model kmer-pos --model kmer-gbt --model cnn" in banners[("RBPA", "main")]  # the measured remedy


@pytest.mark.parametrize(
    "extra, says",
    [
        ({"n": float("inf")}, "metric 'n' is inf"),  # was a traceback (int(inf) in the table)
        ({"auroc": 3.0}, "not a number in [0, 1]"),  # was judged 'learned' with exit 0
        ({"mcc": -1.5}, "not a number in [-1, 1]"),
        ({"n": 200.5}, "whole number"),
        ({"n_positive": 300}, "more than n 200"),
        ({"name": "RBFOX2\tHepG2"}, "control character"),  # split the table's row with exit 0
        ({"name": "RBFOX2\nHepG2.kmer"}, "control character"),  # split the table's line with exit 0
    ],
)
def test_metrics_evaluate_cannot_write_are_refused(tmp_path, extra, says):
    """A metrics file out of evaluate's ranges or with a name that would break the table: one error line, exit 2,
    no outputs (1e400 in the JSON reads as inf)."""
    metrics = _metrics(tmp_path, "A", 0.8)
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), **extra}).replace("Infinity", "1e400"))
    out = tmp_path / "out"
    result = run_tool("summary", metrics, "--output-dir", out, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "A.metrics.json" in last and says in last
    assert not out.exists()


def test_a_binary_metrics_file_is_one_error_line(tmp_path):
    binary = tmp_path / "B.metrics.json"
    binary.write_bytes(b"\xb4\x00\xff" * 10)
    result = run_tool("summary", binary, "--output-dir", tmp_path / "out", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "not a text file" in result.stderr


def test_an_input_name_with_a_tab_is_refused():
    from bertrbp.errors import InputError
    from bertrbp.report.collect import _named

    with pytest.raises(InputError, match="control character"):
        _named(["A\tB=p.tsv"], (".tsv",), "--predictions")


def test_model_card_counts_are_escaped_in_the_report():
    from bertrbp.report.html import _param_rows
    from bertrbp.report.inputs import TrainingRun

    card = {"data": {"counts": {"train": {"label_1": "<script>x</script>", "label_0": 5}}}}
    shown = _param_rows(card, TrainingRun("ft", history=[{}]))["training data"]
    assert "<script>" not in shown and "&lt;script&gt;x&lt;/script&gt; bound / 5 unbound" == shown


def test_two_names_for_one_rbp_and_model_are_refused(tmp_path):
    """'A' and 'A.main' (or 'A.') are both A's main model: the report showed two runs as one model with exit 0."""
    first = _metrics(tmp_path, "A", 0.9)
    out = tmp_path / "out"
    for other in ("A.main", "A."):
        second = _metrics(tmp_path, "other", 0.6, name=other)
        result = run_tool("summary", first, second, "--output-dir", out, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "is the same RBP and model (A, main)" in result.stderr.strip().splitlines()[-1]
        assert not out.exists()
    nameless = _metrics(tmp_path, "nameless", 0.6, name=".kmer")
    result = run_tool("summary", first, nameless, "--output-dir", out, check=False)
    assert result.returncode == 2 and "no RBP before the dot" in result.stderr and not out.exists()


def test_predictions_of_another_set_than_the_metrics_are_refused(tmp_path):
    """The metrics are shown as they are beside curves from the predictions: those of another set (100 sites here,
    the metrics say 200) gave a table AUROC that disagreed with the ROC curve, with exit 0."""
    metrics = _metrics(tmp_path, "A", 0.8)
    probabilities, labels = learned_scores(2.0, n=100)
    predictions = write_predictions(tmp_path / "A.predictions.tsv", probabilities, labels)
    out = tmp_path / "out"
    result = run_tool("summary", metrics, "--predictions", predictions, "--output-dir", out, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "100 predictions (50 bound), but the metrics file of this name says n 200 (100 bound)" in last
    assert not out.exists()


@pytest.mark.parametrize(
    "file, field, value, named",
    [
        ("metrics.json", ("collapse", "val_loss"), "0.69", "'collapse.val_loss' is text, not a number"),
        ("metrics.json", ("calibration", "crossfit_loss"), [0.6], "'calibration.crossfit_loss' is a list"),
        ("metrics.json", ("epochs", 1, "epoch"), "2", "'epochs[1].epoch' is text, not an integer"),
        ("model_card.json", ("data", "counts"), 540, "'data.counts' is a number, not an object"),
        ("model_card.json", ("load_report",), True, "'load_report' is true/false, not an object"),
    ],
)
def test_a_hand_edited_finetune_run_is_refused_naming_the_field(tmp_path, capsys, file, field, value, named):
    """Text where the report formats a number, or a number where it reads an object, was a traceback halfway
    through the report (`Unknown format code 'f' for object of type 'str'`); now one error line names the field."""
    from inprocess import run_cli

    probabilities, labels = learned_scores(1.5, seed=3)
    predictions = write_predictions(tmp_path / "R.predictions.tsv", probabilities, labels)
    run = write_finetune_run(tmp_path / "run", [0.69, 0.6969], [0.5, 0.6], stalled=True)
    document = json.loads((run / file).read_text())
    if file == "metrics.json":
        document["calibration"] = {"applied": True, "crossfit_loss": 0.6, "fit_prior_entropy": 0.69}
    target = document
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    (run / file).write_text(json.dumps(document))
    out = tmp_path / "out"
    assert run_cli("summary", "--predictions", predictions, "--training", f"R={run}", "--output-dir", out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: {run / file}: field {named}"), error
    assert not out.exists()


def test_a_run_without_epoch_numbers_plots_epochs_by_position(tmp_path):
    """An epoch entry with "epoch": null was a traceback in the loss chart; it is plotted at its position."""
    probabilities, labels = learned_scores(1.5, seed=3)
    predictions = write_predictions(tmp_path / "R.predictions.tsv", probabilities, labels)
    run = write_finetune_run(tmp_path / "run", [0.62, 0.51, 0.46], [0.78, 0.86, 0.88])
    metrics = json.loads((run / "metrics.json").read_text())
    for entry in metrics["epochs"]:
        entry["epoch"] = None
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "model_card.json").unlink()
    out = tmp_path / "out"
    run_tool("summary", "--predictions", predictions, "--training", f"R={run}", "--output-dir", out)
    body = section((out / "report.html").read_text(), "R")
    assert "main validation loss: kept, 3 → 0.4600" in body
