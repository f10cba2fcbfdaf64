"""Running a classifier and reducing each layer's attention maps inside the forward pass.

The model runs under its own attention implementation name, ``bertrbp_reduce``: the eager attention of
transformers (same numbers, same masks) whose probabilities are reduced the moment a layer computes them, then
dropped. A layer's ``[B, heads, L, L]`` map becomes its column sums over the real rows (one batched
vector-matrix product, in the map's dtype), ``[B, heads, L]``: column 0 is a_m, columns 1..L-2 are r of the
k-mers. No map is kept or returned, so memory stays at one layer's map and there is no per-head Python loop.
When only some layers are needed (pass 2 of the analysis), the forward pass stops after the deepest of them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from bertrbp.attention.formulas import kmer_mask
from bertrbp.tokenizer import KmerTokenizer

IMPLEMENTATION = "bertrbp_reduce"
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("bertrbp_attention_reducer", default=None)


class _Enough(Exception):
    """Raised inside the forward pass once the deepest needed layer is reduced (the rest is not needed)."""


class _Reducer:
    """Collects one batch's per-layer column sums while the model runs."""

    def __init__(self, row_mask, n_layers: int, last_layer: int | None = None):
        self.row_mask = row_mask  # [B, 1, 1, L] in the attention dtype
        self.layers: list = [None] * n_layers
        self.last_layer = last_layer

    def add(self, layer: int, weights) -> None:
        import torch

        rows = self.row_mask.to(weights.dtype)
        self.layers[layer] = torch.matmul(rows, weights)[:, :, 0, :]  # [B, H, L]: sum over real rows
        if self.last_layer is not None and layer >= self.last_layer:
            raise _Enough


def _reducing_attention(module, query, key, value, attention_mask, **kwargs):
    """transformers' eager attention, reducing the probabilities on the fly instead of returning them."""
    from transformers.models.bert.modeling_bert import eager_attention_forward

    output, weights = eager_attention_forward(module, query, key, value, attention_mask, **kwargs)
    reducer = _ACTIVE.get()
    if reducer is not None:
        reducer.add(module.layer_idx, weights)
    return output, None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(IMPLEMENTATION, _reducing_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, ALL_MASK_ATTENTION_FUNCTIONS["eager"])


@dataclass
class AttentionModel:
    """A classifier on its device, in eval mode, running the reducing attention."""

    source: str
    model: object
    tokenizer: KmerTokenizer
    device: object
    n_layers: int
    n_heads: int

    @property
    def k(self) -> int:
        return self.tokenizer.k


def open_model(source: str, device) -> AttentionModel:
    """Load ``source`` (checkpoint folder, hub id or preset) onto ``device`` with the reducing attention."""
    from bertrbp.errors import InputError
    from bertrbp.model import is_kmer_kind, model_kind, open_classifier

    kind = model_kind(source)
    if kind == "cnn" or is_kmer_kind(kind):
        raise InputError(
            f"{source}: a {kind} model has no attention heads; attention-stats needs a BERT model "
            "(a fine-tuned checkpoint folder, or a preset such as mini)."
        )
    model, tokenizer, _ = open_classifier(source, attention="eager", device=device, seed=0)
    _register()
    model.set_attn_implementation(IMPLEMENTATION)
    config = model.config
    return AttentionModel(source, model, tokenizer, device, config.num_hidden_layers, config.num_attention_heads)


@dataclass
class ReducedBatch:
    """One batch's reductions on the host: a_m ``[B, Ly, H]``; r ``[B, Ly, H, T]`` and valid ``[B, T]``.

    With ``layers`` given to ``iter_reduced``, a and r hold only those layers, in that order.
    """

    start: int
    a: np.ndarray
    r: np.ndarray | None
    valid: np.ndarray


def reduce_batch(run: AttentionModel, ids: np.ndarray, mask: np.ndarray, layers: Sequence[int] | None = None):
    """``[B, Ly, H, L]`` column sums over real rows of every (or the given) layer, as a float64 numpy array."""
    import torch

    ids_t = torch.from_numpy(ids).to(run.device)
    mask_t = torch.from_numpy(mask).to(run.device)
    wanted = list(range(run.n_layers)) if layers is None else list(layers)
    reducer = _Reducer(
        mask_t.to(torch.float32)[:, None, None, :], run.n_layers, None if layers is None else max(wanted)
    )
    token = _ACTIVE.set(reducer)
    try:
        with torch.inference_mode():
            try:
                run.model(input_ids=ids_t, attention_mask=mask_t)
            except _Enough:
                pass
    finally:
        _ACTIVE.reset(token)
    if any(reducer.layers[layer] is None for layer in wanted):
        raise RuntimeError("the model ran no attention layer through the reducing attention; is it a BERT model?")
    return torch.stack([reducer.layers[layer] for layer in wanted], 1).double().cpu().numpy()


def iter_reduced(
    run: AttentionModel,
    seqs: Sequence[str],
    batch_size: int,
    tokens: bool,
    desc: str = "attention",
    layers: Sequence[int] | None = None,
) -> Iterator[ReducedBatch]:
    """Stream ``seqs`` through the model in batches (input order), yielding each batch's reductions."""
    from tqdm import tqdm

    max_positions = run.model.config.max_position_embeddings
    for start in tqdm(range(0, len(seqs), batch_size), desc=desc, unit="batch", disable=None):
        ids, mask = run.tokenizer.encode_batch(seqs[start : start + batch_size], max_positions)
        sums = reduce_batch(run, ids, mask, layers)
        valid = kmer_mask(mask).astype(bool)
        r = sums[..., 1:-1] * valid[:, None, None, :] if tokens else None
        yield ReducedBatch(start, np.ascontiguousarray(sums[..., 0]), r, valid)
