"""A small DeepBind-like convolutional baseline on k-mer token ids, saved and loaded like the BERT models.

token ids -> embedding -> 1-D convolution -> ReLU -> global max pool (padding masked) -> dense -> 2 logits.
It is a ``transformers.PreTrainedModel`` so ``save_pretrained``/``from_pretrained``, the trainer, predict and
``bertrbp.model.load_classifier`` (preset ``"cnn"`` or a folder whose config says ``model_type: bertrbp-cnn``)
treat it exactly like a BERT checkpoint. Its output has ``.loss`` and ``.logits`` (Hugging Face style).
"""

from __future__ import annotations

from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "bertrbp-cnn"


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
        self.max_position_embeddings = max_position_embeddings
        super().__init__(num_labels=num_labels, pad_token_id=pad_token_id, **kwargs)


class CnnClassifier(PreTrainedModel):
    config_class = CnnConfig
    base_model_prefix = "cnn"

    def __init__(self, config: CnnConfig):
        import torch.nn as nn

        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, padding_idx=config.pad_token_id)
        self.conv = nn.Conv1d(config.embedding_dim, config.filters, config.kernel_size, padding=config.kernel_size // 2)
        self.dropout = nn.Dropout(config.dropout)
        self.dense = nn.Linear(config.filters, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module) -> None:
        import torch.nn as nn

        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.1)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_):
        import torch
        import torch.nn.functional as F

        x = self.embedding(input_ids).transpose(1, 2)  # [B, E, L]
        h = F.relu(self.conv(x))[:, :, : input_ids.shape[1]]  # [B, F, L]
        if attention_mask is not None:
            h = h.masked_fill(attention_mask[:, None, :] == 0, torch.finfo(h.dtype).min)
        pooled = h.max(dim=2).values
        logits = self.classifier(self.dropout(F.relu(self.dense(self.dropout(pooled)))))
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def new_cnn(vocab_size: int, dropout: float = 0.1) -> CnnClassifier:
    """A randomly initialised CNN for a k-mer vocabulary of ``vocab_size`` tokens."""
    return CnnClassifier(CnnConfig(vocab_size=vocab_size, dropout=dropout))


def load_cnn(folder: str) -> tuple[CnnClassifier, dict]:
    """Load a saved CNN folder; returns (model, loading info)."""
    return CnnClassifier.from_pretrained(folder, output_loading_info=True)


def is_cnn_folder(config: dict) -> bool:
    return config.get("model_type") == MODEL_TYPE
