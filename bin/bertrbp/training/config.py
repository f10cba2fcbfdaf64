"""Training hyperparameters in one place, so finetune and pretrain record and resume the same settings."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bertrbp.errors import InputError


@dataclass
class TrainConfig:
    """Optimisation settings; defaults are the BERT-RBP authors' fine-tuning settings.

    ``bf16``: "auto" (on for CUDA, off for CPU), "yes" or "no". ``threads``: CPU threads, 0 = all of the task's.
    ``save_steps``: also checkpoint every N optimizer steps (0 = only at epoch ends). ``log_every``: optimizer
    steps between reads of the loss from the device (the only host syncs in the loop). ``patience``: stop when
    ``early_stopping_metric`` (from the epoch-end callback) has not improved for that many epochs.
    ``min_steps``: train at least this many optimizer steps (0 = no floor): on a small set the run gets more epochs
    than ``epochs`` and early stopping waits until then, because a random-init BERT sits at the class prior for
    its first hundred or so steps (measured: on 500 eCLIP sites, 15 steps an epoch, at most 8 epochs and early stopping
    on that flat loss left it there on 27 of 30 sets).
    """

    lr: float = 2e-4
    epochs: int = 3
    batch_size: int = 32
    grad_accum: int = 1
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    adam_eps: float = 1e-8
    adam_betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float = 1.0
    seed: int = 42
    device: str = "auto"
    bf16: str = "auto"
    threads: int = 0
    save_steps: int = 0
    log_every: int = 10
    max_steps: int | None = None
    patience: int = 0  # early stopping: epochs without a better validation metric before stopping (0 = off)
    early_stopping_metric: str = "val_loss"  # lower is better; reported by the epoch-end callback
    min_steps: int = 0  # at least this many optimizer steps: more epochs on small sets, no early stop before

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum

    def validate(self) -> TrainConfig:
        """Reject impossible settings with an InputError naming the option."""
        checks = [
            (0 < self.lr < math.inf, f"--lr must be a finite number > 0, not {self.lr}"),
            (self.epochs >= 1, f"--epochs must be >= 1, not {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, not {self.batch_size}"),
            (self.grad_accum >= 1, f"--grad-accum must be >= 1, not {self.grad_accum}"),
            (0 <= self.warmup_ratio < 1, f"--warmup-ratio must be in [0, 1), not {self.warmup_ratio}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, not {self.weight_decay}"),
            (self.save_steps >= 0, f"--save-steps must be >= 0, not {self.save_steps}"),
            (self.threads >= 0, f"--threads must be >= 0, not {self.threads}"),
            (self.log_every >= 1, f"log_every must be >= 1, not {self.log_every}"),
            (self.patience >= 0, f"--patience must be >= 0, not {self.patience}"),
            (self.min_steps >= 0, f"--min-steps must be >= 0, not {self.min_steps}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message + ".")
        return self

    def to_dict(self) -> dict:
        data = asdict(self)
        data["adam_betas"] = list(self.adam_betas)
        data["effective_batch"] = self.effective_batch
        return data
