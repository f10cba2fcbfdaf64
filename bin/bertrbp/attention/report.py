"""Writing the attention analysis: TSV/JSON tables, a reloadable ``arrays.npz`` and figures.

Everything is written into a hidden staging folder inside the output folder and moved into place only when
all of it is complete, so a failed run leaves no partial outputs (and no other file in the folder is touched).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bertrbp import __version__
from bertrbp.attention import figures
from bertrbp.attention.analysis import AttentionResults, ModelStats
from bertrbp.attention.formulas import head_name

OUTPUT_FILES = (
    "sequence_relative_attention.tsv",
    "token_attention_ratio.tsv",
    "token_relative_attention.tsv",
    "specialization.json",
    "binned_probability.tsv",
    "spearman.tsv",
    "similarity.tsv",
    "arrays.npz",
)


def _fmt(value) -> str:
    return "nan" if value is None or not np.isfinite(value) else f"{float(value):.6g}"


def _write_tsv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _head_rows(properties, *matrices):
    """(property, layer, head, name, values...) per head, 1-based."""
    for p, prop in enumerate(properties):
        layers, heads = matrices[0][p].shape
        for layer in range(layers):
            for head in range(heads):
                yield [prop, layer + 1, head + 1, head_name(layer, head)] + [
                    _fmt(m[p][layer, head] if np.ndim(m[p]) else m[p]) for m in matrices
                ]


def _arrays(stats: ModelStats, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if stats.sequence is not None:
        out.update({
            "sequence_properties": np.array(stats.sequence.properties),
            "sequence_relative_attention": stats.sequence.relative(),
            "sequence_mean_with": stats.sequence.mean_with(),
            "sequence_mean_without": stats.sequence.mean_without(),
        })
    if stats.token is not None:
        out.update({
            "token_properties": np.array(stats.token.properties),
            "token_attention_ratio": stats.token.ratio(),
            "token_background_share": stats.token.background(),
            "token_relative_attention": stats.token.relative(),
        })
    return {prefix + key: value for key, value in out.items()}


def write_tables(results: AttentionResults, folder: Path) -> None:
    stats = results.stats
    head_header = ["property", "layer", "head", "name", "value"]
    if stats.sequence is not None:
        acc = stats.sequence
        _write_tsv(folder / "sequence_relative_attention.tsv", head_header + ["mean_with", "mean_without"],
                   _head_rows(acc.properties, acc.relative(), acc.mean_with(), acc.mean_without()))
    if stats.token is not None:
        acc = stats.token
        background = acc.background()
        _write_tsv(folder / "token_attention_ratio.tsv", head_header + ["background_share"],
                   _head_rows(acc.properties, acc.ratio(), background))
        _write_tsv(folder / "token_relative_attention.tsv", head_header + ["mean_with", "mean_without"],
                   _head_rows(acc.properties, acc.relative(), acc.mean_with(), acc.mean_without()))
    binned_rows, spearman_rows = [], []
    for entry in results.binned:
        res, name = entry.result, head_name(*entry.head)
        for b in range(len(res.mean)):
            binned_rows.append([entry.level, entry.property, name, b + 1, _fmt(res.edges[b]), _fmt(res.edges[b + 1]),
                                int(res.counts[b]), int(res.positives[b]), _fmt(res.mean[b]), _fmt(res.std[b])]
                               + [_fmt(v) for v in res.split_probability[:, b]])
        spearman_rows.append([entry.level, entry.property, name, _fmt(res.rho), _fmt(res.p_value),
                              int(np.isfinite(res.mean).sum()), _fmt(res.threshold), res.n_items])
    splits = [f"probability_split{i + 1}" for i in range(results.settings.n_splits)]
    _write_tsv(folder / "binned_probability.tsv",
               ["level", "property", "head", "bin", "lower", "upper", "n", "n_with_property", "probability_mean",
                "probability_sd"] + splits, binned_rows)
    _write_tsv(folder / "spearman.tsv",
               ["level", "property", "head", "rho", "p_value", "n_bins", "threshold", "n_items"], spearman_rows)
    if results.compare is not None:
        _write_tsv(folder / "similarity.tsv", ["level", "measure", "property", "pearson_r", "p_value"],
                   ([s.level, s.measure, s.property, _fmt(s.pearson_r), _fmt(s.p_value)] for s in results.similarity))
    spec = dict(results.specialization)
    s = results.settings
    spec["settings"] = {"model": stats.source, "compare_model": results.compare.source if results.compare else None,
                        "n_sequences": len(results.inputs.ids), "n_layers": stats.n_layers, "n_heads": stats.n_heads,
                        "bins": s.n_bins, "percentile": s.percentile, "random_subsets": s.n_splits, "seed": s.seed,
                        "version": __version__}
    with open(folder / "specialization.json", "w") as handle:
        json.dump(spec, handle, indent=2, allow_nan=True)
        handle.write("\n")
    arrays = _arrays(stats)
    if results.compare is not None:
        arrays.update(_arrays(results.compare, "compare_"))
    np.savez_compressed(folder / "arrays.npz", **arrays)


def write_figures(results: AttentionResults, folder: Path) -> None:
    folder.mkdir()
    stats = results.stats
    summary = []
    if stats.sequence is not None:
        for p, prop in enumerate(stats.sequence.properties):
            figures.heatmap(stats.sequence.relative()[p], f"relative attention to CLS: {prop}",
                            "relative attention", folder, f"heatmap_sequence_{figures.safe_stem(prop)}", center=1.0)
            spec = results.specialization["sequence"][prop]
            summary.append(("sequence", prop, spec["cv"], spec["most_specialized_head"]))
    if stats.token is not None:
        background = stats.token.background()
        for p, prop in enumerate(stats.token.properties):
            figures.heatmap(stats.token.ratio()[p], f"attention ratio: {prop} (background {background[p]:.3f})",
                            "attention ratio", folder, f"heatmap_token_{figures.safe_stem(prop)}",
                            center=float(background[p]) if np.isfinite(background[p]) else None)
            spec = results.specialization["token"][prop]
            summary.append(("token", prop, spec["cv"], spec["most_specialized_head"]))
    if summary:
        figures.specialization_summary(summary, folder)
    for entry in results.binned:
        res = entry.result
        figures.binned_curve(res.midpoints, res.mean, res.std, f"{entry.level} {entry.property}, head "
                             f"{head_name(*entry.head)}", folder,
                             f"binned_{entry.level}_{figures.safe_stem(entry.property)}", res.rho)


def write_results(results: AttentionResults, output_dir: str | Path, with_figures: bool = True) -> list[Path]:
    """Write every output into ``output_dir`` all-or-nothing; returns the paths written."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".attention-stats.", suffix=".tmp", dir=output_dir))
    try:
        write_tables(results, staging)
        if with_figures:
            write_figures(results, staging / "figures")
        fresh = {item.name for item in staging.iterdir()}
        for stale in [*OUTPUT_FILES, "figures"]:  # outputs of an earlier run that this run does not produce
            old = output_dir / stale
            if stale not in fresh and old.exists():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        written = []
        for item in sorted(staging.iterdir()):
            final = output_dir / item.name
            if item.is_dir() and final.exists():
                shutil.rmtree(final)
            os.replace(item, final)
            written.append(final)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
