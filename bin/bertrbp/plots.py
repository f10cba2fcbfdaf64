"""ROC and precision-recall plots (PNG for reports, SVG for papers), drawn headless with matplotlib's Agg."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bertrbp.io.atomic import atomic_path
from bertrbp.metrics import curves

FORMATS = ("png", "svg")
CURVES = ("roc", "pr")


def plot_files(directory: str | Path) -> list[Path]:
    """The files ``write_curve_plots`` writes into ``directory``, for the callers' output checks."""
    return [Path(directory) / f"{curve}.{ext}" for curve in CURVES for ext in FORMATS]


def _save(fig, stem: Path) -> list[Path]:
    written = []
    for ext in FORMATS:
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
        written.append(path)
    return written


def write_curve_plots(
    labels: Sequence[int], scores: Sequence[float], metrics: dict, directory: str | Path, name: str = ""
) -> list[Path]:
    """Write roc.png/.svg and pr.png/.svg into ``directory``; returns the paths written. ``scores`` rank the
    sites (probabilities, or ``PredictionTable.ranking``).

    Titles are plain text (``parse_math=False``): a --name with '$' was read as matplotlib mathtext, so 'x$\\q$'
    stopped the run with a traceback and '$5 and $6' was drawn as a formula.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)  # made by the first plot's atomic_path, and removed again if that plot fails
    points = curves(labels, scores)
    title = f"{name}: " if name else ""
    prior = metrics["n_positive"] / metrics["n"]
    written = []

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(points["fpr"], points["tpr"], lw=1.5, label=f"AUROC {metrics['auroc']:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{title}ROC", parse_math=False)
    ax.legend(loc="lower right")
    written += _save(fig, directory / "roc")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(points["recall"], points["precision"], lw=1.5, label=f"AUPRC {metrics['auprc']:.3f}")
    ax.axhline(prior, ls="--", c="grey", lw=0.8, label=f"chance ({prior:.2f})")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{title}Precision-recall", parse_math=False)
    ax.legend(loc="lower left")
    written += _save(fig, directory / "pr")
    plt.close(fig)
    return written
