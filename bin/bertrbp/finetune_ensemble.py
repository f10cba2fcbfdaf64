"""Train an ensemble in one call: every (--model, --seed) pair is a member, trained by ``bertrbp.finetune``.

Layout of ``DIR``: ``members/<name>/`` is each member's complete finetune output (model, metrics.json, model
card, checkpoints for --resume); ``model/`` holds ``ensemble.json`` and a copy of each member's model folder,
so it is self-contained (a pipeline can stage it alone) and every predict-side tool takes it as one --model;
``metrics.json`` and ``model_card.json``/``.md`` describe the ensemble: its validation metrics (members' mean
log-odds on the one validation split they all share: same --seed for the split, member seeds only change
initialisation and data order) and each member's summary.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bertrbp.errors import InputError

if TYPE_CHECKING:
    from bertrbp.structure_prefold import FoldTable

log = logging.getLogger("bertrbp")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Member:
    name: str
    source: str
    seed: int


def parse_seeds(seeds: str | None, ensemble: int, seed: int) -> list[int]:
    """--seeds 1,2,3, or --ensemble N (seeds seed..seed+N-1), or just --seed."""
    if seeds and ensemble:
        raise InputError("give --seeds or --ensemble, not both.")
    if ensemble:
        return [seed + i for i in range(ensemble)]
    if not seeds:
        return [seed]
    try:
        values = [int(part) for part in seeds.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--seeds {seeds!r}: write comma-separated integers, e.g. 1,2,3.") from None
    if not values or len(set(values)) != len(values):
        raise InputError(f"--seeds {seeds!r}: give distinct integers, e.g. 1,2,3.")
    check_seed_range(values, f"--seeds {seeds}")
    return values


SEED_MAX = 2**32 - 1  # numpy's seed range, the bound --seed has


def check_seed_range(seeds: Sequence[int], where: str) -> None:
    """Refuse a seed numpy cannot take before any member trains (it raised mid-run, after earlier members)."""
    if any(not 0 <= seed <= SEED_MAX for seed in seeds):
        raise InputError(f"{where}: seeds must lie between 0 and {SEED_MAX}.")


def split_model_list(models: Sequence[str]) -> list[str]:
    """``--model kmer-pos,cnn`` is ``--model kmer-pos --model cnn``: one value can name an ensemble, which is how
    the pipeline's ``--baseline_model`` and Galaxy pass one. A path that exists is never split."""
    out: list[str] = []
    for source in models:
        if "," in source and not Path(source).exists():
            out += [part.strip() for part in source.split(",") if part.strip()]
        else:
            out.append(source)
    return out


_PINNED = re.compile(r"^(?P<source>.+)@(?P<seeds>\d+(?:\+\d+)*)$")


def pinned_seeds(spec: str) -> tuple[str, list[int] | None]:
    """``CKPT@42`` -> (CKPT, [42]); ``cnn@1+2`` -> ("cnn", [1, 2]); without ``@`` (or a path that exists): no pin.
    Why: the best RBP-31 recipe gives one model fewer seeds than the others (three CNNs and one fine-tuned BERT:
    ``--model cnn --model CKPT@42 --seeds 42,43,44``), and ``+`` keeps a pin intact inside a comma list."""
    match = None if Path(spec).exists() else _PINNED.match(spec)
    if match is None:
        return spec, None
    seeds = [int(part) for part in match["seeds"].split("+")]
    if len(set(seeds)) != len(seeds):
        raise InputError(f"--model {spec}: give distinct seeds after '@', e.g. {match['source']}@1+2.")
    check_seed_range(seeds, f"--model {spec}")
    return match["source"], seeds


def member_plan(models: Sequence[str], seeds: Sequence[int], base_seed: int) -> list[Member]:
    """One member per (model, seed), with ``MODEL@SEED[+SEED...]`` pinning a model's own seeds; the k-mer model
    is deterministic, so it appears once."""
    from bertrbp.model import is_kmer_kind, model_kind

    models = split_model_list(models)
    if not models:
        raise InputError("give at least one --model.")
    plan: list[Member] = []
    for spec in models:
        source, own = pinned_seeds(spec)
        kind = model_kind(source)
        stem = _SAFE.sub("_", Path(source).name if Path(source).exists() else source) or "model"
        mine = own or seeds
        for seed in mine[:1] if is_kmer_kind(kind) else mine:
            name = f"{stem}_seed{seed}"
            # a k-mer model is the same whatever its seed: twice would only double its vote
            if any(m.name == name or (is_kmer_kind(kind) and m.source == source) for m in plan):
                raise InputError(f"--model {source} is given twice.")
            plan.append(Member(name, source, seed))
    return plan


