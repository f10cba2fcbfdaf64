"""How bertrbp-summary scales to hundreds of RBPs: wall time of the tool, size of report.html, and the time headless
Chromium takes to load and lay it out.

Synthetic inputs (no training): ``--rbps`` RBPs x 3 models (main, baseline, kmer), each with a predictions TSV of
``--test-size`` labelled sequences, an evaluate-style metrics JSON and a finetune-style run of ``--epochs`` epochs
(metrics.json + model_card.json). A tenth of the main models are stalled. Machine load (``uptime``) is recorded
before and after: the CPUs may be shared.

    python bench/summary_scale.py                      # 300 RBPs, 2,000 test sequences, 10 epochs
    python bench/summary_scale.py --rbps 20 --smoke    # quick check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))
from bertrbp.metrics import binary_metrics  # noqa: E402


def _write_inputs(folder: Path, rbps: int, test_size: int, epochs: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    args: list[str] = []
    labels = np.array([1] * (test_size // 2) + [0] * (test_size - test_size // 2))
    for r in range(rbps):
        rbp = f"RBP{r:04d}_K562"
        for model, separation in (("main", 2.2), ("baseline", 1.0), ("kmer", 1.4)):
            name = rbp if model == "main" else f"{rbp}.{model}"
            stalled = model == "main" and r % 10 == 0
            if stalled:
                p = 0.501 + rng.normal(0, 3e-5, test_size)
            else:
                logits = rng.normal(0, 1, test_size) + separation * (labels - 0.5)
                p = 1 / (1 + np.exp(-logits))
            lines = ["id\tprobability\tlogit\tlabel"] + [
                f"{rbp}:{i}\t{q:.6g}\t{math.log(q / (1 - q)):.6g}\t{y}" for i, (q, y) in enumerate(zip(p, labels))
            ]
            predictions = folder / f"{name}.predictions.tsv"
            predictions.write_text("\n".join(lines) + "\n")
            metrics_file = folder / f"{name}.metrics.json"  # what bertrbp-evaluate writes beside each predictions TSV
            metrics_file.write_text(json.dumps({"name": name, **binary_metrics(labels, np.round(p, 6))}))
            args.append(str(metrics_file))
            run = folder / "runs" / name
            run.mkdir(parents=True)
            losses = [0.69 - (0 if stalled else 0.02 * e) for e in range(epochs)]
            aurocs = [0.5 + (0.01 if stalled else 0.03) * e for e in range(epochs)]
            diagnosis = {
                "collapsed": False,
                "stalled": stalled,
                "reasons": [],
                "auroc": aurocs[-1],
                "prediction_std": 3e-5 if stalled else 0.1,
                "val_loss": losses[-1],
                "class_prior_entropy": 0.6931,
            }
            metrics = {
                "kept": "best",
                "kept_epoch": epochs,
                "collapsed": False,
                "stalled": stalled,
                "collapse": diagnosis,
                "model_kind": "kmer" if model == "kmer" else "bert",
                "epochs": [
                    {"epoch": e + 1, "train_loss": losses[e] + 0.01, "val_loss": losses[e], "val_auroc": aurocs[e]}
                    for e in range(epochs)
                ],
            }
            card = {
                "tool": "bertrbp-finetune",
                "model_source": "mini",
                "k": 3,
                "seed": 42,
                "metrics": metrics,
                "hyperparameters": {"lr": 2e-4, "epochs": epochs, "batch_size": 32, "grad_accum": 1},
                "software": {"python": platform.python_version(), "bert-rbp": "0.1.0"},
            }
            (run / "metrics.json").write_text(json.dumps(metrics))
            (run / "model_card.json").write_text(json.dumps(card))
            args += ["--predictions", str(predictions), "--training", f"{name}={run}"]
    return args


def _uptime() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rbps", type=int, default=300)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "summary_scale.json")
    parser.add_argument("--smoke", action="store_true", help="do not write --output")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = _write_inputs(folder, options.rbps, options.test_size, options.epochs, seed=0)
        load_before = _uptime()
        started = time.perf_counter()
        cmd = [sys.executable, str(REPO / "bin" / "bertrbp-summary"), *args, "--output-dir", str(folder / "out")]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        summary_s = time.perf_counter() - started
        report = folder / "out" / "report.html"
        result = {
            "rbps": options.rbps,
            "models": 3 * options.rbps,
            "test_size": options.test_size,
            "epochs": options.epochs,
            "summary_wall_s": round(summary_s, 2),
            "report_bytes": report.stat().st_size,
            "load_before": load_before,
        }
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if browser:
            started = time.perf_counter()
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--dump-dom",
                    f"--user-data-dir={folder / 'profile'}",
                    report.as_uri(),
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
            result["chromium_dump_dom_wall_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--window-size=1280,1400",
                    f"--screenshot={folder / 'shot.png'}",
                    f"--user-data-dir={folder / 'profile'}",
                    report.as_uri(),
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
            result["chromium_screenshot_wall_s"] = round(time.perf_counter() - started, 2)
        result["load_after"] = _uptime()
        result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)"
        result["command"] = "python bench/summary_scale.py " + " ".join(sys.argv[1:])
    print(json.dumps(result, indent=2))
    if not options.smoke:
        options.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
