"""The pretrain tool's work: build (or reuse) the corpus, train a BertForMaskedLM with the shared trainer,
validate on held-out windows, and save a DNABERT-layout checkpoint with metrics and a model card.

Output folder::

    DIR/model/            config.json (BertForMaskedLM), model.safetensors, vocab.txt  -> finetune --model DIR/model
    DIR/metrics.json      per-epoch train loss, validation loss and masked-token accuracy, corpus statistics
    DIR/model_card.json   settings, corpus, exclusion, results;  DIR/model_card.md the same for people
    DIR/checkpoints/      trainer_state.pt (for --resume) and corpus/ (the windows, reused by --resume)
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_open
from bertrbp.io.model_outputs import refuse_outputs_over_inputs
from bertrbp.model import MAX_POSITIONS, save_checkpoint
from bertrbp.pretrain.corpus import Corpus, build_corpus
from bertrbp.pretrain.exclusion import ExclusionSet
from bertrbp.pretrain.init_model import InitModel, load_start, resolve_init_model, starting_weights_lines
from bertrbp.pretrain.masking import IGNORE_INDEX, SpanMasker
from bertrbp.pretrain.mlm import MlmBatches, build_mlm_model, split_indices
from bertrbp.pretrain.shared import (
    OUTPUT_NAMES,
    refuse_blocked_outputs,
    refuse_changed_resume,
    refuse_unfinished_run,
    training_metrics,
    write_checkpoint_and_card,
)
from bertrbp.tokenizer import KmerTokenizer
from bertrbp.training import TrainConfig, train
from bertrbp.training.checkpoint import check_run_identity

log = logging.getLogger("bertrbp")
RECIPE = "recipe.json"


@dataclass
class PretrainOptions:
    corpus: list[Path]
    output_dir: Path
    model_size: str = "small"
    k: int = 3
    window: int = 101
    stride: int = 50
    exclude: list[Path] = field(default_factory=list)
    on_overlap: str = "fail"
    mlm_probability: float = 0.15
    max_n_fraction: float = 0.1
    val_fraction: float = 0.02
    resume: bool = False
    fmt: str = "auto"
    objective: str = "mlm"  # mlm: masked k-mers on --corpus; multitask: one bound/unbound head per --task
    tasks: list[tuple[str, Path]] = field(default_factory=list)  # (name, labelled training file), multitask only
    init_model: str | None = None  # start from this k-mer BERT (folder or bundled name) instead of random weights
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=4e-4, epochs=1, batch_size=64, warmup_ratio=0.05))


def _file_identity(path: Path) -> dict:
    """A corpus file by content (name, size, checksum), not by path or time: a moved run folder still resumes."""
    stat = Path(path).stat()
    return {
        "name": Path(path).name,
        "size": stat.st_size,
        "sha256": _cached_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns),
    }


@functools.lru_cache(maxsize=64)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    """One checksum per file version per process (the recipe is computed more than once)."""
    from bertrbp.provenance import sha256

    return sha256(path)


def _recipe(options: PretrainOptions) -> dict:
    """Everything the corpus depends on; a corpus built from the same recipe is reused by --resume."""
    given = [f"--corpus {path}" for path in options.corpus] + [f"--exclude {path}" for path in options.exclude]
    given += [f"--task {name}={path}" for name, path in options.tasks]
    for option, path in zip(given, [*options.corpus, *options.exclude, *(path for _, path in options.tasks)]):
        if not Path(path).is_file():
            raise InputError(f"{option}: file not found; check the path.")
    return {
        "objective": options.objective,
        "tasks": [[name, _file_identity(path)] for name, path in options.tasks],
        "corpus": [_file_identity(p) for p in options.corpus],
        "exclude": [_file_identity(p) for p in options.exclude],
        "window": options.window,
        "stride": options.stride,
        "k": options.k,
        "on_overlap": options.on_overlap,
        "max_n_fraction": options.max_n_fraction,
        "format": options.fmt,
    }


def run_identity(options: PretrainOptions, init: InitModel | None = None) -> dict:
    """What --resume must find unchanged: the corpus recipe (data by checksum), the model (and the weights it
    started from) and the split."""
    identity = {
        "recipe": _recipe(options),
        "model_size": options.model_size,
        "mlm_probability": options.mlm_probability,
        "val_fraction": options.val_fraction,
    }
    if init is not None:  # only when given, so runs checkpointed before --init-model existed still resume
        identity["init_model"] = init.identity()
    return identity


def starting_weights(options: PretrainOptions) -> InitModel | None:
    """The checked --init-model, or None for random weights (checked before anything is read or written), after
    refusing an --output-dir whose outputs would replace it or any input file, or cannot be written."""
    init = resolve_init_model(options.init_model, options.model_size, options.k) if options.init_model else None
    inputs = {"--corpus": options.corpus, "--exclude": options.exclude, "--task": [path for _, path in options.tasks]}
    starts = {"--init-model": [init.folder] if init is not None else []}
    refuse_outputs_over_inputs(options.output_dir, OUTPUT_NAMES, inputs, starts)
    refuse_blocked_outputs(options.output_dir)
    return init


MLM_ONLY = (  # (flag, PretrainOptions field): settings multitask would otherwise silently ignore
    ("--window", "window"),
    ("--stride", "stride"),
    ("--on-overlap", "on_overlap"),
    ("--mlm-probability", "mlm_probability"),
    ("--max-n-fraction", "max_n_fraction"),
)


def _check_objective(options: PretrainOptions) -> None:
    """mlm reads --corpus, multitask reads --task: refuse the other one rather than ignore it."""
    if options.objective not in ("mlm", "multitask"):
        raise InputError(f"--objective must be mlm or multitask, not {options.objective!r}.")
    if options.objective == "mlm" and (options.tasks or not options.corpus):
        raise InputError("--objective mlm trains on --corpus FILE (unlabelled); --task is for --objective multitask.")
    if options.objective == "multitask" and (options.corpus or not options.tasks):
        raise InputError(
            "--objective multitask trains on labelled --task NAME=FILE files; --corpus is for --objective mlm."
        )
    if options.objective == "multitask":
        defaults = PretrainOptions(corpus=[], output_dir=Path("."))
        changed = [flag for flag, name in MLM_ONLY if getattr(options, name) != getattr(defaults, name)]
        if changed:
            raise InputError(
                f"{', '.join(changed)}: only for --objective mlm (multitask trains on whole labelled sequences); "
                "leave them out."
            )
    _refuse_repeated_files(options)


def _refuse_repeated_files(options: PretrainOptions) -> None:
    """One file given twice as --corpus (or as two --task names) is refused, not read twice.

    Why: every window was in the corpus twice, so nearly every validation window had a copy in training and the
    validation loss measured memorisation; a task file under two names trained two heads on the same labels.
    """
    from bertrbp.io.atomic import same_file

    given = [(f"--corpus {path}", Path(path)) for path in options.corpus]
    given += [(f"--task {name}={path}", Path(path)) for name, path in options.tasks]
    for index, (label, path) in enumerate(given):
        for earlier, other in given[:index]:
            if path.is_file() and other.is_file() and same_file(path, other):
                raise InputError(f"{label}: the same file as {earlier}; give each file once.")


def _saved_recipe(path: Path) -> dict | None:
    """The recipe of the corpus in ``path``'s folder, or None when there is none or it cannot be read (a run killed
    while writing it, an edit): that corpus is then built again rather than a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def prepare_corpus(options: PretrainOptions, directory: Path) -> Corpus:
    """Build the corpus into ``directory``, or reuse the one there when resuming with the same recipe."""
    recipe = _recipe(options)
    if options.resume and _saved_recipe(directory / RECIPE) == recipe:
        log.info("--resume: reusing the corpus in %s", directory)
        return Corpus(directory)
    exclusion = ExclusionSet.from_files(options.exclude, options.fmt) if options.exclude else None
    if exclusion is not None:
        log.info("exclusion set: %d distinct sequences from %d file(s)", len(exclusion), len(options.exclude))
    stats = build_corpus(
        options.corpus,
        directory,
        window=options.window,
        stride=options.stride,
        k=options.k,
        exclusion=exclusion,
        on_overlap=options.on_overlap,
        max_n_fraction=options.max_n_fraction,
        fmt=options.fmt,
        max_window=KmerTokenizer(options.k).max_sequence_length(MAX_POSITIONS),
    )
    with atomic_open(directory / RECIPE, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(recipe, indent=2) + "\n")
    log.info(
        "corpus: %d windows from %d records (dropped as overlapping the exclusion set: %d records, %d windows)",
        stats.windows,
        stats.records,
        stats.dropped_records,
        stats.dropped_windows,
    )
    return Corpus(directory)


