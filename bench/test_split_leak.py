"""How much does a random test split overstate test AUROC on CLIP sets whose windows overlap? (bertrbp-prepare
--split random against --split locus, the default ``auto`` on such data.)

For each RBP-31 experiment, the tools a user runs: ``bertrbp-prepare`` on the experiment's training file
(``--test-size 0.2``, every site kept) once per split kind; ``bertrbp-finetune --model kmer-pos`` (the suite's fast
model, its defaults) on each prepared training set; ``bertrbp-predict`` of each model on its own prepared test set
and on the experiment's official test split, which no model here trained or chose anything on. A split that leaks
scores its own test set well above what the official test says; the ``gap`` column (own test minus official test)
shows how much. The share of prepared test sites that overlap a training site comes from prepare's manifest.

    python bench/test_split_leak.py --work /tmp/leak                  # all 21 experiments
    python bench/test_split_leak.py --work /tmp/leak --experiments 10_PARCLIP_ELAVL1A_hg19
    python bench/test_split_leak.py --report > bench/results/test_split_leak.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402  (bench/accuracy.py: experiments, data paths, short names)

SPLITS = ("random", "locus")
TSV = accuracy.RESULTS / "test_split_leak.tsv"
COLUMNS = [
    "experiment",
    "split",
    "n_train",
    "n_test",
    "test_overlapping_train",
    "auroc_own_test",
    "auroc_official_test",
    "gap",
    "threads",
    "load_before",
]


def tool(name: str) -> str:
    """The tool beside this Python (the project's virtual environment)."""
    return str(Path(sys.executable).with_name(name))


def auroc(predictions: Path) -> float:
    from sklearn.metrics import roc_auc_score

    with open(predictions) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return float(roc_auc_score([int(r["label"]) for r in rows], [float(r["probability"]) for r in rows]))


def measure(name: str, split: str, work: Path, threads: int) -> dict:
    """One experiment under one split kind: prepare, fine-tune, predict twice."""
    train, official = accuracy.dataset_files("rbp31", name, accuracy.DATA, work, 42)
    out = work / name / split
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    run = ["--threads", str(threads)]
    subprocess.run(
        [tool("bertrbp-prepare"), str(train), "-o", str(out / "prep"), "--prefix", "x", "--test-size", "0.2"]
        + ["--max-per-class", "0", "--split", split, "--seed", "42"],
        check=True,
    )
    manifest = json.loads((out / "prep" / "x.manifest.json").read_text())
    subprocess.run(
        [tool("bertrbp-finetune"), "--train", str(out / "prep" / "x.train.fa"), "--model", "kmer-pos"]
        + ["--output-dir", str(out / "model"), "--seed", "42", *run],
        check=True,
    )
    scores = {}
    for which, path in (("own", out / "prep" / "x.test.fa"), ("official", official)):
        predictions = out / f"{which}.predictions.tsv"
        subprocess.run(
            [tool("bertrbp-predict"), str(path), "--model", str(out / "model" / "model")]
            + ["--output", str(predictions), *run],
            check=True,
        )
        scores[which] = auroc(predictions)
    report = manifest["overlap"]["train_vs_test"]
    return {
        "experiment": name,
        "split": manifest["overlap"]["split"],
        "n_train": manifest["splits"]["train"]["total"],
        "n_test": report["n"],
        "test_overlapping_train": f"{report['overlapping_intervals'] / report['n']:.4f}",
        "auroc_own_test": f"{scores['own']:.4f}",
        "auroc_official_test": f"{scores['official']:.4f}",
        "gap": f"{scores['own'] - scores['official']:+.4f}",
        "threads": threads,
        "load_before": load,
    }


def done() -> set[tuple[str, str]]:
    if not TSV.exists():
        return set()
    with open(TSV) as handle:
        return {(r["experiment"], r["split"]) for r in csv.DictReader(handle, delimiter="\t")}


def append(row: dict) -> None:
    new = not TSV.exists()
    with open(TSV, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t")
        if new:
            writer.writeheader()
        writer.writerow(row)


def report() -> str:
    with open(TSV) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    by = {(r["experiment"], r["split"]): r for r in rows}
    names = sorted(
        {r["experiment"] for r in rows if all((r["experiment"], s) in by for s in SPLITS)}, key=accuracy._number
    )
    lines = [
        "| experiment | test sites over a training site, random / locus | own test AUROC, random / locus | "
        "official test AUROC, random / locus | gap (own − official), random / locus |",
        "|---|---|---|---|---|",
    ]
    sums: dict[str, list[float]] = {key: [] for key in ("or", "ol", "ar", "al", "fr", "fl")}
    for name in names:
        r, lo = by[(name, "random")], by[(name, "locus")]
        values = [float(x) for x in (r["test_overlapping_train"], lo["test_overlapping_train"])]
        values += [float(x) for x in (r["auroc_own_test"], lo["auroc_own_test"])]
        values += [float(x) for x in (r["auroc_official_test"], lo["auroc_official_test"])]
        for key, value in zip(sums, values):
            sums[key].append(value)
        o_r, o_l, a_r, a_l, f_r, f_l = values
        lines.append(
            f"| {accuracy._short(name)} | {o_r:.1%} / {o_l:.1%} | {a_r:.4f} / {a_l:.4f} | {f_r:.4f} / {f_l:.4f} | "
            f"{a_r - f_r:+.4f} / {a_l - f_l:+.4f} |"
        )
    m = {key: float(np.mean(v)) for key, v in sums.items()}
    lines.append(
        f"| **mean of {len(names)}** | {m['or']:.1%} / {m['ol']:.1%} | {m['ar']:.4f} / {m['al']:.4f} | "
        f"{m['fr']:.4f} / {m['fl']:.4f} | {m['ar'] - m['fr']:+.4f} / {m['al'] - m['fl']:+.4f} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="folder for prepared sets, models and predictions")
    parser.add_argument("--experiments", nargs="*", help="RBP-31 experiments (default: all 21)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="print the markdown table of the rows so far")
    args = parser.parse_args(argv)
    if args.report:
        print(report())
        return
    if args.work is None:
        parser.error("give --work (or --report)")
    names = args.experiments or accuracy.experiments("rbp31", accuracy.DATA)
    finished = done()
    for name in names:
        for split in SPLITS:
            if (name, split) not in finished:
                append(measure(name, split, args.work, args.threads))


if __name__ == "__main__":
    main()
