"""Fine-tune a classifier (pretrained k-mer BERT, random-init BERT, the CNN or the k-mer baseline) on labelled sequences.

Reads the data, carves a stratified validation split, trains with ``bertrbp.training`` (the k-mer model: one
scikit-learn fit, ``bertrbp.kmer``), validates every epoch (loss, AUROC, AUPRC, accuracy), stops early when the
validation loss stops improving (``TrainConfig.patience``), keeps the best or last model, checks for collapse, and writes
``DIR/model/`` (DNABERT layout), ``DIR/metrics.json``, ``DIR/model_card.json`` / ``.md``, ``DIR/checkpoints/``.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bertrbp.calibration import (
    CALIBRATE_CHOICES,
    MAX_TRAINING_SITES,
    Calibration,
    calibrated_text,
    calibration_line,
    decide,
    fold_into_head,
    forget,
    reason_to_skip,
)
from bertrbp.collapse import diagnose, stall_text, warning_text
from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_dir
from bertrbp.io.sequences import check_unique_ids, iter_many, require_labels
from bertrbp.io.tokens import TokenizedDataset, load_tokens, tokenize_records
from bertrbp.metrics import binary_metrics
from bertrbp.model import STRUCTURE_KINDS, is_kmer_kind, load_classifier, model_kind, save_checkpoint
from bertrbp.provenance import device_description, sha256, software_versions
from bertrbp.training import ArrayBatches, EpochContext, TrainConfig, train
from bertrbp.training.checkpoint import check_run_identity, model_identity
from bertrbp.validation_split import VAL_SPLITS, ValidationSource, split_validation

if TYPE_CHECKING:
    from bertrbp.cnn import CnnShape  # transformers loads only when a model does

log = logging.getLogger("bertrbp")

DEFAULT_MODEL = "zhihan1996/DNA_bert_3"
KEEP_CHOICES = ("best", "last")


@dataclass
class FinetuneOptions:
    train: list[Path]
    output_dir: Path
    val: Path | None = None
    model: str = DEFAULT_MODEL
    k: int = 3
    lr: float | None = None
    val_fraction: float = 0.1
    keep: str = "best"
    resume: bool = False
    fmt: str = "auto"
    fail_on_collapse: bool = False
    calibrate: str = "auto"  # Platt calibration of a stalled kept model (bertrbp.calibration)
    lr_policy: str = "default"  # "paper": the paper's 10x rate (2e-3) for random-init BERTs (bertrbp.recipe)
    recipe: str = "default"  # "paper": the authors' training protocol (bertrbp.recipe); recorded in the card
    split_seed: int | None = None  # seed of the validation split (default: the training seed)
    val_split: str = "auto"  # how --val-fraction is carved: auto|locus|random (bertrbp.validation_split)
    structure: str = "none"  # per-token structure input of BERTs and CNNs: none|unpaired|elements|both
    cnn_shape: CnnShape | None = None  # depth of a new CNN (--model cnn); None: bertrbp.cnn's defaults
    train_config: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class FinetuneResult:
    metrics: dict
    collapsed: bool
    warning: str = ""


def default_lr(source: str) -> float:
    """The default learning rate for ``--model source`` (bertrbp.recipe: per model kind and preset)."""
    from bertrbp.recipe import default_recipe

    return default_recipe(source).lr


def read_dataset(paths: list[Path], tokenizer, max_positions: int, fmt: str) -> TokenizedDataset:
    """Sequence files (any reader format) or one tokens .npz from bertrbp-tokenize, all labelled."""
    npz = [p for p in paths if str(p).endswith(".npz")]
    if npz:
        if len(paths) != 1:
            raise InputError("give either one tokens .npz or sequence files, not a mix or several .npz files.")
        data = load_tokens(paths[0])
        if data.k != tokenizer.k:
            raise InputError(f"{paths[0]}: tokenized with k={data.k}, but the model uses k={tokenizer.k}.")
        if data.input_ids.shape[1] > max_positions:
            raise InputError(f"{paths[0]}: {data.input_ids.shape[1]} tokens per row; the model takes {max_positions}.")
        if data.input_ids.size and (data.input_ids.min() < 0 or data.input_ids.max() >= tokenizer.vocab_size):
            raise InputError(
                f"{paths[0]}: token ids outside the k={tokenizer.k} vocabulary (0 to {tokenizer.vocab_size - 1}); "
                "the file was not written by bertrbp-tokenize or was changed since. Tokenize the sequences again."
            )
        if not data.has_labels:
            raise InputError(f"{paths[0]}: some sequences have no label; tokenize labelled data (or use --label).")
        return data
    records = check_unique_ids(require_labels(iter_many(paths, fmt)))
    return tokenize_records(records, tokenizer, max_positions)


def _check_classes(data: TokenizedDataset, what: str) -> None:
    present = set(np.unique(data.labels).tolist())
    if present != {0, 1}:
        raise InputError(f"the {what} data has only label(s) {sorted(present)}; it needs bound (1) and unbound (0).")


def class_counts(data: TokenizedDataset) -> dict:
    counts = np.bincount(data.labels.astype(np.int64), minlength=2)
    return {"total": int(len(data)), "label_0": int(counts[0]), "label_1": int(counts[1])}


def score_arrays(model, data: TokenizedDataset, device, bf16: bool, batch_size: int) -> tuple[np.ndarray, float]:
    """Probabilities of class 1 and the mean cross-entropy on a tokenized, labelled set (model in eval mode)."""
    probabilities, _, loss = score_log_odds(model, data, device, bf16, batch_size)
    return probabilities, loss


def score_log_odds(
    model, data: TokenizedDataset, device, bf16: bool, batch_size: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """(probabilities of class 1, their log-odds, mean cross-entropy) on a tokenized, labelled set."""
    import torch
    import torch.nn.functional as F

    from bertrbp.device import autocast
    from bertrbp.inference import logits_to_scores

    probabilities, log_odds, loss_sum = [], [], torch.zeros((), dtype=torch.float64, device=device)
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            sl = slice(start, start + batch_size)
            ids = torch.from_numpy(data.input_ids[sl].astype(np.int64)).to(device, non_blocking=True)
            mask = torch.from_numpy(data.attention_mask[sl].astype(np.int64)).to(device, non_blocking=True)
            labels = torch.from_numpy(data.labels[sl].astype(np.int64)).to(device, non_blocking=True)
            with autocast(device, bf16):
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum").double()
            scores = logits_to_scores(logits)
            probabilities.append(scores.probability)
            log_odds.append(scores.logit)
    return np.concatenate(probabilities), np.concatenate(log_odds), float(loss_sum) / len(data)


def check_choices(options: FinetuneOptions) -> None:
    """Refuse an unknown --keep, --calibrate or --val-split (checked before any data is read or folded)."""
    if options.keep not in KEEP_CHOICES:
        raise InputError(f"--keep must be best or last, not {options.keep!r}.")
    if options.calibrate not in CALIBRATE_CHOICES:
        raise InputError(f"--calibrate must be one of {', '.join(CALIBRATE_CHOICES)}, not {options.calibrate!r}.")
    if options.val_split not in VAL_SPLITS:
        raise InputError(f"--val-split must be one of {', '.join(VAL_SPLITS)}, not {options.val_split!r}.")


def finetune(options: FinetuneOptions) -> FinetuneResult:
    """Run a fine-tuning job end to end; see the module docstring for the outputs."""
    started = time.perf_counter()
    check_choices(options)
    config = options.train_config
    kind = model_kind(options.model)
    config.lr = _learning_rate(options, kind)
    config.validate()
    model, tokenizer, report = load_classifier(
        options.model, k=options.k, seed=config.seed, cnn_shape=options.cnn_shape
    )
    log.info("model: %s", report.summary())
    model = _add_structure(options, kind, model, report)
    train_data, val_data, val_source = prepare_data(options, tokenizer, model.config.max_position_embeddings)
    if is_kmer_kind(kind):
        run = _fit_kmer(options, model, train_data, val_data)
    else:
        run = _train_neural(options, model, tokenizer, train_data, val_data, val_source)
    _log_folds(model)
    calibration = _calibrate(options, kind, model, train_data, val_data, run)
    diagnosis, warning = _verdict(run.final, config, run.kept, calibration)
    metrics = {
        "model_kind": kind,
        "recipe": options.recipe,
        "kept": options.keep,
        "kept_epoch": run.kept,
        "validation": {k: run.final[k] for k in ("val_loss", "val_auroc", "val_auprc", "val_accuracy")},
        "collapsed": diagnosis["collapsed"],
        "stalled": bool(diagnosis.get("stalled")),
        "collapse": diagnosis,
        "calibration": calibration.to_dict() if calibration else None,
        "early_stopping": {
            "patience": config.patience,
            "metric": config.early_stopping_metric,
            "stopped_early": run.stopped_early,
            "min_steps": config.min_steps,
            "planned_epochs": run.planned_epochs or config.epochs,
        },
        "epochs": run.history,
    }
    card = _model_card(options, kind, model, tokenizer, report, run, metrics, train_data, val_data, val_source)
    card["wall_seconds"] = round(time.perf_counter() - started, 2)
    _write_outputs(Path(options.output_dir), model, tokenizer, metrics, card, warning)
    return FinetuneResult(metrics, diagnosis["collapsed"], warning)


def _add_structure(options: FinetuneOptions, kind: str, model, report):
    """The model with per-token structure input (--structure), or as loaded (none, or already structure-aware)."""
    if options.structure == "none":
        return model
    from bertrbp.structure_input import STRUCTURE_CHOICES, structure_spec_of, with_structure_input

    if options.structure not in STRUCTURE_CHOICES:
        raise InputError(
            f"--structure {options.structure!r} is not known; choose one of {', '.join(STRUCTURE_CHOICES)}."
        )
    if kind not in STRUCTURE_KINDS:
        raise InputError(
            f"--structure {options.structure} needs a BERT (a preset or a checkpoint) or the CNN, not --model "
            f"{options.model}."
        )
    already = structure_spec_of(model) is not None
    model = with_structure_input(model, options.structure)
    if not already:
        report.newly_initialised.append("structure_projection.weight")
    log.info("structure input: %s per k-mer token, folded with %s", options.structure, structure_spec_of(model).engine)
    return model


def _log_folds(model) -> None:
    """How many sequences this process folded, and how many it found folded ahead (``structure_prefold``)."""
    from bertrbp.structure_input import FOLD_COUNTS, structure_spec_of

    if structure_spec_of(model) is not None:
        log.info(
            "structure: %d sequences folded in this process so far, %d found among the run's folds made ahead",
            FOLD_COUNTS["folded"],
            FOLD_COUNTS["looked_up"],
        )


def _structure_entry(model) -> dict | None:
    """The model card's record of the structure input (None for a sequence-only model)."""
    from bertrbp.structure_input import feature_names, structure_spec_of

    spec = structure_spec_of(model)
    return None if spec is None else {**spec.to_dict(), "feature_names": feature_names(spec.features)}