def evaluate_mlm(model, source: MlmBatches, device, bf16: bool, seed: int, batch_size: int) -> dict:
    """Masked-LM loss and accuracy on held-out windows, with the same masks every epoch (own seeded generator)."""
    import numpy as np
    import torch

    from bertrbp.device import autocast
    from bertrbp.training import to_device

    generator = torch.Generator().manual_seed(seed)
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(source), batch_size):
            batch = to_device(source.batch(np.arange(start, min(start + batch_size, len(source))), generator), device)
            with autocast(device, bf16):
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"]
            chosen = labels != IGNORE_INDEX
            loss_sum += float(
                torch.nn.functional.cross_entropy(logits[chosen].float(), labels[chosen], reduction="sum")
            )
            correct += int((logits[chosen].argmax(-1) == labels[chosen]).sum())
            count += int(chosen.sum())
    loss = loss_sum / max(1, count)
    return {
        "val_loss": loss,
        "val_perplexity": math.exp(min(loss, 50.0)),
        "val_masked_accuracy": correct / max(1, count),
    }


def pretrain(options: PretrainOptions) -> dict:
    """Run pretraining end to end; returns the metrics written to metrics.json."""
    out = Path(options.output_dir)
    checkpoints = out / "checkpoints"
    options.train.validate()
    _check_objective(options)
    if options.objective == "multitask":
        from bertrbp.pretrain.multitask_run import pretrain_multitask

        return pretrain_multitask(options)
    init = starting_weights(options)  # first: an --output-dir over the start is refused as that, not as a resume
    refuse_unfinished_run(out, options.resume)
    identity = run_identity(options, init)
    refuse_changed_resume(out, identity, options.resume)  # before rebuilding anything
    created = not out.exists()
    try:
        corpus = prepare_corpus(options, checkpoints / "corpus")
        tokenizer = KmerTokenizer(options.k)
        masker = SpanMasker(options.k, tokenizer.vocab_size, options.mlm_probability)
        train_idx, val_idx = split_indices(len(corpus), options.val_fraction, options.train.seed)
        model = build_mlm_model(options.model_size, options.k, seed=options.train.seed)
        if init is not None:
            load_start(model, init)
    except InputError:
        if created and out.exists():
            import shutil

            shutil.rmtree(out)  # a refused corpus, split or model size leaves nothing behind
        raise
    check_run_identity(checkpoints, identity, options.resume)
    train_source = MlmBatches(corpus, tokenizer, masker, train_idx)
    val_source = MlmBatches(corpus, tokenizer, masker, val_idx) if len(val_idx) else None

    def epoch_end(model, context) -> dict:
        if val_source is None:
            return {}
        return evaluate_mlm(
            model, val_source, context.device, context.bf16, options.train.seed, options.train.batch_size
        )

    result = train(
        model,
        train_source,
        options.train,
        checkpoint_dir=checkpoints,
        resume=options.resume,
        epoch_end=epoch_end,
        desc="pretrain",
    )
    model.to("cpu")
    metrics = {
        **training_metrics(result),
        "train_windows": int(len(train_idx)),
        "val_windows": int(len(val_idx)),
        "corpus": asdict(corpus.stats),
        "initialised_from": init.record if init is not None else None,
    }
    write_outputs(options, model, tokenizer, metrics, out)
    return metrics


