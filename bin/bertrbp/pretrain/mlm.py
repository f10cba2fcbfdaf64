"""The masked-LM model and the batches the shared trainer draws from a corpus.

The model is transformers' ``BertForMaskedLM`` with a preset size and DNABERT's vocabulary for k, so the saved
checkpoint (``config.json`` with ``architectures: [BertForMaskedLM]``, ``model.safetensors``, ``vocab.txt``)
has DNABERT's layout and ``bertrbp.model.load_classifier`` reads it like a DNABERT download: encoder weights
transferred, pooler and classifier newly initialised (the MLM head is reported as unused).
"""

from __future__ import annotations

import numpy as np

from bertrbp.model import MAX_POSITIONS, preset_config
from bertrbp.pretrain.corpus import Corpus
from bertrbp.pretrain.masking import SpanMasker
from bertrbp.tokenizer import KmerTokenizer


def build_mlm_model(size: str = "small", k: int = 3, seed: int | None = None, attention: str = "sdpa"):
    """A randomly initialised BertForMaskedLM of preset ``size`` for k-mer tokens."""
    import torch
    from transformers import BertForMaskedLM

    if seed is not None:
        torch.manual_seed(seed)
    config = preset_config(size, k=k)
    config.architectures = ["BertForMaskedLM"]
    config._attn_implementation = attention
    return BertForMaskedLM(config)


class MlmBatches:
    """BatchSource over corpus windows: tokenize, pad, span-mask (randomness from torch's global generator)."""

    def __init__(
        self,
        corpus: Corpus,
        tokenizer: KmerTokenizer,
        masker: SpanMasker,
        indices: np.ndarray | None = None,
        max_positions: int = MAX_POSITIONS,
    ):
        self.corpus, self.tokenizer, self.masker = corpus, tokenizer, masker
        self.indices = np.arange(len(corpus)) if indices is None else np.asarray(indices)
        self.max_positions = max_positions

    def __len__(self) -> int:
        return len(self.indices)

    def batch(self, indices: np.ndarray, generator=None) -> dict:
        import torch

        seqs = self.corpus.sequences(self.indices[np.asarray(indices)])
        ids, mask = self.tokenizer.encode_batch(seqs, self.max_positions)
        ids = torch.from_numpy(ids)
        masked, labels = self.masker(ids, generator)
        return {"input_ids": masked, "attention_mask": torch.from_numpy(mask), "labels": labels}


def split_indices(n: int, val_fraction: float, seed: int, unit: str = "windows") -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices of ``n`` windows (or task sequences); validation is a seeded random
    ``val_fraction`` (none when 0)."""
    from bertrbp.errors import InputError

    if not 0 <= val_fraction < 1:
        raise InputError(f"--val-fraction must be in [0, 1), not {val_fraction}.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if n_val >= n:
        raise InputError(
            f"--val-fraction {val_fraction} leaves no training {unit} (of {n} {unit}); use a smaller --val-fraction."
        )
    return np.sort(order[n_val:]), np.sort(order[:n_val])