def _learning_rate(options: FinetuneOptions, kind: str) -> float:
    """The user's --lr, else the recipe's default for the model (bertrbp.recipe); warns at the paper's 10x."""
    from bertrbp.recipe import PAPER_RANDOM_INIT_LR, default_recipe

    if options.lr is not None:
        lr = options.lr
    else:
        lr = default_recipe(options.model, options.lr_policy, options.recipe).lr
        if not is_kmer_kind(kind):
            log.info("learning rate %g (default for %s)", lr, options.model)
    if kind == "bert-random" and lr >= PAPER_RANDOM_INIT_LR:
        log.warning(
            "random-init BERT at the paper's 10x learning rate (%g): measured on TIAL1 with a 4 x 256 model it "
            "ranked worst of 2e-4/1e-3/2e-3 and left the model nearly constant; small models can collapse. "
            "The default (--lr-policy default) is safe for each preset (see bertrbp/recipe.py).",
            lr,
        )
    return lr if not is_kmer_kind(kind) else 1.0  # k-mer: no learning rate; a positive placeholder passes validation


def prepare_data(options: FinetuneOptions, tokenizer, max_positions: int):
    """(train, validation or None, where validation came from), each with both classes.

    No validation set (None) only with --val-fraction 0 and no --val: the paper's recipe trains on every sequence.
    """
    split_seed = options.train_config.seed if options.split_seed is None else options.split_seed
    no_validation = options.val is None and options.val_fraction == 0
    kmer = is_kmer_kind(model_kind(options.model))
    if no_validation and (options.keep == "best" or kmer):
        raise InputError(
            "--val-fraction 0 leaves no validation set, but "
            + ("the k-mer model picks its regularisation on one" if kmer else "--keep best needs one to pick the epoch")
            + ": give --keep last (the paper's recipe does), --val FILE or a --val-fraction above 0."
        )
    data = read_dataset(options.train, tokenizer, max_positions, options.fmt)
    if no_validation:
        _check_classes(data, "training")
        log.info(
            "train %s on every sequence, no validation set (--val-fraction 0): the last epoch is kept "
            "and collapse is not checked",
            class_counts(data),
        )
        return data, None, ValidationSource("none: every sequence trains (--val-fraction 0)")
    if options.val is not None:
        train_data, val_data = data, read_dataset([options.val], tokenizer, max_positions, options.fmt)
        val_source = ValidationSource(str(options.val))
    else:
        where = ", ".join(str(p) for p in options.train)
        train_data, val_data, used = split_validation(data, options.val_fraction, split_seed, options.val_split, where)
        sides = "overlapping sites kept on one side" if used == "locus" else "random sites"
        text = f"stratified {options.val_fraction:g} of the training data (seed {split_seed}, {sides})"
        val_source = ValidationSource(text, used)
        log.info("validation split: %s (--val-split %s)", used, options.val_split)
    _check_classes(train_data, "training")
    _check_classes(val_data, "validation")
    log.info("train %s, validation %s", class_counts(train_data), class_counts(val_data))
    return train_data, val_data, val_source


