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
from bertrbp.errors import InputError, raise_if_interrupted
from bertrbp.io.atomic import parents_made

OUTPUT_FILES = (
    "sequence_relative_attention.tsv",
    "token_attention_ratio.tsv",
    "token_relative_attention.tsv",
    "compare_sequence_relative_attention.tsv",
    "compare_token_attention_ratio.tsv",
    "compare_token_relative_attention.tsv",
    "cv_comparison.tsv",
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
        out.update(
            {
                "sequence_properties": np.array(stats.sequence.properties),
                "sequence_relative_attention": stats.sequence.relative(),
                "sequence_mean_with": stats.sequence.mean_with(),
                "sequence_mean_without": stats.sequence.mean_without(),
            }
        )
    if stats.token is not None:
        out.update(
            {
                "token_properties": np.array(stats.token.properties),
                "token_attention_ratio": stats.token.ratio(),
                "token_background_share": stats.token.background(),
                "token_relative_attention": stats.token.relative(),
            }
        )
    return {prefix + key: value for key, value in out.items()}


def _write_head_tables(stats: ModelStats, folder: Path, prefix: str = "") -> None:
    head_header = ["property", "layer", "head", "name", "value"]
    if stats.sequence is not None:
        acc = stats.sequence
        _write_tsv(
            folder / f"{prefix}sequence_relative_attention.tsv",
            head_header + ["mean_with", "mean_without"],
            _head_rows(acc.properties, acc.relative(), acc.mean_with(), acc.mean_without()),
        )
    if stats.token is not None:
        acc = stats.token
        background = acc.background()
        _write_tsv(
            folder / f"{prefix}token_attention_ratio.tsv",
            head_header + ["background_share"],
            _head_rows(acc.properties, acc.ratio(), background),
        )
        _write_tsv(
            folder / f"{prefix}token_relative_attention.tsv",
            head_header + ["mean_with", "mean_without"],
            _head_rows(acc.properties, acc.relative(), acc.mean_with(), acc.mean_without()),
        )


def _cv_rows(main: dict, other: dict):
    for level in ("sequence", "token"):
        for prop, spec in main[level].items():
            theirs = other[level][prop]
            yield [
                level,
                prop,
                _fmt(spec["cv"]),
                spec["most_specialized_head"] or "",
                _fmt(theirs["cv"]),
                theirs["most_specialized_head"] or "",
            ]


def write_tables(results: AttentionResults, folder: Path) -> None:
    stats = results.stats
    _write_head_tables(stats, folder)
    if results.compare is not None:
        _write_head_tables(results.compare, folder, "compare_")
        _write_tsv(
            folder / "cv_comparison.tsv",
            ["level", "property", "cv_main", "head_main", "cv_compare", "head_compare"],
            _cv_rows(results.specialization, results.compare_specialization),
        )
    binned_rows, spearman_rows = [], []
    for entry in results.binned:
        res, name = entry.result, head_name(*entry.head)
        key = [entry.model, entry.choice, entry.level, entry.property, name]
        for b in range(len(res.mean)):
            binned_rows.append(
                key
                + [
                    b + 1,
                    _fmt(res.edges[b]),
                    _fmt(res.edges[b + 1]),
                    int(res.counts[b]),
                    int(res.positives[b]),
                    _fmt(res.mean[b]),
                    _fmt(res.std[b]),
                ]
                + [_fmt(v) for v in res.split_probability[:, b]]
            )
        spearman_rows.append(
            key + [_fmt(res.rho), _fmt(res.p_value), int(np.isfinite(res.mean).sum()), _fmt(res.threshold), res.n_items]
        )
    splits = [f"probability_split{i + 1}" for i in range(results.settings.n_splits)]
    key_header = ["model", "head_choice", "level", "property", "head"]
    _write_tsv(
        folder / "binned_probability.tsv",
        key_header + ["bin", "lower", "upper", "n", "n_with_property", "probability_mean", "probability_sd"] + splits,
        binned_rows,
    )
    _write_tsv(
        folder / "spearman.tsv", key_header + ["rho", "p_value", "n_bins", "threshold", "n_items"], spearman_rows
    )
    if results.compare is not None:
        _write_tsv(
            folder / "similarity.tsv",
            ["level", "measure", "property", "pearson_r", "p_value"],
            ([s.level, s.measure, s.property, _fmt(s.pearson_r), _fmt(s.p_value)] for s in results.similarity),
        )
    spec = dict(results.specialization)
    spec["compare"] = results.compare_specialization
    spec["fixed_head"] = head_name(*results.fixed_head) if results.fixed_head is not None else None
    spec["fixed_head_chosen_by"] = (
        "--fixed-head"
        if results.settings.fixed_head is not None
        else "main model's most specialized head of its highest-CV property"
    )
    sample = results.inputs.sample
    spec["sequences"] = sample.summary() if sample is not None else {"analysed": len(results.inputs.ids)}
    s = results.settings
    spec["settings"] = {
        "model": stats.source,
        "compare_model": results.compare.source if results.compare else None,
        "n_sequences": len(results.inputs.ids),
        "n_layers": stats.n_layers,
        "n_heads": stats.n_heads,
        "bins": s.n_bins,
        "percentile": s.percentile,
        "random_subsets": s.n_splits,
        "seed": s.seed,
        "version": __version__,
    }
    with open(folder / "specialization.json", "w") as handle:
        json.dump(spec, handle, indent=2, allow_nan=True)
        handle.write("\n")
    arrays = _arrays(stats)
    if results.compare is not None:
        arrays.update(_arrays(results.compare, "compare_"))
    np.savez_compressed(folder / "arrays.npz", **arrays)


def _model_heatmaps(stats: ModelStats, spec: dict, folder: Path, prefix: str, label: str) -> list:
    summary = []
    if stats.sequence is not None:
        relative = stats.sequence.relative()
        for p, prop in enumerate(stats.sequence.properties):
            figures.heatmap(
                relative[p],
                f"{label}relative attention to CLS: {prop} (CV {spec['sequence'][prop]['cv']:.3f})",
                "relative attention",
                folder,
                f"{prefix}heatmap_sequence_{figures.safe_stem(prop)}",
                center=1.0,
            )
            summary.append(
                ("sequence", prop, spec["sequence"][prop]["cv"], spec["sequence"][prop]["most_specialized_head"])
            )
    if stats.token is not None:
        background, ratio = stats.token.background(), stats.token.ratio()
        for p, prop in enumerate(stats.token.properties):
            figures.heatmap(
                ratio[p],
                f"{label}attention ratio: {prop} (background {background[p]:.3f}, "
                f"CV {spec['token'][prop]['cv']:.3f})",
                "attention ratio",
                folder,
                f"{prefix}heatmap_token_{figures.safe_stem(prop)}",
                center=float(background[p]) if np.isfinite(background[p]) else None,
            )
            summary.append(("token", prop, spec["token"][prop]["cv"], spec["token"][prop]["most_specialized_head"]))
    return summary


def write_figures(results: AttentionResults, folder: Path) -> None:
    folder.mkdir()
    summary = _model_heatmaps(results.stats, results.specialization, folder, "", "")
    if summary:
        figures.specialization_summary(summary, folder)
    if results.compare is not None:
        _model_heatmaps(results.compare, results.compare_specialization, folder, "compare_", "compared model: ")
        rows = list(_cv_rows(results.specialization, results.compare_specialization))
        figures.cv_comparison([(r[0], r[1], float(r[2]), float(r[4])) for r in rows], folder)
        figures.similarity_bars([(s.level, s.measure, s.property, s.pearson_r) for s in results.similarity], folder)
    fixed: dict = {}
    for entry in results.binned:
        res = entry.result
        if entry.choice == "fixed":
            fixed.setdefault((entry.level, entry.property), []).append(entry)
            continue
        prefix = "" if entry.model == "main" else "compare_"
        figures.binned_curve(
            res.midpoints,
            res.mean,
            res.std,
            f"{entry.model}: {entry.level} {entry.property}, " f"head {head_name(*entry.head)}",
            folder,
            f"{prefix}binned_{entry.level}_{figures.safe_stem(entry.property)}",
            res.rho,
        )
    for (level, prop), entries in fixed.items():
        figures.binned_curves_fixed_head(
            [(e.model, e.result.midpoints, e.result.mean, e.result.std, e.result.rho) for e in entries],
            f"{level} {prop} at fixed head {head_name(*entries[0].head)}",
            folder,
            f"fixed_head_binned_{level}_{figures.safe_stem(prop)}",
        )
    _overlays(results, folder)


def _overlays(results: AttentionResults, folder: Path) -> None:
    """Every token property at the fixed head, one figure per model (paper Figs. 3e, 5, S3, S4), and the
    region-boundary types at their own best heads (paper Fig. 4a)."""

    def curve(entry, label):
        res = entry.result
        return label, res.midpoints, res.mean, res.std, res.rho

    for model in ("main", "compare"):
        at_fixed = [e for e in results.binned if (e.model, e.choice, e.level) == (model, "fixed", "token")]
        if len(at_fixed) > 1:
            figures.binned_curves_fixed_head(
                [curve(e, e.property) for e in at_fixed],
                f"{model}: every token property at head {head_name(*at_fixed[0].head)}",
                folder,
                f"{'' if model == 'main' else 'compare_'}fixed_head_all_tokens",
            )
        boundaries = [
            e
            for e in results.binned
            if (e.model, e.choice, e.level) == (model, "best", "token") and e.property.startswith("boundary_")
        ]
        if boundaries:
            figures.binned_curves_fixed_head(
                [curve(e, f"{e.property[9:]} ({head_name(*e.head)})") for e in boundaries],
                f"{model}: boundary types at their most specialized heads",
                folder,
                f"{'' if model == 'main' else 'compare_'}boundary_types",
            )


def check_replaceable(output_dir: Path, names: list[str] | None = None) -> None:
    """Refuse, before anything is replaced, a ``figures`` that is a symbolic link, or an output of the other kind
    (a folder where a table goes, a file where ``figures/`` goes). Default names: every output this tool writes.

    Why: publishing replaces each output in turn; a ``figures`` link (rmtree refuses links) or an output of the
    other kind failed half-way, leaving some new tables beside old figures, with an error naming no path. A link
    in place of a table is fine: the new file replaces the link, and what it named is left alone.
    """
    for name in names if names is not None else [*OUTPUT_FILES, "figures"]:
        final = output_dir / name
        if name == "figures" and final.is_symlink():
            raise InputError(
                f"{final} is a symbolic link; attention-stats replaces its figures folder as a whole and does not "
                "follow links. Remove the link or give another --output-dir."
            )
        if final.exists() and not final.is_symlink() and final.is_dir() != (name == "figures"):
            kind = "a folder" if final.is_dir() else "a file"
            raise InputError(
                f"{final} is {kind} of another kind than this output. Move it or give another --output-dir."
            )


def write_results(results: AttentionResults, output_dir: str | Path, with_figures: bool = True) -> list[Path]:
    """Write every output into ``output_dir`` all-or-nothing; returns the paths written."""
    output_dir = Path(output_dir)
    with parents_made(output_dir):  # a run that fails leaves no new, empty --output-dir
        staging = Path(tempfile.mkdtemp(prefix=".attention-stats.", suffix=".tmp", dir=output_dir))
        try:
            write_tables(results, staging)
            if with_figures:
                write_figures(results, staging / "figures")
            fresh = {item.name for item in staging.iterdir()}
            check_replaceable(output_dir, [*fresh, *OUTPUT_FILES, "figures"])
            raise_if_interrupted()  # a signal whose exception was swallowed: publish nothing, as atomic_path does
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
