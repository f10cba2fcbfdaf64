"""Figures of the attention analysis: layer x head heatmaps, the specialization summary, binned curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    _plt().close(fig)
    return paths


def safe_stem(text: str) -> str:
    """A file-name-safe version of a property name (5'UTR -> 5_UTR)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def heatmap(matrix: np.ndarray, title: str, label: str, folder: Path, stem: str, center: float | None = None):
    """Layer (rows, 1 at the top) x head (columns) heatmap with 1-based tick labels, as in the paper."""
    plt = _plt()
    layers, heads = matrix.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * heads, 0.9 + 0.4 * layers))
    finite = matrix[np.isfinite(matrix)]
    kwargs = {}
    if center is not None and finite.size:
        spread = max(abs(finite.max() - center), abs(center - finite.min())) or 1.0
        kwargs = dict(cmap="RdBu_r", vmin=center - spread, vmax=center + spread)
    else:
        kwargs = dict(cmap="viridis")
    image = ax.imshow(matrix, aspect="auto", **kwargs)
    ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
    ax.set_yticks(range(layers), [str(layer + 1) for layer in range(layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label=label)
    return _save(fig, folder, stem)


def specialization_summary(rows: Sequence[tuple[str, str, float, str]], folder: Path) -> list[Path]:
    """Bar chart of the coefficient of variation per (level, property), annotated with the top head."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 1.5), 3.5))
    labels = [f"{level}:{prop}" for level, prop, _, _ in rows]
    values = [cv if np.isfinite(cv) else 0.0 for _, _, cv, _ in rows]
    colors = ["tab:blue" if level == "sequence" else "tab:orange" for level, *_ in rows]
    bars = ax.bar(range(len(rows)), values, color=colors)
    for bar, (_, _, _, head) in zip(bars, rows):
        ax.annotate(
            head or "-", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_xticks(range(len(rows)), labels, rotation=45, ha="right")
    ax.set_ylabel("coefficient of variation over heads")
    ax.set_title("degree of specialization (label: most specialized head)", fontsize=10)
    return _save(fig, folder, "specialization")


def binned_curve(midpoints, mean, std, title: str, folder: Path, stem: str, rho: float) -> list[Path]:
    """Probability of the property per attention bin, mean +- SD over the random subsets."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    ok = np.isfinite(mean)
    ax.errorbar(
        np.asarray(midpoints)[ok], np.asarray(mean)[ok], yerr=np.nan_to_num(np.asarray(std)[ok]), marker="o", capsize=3
    )
    ax.set_xlabel("attention")
    ax.set_ylabel("probability of the property")
    ax.set_title(f"{title} (Spearman rho = {rho:.2f})" if np.isfinite(rho) else title, fontsize=9)
    return _save(fig, folder, stem)


def cv_comparison(rows: Sequence[tuple[str, str, float, float]], folder: Path) -> list[Path]:
    """The paper's Fig. 3a: CV over heads per property, main model beside the compared model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(rows) + 1.5), 3.5))
    x = np.arange(len(rows))
    main = [v if np.isfinite(v) else 0.0 for _, _, v, _ in rows]
    other = [v if np.isfinite(v) else 0.0 for _, _, _, v in rows]
    ax.bar(x - 0.2, main, width=0.4, label="main model", color="tab:red")
    ax.bar(x + 0.2, other, width=0.4, label="compared model", color="tab:gray")
    ax.set_xticks(x, [f"{level}:{prop}" for level, prop, _, _ in rows], rotation=45, ha="right")
    ax.set_ylabel("coefficient of variation over heads")
    ax.set_title("degree of specialization, main vs compared model", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, folder, "cv_comparison")


def similarity_bars(rows: Sequence[tuple[str, str, str, float]], folder: Path) -> list[Path]:
    """The paper's Fig. 4: Pearson's r between the two models' layer x head patterns, per property."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 1.5), 3.5))
    values = [r if np.isfinite(r) else 0.0 for *_, r in rows]
    ax.bar(range(len(rows)), values, color=["tab:blue" if level == "sequence" else "tab:orange" for level, *_ in rows])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(
        range(len(rows)),
        [f"{level}:{prop} ({measure})" for level, measure, prop, _ in rows],
        rotation=45,
        ha="right",
        fontsize=7,
    )
    ax.set_ylim(-1, 1)
    ax.set_ylabel("Pearson r of head patterns")
    ax.set_title("similarity of attention patterns, main vs compared model", fontsize=10)
    return _save(fig, folder, "similarity")


def binned_curves_fixed_head(curves, title: str, folder: Path, stem: str) -> list[Path]:
    """The paper's Figs. 3e/5: one property's binned probability at one fixed head, one curve per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for model, midpoints, mean, std, rho in curves:
        ok = np.isfinite(mean)
        label = f"{model} (rho = {rho:.2f})" if np.isfinite(rho) else model
        ax.errorbar(
            np.asarray(midpoints)[ok],
            np.asarray(mean)[ok],
            yerr=np.nan_to_num(np.asarray(std)[ok]),
            marker="o",
            capsize=3,
            label=label,
        )
    ax.set_xlabel("attention")
    ax.set_ylabel("probability of the property")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, folder, stem)