@dataclass
class _Run:
    """What training produced, whatever the model kind."""

    history: list
    kept: int  # 1-based epoch whose model is kept
    final: dict  # that epoch's metrics
    device: str
    bf16: bool
    threads: int
    optimizer_steps: int
    resumed_from_step: int | None = None
    stopped_early: bool = False
    extra: dict = field(default_factory=dict)  # kind-specific hyperparameters for the model card
    planned_epochs: int = 0  # the epochs the run was set to (--epochs, or more for --min-steps)


def _train_neural(
    options: FinetuneOptions, model, tokenizer, train_data, val_data, val_source: ValidationSource
) -> _Run:
    """Gradient training with bertrbp.training; keeps the best (validation AUROC) or the last epoch."""
    config = options.train_config
    ckpt_dir = Path(options.output_dir) / "checkpoints"
    if not options.resume and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run must not pick up another run's best model
    check_run_identity(
        ckpt_dir,
        {  # --resume refuses other data, split or model (checksums)
            "train_files": [sha256(p) for p in options.train],
            "validation": sha256(options.val)
            if options.val
            else {
                "fraction": options.val_fraction,
                "seed": config.seed if options.split_seed is None else options.split_seed,
                **({"split": "locus"} if val_source.split == "locus" else {}),
            },
            "model": model_identity(options.model),
            "k": options.k,
            "keep": options.keep,
            "format": options.fmt,
            **({"structure": options.structure} if options.structure != "none" else {}),
            **_shape_identity(options.cnn_shape),
        },
        options.resume,
    )
    best_dir = ckpt_dir / "best"

    def validate(model, ctx: EpochContext) -> dict:
        probabilities, loss = score_arrays(model, val_data, ctx.device, ctx.bf16, config.batch_size * 2)
        metrics = _validation_metrics(val_data.labels, probabilities, loss)
        previous = [h["val_auroc"] for h in ctx.history if h.get("val_auroc") is not None]
        if options.keep == "best" and (not previous or _better(metrics["val_auroc"], max(previous))):
            with atomic_dir(best_dir) as tmp:
                save_checkpoint(model, tokenizer, tmp)
        return metrics

    source = ArrayBatches(
        input_ids=train_data.input_ids, attention_mask=train_data.attention_mask, labels=train_data.labels
    )
    result = train(
        model,
        source,
        config,
        checkpoint_dir=ckpt_dir,
        resume=options.resume,
        epoch_end=validate if val_data is not None else None,
        desc="finetune",
    )
    kept = _kept_epoch(result.history, options.keep)
    if val_data is None:  # no validation metrics: the kept epoch reports them as missing
        for h in result.history:
            h.update({k: None for k in ("val_loss", "val_auroc", "val_auprc", "val_accuracy") if k not in h})
    if options.keep == "best" and kept != len(result.history):
        _load_best(model, best_dir / "model.safetensors", kept, ckpt_dir)
    return _Run(
        result.history,
        kept,
        result.history[kept - 1],
        result.device,
        result.bf16,
        result.threads,
        result.global_step,
        result.resumed_from_step,
        result.stopped_early,
        planned_epochs=result.planned_epochs,
    )