def write_outputs(options: PretrainOptions, model, tokenizer: KmerTokenizer, metrics: dict, out: Path) -> None:
    """DIR/model (checkpoint + its card, as finetune writes it), metrics.json, model_card.json and .md."""

    def describe(weights: Path) -> tuple[dict, str]:
        card = model_card(options, model, metrics, weights)
        return card, model_card_markdown(options, card, metrics)

    write_checkpoint_and_card(out, metrics, lambda folder: save_checkpoint(model, tokenizer, folder), describe)


def model_card(options: PretrainOptions, model, metrics: dict, weights: Path) -> dict:
    """What was trained, on what, excluding what, with what result (the finetune card's conventions)."""
    from bertrbp import __version__
    from bertrbp.provenance import device_description, sha256, software_versions

    config = model.config
    card = {
        "tool": "bertrbp-pretrain",
        "version": __version__,
        "task": "masked language modelling (DNABERT span masking)",
        "architecture": "BertForMaskedLM",
        "model_size": options.model_size,
        "k": options.k,
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "attention_heads": config.num_attention_heads,
        "parameters": sum(p.numel() for p in model.parameters()),
        "masking": {"mlm_probability": options.mlm_probability, "span": options.k, "mask_random_keep": [0.8, 0.1, 0.1]},
        "corpus": metrics["corpus"],
        "training": options.train.to_dict(),
        "initialised_from": metrics.get("initialised_from"),
        "results": {
            k: metrics[k]
            for k in ("final", "global_step", "wall_seconds", "device", "bf16", "train_windows", "val_windows")
        },
        "device_description": device_description(metrics["device"]),
        "software": software_versions(),
        "weights_sha256": sha256(weights),
        "usage": f"bertrbp-finetune --model {Path(options.output_dir) / 'model'} --train TRAIN.fa --output-dir OUT",
    }
    return card


