"""The attribute tool's job: predictions, IG and/or ISM tables, logos and the motif summary for a sequence file.

Files in the output folder: ``predictions.tsv`` (id probability logit label bound), ``ig.tsv`` (id position
base attribution; position 0-based), ``ig_tokens.tsv`` (id token kmer attribution), ``ism.tsv`` (id position
base A C G T importance: delta log-odds per substitution), ``motif_summary.tsv`` (rank kmer n_sequences
fraction mean_attribution, over bound sequences: label 1 when labels are given, else probability >= 0.5;
IG attributions when computed, else ISM importance) and ``logos/<n>_<id>.<method>.<png|svg>`` for the first
``max_logos`` sequences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError

METHODS = ("ig", "ism", "both")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class AttributeSummary:
    sequences: int
    bound: int
    max_ig_delta: float | None  # None when integrated gradients did not run (--method ism)


LOGO_NAME = re.compile(r"\d+_[A-Za-z0-9_.-]*\.(ig|ism)\.(png|svg)")  # logos/<n>_<id>.<method>.<format>


OS_METADATA = {".DS_Store", "Thumbs.db", "desktop.ini"}  # a file browser's, not the user's work


def check_logos_folder(folder: Path) -> None:
    """Refuse a ``logos/`` that holds anything attribute does not write: the folder is replaced as a whole.

    Why: a user's notes, or the very input being attributed, inside ``logos/`` were deleted with exit 0.
    Logos of an earlier run are this tool's own files and are replaced.
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise InputError(f"{folder}: not a folder of logos (a file or a link). Move it or give another --output-dir.")
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    foreign = sorted(n for n in names if not (LOGO_NAME.fullmatch(n) or n in OS_METADATA))
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise InputError(
            f"{folder}: holds files attribute did not write ({shown}); the tool replaces logos/ as a whole. "
            "Move them or give another --output-dir."
        )


@dataclass
class AttributeOptions:
    """What bertrbp-attribute was asked to do (one field per flag; several ``models`` attribute an ensemble)."""

    models: Sequence[str]
    input: Path
    output_dir: Path
    method: str = "both"
    steps: int = 50
    baseline: str = "pad"
    top_kmers: int = 20
    motif_length: int = 6
    max_logos: int = 20
    logo_format: str = "png"
    fmt: str = "auto"
    device: str = "auto"