def _load_best(model, weights: Path, kept: int, ckpt_dir: Path) -> None:
    """The kept epoch's weights, saved in checkpoints/best when it was validated.

    Why: on --resume a damaged best/model.safetensors was a SafetensorError or load_state_dict traceback, and a
    missing one published the last epoch's weights under the kept epoch's metrics with exit 0."""
    from safetensors.torch import load_file

    from bertrbp.model_checks import check_safetensors

    again = f"Delete {ckpt_dir} and start over without --resume."
    if not weights.is_file():
        raise InputError(f"{weights}: missing; the kept epoch {kept}'s weights were saved there. {again}")
    check_safetensors(weights)
    try:
        model.load_state_dict(load_file(str(weights)))
    except (OSError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"{weights}: not this run's model ({type(exc).__name__}: {reason}). {again}") from exc


def _shape_identity(shape: CnnShape | None) -> dict:
    """A CNN depth other than the default is part of what a run trains (so --resume refuses a change to it); the
    default adds nothing, so checkpoints made before the depth flags existed still resume."""
    from bertrbp.cnn import CnnShape

    return {} if shape is None or shape == CnnShape() else {"cnn_shape": asdict(shape)}


def _fit_kmer(options: FinetuneOptions, model, train_data, val_data) -> _Run:
    """A k-mer model: one scikit-learn fit (the regression's C chosen on the validation split; the trees stop on
    a tenth of the training sites), scored like an epoch."""
    import torch

    from bertrbp.device import set_threads
    from bertrbp.kmer import kmer_feature_text

    threads = set_threads(options.train_config.threads)
    if model.config.head == "trees":
        from bertrbp.kmer_trees import LEARNING_RATE, MAX_LEAF_NODES, fit_kmer_trees

        trees = fit_kmer_trees(model, train_data, val_data, seed=options.train_config.seed, threads=threads)
        train_loss = trees.train_loss
        extra = {
            "trees": trees.trees,
            "tree_learning_rate": LEARNING_RATE,
            "max_leaf_nodes": MAX_LEAF_NODES,
            "features": kmer_feature_text(model.config),
            "solver": "scikit-learn HistGradientBoostingClassifier, stopped on a tenth of the training sites",
        }
    else:
        from bertrbp.kmer import fit_kmer

        fit = fit_kmer(model, train_data, val_data, seed=options.train_config.seed)
        train_loss = fit.train_loss
        extra = {
            "regularization_c": fit.c,
            "c_grid_val_auroc": fit.grid,
            "features": kmer_feature_text(model.config) + ", standardised",
            "solver": "scikit-learn lbfgs, L2",
        }
    model.eval()
    probabilities, loss = score_arrays(model, val_data, torch.device("cpu"), False, 4096)
    epoch = {
        "epoch": 1,
        "step": 0,
        "train_loss": train_loss,
        **_validation_metrics(val_data.labels, probabilities, loss),
    }
    extra = {"max_k": model.config.max_k, "position_bins": model.config.position_bins, **extra}
    return _Run([epoch], 1, epoch, "cpu", False, threads, 0, extra=extra)


