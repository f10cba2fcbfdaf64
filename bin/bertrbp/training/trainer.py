"""The training loop: gradient accumulation, clipping, bf16 autocast, early stopping, checkpoints, exact resume.

``train`` wires four small pieces together: ``RunState`` (everything a checkpoint holds besides the model and
optimizer), ``_Loop`` (one object owning model, optimizer and scheduler, with one method per job: restore,
checkpoint, one epoch, the epoch end), ``ProgressWindow`` (loss and throughput between log lines, the only
host syncs) and ``EarlyStopping`` (patience on a validation metric).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.device import autocast, resolve_device, set_threads, use_bf16
from bertrbp.errors import InputError
from bertrbp.training.checkpoint import (
    STATE_FILE,
    load_state,
    restore_error,
    rng_state,
    save_state,
    set_rng_state,
)
from bertrbp.training.config import TrainConfig
from bertrbp.training.data import BatchSource, epoch_order, to_device
from bertrbp.training.optim import build_optimizer, build_scheduler

log = logging.getLogger("bertrbp")


@dataclass
class EpochContext:
    """What an epoch-end callback gets besides the model."""

    epoch: int  # 0-based epoch that just finished
    global_step: int
    train_loss: float
    device: object
    bf16: bool
    history: list = field(default_factory=list)  # metrics of earlier epochs (restored on resume)


@dataclass
class TrainResult:
    history: list
    global_step: int
    total_steps: int
    wall_seconds: float
    device: str
    bf16: bool
    threads: int
    resumed_from_step: int | None = None
    stopped_early: bool = False  # early stopping ended the run before its last planned epoch
    planned_epochs: int = 0  # config.epochs, or more where config.min_steps asked for more steps


EpochEnd = Callable[[object, EpochContext], dict]
StepHook = Callable[[int, float | None], None]


def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


@dataclass
class RunState:
    """Where the run is: saved in every checkpoint (with model, optimizer, scheduler and RNG states)."""

    epoch: int = 0  # 0-based epoch in progress
    batch_pos: int = 0  # batches of this epoch already consumed
    global_step: int = 0
    history: list = field(default_factory=list)
    epoch_loss: float = 0.0  # loss summed over this epoch's batches up to the last checkpoint
    stopped: bool = False  # early stopping ended the run


def planned_epochs(config: TrainConfig, steps_per_epoch: int) -> int:
    """``config.epochs``, raised so that the run has at least ``config.min_steps`` optimizer steps."""
    return max(config.epochs, math.ceil(config.min_steps / max(1, steps_per_epoch)))


class EarlyStopping:
    """Stop when ``metric`` (lower is better) has not improved for ``patience`` epochs; 0 = never stop.

    Decided from the history alone, so a resumed run stops at the same epoch as an uninterrupted one.
    """

    def __init__(self, patience: int, metric: str = "val_loss"):
        self.patience, self.metric = patience, metric

    def best_epoch(self, history: list) -> int | None:
        """1-based epoch with the lowest finite metric (the first of ties); None when none has it."""
        values = [(h.get(self.metric), i) for i, h in enumerate(history, start=1)]
        finite = [(v, i) for v, i in values if v is not None and math.isfinite(v)]
        return min(finite)[1] if finite else None

    def should_stop(self, history: list) -> bool:
        if not self.patience or not history:
            return False
        best = self.best_epoch(history)
        if best is None:  # the metric is not reported (or never finite): nothing to stop on
            return False
        return len(history) - best >= self.patience


class ProgressWindow:
    """Loss and throughput since the last log line; reading the loss is the loop's only host sync."""

    def __init__(self, device):
        import torch

        self.loss = torch.zeros((), device=device)
        self.reset()

    def reset(self) -> None:
        self.loss.zero_()
        self.batches, self.sequences, self.start = 0, 0, time.perf_counter()

    def add(self, loss, n_sequences: int) -> None:
        self.loss += loss
        self.batches += 1
        self.sequences += n_sequences

    def report(self) -> tuple[float, float]:
        """(mean loss, sequences/s) of the window, then start a new one."""
        loss = float(self.loss) / max(1, self.batches)
        rate = self.sequences / max(1e-9, time.perf_counter() - self.start)
        self.reset()
        return loss, rate


