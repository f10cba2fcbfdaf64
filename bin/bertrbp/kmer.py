"""The k-mer floor: logistic regression on 1..5-mer frequencies, saved and loaded like the neural models.

Why a torch module: every tool scores models through ``bertrbp.inference.score_sequences`` on k-mer token ids,
so the k-mer model reads the same token ids, rebuilds the nucleotides from them and counts 1..``max_k``-mers
itself. Training (scikit-learn, ``fit_kmer``) and prediction therefore use the same feature code, and predict,
evaluate, scan, variant-effect and in-silico mutagenesis work unchanged. Integrated gradients need word
embeddings and do not apply (attribute refuses it).

Saved as ``config.json`` (``model_type: bertrbp-kmer``), ``model.safetensors`` (coefficients, intercept and the
standardisation of the features; no pickle) and ``vocab.txt``. Features are frequencies (count / number of
windows of that length without ``N``); the bases of an ``[UNK]`` k-mer (one with ``N``) are read from the
neighbouring k-mers where one holds them. So a lone ``N`` costs only the windows covering it, as when counting on
the sequence, but bases with no k-mer of their own without ``N`` (between two ``N`` closer than k, or between an
``N`` and the end within k-1) are lost too. Training and prediction count the same way, so this is consistent.
Output logits are ``[-z/2, z/2]`` for log-odds ``z``: softmax gives sigmoid(z), as for a 2-class head.

``--model kmer-pos`` (``position_bins`` > 0) adds where along the site each short k-mer sits: 1..3-mer
frequencies in each of 10 equal bins along the sequence. Why: CLIP sites are centred on the cross-link or peak,
so a motif at the centre means more than the same motif at an edge; a bag of k-mers cannot see that. On RBP-31
validation splits (U2AF65, AGO1234) 10 bins of 1..3-mers beat 5 bins, 5 bins of 1..4-mers and 20 bins of
1..2-mers. The plain ``kmer`` model stays the floor; ``kmer-pos`` is a strong baseline and ensemble member.

``--model kmer-gbt`` (``head: trees``) reads the same ``kmer-pos`` features with gradient-boosted trees
(``bertrbp.kmer_trees``) instead of one weight per feature: trees see which k-mers occur together and at which
frequency a k-mer starts to matter, which a linear model cannot. The trees are saved as node arrays (no pickle)
and walked in torch, so it scores through the same path as the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from bertrbp.errors import InputError
from bertrbp.tokenizer import DNABERT_ALPHABET, dnabert_vocab

log = logging.getLogger("bertrbp")

MODEL_TYPE = "bertrbp-kmer"
MAX_K = 5
C_GRID = (
    0.001,
    0.01,
    0.1,
)  # inverse L2 strength tried; the best validation AUROC wins (0.01 won on all 30 eCLIP sets at 2,000 sites each against 0.1 and 1)
POSITION_BINS = 10  # kmer-pos: bins along the sequence
POSITION_MAX_K = 3  # kmer-pos: longest k-mer counted per bin
# kmer-pos has 4x the features: stronger regularisation wins (1e-3 and 3e-4 on RBP-31 validation splits)
POSITION_C_GRID = (0.0001, 0.0003, 0.001, 0.003)


def n_features(max_k: int, position_bins: int = 0, position_max_k: int = POSITION_MAX_K) -> int:
    """Global 1..max_k-mer frequencies, plus 1..position_max_k-mer frequencies in each position bin."""
    return sum(4**m for m in range(1, max_k + 1)) + position_bins * sum(4**m for m in range(1, position_max_k + 1))


class KmerConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 69,
        max_k: int = MAX_K,
        max_position_embeddings: int = 512,
        num_labels: int = 2,
        pad_token_id: int = 0,
        regularization_c: float = 1.0,
        position_bins: int = 0,
        position_max_k: int = POSITION_MAX_K,
        head: str = "logistic",
        tree_count: int = 0,
        tree_nodes: int = 0,
        tree_depth: int = 0,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.head = head  # "logistic" (kmer, kmer-pos) or "trees" (kmer-gbt)
        self.tree_count, self.tree_nodes, self.tree_depth = tree_count, tree_nodes, tree_depth
        self.max_k = max_k
        self.position_bins = position_bins
        self.position_max_k = position_max_k
        self.max_position_embeddings = max_position_embeddings
        self.regularization_c = regularization_c
        super().__init__(num_labels=num_labels, pad_token_id=pad_token_id, **kwargs)

    @property
    def token_k(self) -> int:
        from bertrbp.model import k_for_vocab_size

        return k_for_vocab_size(self.vocab_size)


def _token_bases(vocab_size: int) -> np.ndarray:
    """[vocab, k] base digits (0..3 in DNABERT's A T C G order) of every token; 4 for special tokens."""
    from bertrbp.model import k_for_vocab_size

    k = k_for_vocab_size(vocab_size)
    digit = {c: i for i, c in enumerate(DNABERT_ALPHABET)}
    table = np.full((vocab_size, k), 4, dtype=np.int64)
    for index, token in enumerate(dnabert_vocab(k)):
        if not token.startswith("["):
            table[index] = [digit[c] for c in token]
    return table


class KmerModel(PreTrainedModel):
    """Logistic regression on standardised 1..max_k-mer frequencies computed from k-mer token ids, or (``head:
    trees``) gradient-boosted trees on the raw frequencies."""

    config_class = KmerConfig
    base_model_prefix = "kmer"

    def __init__(self, config: KmerConfig):
        import torch

        super().__init__(config)
        size = n_features(config.max_k, config.position_bins, config.position_max_k)
        self.bias = torch.nn.Parameter(torch.zeros(1))  # the intercept, or the trees' baseline log-odds
        if config.head == "trees":
            from bertrbp.kmer_trees import register_tree_buffers

            register_tree_buffers(self, config.tree_count, config.tree_nodes)
        else:
            self.weight = torch.nn.Parameter(torch.zeros(size))
            self.register_buffer("feature_mean", torch.zeros(size))
            self.register_buffer("feature_scale", torch.ones(size))
        # not a buffer: from_pretrained builds models on the meta device and would leave it uninitialised
        self._bases_table = torch.from_numpy(_token_bases(config.vocab_size))
        self.post_init()

    def token_bases(self, device):
        """[vocab, k] base digits of every token on ``device`` (rebuilt from the config, never saved)."""
        if self._bases_table.device != device:
            self._bases_table = self._bases_table.to(device)
        return self._bases_table

    def _init_weights(self, module) -> None:  # weights come from scikit-learn, never from random init
        pass

    def features(self, input_ids, attention_mask=None):
        """[B, n_features] float32 k-mer frequencies of each row's nucleotide sequence (global, then per bin)."""
        import torch

        from bertrbp.tokenizer import CLS_ID, PAD_ID, SEP_ID

        batch, width = input_ids.shape
        if attention_mask is not None:
            input_ids = torch.where(attention_mask.bool(), input_ids, torch.zeros_like(input_ids))  # masked = [PAD]
        table = self.token_bases(input_ids.device)
        k = table.shape[1]
        bases = table[input_ids[:, 1:]]  # [B, T-1, k]; k-mer t sits at position 1 + t, after [CLS]
        span = width - 1 + k - 1
        # nucleotide p is base j of k-mer p - j for any j < k: take the first k-mer that knows it, so a [UNK]
        # k-mer (one holding N) loses only the N itself, and the last k-mer supplies the final k - 1 bases
        nuc = torch.full((batch, span), 4, dtype=torch.long, device=input_ids.device)
        for j in range(k):
            candidate = torch.full_like(nuc, 4)
            candidate[:, j : j + width - 1] = bases[:, :, j]
            nuc = torch.where(nuc < 4, nuc, candidate)
        real = (input_ids != PAD_ID) & (input_ids != CLS_ID) & (input_ids != SEP_ID)  # [UNK] is a real k-mer
        length = (real.sum(1) + k - 1) * real.any(1)  # nucleotides per row
        bins = self.config.position_bins
        positional_k = self.config.position_max_k if bins else 0
        global_parts, position_parts = [], []
        for m in range(1, max(self.config.max_k, positional_k) + 1):
            code, valid = _window_codes(nuc, m)
            if m <= self.config.max_k:
                global_parts.append(_frequencies(code, valid, 4**m))
            if m <= positional_k:
                position_parts.append(_binned_frequencies(code, valid, length - m + 1, bins, 4**m))
        return torch.cat(global_parts + position_parts, dim=1)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_):
        import torch
        import torch.nn.functional as F

        if self.config.head == "trees":
            from bertrbp.kmer_trees import tree_log_odds

            z = tree_log_odds(self, self.features(input_ids, attention_mask)) + self.bias.float()
        else:
            x = (self.features(input_ids, attention_mask) - self.feature_mean) / self.feature_scale
            z = (x * self.weight.float()).sum(-1) + self.bias.float()  # elementwise: autocast leaves it in float32
        logits = torch.stack([-z / 2, z / 2], dim=-1)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def _window_codes(nuc, m: int):
    """Base-4 code of every length-m window of ``nuc`` [B, span] and whether it holds no N ([B, windows] each)."""
    import torch

    windows = nuc.shape[1] - m + 1
    code = torch.zeros((nuc.shape[0], windows), dtype=torch.long, device=nuc.device)
    valid = torch.ones((nuc.shape[0], windows), dtype=torch.bool, device=nuc.device)
    for j in range(m):
        digit = nuc[:, j : j + windows]
        valid &= digit < 4
        code = code * 4 + digit.clamp(max=3)
    return code, valid