def _calibrate(options: FinetuneOptions, kind: str, model, train_data, val_data, run: _Run) -> Calibration | None:
    """Platt-calibrate the kept neural model where ``options.calibrate`` asks and it generalises: on (a seeded
    sample of) its training sites while it sits at the prior on them, else on validation."""
    if is_kmer_kind(kind) or val_data is None:  # logistic regression is calibrated; no validation, nothing to fit
        if options.calibrate == "yes":
            log.warning(
                "--calibrate yes: nothing calibrated (%s)",
                "the k-mer model is fitted on log loss and calibrated already"
                if val_data is not None
                else "no validation set",
            )
        return None
    import torch

    forget(model)
    diagnosis = run.final.get("collapse") or {}
    stalled, collapsed = bool(diagnosis.get("stalled")), bool(diagnosis.get("collapsed"))
    skip = reason_to_skip(options.calibrate, stalled, collapsed)
    if skip:
        return Calibration(False, skip, options.calibrate, n_validation=len(val_data))
    # fp32: a stalled model's log-odds differ by ~1e-3, about what bf16 rounding of the hidden states moves them
    device = torch.device(run.device)
    _, log_odds, _ = score_log_odds(model, val_data, device, False, 256)
    train_log_odds = train_labels = None
    if np.isfinite(log_odds).all():  # else decide refuses anyway: scoring up to 2,000 training sites would be waste
        sample = _training_sample(train_data, options.train_config.seed)
        _, train_log_odds, _ = score_log_odds(model, sample, device, False, 256)
        train_labels = sample.labels
    calibration = decide(options.calibrate, stalled, collapsed, log_odds, val_data.labels, train_log_odds, train_labels)
    if calibration.applied:
        fold_into_head(model, calibration.scale, calibration.shift)
    return calibration