class _Loop:
    """One training run: owns model, optimizer, scheduler and ``RunState``; see ``train`` for the contract."""

    def __init__(self, model, source: BatchSource, config: TrainConfig, checkpoint_dir: Path | None, desc: str):
        self.model, self.source, self.config, self.desc = model, source, config, desc
        self.threads = set_threads(config.threads)
        self.device = resolve_device(config.device)
        self.bf16 = use_bf16(self.device, config.bf16)
        seed_everything(config.seed)
        model.to(self.device)
        model.train()
        self.optimizer = build_optimizer(model, config, self.device)
        self.n_batches = math.ceil(len(source) / config.batch_size)
        steps_per_epoch = math.ceil(self.n_batches / config.grad_accum)
        self.epochs = planned_epochs(config, steps_per_epoch)
        self.total_steps = self.epochs * steps_per_epoch
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, config.warmup_ratio)
        self.state = RunState()
        self.stopping = EarlyStopping(config.patience, config.early_stopping_metric)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.cfg = config.to_dict()

    # -- checkpoints
    def restore(self) -> int | None:
        """Continue from the checkpoint in checkpoint_dir, if any; returns the step resumed from."""
        if self.checkpoint_dir is None:
            return None
        saved = load_state(self.checkpoint_dir, self.cfg)
        if saved is None:
            log.info("--resume: no checkpoint in %s, starting from the beginning", self.checkpoint_dir)
            return None
        self._check_position(saved)
        try:
            self.model.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            set_rng_state(saved["rng"])
        except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as exc:
            raise restore_error(self.checkpoint_dir / STATE_FILE, exc) from exc
        self.state = RunState(
            saved["epoch"],
            saved["batch_pos"],
            saved["global_step"],
            list(saved["history"]),
            saved["epoch_loss"],
            bool(saved.get("stopped", False)),
        )
        log.info(
            "resuming at epoch %d, step %d from %s", self.state.epoch + 1, self.state.global_step, self.checkpoint_dir
        )
        return self.state.global_step

    def _check_position(self, saved: dict) -> None:
        """The saved position lies within this run (same settings and data, so the same epochs, steps, batches).

        Why: an edited or foreign checkpoint past the end finished at once with exit 0, publishing its weights as
        this run's."""
        limits = {
            "epoch": (self.epochs, "epochs"),
            "global_step": (self.total_steps, "steps"),
            "batch_pos": (self.n_batches, "batches an epoch"),
        }
        for key, (limit, unit) in limits.items():
            if saved[key] > limit:
                path = self.checkpoint_dir / STATE_FILE
                raise InputError(
                    f"{path}: not a checkpoint of this run ({key} is {saved[key]}, past this run's {limit} {unit}). "
                    f"Delete {self.checkpoint_dir} to start over without --resume."
                )

    def checkpoint(self, order: np.ndarray | None) -> None:
        if self.checkpoint_dir is None:
            return
        s = self.state
        save_state(
            self.checkpoint_dir,
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_state(),
                "epoch": s.epoch,
                "batch_pos": s.batch_pos,
                "global_step": s.global_step,
                "history": s.history,
                "epoch_loss": s.epoch_loss,
                "stopped": s.stopped,
                "order": order,
                "config": self.cfg,
            },
        )

    # -- the loop
    @property
    def finished(self) -> bool:
        s = self.state
        return s.stopped or s.epoch >= self.epochs or s.global_step >= self.total_steps

    def _optimizer_step(self) -> None:
        import torch

        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.global_step += 1

    def run_epoch(self, bar, window: ProgressWindow, on_step: StepHook | None) -> None:
        """Train from ``state.batch_pos`` to the end of ``state.epoch`` (or to max_steps)."""
        import torch

        config, s = self.config, self.state
        order = epoch_order(len(self.source), config.seed, s.epoch)
        batches = _batches(order, config.batch_size)
        epoch_sum = torch.zeros((), device=self.device)
        for b in range(s.batch_pos, self.n_batches):
            group_start = (b // config.grad_accum) * config.grad_accum
            group_size = min(config.grad_accum, self.n_batches - group_start)
            batch = to_device(self.source.batch(batches[b]), self.device)
            with autocast(self.device, self.bf16):
                loss = self.model(**batch).loss.float()
            (loss / group_size).backward()
            epoch_sum += loss.detach()
            window.add(loss.detach(), len(batches[b]))
            if (b + 1) - group_start < group_size:
                continue
            self._optimizer_step()
            s.batch_pos = b + 1
            bar.update(1)
            loss_value = self._log_progress(bar, window)
            if config.save_steps and s.global_step % config.save_steps == 0 and s.batch_pos < self.n_batches:
                s.epoch_loss += float(epoch_sum)
                epoch_sum.zero_()
                self.checkpoint(order)
            if on_step is not None:
                on_step(s.global_step, loss_value)
            if s.global_step >= self.total_steps:
                break
        s.epoch_loss += float(epoch_sum)

    def _log_progress(self, bar, window: ProgressWindow) -> float | None:
        step = self.state.global_step
        if step % self.config.log_every and step != self.total_steps:
            return None
        loss, rate = window.report()
        bar.set_postfix(loss=f"{loss:.4f}", seq_s=f"{rate:.1f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
        if bar.disable:  # not a terminal (Nextflow, Galaxy): progress goes to the log instead
            log.info("step %d/%d: loss %.4f, %.1f sequences/s", step, self.total_steps, loss, rate)
        return loss

    def _refuse_diverged(self, train_loss: float) -> None:
        """Stop at the first epoch whose training loss is nan or inf: its weights are no longer numbers.

        Why: such a run trained on to the end and published a NaN model with exit 0 (finetune flagged it as
        collapsed; the scoring tools then refused it), e.g. at --lr 1e6 or on batches with nothing to predict.
        """
        if math.isfinite(train_loss):
            return
        where = (
            f"; remove {self.checkpoint_dir} (or give another --output-dir) to start again"
            if self.checkpoint_dir
            else ""
        )
        raise InputError(
            f"training diverged: the training loss of epoch {self.state.epoch + 1} (step {self.state.global_step}) is "
            f"{train_loss}, so the weights are no longer numbers and nothing was published. Lower --lr (it is "
            f"{self.config.lr:g}) or check the inputs{where}."
        )

    def end_epoch(self, epoch_end: EpochEnd | None) -> None:
        """Validate (callback), record the epoch, decide early stopping, checkpoint."""
        s = self.state
        context = EpochContext(
            s.epoch, s.global_step, s.epoch_loss / max(1, s.batch_pos), self.device, self.bf16, list(s.history)
        )
        metrics = {"epoch": s.epoch + 1, "step": s.global_step, "train_loss": context.train_loss}
        self._refuse_diverged(context.train_loss)
        if epoch_end is not None:
            self.model.eval()
            metrics.update(epoch_end(self.model, context) or {})
            self.model.train()
        s.history.append(metrics)
        log.info(
            "epoch %d: %s",
            s.epoch + 1,
            ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items() if k != "epoch" and not isinstance(v, (dict, list))),
        )
        s.epoch, s.batch_pos, s.epoch_loss = s.epoch + 1, 0, 0.0
        may_stop = s.epoch < self.epochs and s.global_step >= self.config.min_steps
        if may_stop and self.stopping.should_stop(s.history):
            s.stopped = True
            log.info(
                # the epoch kept is chosen afterwards, by its own rule (finetune: validation AUROC), and may differ
                "early stopping after epoch %d: %s has not improved for %d epochs (its best: epoch %d)",
                s.epoch,
                self.stopping.metric,
                self.config.patience,
                self.stopping.best_epoch(s.history),
            )
        self.checkpoint(None)


def train(
    model,
    source: BatchSource,
    config: TrainConfig,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    epoch_end: EpochEnd | None = None,
    on_step: StepHook | None = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place on ``source``; see the package docstring for the contract."""
    from tqdm.auto import tqdm

    config.validate()
    if len(source) == 0:
        raise InputError("no training sequences.")
    started = time.perf_counter()
    loop = _Loop(model, source, config, checkpoint_dir, desc)
    resumed_from = loop.restore() if resume else None
    log.info(
        "training on %s (bf16 %s, %d threads): %d sequences, %d optimizer steps, effective batch %d",
        loop.device,
        "on" if loop.bf16 else "off",
        loop.threads,
        len(source),
        loop.total_steps,
        config.effective_batch,
    )
    bar = tqdm(
        total=loop.total_steps, initial=loop.state.global_step, desc=desc, unit="step", dynamic_ncols=True, disable=None
    )
    window = ProgressWindow(loop.device)
    while not loop.finished:
        loop.run_epoch(bar, window, on_step)
        loop.end_epoch(epoch_end)
    bar.close()
    model.eval()
    s = loop.state
    return TrainResult(
        s.history,
        s.global_step,
        loop.total_steps,
        time.perf_counter() - started,
        str(loop.device),
        loop.bf16,
        loop.threads,
        resumed_from,
        s.stopped,
        loop.epochs,
    )


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
