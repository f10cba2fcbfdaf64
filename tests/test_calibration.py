"""Platt calibration of a stalled kept model: the fit, the rule that applies it, and the written model's outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_tool
from synthetic import motif_sequences, write_fasta


def _logistic_sample(n: int, scale: float, shift: float, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds with a tiny spread (a stalled model's) and labels drawn from sigmoid(scale * z + shift)."""
    rng = np.random.default_rng(seed)
    z = 0.3 + spread * rng.standard_normal(n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(scale * z + shift)))).astype(int)
    return z, y


def test_fit_recovers_the_generating_scale_and_shift_from_tiny_log_odds():
    from bertrbp.calibration import fit_platt

    z, y = _logistic_sample(20000, scale=1500.0, shift=-450.7, spread=1e-3, seed=0)
    scale, shift = fit_platt(z, y)
    assert scale == pytest.approx(1500.0, rel=0.05)
    # compare where the data are: the calibrated log-odds at the sample's quartiles
    for q in np.quantile(z, [0.25, 0.5, 0.75]):
        assert scale * q + shift == pytest.approx(1500.0 * q - 450.7, abs=0.06)


def test_fit_stays_finite_when_validation_separates_perfectly_and_declines_constant_outputs():
    """Platt's smoothed targets: 5 positives all above 500 negatives still give a finite, moderate fit."""
    from bertrbp.calibration import crossfit_losses, fit_platt

    z = np.r_[np.linspace(0.30, 0.31, 500), np.linspace(0.32, 0.33, 5)]
    y = np.r_[np.zeros(500, int), np.ones(5, int)]
    scale, shift = fit_platt(z, y)
    calibrated = scale * z + shift
    assert scale > 0 and np.abs(calibrated).max() < 20  # confident, not infinite
    assert np.isfinite(crossfit_losses(z, y)).all()
    assert fit_platt(np.full(10, 0.3), y[:10]) is None
    one_positive = np.r_[np.zeros(500, int), 1]
    assert crossfit_losses(z[:501], one_positive) is None  # no out-of-fold judge with one sequence of a class


def test_decide_applies_only_to_a_stalled_model_whose_ranking_generalises():
    from bertrbp.calibration import decide

    z, y = _logistic_sample(60, scale=3000.0, shift=-900.0, spread=1e-3, seed=1)
    applied = decide("auto", stalled=True, collapsed=False, log_odds=z, labels=y)
    assert applied.applied and applied.scale > 0
    assert applied.fitted_on == "validation" and applied.n_fit == 60  # no training outputs given
    assert applied.crossfit_loss < applied.fit_prior_entropy - 0.005 < applied.raw_val_loss + 0.005
    assert not decide("auto", stalled=False, collapsed=False, log_odds=z, labels=y).applied  # healthy: left alone
    assert decide("yes", stalled=False, collapsed=False, log_odds=z, labels=y).applied
    assert not decide("no", stalled=True, collapsed=False, log_odds=z, labels=y).applied
    assert not decide("yes", stalled=True, collapsed=True, log_odds=z, labels=y).applied
    backwards = decide("auto", stalled=True, collapsed=False, log_odds=-z, labels=y)
    assert not backwards.applied and "not positive" in backwards.reason
    noise = np.random.default_rng(2).permutation(y)  # labels unrelated to the outputs: nothing to calibrate
    assert not decide("yes", False, False, np.abs(z - np.median(z)), noise).applied
    assert "all equal" in decide("auto", True, False, np.full(60, 0.3), y).reason
    uninformative = decide("auto", stalled=True, collapsed=False, log_odds=z, labels=noise)
    assert not uninformative.applied
    assert uninformative.crossfit_loss >= uninformative.fit_prior_entropy - 0.005