def _training_sample(train_data, seed: int):
    """At most ``MAX_TRAINING_SITES`` training sequences, a seeded sample in file order, to fit a calibration on."""
    if len(train_data) <= MAX_TRAINING_SITES:
        return train_data
    rows = np.random.default_rng(seed).choice(len(train_data), size=MAX_TRAINING_SITES, replace=False)
    return train_data.subset(np.sort(rows))


def _verdict(final: dict, config: TrainConfig, kept: int, calibration: Calibration | None) -> tuple[dict, str]:
    """The collapse/stall diagnosis of the kept epoch and the warning to print (empty when healthy)."""
    diagnosis = final.get("collapse") or {"collapsed": False, "reasons": []}
    warning = ""
    if diagnosis["collapsed"]:
        warning = warning_text(diagnosis, config.lr, config.batch_size, config.grad_accum, epoch=kept)
        log.warning("\n%s", warning)
    elif diagnosis.get("stalled") and calibration is not None and calibration.applied:
        diagnosis = {**diagnosis, "stalled": False, "stalled_before_calibration": True}
        log.info("%s", calibrated_text(calibration, kept))
    elif diagnosis.get("stalled"):
        warning = stall_text(diagnosis, epoch=kept)
        if calibration is not None and calibration.policy != "no":
            warning += f" Calibration was not applied: {calibration.reason}."
        log.warning("%s", warning)
    return diagnosis, warning


