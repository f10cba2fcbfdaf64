"""The training-loss curve of a pretraining run, from its log (the trainer's ``step N/M: loss L, R sequences/s``
lines), as a TSV and a PNG. Runs started before bertrbp-pretrain recorded ``train_loss_curve`` in metrics.json
(and resumed runs, whose earlier steps are only in the first log) get their curve this way.

    python bench/pretrain_curve.py /work/pretrain_mt.log bench/results/pretrain_multitask_curve
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINE = re.compile(r"^(\d\d:\d\d:\d\d) INFO step (\d+)/(\d+): loss ([0-9.]+), ([0-9.]+) sequences/s")


def read_curve(log: Path) -> list[tuple[str, int, float, float]]:
    """(time, step, loss, sequences/s) per log line; the last occurrence of a step wins (a resumed run)."""
    rows: dict[int, tuple[str, int, float, float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if match:
            time, step, _, loss, rate = match.groups()
            rows[int(step)] = (time, int(step), float(loss), float(rate))
    return [rows[step] for step in sorted(rows)]


def main(log: str, prefix: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_curve(Path(log))
    if not rows:
        raise SystemExit(f"error: {log}: no 'step N/M: loss' lines.")
    Path(f"{prefix}.tsv").write_text(
        "time\tstep\ttrain_loss\tsequences_per_s\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows)
    )
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([r[1] for r in rows], [r[2] for r in rows], linewidth=1)
    axis.set_xlabel("optimizer step (batch 64)")
    axis.set_ylabel("multi-task BCE loss (window mean)")
    axis.set_title("bertrbp-mini-k3 multi-task pretraining")
    figure.tight_layout()
    figure.savefig(f"{prefix}.png", dpi=120)
    print(f"{len(rows)} points -> {prefix}.tsv, {prefix}.png")


if __name__ == "__main__":
    main(*sys.argv[1:3])
