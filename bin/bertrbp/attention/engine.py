"""Running a classifier with eager attention over batches and reducing each batch's maps on the device.

Only the reductions (a_m: ``[B, layers, heads]``, r: ``[B, layers, heads, T]``) leave the device; the full
``[B, heads, L, L]`` maps of one layer exist only while that layer is reduced. Attention is computed in
float32, never bf16: the statistics compare attention probabilities numerically across heads and models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from bertrbp.attention.formulas import cls_attention, kmer_mask, token_attention
from bertrbp.tokenizer import KmerTokenizer


@dataclass
class AttentionModel:
    """A classifier loaded with eager attention, on its device, in eval mode."""

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
    """Load ``source`` (checkpoint folder, hub id or preset) with eager attention onto ``device``."""
    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(source, attention="eager", seed=0)
    model.to(device).eval()
    config = model.config
    return AttentionModel(source, model, tokenizer, device, config.num_hidden_layers, config.num_attention_heads)


@dataclass
class ReducedBatch:
    """One batch's reductions on the host: a_m ``[B, Ly, H]``; r ``[B, Ly, H, T]`` and valid ``[B, T]``."""

    start: int
    a: np.ndarray
    r: Optional[np.ndarray]
    valid: np.ndarray


def iter_reduced(
    run: AttentionModel, seqs: Sequence[str], batch_size: int, tokens: bool, desc: str = "attention"
) -> Iterator[ReducedBatch]:
    """Stream ``seqs`` through the model in batches (input order), yielding each batch's reductions."""
    import torch
    from tqdm import tqdm

    max_positions = run.model.config.max_position_embeddings
    starts = range(0, len(seqs), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=None):
        batch = seqs[start : start + batch_size]
        ids, mask = run.tokenizer.encode_batch(batch, max_positions)
        ids_t = torch.from_numpy(ids).to(run.device)
        mask_t = torch.from_numpy(mask).to(run.device)
        maskf = mask_t.to(torch.float32)
        with torch.inference_mode():
            out = run.model(input_ids=ids_t, attention_mask=mask_t, output_attentions=True)
            if not out.attentions or out.attentions[0] is None:
                raise RuntimeError("the model returned no attention maps; it must run with eager attention")
            a_layers, r_layers = [], []
            for layer_att in out.attentions:
                att = layer_att.float()[:, None]  # [B, 1, H, L, L]
                a_layers.append(cls_attention(att, maskf)[:, 0])
                if tokens:
                    r_layers.append(token_attention(att, maskf)[:, 0])
            a = torch.stack(a_layers, 1).double().cpu().numpy()
            r = torch.stack(r_layers, 1).double().cpu().numpy() if tokens else None
        yield ReducedBatch(start, a, r, kmer_mask(mask).astype(bool))