def test_decide_fits_on_training_sites_the_model_has_not_fitted_and_checks_on_validation():
    """450 training sites at the prior judge a weak ranking that 50 validation sites cannot; the validation sites,
    held out, must then be predicted better than by their class frequency."""
    from bertrbp.calibration import decide

    train_z, train_y = _logistic_sample(450, scale=1000.0, shift=-300.0, spread=1e-3, seed=3)
    val_z, val_y = _logistic_sample(50, scale=1000.0, shift=-300.0, spread=1e-3, seed=4)
    on_validation = decide("auto", True, False, val_z, val_y)
    assert not on_validation.applied and "standard errors" in on_validation.reason  # too few to show the gain
    on_training = decide("auto", True, False, val_z, val_y, train_z, train_y)
    assert on_training.applied and on_training.fitted_on == "training" and on_training.n_fit == 450
    assert on_training.crossfit_gain_z > 2 > on_validation.crossfit_gain_z
    assert on_training.calibrated_val_loss < on_training.class_prior_entropy  # held out, and better than the prior
    # a model that has fitted its training sites (loss well below the prior there) is calibrated on validation only
    memorised = np.where(train_y == 1, 3.0, -3.0) + 1e-3 * np.arange(450) / 450
    fitted = decide("auto", True, False, val_z, val_y, memorised, train_y)
    assert fitted.fitted_on == "validation" and fitted.scale == pytest.approx(on_validation.scale)
    # a training-site fit that does not carry over: validation ranks the other way (and so far below training
    # that the training sites are not trusted either)
    reversed_val = decide("auto", True, False, -val_z, val_y, train_z, train_y)
    assert not reversed_val.applied and reversed_val.fitted_on == "validation" and reversed_val.ranking_gap_z > 2
    with pytest.raises(ValueError):
        decide("auto", True, False, val_z, val_y, train_z, None)
    broken = decide("auto", True, False, val_z, val_y, np.r_[train_z[:-1], np.nan], train_y)
    assert not broken.applied and "non-finite" in broken.reason


def test_a_memorised_training_ranking_at_the_prior_is_not_used_to_calibrate():
    """Probabilities at the prior on the training sites (spread 1e-3) while they are ranked far better than unseen
    ones: a fit there would be overconfident, so the sites are not trusted and validation (no signal) decides."""
    from bertrbp.calibration import decide

    rng = np.random.default_rng(5)
    train_y = np.r_[np.zeros(300, int), np.ones(150, int)]
    train_z = 0.3 + 1e-3 * (rng.standard_normal(450) + 2.0 * train_y)  # training AUROC about 0.92
    val_y = np.r_[np.zeros(34, int), np.ones(16, int)]
    val_z = 0.3 + 1e-3 * rng.standard_normal(50)  # unseen sites: no signal
    memorised = decide("auto", True, False, val_z, val_y, train_z, train_y)
    assert memorised.train_auroc > 0.85 and memorised.ranking_gap_z > 2
    assert memorised.fitted_on == "validation" and not memorised.applied


def test_a_training_fit_must_beat_the_prior_on_validation_by_a_standard_error():
    """Real but weak signal on training (z > 2 over 450) whose held-out gain on 50 sites is within noise: kept
    as trained, and the reason says the fit did not carry over."""
    from bertrbp.calibration import HELDOUT_Z, decide

    train_z, train_y = _logistic_sample(450, scale=700.0, shift=-210.0, spread=1e-3, seed=6)
    for seed in range(7, 40):  # validation outputs shuffled against their labels: nothing to confirm the fit
        val_z, val_y = _logistic_sample(50, scale=700.0, shift=-210.0, spread=1e-3, seed=seed)
        shuffled = np.random.default_rng(seed).permutation(val_z)
        result = decide("auto", True, False, shuffled, val_y, train_z, train_y)
        if result.fitted_on == "training" and result.crossfit_gain_z > 2 and result.heldout_gain_z <= HELDOUT_Z:
            break
    else:
        pytest.fail("no validation draw with a weak held-out gain")
    assert not result.applied and "does not carry over" in result.reason


@pytest.mark.parametrize("preset", ["tiny", "cnn"])
def test_folding_into_the_head_maps_log_odds_exactly(preset):
    import torch

    from bertrbp.calibration import fold_into_head
    from bertrbp.model import load_classifier
    from bertrbp.tokenizer import KmerTokenizer

    model, tokenizer, _ = load_classifier(preset, seed=0)
    model.eval()
    tokenize = KmerTokenizer(3).encode
    ids = torch.tensor(np.stack([tokenize("ACGTTGCATGACGTAGGCT" * 2), tokenize("TTGACCATGCAAGTCAGGA" * 2)]))
    with torch.no_grad():
        before = model(input_ids=ids).logits
        fold_into_head(model, 7.5, -1.25)
        after = model(input_ids=ids).logits
    expected = 7.5 * (before[:, 1] - before[:, 0]) - 1.25
    torch.testing.assert_close(after[:, 1] - after[:, 0], expected, rtol=1e-5, atol=1e-5)
    assert model.config.bertrbp_calibration == {"method": "platt", "scale": 7.5, "shift": -1.25}


