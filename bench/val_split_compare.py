"""One recipe trained with two validation splits: what carving validation by locus changes (bertrbp-finetune
--val-split). Reads two bench/accuracy.py result files of one suite and writes, per experiment both finished,
validation and test AUROC under each split, the gap between them, the epochs each member ran and the training
time, with the means. The test columns were scored once per run, never used to choose anything; the point of the
locus split is that its validation AUROC tells what the test will say, and that the epochs, C and calibration
chosen on it are chosen on unseen loci.

    python bench/val_split_compare.py --suite rbp31 --before kmer-pos+cnnlstmx3 \\
        --after kmer-pos+cnnlstmx3-locusval > bench/results/val_split.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402  (bench/accuracy.py: result paths and readers)


def rows(suite: str, tag: str, results: Path) -> dict[str, dict]:
    return {row["experiment"]: row for row in accuracy.read_rows(accuracy.results_path(suite, tag, results))}


def compare(before: dict[str, dict], after: dict[str, dict], names: list[str]) -> list[str]:
    """Markdown table, one line per experiment and one of means."""
    lines = [
        "| experiment | validation, random | test, random | gap | validation, locus | test, locus | gap | "
        "test change | epochs run, random / locus | train s, random / locus |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    columns: dict[str, list[float]] = {key: [] for key in ("vb", "tb", "va", "ta", "sb", "sa")}
    for name in names:
        b, a = before[name], after[name]
        vb, tb, va, ta = (float(x) for x in (b["val_auroc"], b["test_auroc"], a["val_auroc"], a["test_auroc"]))
        sb, sa = float(b["train_wall_s"]), float(a["train_wall_s"])
        for key, value in zip(columns, (vb, tb, va, ta, sb, sa)):
            columns[key].append(value)
        lines.append(
            f"| {accuracy._short(name)} | {vb:.4f} | {tb:.4f} | {vb - tb:+.3f} | {va:.4f} | {ta:.4f} | "
            f"{va - ta:+.3f} | {ta - tb:+.4f} | {b['epochs_run']} / {a['epochs_run']} | {sb:.0f} / {sa:.0f} |"
        )
    m = {key: float(np.mean(values)) for key, values in columns.items()}
    up = sum(ta > tb for tb, ta in zip(columns["tb"], columns["ta"]))
    lines.append(
        f"| **mean of {len(names)}** ({up} of {len(names)} up on test) | {m['vb']:.4f} | {m['tb']:.4f} | "
        f"{m['vb'] - m['tb']:+.3f} | {m['va']:.4f} | {m['ta']:.4f} | {m['va'] - m['ta']:+.3f} | "
        f"{m['ta'] - m['tb']:+.4f} | | {sum(columns['sb']):.0f} / {sum(columns['sa']):.0f} |"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="rbp31", choices=accuracy.SUITES)
    parser.add_argument("--before", required=True, help="tag trained with the random split")
    parser.add_argument("--after", required=True, help="tag trained with the locus split")
    parser.add_argument("--results", type=Path, default=accuracy.RESULTS)
    args = parser.parse_args(argv)
    before, after = rows(args.suite, args.before, args.results), rows(args.suite, args.after, args.results)
    names = sorted(set(before) & set(after), key=accuracy._number)
    if not names:
        raise SystemExit(f"error: no experiment finished under both {args.before} and {args.after}.")
    print("\n".join(compare(before, after, names)))


if __name__ == "__main__":
    main()