def _model_card(options, kind, model, tokenizer, report, run: _Run, metrics, train_data, val_data, val_source) -> dict:
    config = options.train_config
    hyperparameters = {
        **config.to_dict(),
        "keep": options.keep,
        "val_fraction": options.val_fraction if options.val is None else None,
        "val_split": val_source.split,
        "dropout": getattr(model.config, "hidden_dropout_prob", getattr(model.config, "dropout", None)),
        "max_positions": model.config.max_position_embeddings,
        "optimizer": "AdamW (no decay on bias/LayerNorm), linear warmup then linear decay",
        "lr_policy": options.lr_policy,
        "recipe": options.recipe,
    }
    if kind == "cnn":  # the architecture, so a card tells which CNN it describes
        hyperparameters["cnn"] = {
            key: getattr(model.config, key) for key in ("conv_layers", "lstm_hidden", "pool_bins")
        }
    if is_kmer_kind(kind):
        hyperparameters = {
            "lr": None,
            "epochs": 1,
            "seed": config.seed,
            "keep": options.keep,
            "val_fraction": hyperparameters["val_fraction"],
            "val_split": hyperparameters["val_split"],
            "max_positions": hyperparameters["max_positions"],
            "batch_size": None,
            "grad_accum": None,
            "warmup_ratio": None,
            "weight_decay": None,
            "optimizer": "boosted trees" if kind == "kmer-gbt" else "logistic regression",
            "recipe": options.recipe,
            **run.extra,
        }
    return {
        "tool": "bertrbp-finetune",
        "model_source": options.model,
        "model_kind": kind,
        "pretrained": report.pretrained,
        "load_report": {
            "summary": report.summary(),
            "loaded": report.loaded,
            "newly_initialised": report.newly_initialised,
            "unused_from_checkpoint": report.unexpected,
        },
        "k": tokenizer.k,
        "structure_input": _structure_entry(model),
        "data": {
            "train_files": [_file_entry(p) for p in options.train],
            "validation_file": _file_entry(options.val) if options.val else None,
            "validation_source": val_source.text,
            "counts": {
                "train": class_counts(train_data),
                "validation": class_counts(val_data) if val_data is not None else None,
            },
        },
        "seed": config.seed,
        "hyperparameters": hyperparameters,
        "software": software_versions(),
        "device": device_description(run.device),
        "bf16": run.bf16,
        "threads": run.threads,
        "optimizer_steps": run.optimizer_steps,
        "resumed_from_step": run.resumed_from_step,
        "metrics": metrics,
        "collapsed": metrics["collapsed"],
    }


def _validation_metrics(labels: np.ndarray, probabilities: np.ndarray, loss: float) -> dict:
    if np.isfinite(probabilities).all():
        m = binary_metrics(labels, probabilities, where="validation set")
        auroc, auprc, accuracy = m["auroc"], m["auprc"], m["accuracy"]
    else:
        auroc = auprc = accuracy = float("nan")
    diagnosis = diagnose(labels, probabilities, auroc, loss)
    return {
        "val_loss": loss,
        "val_auroc": auroc,
        "val_auprc": auprc,
        "val_accuracy": accuracy,
        "prediction_std": diagnosis["prediction_std"],
        "collapsed": diagnosis["collapsed"],
        "collapse": diagnosis,
    }


def _better(value: float, best: float) -> bool:
    return bool(np.isfinite(value)) and (not np.isfinite(best) or value > best)


def _kept_epoch(history: list, keep: str) -> int:
    """1-based epoch whose model is kept: the last, or the first with the highest validation AUROC."""
    if keep == "last":
        return len(history)
    best, best_epoch = float("nan"), len(history)
    for index, h in enumerate(history, start=1):
        if _better(h["val_auroc"], best):
            best, best_epoch = h["val_auroc"], index
    return best_epoch