def finetune_ensemble(
    plan: Sequence[Member], output_dir: Path, options_for: Callable, jobs: int = 1, folds: FoldTable | None = None
):
    """Train every member (``jobs`` at once, ``bertrbp.member_workers``, each worker given the run's ``folds``),
    then write the ensemble model folder, metrics and card; returns a FinetuneResult."""
    from bertrbp.finetune import FinetuneResult
    from bertrbp.member_workers import train_members

    started = time.perf_counter()
    out = Path(output_dir)
    options = [options_for(member.source, member.seed, out / "members" / member.name) for member in plan]
    results = train_members([member.name for member in plan], options, jobs, folds)
    members = list(zip(plan, options, results))
    _assemble(out, members)
    metrics, warning = _ensemble_metrics(out, members)
    card = {
        "tool": "bertrbp-finetune",
        "model_kind": "ensemble",
        "combine": "mean of the members' class-1 log-odds",
        "members": metrics["members"],
        "metrics": metrics,
        "collapsed": metrics["collapsed"],
        "val_split": metrics["val_split"],  # the split every member was trained and scored on
        "members_at_once": min(jobs, len(plan)),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    _write(out, metrics, card)
    return FinetuneResult(metrics, metrics["collapsed"], warning)


def _assemble(out: Path, members) -> None:
    from bertrbp.ensemble import write_manifest
    from bertrbp.io.atomic import atomic_dir

    entries = []
    with atomic_dir(out / "model") as tmp:
        for member, options, result in members:
            shutil.copytree(Path(options.output_dir) / "model", tmp / member.name)
            entries.append(
                {
                    "name": member.name,
                    "path": member.name,
                    "source": member.source,
                    "seed": member.seed,
                    "model_kind": result.metrics.get("model_kind"),
                }
            )
        write_manifest(tmp, entries)


def _ensemble_metrics(out: Path, members) -> tuple[dict, str]:
    """Validation metrics of the ensemble on the members' shared validation split, plus member summaries."""
    import torch

    from bertrbp.collapse import stall_text, warning_text
    from bertrbp.finetune import _validation_metrics, prepare_data, score_arrays
    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(str(out / "model"))
    model.eval()
    first = members[0][1]
    _, val_data, val_source = prepare_data(first, tokenizer, model.config.max_position_embeddings)
    probabilities, loss = score_arrays(model, val_data, torch.device("cpu"), False, 256)
    validation = _validation_metrics(val_data.labels, probabilities, loss)
    diagnosis = validation.pop("collapse")
    warning = ""
    if diagnosis["collapsed"]:
        config = first.train_config
        warning = warning_text(diagnosis, config.lr, config.batch_size, config.grad_accum)
        log.warning("\n%s", warning)
    elif diagnosis.get("stalled"):
        warning = stall_text(diagnosis)
        log.warning("%s", warning)
    summaries = [
        {
            "name": member.name,
            "source": member.source,
            "seed": member.seed,
            "model_kind": result.metrics.get("model_kind"),
            "kept_epoch": result.metrics.get("kept_epoch"),
            "validation": result.metrics["validation"],
            "collapsed": result.collapsed,
            "stalled": result.metrics.get("stalled", False),
            "metrics": f"members/{member.name}/metrics.json",
        }
        for member, _, result in members
    ]
    for summary in summaries:
        log.info(
            "member %s: validation AUROC %.4f", summary["name"], summary["validation"]["val_auroc"] or float("nan")
        )
    log.info("ensemble of %d: validation AUROC %.4f", len(members), validation["val_auroc"])
    metrics = {
        "model_kind": "ensemble",
        "kept": "ensemble",
        "kept_epoch": None,
        "validation": {k: validation[k] for k in ("val_loss", "val_auroc", "val_auprc", "val_accuracy")},
        "validation_source": val_source.text,
        "val_split": val_source.split,
        "collapsed": diagnosis["collapsed"],
        "stalled": bool(diagnosis.get("stalled")),
        "collapse": diagnosis,
        "members": summaries,
        "epochs": [],  # per-epoch curves are in each member's metrics.json
    }
    return metrics, warning


def _write(out: Path, metrics: dict, card: dict) -> None:
    from bertrbp.io.atomic import atomic_open
    from bertrbp.provenance import to_json

    v = metrics["validation"]
    lines = [
        f"# bert-rbp ensemble of {len(metrics['members'])} models",
        "",
        f"- Combination: {card['combine']}",
        f"- Ensemble validation AUROC {v['val_auroc']:.4f}, AUPRC {v['val_auprc']:.4f}, loss {v['val_loss']:.4f} "
        f"({metrics['validation_source']})",
        "",
        "| member | kind | seed | kept epoch | validation AUROC |",
        "|---|---|---:|---:|---:|",
    ]
    for m in metrics["members"]:
        auroc = m["validation"]["val_auroc"]
        lines.append(
            f"| {m['name']} | {m['model_kind']} | {m['seed']} | {m['kept_epoch']} | "
            f"{'nan' if auroc is None else f'{auroc:.4f}'} |"
        )
    if metrics["collapsed"]:
        lines += ["", "**WARNING: the ensemble collapsed.**", *[f"- {r}" for r in metrics["collapse"]["reasons"]]]
    lines += ["", f"Wall time {card['wall_seconds']:.0f} s. Each member's card: members/<name>/model_card.md."]
    for name, text in (
        ("metrics.json", to_json(metrics)),
        ("model_card.json", to_json(card)),
        ("model_card.md", "\n".join(lines) + "\n"),
    ):
        with atomic_open(out / name, "w") as handle:
            handle.write(text)