def run_attribute(options: AttributeOptions) -> AttributeSummary:
    """Attribute every sequence of ``options.input``.

    Each output file (and ``logos/``) is staged beside its target and appears only when everything is written;
    nothing else in ``output_dir`` is touched (the user's inputs or other results may live there).
    """
    import contextlib

    from tqdm import tqdm

    from bertrbp.attribution.ig import BASELINES, integrated_gradients
    from bertrbp.attribution.ism import BASES, in_silico_mutagenesis
    from bertrbp.attribution.logos import draw_logo
    from bertrbp.attribution.motifs import MotifSummary
    from bertrbp.inference import score_sequences
    from bertrbp.io.atomic import atomic_dir, atomic_path, refuse_overwriting_inputs
    from bertrbp.io.sequences import check_unique_ids, iter_records
    from bertrbp.io.tokens import check_record_fits
    from bertrbp.scan.models import open_models

    method, steps, baseline, logo_format = options.method, options.steps, options.baseline, options.logo_format
    if method not in METHODS:
        raise InputError(f"--method {method!r}: choose ig, ism or both.")
    if baseline not in BASELINES:
        raise InputError(f"--baseline {baseline!r}: choose one of {', '.join(BASELINES)}.")
    if logo_format not in ("png", "svg"):
        raise InputError(f"--logo-format {logo_format!r}: choose png or svg.")
    specs = [options.models] if isinstance(options.models, (str, Path)) else list(options.models)
    opened = open_models([str(s) for s in specs], options.device, bf16="no", ensemble=True)  # float32 gradients
    model, tokenizer, device = opened.models[0].model, opened.tokenizer, opened.device
    if method in ("ig", "both"):
        from bertrbp.attribution.ig import check_ig_supported

        check_ig_supported(model)
    summary = MotifSummary(options.motif_length)
    n = bound = 0
    worst_delta = 0.0
    output_dir = Path(options.output_dir)
    names = [
        name
        for name in ("predictions", "ig", "ig_tokens", "ism", "motif_summary")
        if name in ("predictions", "motif_summary") or method in ("both", name.split("_")[0])
    ]
    refuse_overwriting_inputs(
        {f"--output-dir ({name}.tsv)": output_dir / f"{name}.tsv" for name in names}, {"input": [options.input]}
    )
    check_logos_folder(output_dir / "logos")
    with contextlib.ExitStack() as stack:
        staged = {name: stack.enter_context(atomic_path(output_dir / f"{name}.tsv")) for name in names}
        logos_dir = stack.enter_context(atomic_dir(output_dir / "logos"))
        files = {name: open(path, "w") for name, path in staged.items() if name != "motif_summary"}
        try:
            files["predictions"].write("id\tprobability\tlogit\tlabel\tbound\n")
            if "ig" in files:
                files["ig"].write("id\tposition\tbase\tattribution\n")
                files["ig_tokens"].write("id\ttoken\tkmer\tattribution\n")
            if "ism" in files:
                files["ism"].write("id\tposition\tbase\t" + "\t".join(BASES) + "\timportance\n")
            for record in tqdm(
                check_unique_ids(iter_records(options.input, options.fmt)), unit="seq", desc="attribute", disable=None
            ):
                seq = record.seq
                check_record_fits(record, tokenizer, model.config.max_position_embeddings)
                scores = score_sequences(model, tokenizer, [seq], device)
                is_bound = record.label == 1 if record.label is not None else scores.probability[0] >= 0.5
                label = "" if record.label is None else str(record.label)
                files["predictions"].write(
                    f"{record.id}\t{scores.probability[0]:.6f}\t{scores.logit[0]:.6f}\t" f"{label}\t{int(is_bound)}\n"
                )
                logo_stem = logos_dir / f"{n + 1}_{_SAFE.sub('_', record.id)[:60]}"
                motif_values = None
                if "ig" in files:
                    ig = integrated_gradients(model, tokenizer, seq, device, steps, baseline)
                    worst_delta = max(worst_delta, abs(ig.delta))
                    files["ig"].writelines(
                        f"{record.id}\t{i}\t{b}\t{v:.6g}\n" for i, (b, v) in enumerate(zip(seq, ig.nucleotides))
                    )
                    kmers = [seq[j : j + tokenizer.k] for j in range(len(ig.tokens))]
                    files["ig_tokens"].writelines(
                        f"{record.id}\t{j}\t{km}\t{v:.6g}\n" for j, (km, v) in enumerate(zip(kmers, ig.tokens))
                    )
                    motif_values = ig.nucleotides
                    if n < options.max_logos:
                        draw_logo(
                            seq,
                            ig.nucleotides,
                            f"{record.id}: integrated gradients ({baseline} baseline)",
                            logo_stem.with_name(logo_stem.name + f".ig.{logo_format}"),
                        )
                if "ism" in files:
                    ism = in_silico_mutagenesis(model, tokenizer, seq, device)
                    files["ism"].writelines(
                        f"{record.id}\t{i}\t{b}\t"
                        + "\t".join(f"{v:.6g}" for v in ism.delta[i])
                        + f"\t{ism.importance[i]:.6g}\n"
                        for i, b in enumerate(seq)
                    )
                    if motif_values is None:
                        motif_values = ism.importance
                    if n < options.max_logos:
                        draw_logo(
                            seq,
                            ism.importance,
                            f"{record.id}: in-silico mutagenesis (-mean delta logit)",
                            logo_stem.with_name(logo_stem.name + f".ism.{logo_format}"),
                        )
                if is_bound:
                    summary.add(seq, motif_values)
                    bound += 1
                n += 1
        finally:
            for handle in files.values():
                handle.close()
        with open(staged["motif_summary"], "w") as out:
            out.write("rank\tkmer\tn_sequences\tfraction\tmean_attribution\n")
            for rank, (kmer, count, fraction, mean) in enumerate(summary.rows(options.top_kmers), start=1):
                out.write(f"{rank}\t{kmer}\t{count}\t{fraction:.4f}\t{mean:.6g}\n")
    return AttributeSummary(n, bound, worst_delta if method in ("ig", "both") else None)