def model_card_markdown(options: PretrainOptions, card: dict, metrics: dict) -> str:
    from bertrbp import __version__

    corpus = card["corpus"]
    final = card["results"]["final"]
    lines = [
        f"# Pretrained k-mer BERT ({options.model_size}, k={options.k})",
        "",
        f"Masked-language model trained by bertrbp-pretrain {__version__} with DNABERT's span masking "
        f"({options.mlm_probability:.0%} of tokens in spans of {options.k}; 80/10/10 mask/random/keep).",
        "",
        "## Model",
        f"- {card['layers']} layers, hidden size {card['hidden_size']}, {card['attention_heads']} heads, "
        f"{card['parameters']:,} parameters",
        f"- DNABERT checkpoint layout in `model/`; fine-tune with `{card['usage']}`",
        "",
        "## Corpus",
        f"- files: {', '.join(corpus['files'])}",
        f"- {corpus['windows']:,} windows of {corpus['window']} nt (stride {corpus['stride']}) from "
        f"{corpus['records']:,} records; {metrics['val_windows']:,} held out for validation",
        f"- exclusion set: {corpus['excluded_sequences']:,} sequences from "
        f"{', '.join(corpus['exclusion_files']) or 'none given'}; dropped {corpus['dropped_records']} records and "
        f"{corpus['dropped_windows']} windows (--on-overlap {options.on_overlap})",
        "",
        "## Training",
        f"- {metrics['global_step']} optimizer steps, lr {options.train.lr}, effective batch "
        f"{options.train.effective_batch}, warmup {options.train.warmup_ratio}, weight decay "
        f"{options.train.weight_decay}, seed {options.train.seed}",
        f"- device {metrics['device']} (bf16 {'on' if metrics['bf16'] else 'off'}), "
        f"{metrics['wall_seconds']:.0f} s",
        *starting_weights_lines(card.get("initialised_from")),
        "",
        "## Results",
        *[f"- {key}: {value:.4f}" if isinstance(value, float) else f"- {key}: {value}" for key, value in final.items()],
        "- Software: " + ", ".join(f"{k} {v}" for k, v in card["software"].items()),
        "",
        "Full details: model_card.json.",
        "",
    ]
    return "\n".join(lines)
