"""Side-by-side test AUROC of the structure A/B runs (bench/structure_ab.sh): one row per experiment, one column per
--structure setting, the difference to the sequence-only model, and the wall times.

    python bench/structure_ab_report.py > bench/results/structure_ab.md    (after bash bench/structure_ab.sh)
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "structure_ab"
SETTINGS = ("none", "unpaired", "elements", "both")


def rows(results: Path = RESULTS) -> dict[tuple[str, str], dict[str, dict]]:
    """(suite, experiment) -> {structure setting (or "kmer" for the k-mer floor): result row}."""
    table: dict[tuple[str, str], dict[str, dict]] = {}
    for path in sorted(results.glob("accuracy_*.tsv")):
        with open(path) as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                setting = "kmer" if row.get("model_kind") == "kmer" else row.get("structure") or "none"
                table.setdefault((row["suite"], row["experiment"]), {})[setting] = row
    return table


def markdown(results: Path = RESULTS) -> str:
    table = rows(results)
    settings = [s for s in SETTINGS if any(s in runs for runs in table.values())]
    head = ["suite", "experiment", "k-mer floor (same subsets)"] + [f"test AUROC {s}" for s in settings]
    head += [f"{s} - none" for s in settings if s != "none"]
    head += [f"epochs run / train s / predict s {s}" for s in settings]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    table = {key: runs for key, runs in table.items() if set(runs) - {"kmer"}}
    deltas: dict[str, list[float]] = {s: [] for s in settings if s != "none"}
    for (suite, experiment), runs in sorted(table.items()):
        cells = [suite, experiment.split("_hg19")[0], runs["kmer"]["test_auroc"] if "kmer" in runs else ""]
        cells += [runs[s]["test_auroc"] if s in runs else "" for s in settings]
        for s in settings:
            if s == "none":
                continue
            if s in runs and "none" in runs:
                delta = float(runs[s]["test_auroc"]) - float(runs["none"]["test_auroc"])
                deltas[s].append(delta)
                cells.append(f"{delta:+.4f}")
            else:
                cells.append("")
        cells += [
            f"{runs[s]['epochs_run']} / {float(runs[s]['train_wall_s']):.0f} / {float(runs[s]['predict_wall_s']):.0f}"
            if s in runs
            else ""
            for s in settings
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for s, values in deltas.items():
        if values:
            lines.append(
                f"- `{s}` minus sequence-only: mean {sum(values) / len(values):+.4f} over {len(values)} experiment(s) "
                f"(range {min(values):+.4f} to {max(values):+.4f})"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS))
