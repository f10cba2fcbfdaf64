"""The finetune tool's job: from the command line's request to one trained model or an ensemble.

``FinetuneRunOptions`` holds the flags as given (training options without a value are the recipe's). Every member
(each --model x seed, ``finetune_ensemble.member_plan``) gets its own ``FinetuneOptions`` from the recipe of its
model kind (``bertrbp.recipe.resolve``: explicit options win); one member trains with ``finetune.finetune``,
several with ``finetune_ensemble.finetune_ensemble``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.model_outputs import refuse_blocked_outputs, refuse_outputs_over_inputs

log = logging.getLogger("bertrbp")
DEFAULT_MODELS = ("zhihan1996/DNA_bert_3",)
# what a run writes into --output-dir (members/: an ensemble's); nothing else there is touched
OUTPUT_NAMES = ("model", "checkpoints", "members", "metrics.json", "model_card.json", "model_card.md")
OUTPUT_FOLDERS = ("model", "checkpoints", "members")  # of OUTPUT_NAMES, the folders


@dataclass
class FinetuneRunOptions:
    """What bertrbp-finetune was asked to do (one field per flag; None: the recipe decides)."""

    train: Sequence[Path]
    output_dir: Path
    val: Path | None = None
    models: Sequence[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    k: int = 3
    recipe: str = "default"
    epochs: int | None = None
    patience: int | None = None
    min_steps: int | None = None
    lr_policy: str | None = None
    seeds: str | None = None
    ensemble: int = 0
    batch_size: int = 32
    grad_accum: int | None = None
    lr: float | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    val_fraction: float | None = None
    val_split: str = "auto"
    seed: int = 42
    device: str = "auto"
    bf16: str | None = None
    threads: int = 0
    jobs: int = 0
    keep: str | None = None
    calibrate: str = "auto"
    save_steps: int = 0
    resume: bool = False
    fmt: str = "auto"
    fail_on_collapse: bool = False
    structure: str = "none"
    cnn_conv_layers: int | None = None
    cnn_lstm: int | None = None

    def cnn_shape(self):
        """The ``CnnShape`` asked for, or None when neither --cnn-conv-layers nor --cnn-lstm was given."""
        from bertrbp.cnn import CnnShape

        if self.cnn_conv_layers is None and self.cnn_lstm is None:
            return None
        default = CnnShape()
        return CnnShape(
            default.conv_layers if self.cnn_conv_layers is None else self.cnn_conv_layers,
            default.lstm_hidden if self.cnn_lstm is None else self.cnn_lstm,
        ).validate()

    def member_options(self, source: str, member_seed: int, output_dir: Path):
        """One member's ``FinetuneOptions``: the recipe of ``source``'s kind, the explicit options winning."""
        from bertrbp.finetune import FinetuneOptions
        from bertrbp.model import is_new_cnn, takes_structure
        from bertrbp.recipe import resolve
        from bertrbp.training import TrainConfig

        chosen = resolve(
            source,
            self.lr,
            self.epochs,
            self.patience,
            self.lr_policy,
            self.recipe,
            self.grad_accum,
            self.val_fraction,
            self.keep,
            self.bf16,
            self.min_steps,
        )
        config = TrainConfig(
            epochs=chosen.epochs,
            batch_size=self.batch_size,
            grad_accum=chosen.grad_accum,
            warmup_ratio=self.warmup_ratio,
            weight_decay=self.weight_decay,
            seed=member_seed,
            device=self.device,
            bf16=chosen.bf16,
            threads=self.threads,
            save_steps=self.save_steps,
            patience=chosen.patience,
            min_steps=chosen.min_steps,
        )
        return FinetuneOptions(
            train=self.train,
            output_dir=output_dir,
            val=self.val,
            model=source,
            k=self.k,
            lr=self.lr,
            val_fraction=chosen.val_fraction,
            val_split=self.val_split,
            keep=chosen.keep,
            calibrate=self.calibrate,
            resume=self.resume,
            fmt=self.fmt,
            fail_on_collapse=self.fail_on_collapse,
            lr_policy=self.lr_policy or self.recipe,
            recipe=self.recipe,
            split_seed=self.seed,
            train_config=config,
            structure=self.structure if takes_structure(source) else "none",
            cnn_shape=self.cnn_shape() if is_new_cnn(source) else None,  # a saved CNN keeps its own
        )


def run_finetune(options: FinetuneRunOptions):
    """Train the one model or the ensemble the options ask for; returns the ``FinetuneResult`` (``collapsed``
    tells the caller whether --fail-on-collapse applies)."""
    from bertrbp.ensemble import is_ensemble_folder
    from bertrbp.finetune import check_choices, finetune
    from bertrbp.finetune_ensemble import finetune_ensemble, member_plan, parse_seeds
    from bertrbp.model import is_new_cnn, model_folder, takes_structure
    from bertrbp.structure_input import STRUCTURE_CHOICES
    from bertrbp.validation_split import check_locus_ids, ids_in

    output_dir = Path(options.output_dir)
    plan = member_plan(options.models, parse_seeds(options.seeds, options.ensemble, options.seed), options.seed)
    refuse_outputs_over_inputs(
        output_dir,
        OUTPUT_NAMES,
        {"--train": options.train, "--val": [options.val] if options.val is not None else []},
        {"--model": [Path(member.source) for member in plan if Path(member.source).is_dir()]},
    )
    written = OUTPUT_NAMES if len(plan) > 1 else tuple(name for name in OUTPUT_NAMES if name != "members")
    refuse_blocked_outputs(output_dir, written, OUTPUT_FOLDERS)
    for member in plan:  # an ensemble trained on as one model crashed at its first checkpoint, after an epoch
        if Path(member.source).is_dir() and is_ensemble_folder(model_folder(member.source)):
            raise InputError(
                f"--model {member.source} is an ensemble; fine-tuning starts from one model: give one of its "
                "member folders (each holds a config.json), or several --model to train a new ensemble."
            )
    structure = options.structure
    if structure not in STRUCTURE_CHOICES:
        raise InputError(f"--structure {structure!r} is not known; choose one of {', '.join(STRUCTURE_CHOICES)}.")
    if structure != "none" and not any(takes_structure(m.source) for m in plan):
        raise InputError(
            f"--structure {structure} needs a BERT --model (a preset or a checkpoint) or the CNN; k-mer "
            "models read the sequence only. Drop --structure or add a BERT or the CNN."
        )
    if options.cnn_shape() is not None and not any(is_new_cnn(m.source) for m in plan):
        raise InputError(
            "--cnn-conv-layers/--cnn-lstm shape a new CNN, but no --model is the preset 'cnn' (a saved CNN keeps "
            "its own architecture). Drop them or add --model cnn."
        )
    if (
        len(plan) > 1
        and options.val is None
        and any(options.member_options(m.source, m.seed, output_dir).val_fraction == 0 for m in plan)
    ):
        raise InputError(
            "an ensemble is scored on a validation split, but --val-fraction is 0 (--recipe paper): "
            "give --val FILE or --val-fraction, or train one model."
        )
    for member in plan:  # the checks that need no data, before any folding
        check_choices(options.member_options(member.source, member.seed, output_dir))
    first = options.member_options(plan[0].source, plan[0].seed, output_dir)
    if first.val is None and first.val_fraction and first.val_split == "locus":  # ids only: before any folding
        check_locus_ids(ids_in(options.train, options.fmt), ", ".join(str(p) for p in options.train))
    with _prefolded(options) as folds:  # before member_jobs: its fold workers fork before torch threads start
        if len(plan) == 1:
            result = finetune(options.member_options(plan[0].source, plan[0].seed, output_dir))
        else:
            jobs = member_jobs(options, len(plan))
            members = dataclasses.replace(options, threads=jobs.threads_per_member)
            result = finetune_ensemble(plan, output_dir, members.member_options, jobs.jobs, folds)
    _log_validation(result.metrics, output_dir / "model")
    return result


def _prefolded(options: FinetuneRunOptions):
    """With --structure, the run's sequences folded once on every CPU of the --threads budget and installed for
    the run (``bertrbp.structure_prefold``); without, nothing."""
    from bertrbp.device import available_cpus
    from bertrbp.structure_prefold import prefolded

    workers = options.threads or available_cpus()
    return prefolded(options.train, options.val, options.fmt, options.structure, options.k, workers)


def member_jobs(options: FinetuneRunOptions, members: int):
    """The ``JobPlan`` of an ensemble: --jobs members at once sharing the --threads CPUs (the parent, which only
    waits, keeps the budget for scoring the ensemble afterwards)."""
    from bertrbp.device import available_cpus, resolve_device, set_threads
    from bertrbp.member_workers import plan_jobs

    jobs = plan_jobs(
        options.jobs, options.threads, available_cpus(), members, resolve_device(options.device).type == "cpu"
    )
    if jobs.jobs > 1:
        set_threads(options.threads)
        log.info("%d ensemble members, %d at once, %d torch threads each", members, jobs.jobs, jobs.threads_per_member)
    return jobs


def _log_validation(metrics: dict, model_dir: Path) -> None:
    validation, kept = metrics["validation"], metrics["kept_epoch"]
    if validation["val_loss"] is None:  # --val-fraction 0 (--recipe paper): nothing was held out to score
        log.info("kept epoch %s (no validation set; evaluate on the test set) -> %s", kept, model_dir)
    else:
        log.info(
            "%s: validation AUROC %s, AUPRC %s, loss %s -> %s",
            "ensemble" if kept is None else f"kept epoch {kept}",
            _num(validation["val_auroc"]),
            _num(validation["val_auprc"]),
            _num(validation["val_loss"]),
            model_dir,
        )


def _num(value) -> str:
    return "nan" if value is None else f"{value:.4f}"
