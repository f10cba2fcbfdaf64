"""The benchmarks start and produce their tables (tiny --smoke sizes), and their bookkeeping is right:
analytic FLOP counts match torch's own count, accuracy rows are appended incrementally and skipped on rerun,
and the published means are taken over the same experiments as ours."""

from __future__ import annotations

import csv
import importlib
import json
import sys
from pathlib import Path

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
    rows = [
        {"experiment": "1_PARCLIP_AGO1234_hg19", "test_auroc": "0.700"},
        {"experiment": "3_HITSCLIP_Ago2_binding_clusters", "test_auroc": "0.900"},
    ]
    for row in rows:
        full = {field: "1" for field in accuracy.FIELDS}
        full.update(row, collapsed="False", load_before="1.00/1.00/1.00", model="cnn")
        accuracy.append_row(accuracy.results_path("rbp31", "x", tmp_path), full)
    text = accuracy.report(tmp_path)
    mean_line = next(line for line in text.splitlines() if line.startswith("| x | 2 |"))
    # ours 0.800; DeepRKE (0.790 + 0.882) / 2 = 0.836; iDeepS (0.773 + 0.865) / 2 = 0.819
    assert [cell.strip() for cell in mean_line.split("|")[3:6]] == ["**0.800**", "0.836", "0.819"]


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
    accuracy.main(args)  # a rerun skips the finished experiment
    assert "skip TIAL1" in capsys.readouterr().out
    with open(path) as handle:
        assert len(list(csv.DictReader(handle, delimiter="\t"))) == 1
