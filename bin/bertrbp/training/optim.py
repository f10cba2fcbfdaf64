"""AdamW with BERT's weight-decay groups and the linear warmup/decay schedule of the BERT-RBP authors."""

from __future__ import annotations

import math

from bertrbp.training.config import TrainConfig


def no_decay(name: str) -> bool:
    """Biases and LayerNorm weights are not decayed (BERT / DNABERT convention)."""
    lowered = name.lower()
    return lowered.endswith("bias") or "layernorm" in lowered or "layer_norm" in lowered


def build_optimizer(model, config: TrainConfig, device):
    """AdamW (fused on CUDA: one kernel, no host sync) over two parameter groups."""
    import torch

    decay, plain = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (plain if no_decay(name) else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    kwargs = dict(lr=config.lr, eps=config.adam_eps, betas=tuple(config.adam_betas))
    if device.type == "cuda":
        kwargs["fused"] = True
    return torch.optim.AdamW(groups, **kwargs)


def warmup_linear(total_steps: int, warmup_ratio: float):
    """Multiplier: 0 -> 1 over the first ``warmup_ratio`` of steps, then linearly to 0 at ``total_steps``."""
    warmup = math.ceil(total_steps * warmup_ratio)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return factor


def build_scheduler(optimizer, total_steps: int, warmup_ratio: float):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_linear(total_steps, warmup_ratio))
