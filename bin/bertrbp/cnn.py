"""A small DeepBind-like convolutional baseline on k-mer token ids, saved and loaded like the BERT models.

token ids -> embedding -> 1-D convolution -> ReLU -> [residual convolutions] -> [BiLSTM, concatenated] -> max pool
(padding masked) -> dense -> 2 logits. New models have a second convolution and a BiLSTM (``CONV_LAYERS``,
``LSTM_HIDDEN``, the architecture of iDeepS/DeepRKE's sequence branch); folders saved without those keys load as the
single-convolution CNN they were.
With ``pool_bins`` > 1 the max is also taken in each of that many equal stretches of every row's own length, so
the dense layer sees where along the site a motif fired (a global max alone, ``pool_bins`` 1, cannot), beside the
global max that lets a motif anywhere count from the first steps.
It is a ``transformers.PreTrainedModel`` so ``save_pretrained``/``from_pretrained``, the trainer, predict and
``bertrbp.model.load_classifier`` (preset ``"cnn"`` or a folder whose config says ``model_type: bertrbp-cnn``)
treat it exactly like a BERT checkpoint. Its output has ``.loss`` and ``.logits`` (Hugging Face style).
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from bertrbp.structure_input import StructureInput, StructureSpec

MODEL_TYPE = "bertrbp-cnn"
POOL_BINS = 4  # new CNNs: max pool in 4 stretches along the site (1 = DeepBind's global max; 4 beat 1 and 8 on RBP-31 validation splits)
# new CNNs: a second (residual) convolution and a BiLSTM of 32 per direction over the convolutions' output. On the
# validation splits of AGO1234, U2AF65 and ELAVL1A (seed 42) this reached mean AUROC 0.9155 against 0.9020 for one
# convolution, 0.9126 for two, 0.9138 for one plus the BiLSTM; a 64-wide BiLSTM was no better (docs/benchmarks.md)
CONV_LAYERS = 2
LSTM_HIDDEN = 32


class CnnConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 69,
        embedding_dim: int = 32,
        filters: int = 128,
        kernel_size: int = 10,
        hidden_size: int = 64,
        dropout: float = 0.1,
        pool_bins: int = 1,
        conv_layers: int = 1,
        lstm_hidden: int = 0,
        max_position_embeddings: int = 512,
        num_labels: int = 2,
        pad_token_id: int = 0,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.filters = filters
        self.kernel_size = kernel_size
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.pool_bins = pool_bins  # 1 in folders saved before position pooling existed
        self.conv_layers = conv_layers  # 1 in folders saved before stacked convolutions existed
        self.lstm_hidden = lstm_hidden  # 0: no BiLSTM over the convolution's output
        self.max_position_embeddings = max_position_embeddings
        super().__init__(num_labels=num_labels, pad_token_id=pad_token_id, **kwargs)


class CnnClassifier(StructureInput, PreTrainedModel):
    config_class = CnnConfig
    base_model_prefix = "cnn"

    def __init__(self, config: CnnConfig):
        import torch.nn as nn

        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.structure_spec = None  # sequence-only, unless the config names structure features (finetune --structure)
        if StructureSpec.from_config(config) is not None:
            self.setup_structure(config, config.embedding_dim)
        self.conv = nn.Conv1d(config.embedding_dim, config.filters, config.kernel_size, padding=config.kernel_size // 2)
        # further convolutions see motifs of motifs (residual, so a second layer starts near the first's output)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.filters, config.filters, 5, padding=2) for _ in range(config.conv_layers - 1)
        )
        self.lstm = (
            nn.LSTM(config.filters, config.lstm_hidden, batch_first=True, bidirectional=True)
            if config.lstm_hidden
            else None
        )
        self.dropout = nn.Dropout(config.dropout)
        channels = config.filters + 2 * config.lstm_hidden
        pooled = channels * (1 + config.pool_bins if config.pool_bins > 1 else 1)
        self.dense = nn.Linear(pooled, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self):
        """The k-mer embedding (integrated gradients interpolate its output)."""
        return self.embedding

    def _init_weights(self, module) -> None:
        import torch.nn as nn

        if self.is_structure_projection(module):
            nn.init.zeros_(module.weight)  # start as the sequence-only model
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.1)

    def _binned_max(self, h, attention_mask):
        """[B, F * bins]: the max of each filter in each of ``pool_bins`` equal stretches of the row's own
        tokens ([CLS] to [SEP], padding excluded). ReLU outputs are >= 0, so a zero start is the max's identity
        and a stretch with no token (a row shorter than the bin count) reads 0."""
        import torch

        from bertrbp.stretches import stretch_index

        bins = self.config.pool_bins
        batch, filters, width = h.shape
        stretch = stretch_index(width, attention_mask.sum(1), bins)  # the tokenizer pads at the end only
        out = torch.zeros((batch, filters, bins + 1), dtype=h.dtype, device=h.device)
        out.scatter_reduce_(2, stretch[:, None, :].expand(-1, filters, -1), h, reduce="amax", include_self=True)
        return out[:, :, :bins].reshape(batch, filters * bins)

    def _bilstm(self, h, attention_mask):
        """[B, 2H, L]: ReLU of a BiLSTM over each row's own tokens (packed, so padding never enters a state and
        a row scores the same whatever it is batched with); padded positions read 0."""
        import torch.nn.functional as F
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        lengths = attention_mask.sum(1).cpu()
        packed = pack_padded_sequence(h.transpose(1, 2), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[2])
        return F.relu(out).transpose(1, 2)

    def forward(self, input_ids=None, attention_mask=None, labels=None, inputs_embeds=None, structure=None, **_):
        """Logits from token ids, or from ``inputs_embeds`` (integrated gradients; a structure-aware CNN then
        takes the real sequence's features as ``structure``)."""
        import torch
        import torch.nn.functional as F

        if attention_mask is None:
            attention_mask = (
                (input_ids != self.config.pad_token_id).long()
                if inputs_embeds is None
                else torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
            )
        embedded = self.embedding(input_ids) if inputs_embeds is None else inputs_embeds
        if self.structure_spec is not None:
            embedded = self.add_structure(embedded, input_ids, attention_mask, structure)
        # padding reads as zeros, like the convolution's own edge padding, so a row scores the same whatever
        # it is batched with (the [PAD] embedding row is not zero in models trained before this fix)
        x = (embedded * attention_mask[:, :, None].to(embedded.dtype)).transpose(1, 2)
        h = F.relu(self.conv(x))[:, :, : x.shape[2]]  # [B, F, L]
        for conv in self.convs:
            h = h + F.relu(conv(h * attention_mask[:, None, :].to(h.dtype)))
        if self.lstm is not None:
            h = torch.cat([h, self._bilstm(h, attention_mask)], dim=1)
        h = h.masked_fill(attention_mask[:, None, :] == 0, torch.finfo(h.dtype).min)
        pooled = h.max(dim=2).values
        if self.config.pool_bins > 1:  # the global max too: a motif anywhere still counts while bins learn where
            pooled = torch.cat([pooled, self._binned_max(h, attention_mask)], dim=1)
        logits = self.classifier(self.dropout(F.relu(self.dense(self.dropout(pooled)))))
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


@dataclass(frozen=True)
class CnnShape:
    """The depth of a new CNN (finetune --cnn-conv-layers, --cnn-lstm): the defaults won on validation splits;
    fewer layers train faster (one convolution, no BiLSTM: under a third of the time per epoch)."""

    conv_layers: int = CONV_LAYERS
    lstm_hidden: int = LSTM_HIDDEN

    def validate(self) -> CnnShape:
        from bertrbp.errors import InputError

        if not 1 <= self.conv_layers <= 8:
            raise InputError(f"--cnn-conv-layers {self.conv_layers}: give 1 to 8 convolutions (default {CONV_LAYERS}).")
        if not 0 <= self.lstm_hidden <= 512:
            raise InputError(
                f"--cnn-lstm {self.lstm_hidden}: give 0 (no BiLSTM) to 512 units per direction (default {LSTM_HIDDEN})."
            )
        return self


def new_cnn(
    vocab_size: int, dropout: float = 0.1, pool_bins: int = POOL_BINS, shape: CnnShape | None = None
) -> CnnClassifier:
    """A randomly initialised CNN for a k-mer vocabulary of ``vocab_size`` tokens (``shape``: the defaults)."""
    shape = (shape or CnnShape()).validate()
    config = CnnConfig(
        vocab_size=vocab_size,
        dropout=dropout,
        pool_bins=pool_bins,
        conv_layers=shape.conv_layers,
        lstm_hidden=shape.lstm_hidden,
    )
    return CnnClassifier(config)


def load_cnn(folder: str) -> tuple[CnnClassifier, dict]:
    """Load a saved CNN folder; returns (model, loading info)."""
    return CnnClassifier.from_pretrained(folder, output_loading_info=True, ignore_mismatched_sizes=True)


def is_cnn_folder(config: dict) -> bool:
    return config.get("model_type") == MODEL_TYPE