def test_bf16_auto_scores_a_strongly_calibrated_model_in_fp32(monkeypatch):
    """bf16 rounding of the hidden states, magnified by a large calibration scale, would blur the probabilities."""
    import torch

    from bertrbp import device as device_module
    from bertrbp.calibration import fold_into_head, forget, inference_bf16
    from bertrbp.model import load_classifier

    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    cpu = torch.device("cpu")
    model, _, _ = load_classifier("tiny", seed=0)
    assert inference_bf16(cpu, "auto", [model])
    fold_into_head(model, 5.0, 0.0)  # a mild calibration keeps bf16
    assert inference_bf16(cpu, "auto", [model])
    fold_into_head(model, 800.0, 0.0)
    assert not inference_bf16(cpu, "auto", [model]) and inference_bf16(cpu, "yes", [model])
    assert not inference_bf16(cpu, "no", [])
    forget(model)  # a new training run from this checkpoint: the record no longer describes the head
    assert inference_bf16(cpu, "auto", [model])


def _stalled_start(motif_checkpoint, folder):
    """The planted-motif model with its head shrunk 1000-fold and offset: ranks well, every probability just
    above 0.5 (as a stalled model's all sit on one side of the threshold)."""
    import torch

    from bertrbp.model import load_classifier, save_checkpoint

    model, tokenizer, _ = load_classifier(str(motif_checkpoint))
    with torch.no_grad():
        model.classifier.weight.mul_(1e-3)
        model.classifier.bias.copy_(torch.tensor([0.0, 0.05]))
    return save_checkpoint(model, tokenizer, folder)


@pytest.fixture(scope="module")
def stalled_runs(motif_checkpoint, tmp_path_factory):
    """finetune from the stalled start, not moving it (lr 1e-12), with --calibrate auto and no."""
    d = tmp_path_factory.mktemp("calibration")
    start = _stalled_start(motif_checkpoint, d / "start")
    train = write_fasta(d / "train.fa", motif_sequences(400, seed=11, length=41))
    test = write_fasta(d / "test.fa", motif_sequences(300, seed=12, length=41))
    runs = {}
    for policy in ("auto", "no"):
        out = d / policy
        # auto: 2 epochs, the first kept (equal validation AUROCs), so the kept model is reloaded before calibrating
        result = run_tool(
            "finetune",
            *("--train", train, "--output-dir", out, "--model", start, "--lr", "1e-12"),
            *("--epochs", "2" if policy == "auto" else "1", "--patience", "0", "--val-fraction", "0.25"),
            *("--batch-size", "32", "--threads", "1", "--calibrate", policy),
        )
        run_tool("predict", "--model", out / "model", test, "-o", out / "test.tsv", "--threads", "1")
        runs[policy] = (out, result)
    return runs


def _test_scores(path) -> tuple[dict, np.ndarray, np.ndarray]:
    """(metrics at 0.5 on the written probabilities, log-odds, labels) of a predictions TSV."""
    import csv

    from bertrbp.metrics import binary_metrics

    with open(path) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    labels = np.array([int(r["label"]) for r in rows])
    logits = np.array([float(r["logit"]) for r in rows])
    metrics = binary_metrics(labels, [float(r["probability"]) for r in rows])
    metrics["auroc_of_log_odds"] = binary_metrics(labels, 1 / (1 + np.exp(-logits)))["auroc"]
    return metrics, logits, labels


def test_auto_calibrates_a_stalled_model_and_keeps_its_ranking(stalled_runs):
    from bertrbp.calibration import log_loss

    out, result = stalled_runs["auto"]
    metrics = json.loads((out / "metrics.json").read_text())
    calibration = metrics["calibration"]
    assert calibration["applied"] and calibration["scale"] > 100  # a 1000-fold shrunk head needs a large scale
    # the 300 training sites (the model sits at the prior on them), checked on the 100 held-out validation sites
    assert calibration["fitted_on"] == "training" and calibration["n_fit"] == 300
    assert calibration["calibrated_val_loss"] < calibration["class_prior_entropy"] - 0.1
    assert metrics["stalled"] is False and metrics["collapse"]["stalled_before_calibration"] is True
    assert "WARNING" not in result.stderr and "calibrat" in result.stderr
    assert "Calibration: Platt scaling on 300 training sequences" in (out / "model_card.md").read_text()
    calibrated, logits, labels = _test_scores(out / "test.tsv")
    raw, raw_logits, _ = _test_scores(stalled_runs["no"][0] / "test.tsv")
    # the same ranking (an increasing map of the log-odds), on test data calibration never saw
    assert calibrated["auroc_of_log_odds"] == pytest.approx(raw["auroc_of_log_odds"], abs=1e-3)
    assert raw["auroc_of_log_odds"] > 0.9
    assert raw["mcc"] == 0 and calibrated["mcc"] > 0.5  # raw: every test probability on one side of 0.5
    assert log_loss(logits, labels) < log_loss(raw_logits, labels) - 0.1


