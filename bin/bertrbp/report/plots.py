"""Summary plots as PNG bytes (matplotlib, Agg backend), ready to embed in the HTML report."""

from __future__ import annotations

import io
from typing import Optional

from bertrbp.report.metrics import MAIN_MODEL, MetricsRow


def _figure_bytes(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def metric_bars(rows: list[MetricsRow], metric: str) -> Optional[bytes]:
    """Grouped bars: one group per RBP, one bar per model; None when no row has the metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rbps = list(dict.fromkeys(r.rbp for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    lookup = {(r.rbp, r.model): r.values.get(metric) for r in rows}
    if all(v is None for v in lookup.values()):
        return None
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rbps) * len(models) + 1.5), 3.6))
    x = np.arange(len(rbps))
    for i, model in enumerate(models):
        heights = [lookup.get((rbp, model)) for rbp in rbps]
        ax.bar(x + i * width - 0.4 + width / 2, [h if h is not None else 0.0 for h in heights], width, label=model)
    ax.set_xticks(x)
    ax.set_xticklabels(rbps, rotation=45 if len(rbps) > 4 else 0, ha="right" if len(rbps) > 4 else "center")
    ax.set_ylabel(metric.upper())
    ax.set_ylim(0, 1.0 if metric != "mcc" else max(1.0, ax.get_ylim()[1]))
    if metric in ("auroc",):
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    if len(models) > 1:
        ax.legend(frameon=False, fontsize="small")
    ax.set_title(f"{metric.upper()} per RBP")
    return _figure_bytes(fig)


def main_vs_other(rows: list[MetricsRow], metric: str = "auroc") -> Optional[bytes]:
    """Scatter of the main model (--model) against each other model per RBP (points above the diagonal: the
    other model wins); None when no RBP has both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = {r.rbp: r.values.get(metric) for r in rows if r.model == MAIN_MODEL}
    others = [r for r in rows if r.model != MAIN_MODEL and main.get(r.rbp) is not None and r.values.get(metric) is not None]
    if not others:
        return None
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    for model in dict.fromkeys(r.model for r in others):
        points = [(main[r.rbp], r.values[metric]) for r in others if r.model == model]
        ax.scatter([p[0] for p in points], [p[1] for p in points], label=model, s=24)
    values = [v for r in others for v in (main[r.rbp], r.values[metric])]
    low = min(0.5, min(values) - 0.02)
    ax.plot([low, 1], [low, 1], color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1)
    ax.set_xlabel(f"main model {metric.upper()}")
    ax.set_ylabel(f"other model {metric.upper()}")
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("Pretrained vs other models")
    return _figure_bytes(fig)
