"""The training loop: gradient accumulation, clipping, bf16 autocast, checkpoints and exact resume."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from bertrbp.device import autocast, resolve_device, set_threads, use_bf16
from bertrbp.errors import InputError
from bertrbp.training.checkpoint import load_state, rng_state, save_state, set_rng_state
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
    resumed_from_step: Optional[int] = None


EpochEnd = Callable[[object, EpochContext], dict]
StepHook = Callable[[int, Optional[float]], None]


def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def train(
    model,
    source: BatchSource,
    config: TrainConfig,
    *,
    checkpoint_dir: Optional[Path] = None,
    resume: bool = False,
    epoch_end: Optional[EpochEnd] = None,
    on_step: Optional[StepHook] = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place on ``source``; see the package docstring for the contract."""
    import torch
    from tqdm.auto import tqdm

    config.validate()
    if len(source) == 0:
        raise InputError("no training sequences.")
    threads = set_threads(config.threads)
    device = resolve_device(config.device)
    bf16 = use_bf16(device, config.bf16)
    started = time.perf_counter()

    seed_everything(config.seed)
    model.to(device)
    model.train()
    optimizer = build_optimizer(model, config, device)
    n_batches = math.ceil(len(source) / config.batch_size)
    steps_per_epoch = math.ceil(n_batches / config.grad_accum)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    scheduler = build_scheduler(optimizer, total_steps, config.warmup_ratio)

    epoch, batch_pos, global_step, history = 0, 0, 0, []
    epoch_loss = 0.0  # loss summed over this epoch's batches up to the last checkpoint
    resumed_from = None
    cfg = config.to_dict()
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if resume and checkpoint_dir is not None:
        state = load_state(checkpoint_dir, cfg)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"])
            epoch, batch_pos, global_step = state["epoch"], state["batch_pos"], state["global_step"]
            history, epoch_loss = state["history"], state["epoch_loss"]
            resumed_from = global_step
            log.info("resuming at epoch %d, step %d from %s", epoch + 1, global_step, checkpoint_dir)
        else:
            log.info("--resume: no checkpoint in %s, starting from the beginning", checkpoint_dir)

    def checkpoint(order: Optional[np.ndarray]) -> None:
        if checkpoint_dir is None:
            return
        save_state(
            checkpoint_dir,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng_state(),
                "epoch": epoch,
                "batch_pos": batch_pos,
                "global_step": global_step,
                "history": history,
                "epoch_loss": epoch_loss,
                "order": order,
                "config": cfg,
            },
        )

    log.info(
        "training on %s (bf16 %s, %d threads): %d sequences, %d optimizer steps, effective batch %d",
        device, "on" if bf16 else "off", threads, len(source), total_steps, config.effective_batch,
    )
    bar = tqdm(total=total_steps, initial=global_step, desc=desc, unit="step", dynamic_ncols=True, disable=None)
    window_loss = torch.zeros((), device=device)
    window_batches, window_seqs, window_start = 0, 0, time.perf_counter()
    done = global_step >= total_steps
    while epoch < config.epochs and not done:
        order = epoch_order(len(source), config.seed, epoch)
        batches = _batches(order, config.batch_size)
        epoch_sum = torch.zeros((), device=device)
        for b in range(batch_pos, n_batches):
            group_start = (b // config.grad_accum) * config.grad_accum
            group_size = min(config.grad_accum, n_batches - group_start)
            batch = to_device(source.batch(batches[b]), device)
            with autocast(device, bf16):
                out = model(**batch)
            loss = out.loss.float()
            (loss / group_size).backward()
            detached = loss.detach()
            epoch_sum += detached
            window_loss += detached
            window_batches += 1
            window_seqs += len(batches[b])
            if (b + 1) - group_start < group_size:
                continue
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            global_step += 1
            batch_pos = b + 1
            bar.update(1)
            loss_value = None
            if global_step % config.log_every == 0 or global_step == total_steps:
                loss_value = float(window_loss) / max(1, window_batches)  # the only per-interval host sync
                rate = window_seqs / max(1e-9, time.perf_counter() - window_start)
                bar.set_postfix(loss=f"{loss_value:.4f}", seq_s=f"{rate:.1f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
                if bar.disable:  # not a terminal (Nextflow, Galaxy): progress goes to the log instead
                    log.info("step %d/%d: loss %.4f, %.1f sequences/s", global_step, total_steps, loss_value, rate)
                window_loss.zero_()
                window_batches, window_seqs, window_start = 0, 0, time.perf_counter()
            if config.save_steps and global_step % config.save_steps == 0 and batch_pos < n_batches:
                epoch_loss += float(epoch_sum)
                epoch_sum.zero_()
                checkpoint(order)
            if on_step is not None:
                on_step(global_step, loss_value)
            if global_step >= total_steps:
                done = True
                break
        epoch_loss += float(epoch_sum)
        context = EpochContext(epoch, global_step, epoch_loss / max(1, batch_pos), device, bf16, list(history))
        metrics = {"epoch": epoch + 1, "step": global_step, "train_loss": context.train_loss}
        if epoch_end is not None:
            model.eval()
            metrics.update(epoch_end(model, context) or {})
            model.train()
        history.append(metrics)
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items() if k != "epoch" and not isinstance(v, (dict, list))))
        epoch, batch_pos, epoch_loss = epoch + 1, 0, 0.0
        checkpoint(None)
    bar.close()
    model.eval()
    return TrainResult(
        history, global_step, total_steps, time.perf_counter() - started, str(device), bf16, threads, resumed_from
    )


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