def _frequencies(code, valid, size: int):
    """[B, size] counts of each valid code / number of valid windows in the row."""
    import torch

    code = torch.where(valid, code, torch.full_like(code, size))  # the extra bin collects invalid windows
    counts = torch.zeros((code.shape[0], size + 1), dtype=torch.float32, device=code.device)
    counts.scatter_add_(1, code, torch.ones_like(code, dtype=torch.float32))
    total = valid.sum(1, keepdim=True).clamp(min=1).float()
    return counts[:, :size] / total


def _binned_frequencies(code, valid, windows, bins: int, size: int):
    """[B, bins * size]: per position bin, counts of each code / windows in that bin of the row.

    Bins split each row's own ``windows`` (a [B] tensor) evenly (``bertrbp.stretches``), so sequences of any
    length are read as fractions of their length; windows past the row's end (padding) fall into a discarded slot."""
    import torch

    from bertrbp.stretches import stretch_index

    batch = code.shape[0]
    stretch = stretch_index(code.shape[1], windows, bins)
    inside = stretch < bins
    slot = torch.where(valid & inside, stretch * size + code, torch.full_like(code, bins * size))
    counts = torch.zeros((batch, bins * size + 1), dtype=torch.float32, device=code.device)
    counts.scatter_add_(1, slot, torch.ones_like(slot, dtype=torch.float32))
    per_bin = torch.zeros((batch, bins + 1), dtype=torch.float32, device=code.device)
    per_bin.scatter_add_(1, stretch, inside.float())
    counts = counts[:, : bins * size].view(batch, bins, size)
    return (counts / per_bin[:, :bins, None].clamp(min=1)).reshape(batch, bins * size)


