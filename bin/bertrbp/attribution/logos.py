"""Sequence logos of per-nucleotide attributions (logomaker), one figure per sequence and method."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BASES = "ACGT"


def onehot_matrix(seq: str, values: np.ndarray):
    """A DataFrame [L, A C G T] with ``values`` at each reference base and 0 elsewhere (N rows stay 0)."""
    import pandas as pd

    matrix = np.zeros((len(seq), 4))
    for i, base in enumerate(seq):
        if base in BASES:
            matrix[i, BASES.index(base)] = values[i]
    return pd.DataFrame(matrix, columns=list(BASES))


def draw_logo(seq: str, values: np.ndarray, title: str, path: Path) -> None:
    """Letters of the sequence scaled by attribution (below the axis when negative); PNG or SVG by suffix."""
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt

    frame = onehot_matrix(seq, values)
    fig, ax = plt.subplots(figsize=(max(6.0, len(seq) * 0.14), 2.2))
    logomaker.Logo(frame.rename(columns={"T": "U"}), ax=ax, color_scheme="classic")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("position (0-based)")
    ax.set_ylabel("attribution")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