def _file_entry(path: Path) -> dict:
    return {"path": str(path), "sha256": sha256(Path(path))}


def _training_line(card: dict) -> str:
    hp = card["hyperparameters"]
    if card.get("model_kind") == "kmer-gbt":
        return (
            f"- Training: {hp['trees']} gradient-boosted trees (up to {hp['max_leaf_nodes']} leaves, learning rate "
            f"{hp['tree_learning_rate']:g}) on {hp['features']}, stopped on a tenth of the training sites, "
            f"seed {card['seed']}"
        )
    if is_kmer_kind(card.get("model_kind", "")):
        features = hp.get("features") or f"1..{hp['max_k']}-mer frequencies"
        return (
            f"- Training: logistic regression on {features}, L2 C {hp['regularization_c']:g} "
            f"(chosen on the validation split), seed {card['seed']}"
        )
    stop = card["metrics"].get("early_stopping", {})
    stopped = ", stopped early" if stop.get("stopped_early") else ""
    floor = f", at least {hp['min_steps']} steps" if hp.get("min_steps") else ""
    return (
        f"- Training: {len(card['metrics']['epochs'])} of {stop.get('planned_epochs', hp['epochs'])} epochs (patience "
        f"{hp.get('patience', 0)}{stopped}{floor}), lr {hp['lr']:g}, batch {hp['batch_size']} x {hp['grad_accum']} "
        f"accumulation, warmup {hp['warmup_ratio']:g}, weight decay {hp['weight_decay']:g}, seed {card['seed']}"
    )


def model_card_markdown(card: dict) -> str:
    m = card["metrics"]
    v = m["validation"]
    counts = card["data"]["counts"]
    hp = card["hyperparameters"]
    val_counts = counts["validation"]
    validation = f"validation {val_counts['label_1']} / {val_counts['label_0']}" if val_counts else "no validation"
    scores = (
        f"validation AUROC {v['val_auroc']:.4f}, AUPRC {v['val_auprc']:.4f}, accuracy {v['val_accuracy']:.4f}, "
        f"loss {v['val_loss']:.4f}"
        if v["val_auroc"] is not None
        else "no validation metrics"
    )
    lines = [
        f"# bert-rbp fine-tuned classifier ({card['model_source']})",
        "",
        f"- Start: {card['load_report']['summary']}",
        f"- Data: train {counts['train']['label_1']} bound / {counts['train']['label_0']} unbound; "
        f"{validation} ({card['data']['validation_source']})",
        f"- Recipe: {hp.get('recipe', 'default')}",
        *(
            [f"- Structure input: {s['features']} per k-mer token ({s['engine']} MEA, gamma {s['gamma']:g})"]
            if (s := card.get("structure_input"))
            else []
        ),
        _training_line(card),
        f"- Kept: {m['kept']} (epoch {m['kept_epoch']}): {scores}",
        *([f"- Calibration: {calibration_line(c)}"] if (c := m.get("calibration")) and c.get("applied") else []),
        f"- Device: {card['device']}, bf16 {card['bf16']}, wall time {card['wall_seconds']:.0f} s",
        "- Software: " + ", ".join(f"{k} {v}" for k, v in card["software"].items()),
    ]
    if card["collapsed"]:
        lines += ["", "**WARNING: the model collapsed.**", *[f"- {r}" for r in m["collapse"]["reasons"]]]
    elif m.get("stalled"):
        lines += ["", "**WARNING: the model has barely moved from the class prior** (see metrics.json)."]
    lines += ["", "Full details: model_card.json."]
    return "\n".join(lines) + "\n"


def _write_outputs(out: Path, model, tokenizer, metrics: dict, card: dict, warning: str) -> None:
    from bertrbp.io.model_outputs import write_checkpoint_and_card

    markdown = model_card_markdown(card)
    write_checkpoint_and_card(
        out, metrics, lambda folder: save_checkpoint(model, tokenizer, folder), lambda _: (card, markdown)
    )