def kmer_feature_text(config: KmerConfig) -> str:
    """What the features are, in words (model card, README)."""
    text = f"1..{config.max_k}-mer frequencies"
    if config.position_bins:
        text += f" plus 1..{config.position_max_k}-mer frequencies in {config.position_bins} position bins"
    return text


def new_kmer(vocab_size: int, max_k: int = MAX_K, position_bins: int = 0, head: str = "logistic") -> KmerModel:
    """An unfitted k-mer model; ``position_bins`` > 0 gives the positional ``kmer-pos`` variant, ``head="trees"``
    the boosted trees of ``kmer-gbt`` (sized by ``bertrbp.kmer_trees.fit_kmer_trees``)."""
    return KmerModel(KmerConfig(vocab_size=vocab_size, max_k=max_k, position_bins=position_bins, head=head))


# what a k-mer config may ask for: the features (4**k per k) are allocated from these before any weight is read,
# and the tree arrays from the tree sizes
KMER_CONFIG_RANGES = {
    "max_k": (1, 6),
    "position_bins": (0, 100),
    "position_max_k": (1, 6),
    "tree_count": (0, 100_000),
    "tree_nodes": (0, 10_000_000),
    "tree_depth": (0, 1_000),
}
HEADS = ("logistic", "trees")


def check_kmer_config(config: dict, path) -> None:
    """Refuse a k-mer config.json whose sizes are not whole numbers in range, or whose vocabulary is not DNABERT's.

    Why: an edited ``max_k`` or ``position_bins`` built a model of another size (a traceback when the weights did
    not fit, or gigabytes for a large k), and a float or negative value failed deep inside torch.
    """
    from bertrbp.model import k_for_vocab_size

    defaults = {"max_k": MAX_K, "position_bins": 0, "position_max_k": POSITION_MAX_K}
    defaults.update(tree_count=0, tree_nodes=0, tree_depth=0)
    head = config.get("head", "logistic")
    if head not in HEADS:
        raise InputError(f"{path}: head={head!r}: a k-mer model's head is one of {', '.join(HEADS)}.")
    for key, (low, high) in KMER_CONFIG_RANGES.items():
        value = config.get(key, defaults[key])
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InputError(f"{path}: {key}={value!r}: a k-mer model needs a whole number from {low} to {high}.")
    vocab_size = config.get("vocab_size", 69)
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise InputError(f"{path}: vocab_size={vocab_size!r} is not a whole number.")
    try:
        k_for_vocab_size(vocab_size)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc


