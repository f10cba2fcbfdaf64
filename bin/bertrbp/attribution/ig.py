"""Integrated gradients over the word embeddings of the k-mer tokens, mapped back to nucleotides.

Only the word embeddings are interpolated (position and token-type embeddings are added by the model as
usual); [CLS] and [SEP] keep their own embedding in the baseline, so the attribution is spread over the
k-mer tokens only. Baselines: ``pad`` ([PAD] embedding at every k-mer, default; the model's "no sequence"),
``unk`` ([UNK], "unknown k-mer") or ``zero`` (a zero vector). The path integral uses the midpoint rule
with ``steps`` points; the target is the class-1 log-odds. Completeness (sum of attributions = f(input) -
f(baseline)) is returned as ``delta`` so users can raise ``--steps`` when it is large.

Each nucleotide receives the MEAN of the attributions of the k tokens covering it (fewer at the ends), which
keeps the scale of token attributions; the nucleotide values therefore do not sum exactly to the total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bertrbp.errors import InputError
from bertrbp.tokenizer import PAD_ID, UNK_ID, KmerTokenizer

BASELINES = ("pad", "unk", "zero")


@dataclass
class IGResult:
    tokens: np.ndarray  # attribution per k-mer token
    nucleotides: np.ndarray  # attribution per nucleotide (mean over covering tokens)
    logit: float  # log-odds of the input
    baseline_logit: float
    delta: float  # sum(tokens) - (logit - baseline_logit): completeness error


def tokens_to_nucleotides(values: np.ndarray, k: int, length: int) -> np.ndarray:
    """Mean of the k-mer token values covering each of ``length`` nucleotides (token j covers j..j+k-1)."""
    sums = np.convolve(values, np.ones(k))[:length]
    counts = np.convolve(np.ones(len(values)), np.ones(k))[:length]
    return sums / counts


def _log_odds(logits):
    return logits[:, 0] if logits.shape[-1] == 1 else logits[:, 1] - logits[:, 0]


def members(model) -> list:
    """The models whose gradients IG takes: an ensemble's members (recursively), else the model itself."""
    inner = getattr(model, "members", None)
    return [m for member in inner for m in members(member)] if inner is not None else [model]


def check_ig_supported(model) -> None:
    """Refuse, before any work, models without word embeddings (the k-mer logistic regression)."""
    for member in members(model):
        if getattr(member.config, "model_type", "") == "bertrbp-kmer":
            raise InputError(
                "integrated gradients need word embeddings, and the k-mer model (logistic regression on k-mer "
                "counts) has none. Use --method ism, or read its coefficients directly (model.safetensors)."
            )


def _structure_inputs(model, ids) -> dict:
    """A structure-aware model (bertrbp.structure_input) gets its input's structure features, held fixed along the
    path: IG attributes the sequence (word) embeddings; ISM also measures effects that go through folding."""
    from bertrbp.structure_input import structure_spec_of

    if structure_spec_of(model) is None:
        return {}
    return {"structure": model.structure_features(ids, None)}


def integrated_gradients(
    model, tokenizer: KmerTokenizer, seq: str, device, steps: int = 50, baseline: str = "pad", chunk: int = 64
) -> IGResult:
    """IG attributions of one sequence (model in eval mode on ``device``).

    For an ensemble (mean of its members' log-odds) IG is linear in the model: the attribution is the mean of
    the members' attributions (each from its own baseline embedding), and completeness still holds. A member that
    is itself an ensemble (``--model ENSEMBLE_DIR --model M``) counts as one member, as it does in the model's
    logit; the mean over all the leaves instead attributed another model than the one scored.
    """
    inner = getattr(model, "members", None)
    if inner is not None:
        results = [integrated_gradients(m, tokenizer, seq, device, steps, baseline, chunk) for m in inner]
        return IGResult(
            *(
                np.mean([getattr(r, name) for r in results], axis=0)
                for name in ("tokens", "nucleotides", "logit", "baseline_logit", "delta")
            )
        )
    check_ig_supported(model)
    import torch

    if baseline not in BASELINES:
        raise InputError(f"--baseline {baseline!r}: choose one of {', '.join(BASELINES)}.")
    if steps < 1:
        raise InputError(f"--steps {steps}: must be at least 1.")
    ids = torch.from_numpy(tokenizer.encode_batch([seq], model.config.max_position_embeddings)[0]).to(device)
    embed = model.get_input_embeddings()
    extra = _structure_inputs(model, ids)
    with torch.no_grad():
        x = embed(ids)[0]
        base = x.clone()
        if baseline == "zero":
            base[1:-1] = 0.0
        else:
            base[1:-1] = embed(torch.tensor([PAD_ID if baseline == "pad" else UNK_ID], device=device))[0]
    diff = x - base
    alphas = (torch.arange(steps, device=device, dtype=x.dtype) + 0.5) / steps
    grads = torch.zeros_like(x)
    # cuDNN's RNN backward refuses a model in eval mode (the CNN's BiLSTM); torch's own kernels take it
    with torch.backends.cudnn.flags(enabled=torch.device(device).type != "cuda"):
        for part in alphas.split(chunk):
            path = (base + part[:, None, None] * diff).detach().requires_grad_(True)
            mask = torch.ones(path.shape[:2], dtype=torch.long, device=device)
            out = _log_odds(model(inputs_embeds=path, attention_mask=mask, **extra).logits.float())
            (grad,) = torch.autograd.grad(out.sum(), path)
            grads += grad.sum(0)
    token_attr = (diff * grads / steps).sum(-1)[1:-1].detach().cpu().double().numpy()
    with torch.no_grad():
        ends = torch.stack([x, base])
        f = _log_odds(
            model(
                inputs_embeds=ends,
                attention_mask=torch.ones(ends.shape[:2], dtype=torch.long, device=device),
                **extra,
            ).logits.float()
        )
    logit, base_logit = float(f[0]), float(f[1])
    return IGResult(
        token_attr,
        tokens_to_nucleotides(token_attr, tokenizer.k, len(seq)),
        logit,
        base_logit,
        float(token_attr.sum() - (logit - base_logit)),
    )