def test_resuming_a_finished_calibrated_run_writes_the_same_model(stalled_runs):
    """Calibration starts from the saved raw weights each time: a --resume of a finished run must not calibrate
    the calibrated head again."""
    out, _ = stalled_runs["auto"]
    assert json.loads((out / "metrics.json").read_text())["kept_epoch"] == 1
    before = (out / "model" / "model.safetensors").read_bytes()
    run_tool(
        "finetune",
        *("--train", out.parent / "train.fa", "--output-dir", out, "--model", out.parent / "start", "--lr", "1e-12"),
        *("--epochs", "2", "--patience", "0", "--val-fraction", "0.25", "--batch-size", "32", "--threads", "1"),
        "--resume",
    )
    assert (out / "model" / "model.safetensors").read_bytes() == before


def test_calibrate_no_leaves_the_stall_warning(stalled_runs):
    out, result = stalled_runs["no"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stalled"] is True and metrics["calibration"]["applied"] is False
    assert "barely moved from the class prior" in result.stderr
    assert "barely moved" in (out / "model_card.md").read_text()


def test_a_bad_calibrate_value_is_one_error_line(tmp_path):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(40, seed=3, length=41))
    result = run_tool(
        "finetune",
        "--train",
        train,
        "--output-dir",
        tmp_path / "out",
        "--model",
        "tiny",
        "--calibrate",
        "maybe",
        check=False,
    )
    assert result.returncode == 2 and "error:" in result.stderr and "--calibrate" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "model").exists()


def test_the_training_sample_is_capped_seeded_and_in_file_order():
    """A stalled model on a large set is scored on at most MAX_TRAINING_SITES training sites, the same ones on a
    rerun (so --resume writes the same model)."""
    from bertrbp.calibration import MAX_TRAINING_SITES
    from bertrbp.finetune import _training_sample
    from bertrbp.io.tokens import TokenizedDataset

    n = MAX_TRAINING_SITES + 700
    data = TokenizedDataset(
        np.arange(n)[:, None], np.ones((n, 1), int), np.arange(n) % 2, np.array([f"s{i}" for i in range(n)]), 3
    )
    sample = _training_sample(data, seed=42)
    rows = sample.input_ids[:, 0]
    assert len(sample) == MAX_TRAINING_SITES and len(set(rows)) == MAX_TRAINING_SITES
    assert (np.diff(rows) > 0).all() and (sample.labels == rows % 2).all()  # file order, rows kept whole
    assert (_training_sample(data, seed=42).input_ids == sample.input_ids).all()
    assert not (_training_sample(data, seed=43).input_ids[:, 0] == rows).all()
    small = data.subset(np.arange(100))
    assert _training_sample(small, seed=42) is small


def test_non_finite_validation_outputs_refuse_before_scoring_training_sites(monkeypatch, tmp_path):
    """A run whose kept model outputs NaN on validation cannot be calibrated; scoring up to 2,000 training sites
    first (minutes for a DNABERT-base on a CPU) would be wasted."""
    from types import SimpleNamespace

    from bertrbp import finetune

    scored = []

    def fake_scores(model, data, device, bf16, batch_size):
        scored.append(data)
        return None, np.full(len(data.labels), np.nan), float("nan")

    monkeypatch.setattr(finetune, "score_log_odds", fake_scores)
    val = SimpleNamespace(labels=np.array([0, 1] * 20))
    train = SimpleNamespace(labels=np.array([0, 1] * 200))
    options = finetune.FinetuneOptions(train=[], output_dir=tmp_path, calibrate="yes")
    run = finetune._Run([], 1, {"collapse": {"stalled": True}}, "cpu", False, 1, 10)
    model = SimpleNamespace(config=SimpleNamespace())
    result = finetune._calibrate(options, "bert", model, train, val, run)
    assert scored == [val]  # the training sample was never scored
    assert not result.applied and "non-finite validation outputs" in result.reason