def load_kmer(folder: str) -> tuple[KmerModel, dict]:
    """A saved k-mer model and its loading info; refused unless every one of its tensors comes from the file
    (``model.check_loaded`` then checks shapes and values, as for every model).

    Why: ``_init_weights`` is a no-op (weights come from scikit-learn), so a tensor missing from the file (a
    BERT's weights beside a k-mer config) stayed uninitialised memory and the model scored NaN with exit 0.
    """
    from bertrbp.model_checks import read_config

    check_kmer_config(read_config(Path(folder)), Path(folder) / "config.json")
    model, info = KmerModel.from_pretrained(folder, output_loading_info=True, ignore_mismatched_sizes=True)
    missing, unexpected = sorted(info.get("missing_keys", [])), sorted(info.get("unexpected_keys", []))
    if missing or unexpected:
        raise InputError(
            f"{folder}: the weights do not fit its k-mer config.json (missing: {', '.join(missing) or 'none'}; "
            f"not a k-mer model's: {', '.join(unexpected[:5]) or 'none'}{' ...' if len(unexpected) > 5 else ''}). "
            "Save the model again with bertrbp-finetune --model kmer, or use the folder it came from."
        )
    if model.config.head == "trees":
        from bertrbp.kmer_trees import check_tree_arrays

        check_tree_arrays(model, folder)
    return model, info


def dataset_features(
    model: KmerModel, input_ids: np.ndarray, attention_mask: np.ndarray, chunk: int = 2048
) -> np.ndarray:
    """Features of a whole tokenized set, in chunks (bounded memory)."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(input_ids), chunk):
            ids = torch.from_numpy(np.ascontiguousarray(input_ids[start : start + chunk]).astype(np.int64))
            mask = torch.from_numpy(np.ascontiguousarray(attention_mask[start : start + chunk]).astype(np.int64))
            out.append(model.features(ids, mask).numpy().astype(np.float64))
    return np.concatenate(out)


@dataclass
class KmerFit:
    c: float
    grid: dict  # C -> validation AUROC
    train_loss: float


def fit_kmer(model: KmerModel, train, val, seed: int = 42, grid=None) -> KmerFit:
    """Fit the logistic regression on ``train`` (TokenizedDataset), choosing C by validation AUROC; sets weights."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score

    if grid is None:
        grid = POSITION_C_GRID if model.config.position_bins else C_GRID
    x_train = dataset_features(model, train.input_ids, train.attention_mask)
    x_val = dataset_features(model, val.input_ids, val.attention_mask)
    mean = x_train.mean(0)
    scale = x_train.std(0)
    scale[scale < 1e-8] = 1.0
    z_train, z_val = (x_train - mean) / scale, (x_val - mean) / scale
    y_train, y_val = train.labels.astype(int), val.labels.astype(int)
    scores, fits = {}, {}
    for c in grid:
        clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        clf.fit(z_train, y_train)
        scores[c] = float(roc_auc_score(y_val, clf.decision_function(z_val)))
        fits[c] = clf
        log.info("k-mer logistic regression: C %g, validation AUROC %.4f", c, scores[c])
    best = max(grid, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    clf = fits[best]
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(clf.coef_[0].astype(np.float32)))
        model.bias.copy_(torch.tensor([float(clf.intercept_[0])]))
        model.feature_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        model.feature_scale.copy_(torch.from_numpy(scale.astype(np.float32)))
    model.config.regularization_c = best
    train_loss = float(log_loss(y_train, clf.predict_proba(z_train)[:, 1], labels=[0, 1]))
    return KmerFit(best, {str(c): v for c, v in scores.items()}, train_loss)
