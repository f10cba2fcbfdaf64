"""Structure-aware input: per-token RNA secondary structure added to a BERT's (or the CNN's) input embeddings.

``bertrbp-finetune --structure unpaired|elements|both`` turns a BERT classifier into
:class:`StructureBertForSequenceClassification`: every sequence is folded by ``bertrbp.fold`` (the code behind
``bertrbp-fold``), each k-mer token gets features averaged over its k nucleotides, and a learned projection of
those features is added to the token's word embedding (position and token-type embeddings follow as usual).

Why the model folds its own inputs: the features are a function of the token ids, which every caller already
passes, so training, validation, predict, scan, variant-effect, attribute (ISM) and attention-stats all get the
same features from the same function without knowing about structure, and a saved model (``config.json`` key
``bertrbp_structure``: features, engine, gamma) needs no flag to be scored correctly.

Features per k-mer token (``feature_names``): ``nucleotide`` (1 on k-mer tokens; [CLS], [SEP] and [PAD] get an
all-zero row and the projection has no bias, so they receive nothing), ``unpaired`` (mean probability that
its nucleotides are unpaired, McCaskill base-pair probabilities) and ``element_F`` .. ``element_S`` (the fraction
of its nucleotides in each forgi element of the MEA structure, ``bertrbp.fold.elements``).

The sequence is read back from the overlapping k-mer ids; a nucleotide covered only by ``[UNK]`` tokens (an
``N``, or a base whose every covering k-mer holds an ``N``) is folded as ``N``, which pairs with nothing. The
projection starts at zero, so a converted checkpoint starts as exactly the sequence-only model.
Folding costs about 1-3 ms per 101-nt sequence on one core; results are cached per distinct token sequence
(least recently used, ``CACHE_SIZE`` entries, one cache per process and structure specification), so training
folds each sequence once, not once per epoch, and models of the same specification share the folds. Before a
run trains, ``bertrbp.structure_prefold`` folds its sequences once on every CPU of the budget and installs them
(``install_folds``), so the members of an ensemble trained side by side (``--jobs``) do not fold them again.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np

from bertrbp.errors import InputError
from bertrbp.fold.elements import ELEMENTS, element_string
from bertrbp.fold.engines import DEFAULT_ENGINE, ENGINES, Fold, FoldOptions, fold_rna, prepare_rna
from bertrbp.tokenizer import CLS_ID, SEP_ID, SPECIAL_TOKENS, dnabert_vocab

STRUCTURE_CHOICES = ("none", "unpaired", "elements", "both")
CONFIG_KEY = "bertrbp_structure"
CACHE_SIZE = 50_000  # distinct sequences kept (about 4 kB each for 101 nt): a full RBP training set fits


@dataclass(frozen=True)
class StructureSpec:
    """Which features, and how to fold: recorded in the model's config.json so predict folds the same way."""

    features: str
    engine: str = DEFAULT_ENGINE
    gamma: float = 3.0
    version: int = 1

    def check(self) -> StructureSpec:
        if self.features not in STRUCTURE_CHOICES or self.features == "none":
            raise InputError(
                f"--structure {self.features!r} is not known; choose one of {', '.join(STRUCTURE_CHOICES)}."
            )
        if self.engine not in ENGINES:
            raise InputError(f"structure engine {self.engine!r} is not known; choose one of {', '.join(ENGINES)}.")
        FoldOptions(engine=self.engine, gamma=self.gamma).check()
        import importlib.util

        module = {"vienna": "RNA", "linearpartition": "linearpartition"}[self.engine]
        if importlib.util.find_spec(module) is None:
            raise InputError(
                f"structure-aware models fold their inputs with {self.engine} (Python module {module!r}), which is "
                "not installed: pip install 'bert-rbp[fold]' (or use a model trained without --structure)."
            )
        return self

    def fold_options(self) -> FoldOptions:
        return FoldOptions(engine=self.engine, gamma=self.gamma, unpaired=self.features in ("unpaired", "both"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_config(cls, config) -> StructureSpec | None:
        """The spec a config carries, or None for a sequence-only model."""
        value = getattr(config, CONFIG_KEY, None)
        if not value:
            return None
        try:
            return cls(**value).check()
        except TypeError as exc:
            raise InputError(f"config.json: {CONFIG_KEY} {value!r} is not a structure specification ({exc}).") from exc


_FOLDED: dict[FoldOptions, dict[str, Fold]] = {}  # folds made ahead, by bertrbp.structure_prefold
FOLD_COUNTS = {"folded": 0, "looked_up": 0}  # this process's sequences folded here or found in _FOLDED


def install_folds(table: dict[FoldOptions, dict[str, Fold]]) -> None:
    """Add folds made ahead (``bertrbp.structure_prefold``): a sequence found there is not folded again."""
    for options, folds in table.items():
        _FOLDED.setdefault(options, {}).update(folds)


def uninstall_folds(table: dict[FoldOptions, dict[str, Fold]]) -> None:
    """Forget the folds ``install_folds`` added from ``table`` (a run that installed them has ended)."""
    for options in table:
        _FOLDED.pop(options, None)


def feature_names(features: str) -> list[str]:
    """Names of the per-token feature columns for ``features`` (unpaired, elements or both)."""
    names = ["nucleotide"]
    if features in ("unpaired", "both"):
        names.append("unpaired")
    if features in ("elements", "both"):
        names += [f"element_{letter}" for letter in ELEMENTS]
    return names


def nucleotide_features(seq: str, spec: StructureSpec, where: str = "sequence") -> np.ndarray:
    """[L, F] per-nucleotide features of one DNA/RNA sequence (the columns of ``feature_names``)."""
    rna = prepare_rna(seq, where)
    options = spec.fold_options()
    fold = _FOLDED.get(options, {}).get(rna)
    if fold is None:
        fold = fold_rna(rna, options, where)
        FOLD_COUNTS["folded"] += 1
    else:
        FOLD_COUNTS["looked_up"] += 1
    columns = [np.ones(len(rna))]
    if spec.features in ("unpaired", "both"):
        columns.append(np.asarray(fold.unpaired, dtype=np.float64))
    if spec.features in ("elements", "both"):
        letters = np.frombuffer(element_string(fold.structure, where).encode("ascii"), dtype=np.uint8)
        columns += [(letters == ord(letter)).astype(np.float64) for letter in ELEMENTS]
    return np.stack(columns, axis=1)


def token_features(seq: str, spec: StructureSpec, k: int, where: str = "sequence") -> np.ndarray:
    """[L-k+1, F] float32 features of the k-mer tokens of ``seq``: each the mean over its k nucleotides.

    The one function behind training and prediction (the model calls it on the sequence its ids spell)."""
    per_nt = nucleotide_features(seq, spec, where)
    if len(per_nt) < k:
        raise InputError(f"{where}: length {len(per_nt)} is shorter than k={k}; it has no k-mer tokens.")
    windows = np.lib.stride_tricks.sliding_window_view(per_nt, k, axis=0)  # [T, F, k]
    return windows.mean(axis=-1).astype(np.float32)


class _KmerLetters:
    """Token id -> its k letters (``N`` for [UNK] and every other special token), for reading sequences back."""

    def __init__(self, k: int):
        vocab = dnabert_vocab(k)
        table = np.full((len(vocab), k), ord("N"), dtype=np.uint8)
        for index, token in enumerate(vocab[len(SPECIAL_TOKENS) :], start=len(SPECIAL_TOKENS)):
            table[index] = np.frombuffer(token.encode("ascii"), dtype=np.uint8)
        self.k = k
        self.table = table


_LETTERS: dict[int, _KmerLetters] = {}


def sequence_from_kmer_ids(kmer_ids: np.ndarray, k: int) -> str:
    """The DNA sequence spelled by overlapping k-mer token ids ([CLS]/[SEP] removed).

    Each nucleotide is read from the first covering token that is a k-mer; one covered only by [UNK] is ``N``."""
    letters = _LETTERS.get(k) or _LETTERS.setdefault(k, _KmerLetters(k))
    ids = np.asarray(kmer_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(letters.table)):
        raise InputError(f"token ids outside the {k}-mer vocabulary; the input was not tokenized for this model.")
    chars = letters.table[ids]  # [T, k]
    seq = np.full(len(ids) + k - 1, ord("N"), dtype=np.uint8)
    n = ord("N")
    for offset in range(k - 1, -1, -1):  # later offsets first, so the first covering token wins
        view = seq[offset : offset + len(ids)]
        known = chars[:, offset] != n
        view[known] = chars[known, offset]
    return seq.tobytes().decode("ascii")


class FeatureCache:
    """Least-recently-used token features per distinct id row (the key is k and the row's bytes)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.folds = 0  # sequences folded (cache misses), for tests and logs

    def get(self, kmer_ids: np.ndarray, spec: StructureSpec, k: int) -> np.ndarray:
        key = k.to_bytes(1, "little") + kmer_ids.tobytes()  # models of another k share the cache, not its keys
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            return found
        seq = sequence_from_kmer_ids(kmer_ids, k)
        found = token_features(seq, spec, k, where=f"sequence {seq[:20]}...")
        self.folds += 1
        self.entries[key] = found
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return found


_CACHES: dict[StructureSpec, FeatureCache] = {}


def shared_cache(spec: StructureSpec) -> FeatureCache:
    """The process's cache for ``spec``: ensemble members, a model and its reloaded copy, or the two models of
    attention-stats fold each sequence once between them."""
    return _CACHES.setdefault(spec, FeatureCache())


def clear_caches() -> None:
    """Forget every cached fold and every fold made ahead (tests that change the folding code; long-lived
    processes)."""
    _CACHES.clear()
    _FOLDED.clear()


def batch_features(input_ids, attention_mask, spec: StructureSpec, k: int, cache: FeatureCache) -> np.ndarray:
    """[B, T, F] float32 features for a batch of [CLS] k-mers [SEP] rows (padding and specials all zero)."""
    ids = input_ids.detach().cpu().numpy() if hasattr(input_ids, "detach") else np.asarray(input_ids)
    if attention_mask is None:
        lengths = np.full(len(ids), ids.shape[1])
    else:
        mask = attention_mask.detach().cpu().numpy() if hasattr(attention_mask, "detach") else attention_mask
        lengths = np.asarray(mask).sum(axis=1).astype(np.int64)
    out = np.zeros((*ids.shape, len(feature_names(spec.features))), dtype=np.float32)
    for row, length in enumerate(lengths.tolist()):
        if length < 3 or ids[row, 0] != CLS_ID or ids[row, length - 1] != SEP_ID:
            raise InputError(
                "a structure-aware model needs each input as [CLS] k-mer tokens [SEP] (the project's tokenizer); "
                f"row {row + 1} is not."
            )
        kmer_ids = np.ascontiguousarray(ids[row, 1 : length - 1], dtype=np.int64)  # one key whatever the dtype
        out[row, 1 : length - 1] = cache.get(kmer_ids, spec, k)
    return out


class StructureInput:
    """What a structure-aware model (the BERT below, or ``bertrbp.cnn.CnnClassifier`` whose config names
    features) adds to its input: a bias-free projection, zero at the start, of the per-token features of the
    sequence its ids spell, onto the width of its token embedding. Mixed into the model class."""

    def setup_structure(self, config, width: int) -> None:
        import torch

        self.structure_spec = StructureSpec.from_config(config)
        if self.structure_spec is None:
            raise InputError(f"a structure-aware model needs {CONFIG_KEY} in its config.")
        self.structure_k = _k_of(config)
        n_features = len(feature_names(self.structure_spec.features))
        self.structure_projection = torch.nn.Linear(n_features, width, bias=False)
        torch.nn.init.zeros_(self.structure_projection.weight)

    @property
    def structure_cache(self) -> FeatureCache:
        return shared_cache(self.structure_spec)

    def is_structure_projection(self, module) -> bool:
        return module is getattr(self, "structure_projection", None)

    def structure_features(self, input_ids, attention_mask=None):
        """[B, T, F] float32 features of the sequences that ``input_ids`` spell, on the ids' device."""
        import torch

        values = batch_features(input_ids, attention_mask, self.structure_spec, self.structure_k, self.structure_cache)
        return torch.from_numpy(values).to(input_ids.device)

    def add_structure(self, embeddings, input_ids, attention_mask, structure=None):
        """``embeddings`` plus the projected features (of ``input_ids``, or ``structure`` when the caller passes
        embeddings without ids: integrated gradients hold the real sequence's features fixed)."""
        if structure is None:
            if input_ids is None:
                raise ValueError("a structure-aware model needs input_ids, or structure= with inputs_embeds.")
            structure = self.structure_features(input_ids, attention_mask)
        added = self.structure_projection(structure.to(self.structure_projection.weight.dtype))
        return embeddings + added.to(embeddings.dtype).expand_as(embeddings)


def _model_class():
    import torch
    from transformers import BertForSequenceClassification

    class StructureBertForSequenceClassification(StructureInput, BertForSequenceClassification):
        """A BERT classifier whose input embedding adds a projection of per-token structure features.

        ``forward`` takes the usual ``input_ids``/``attention_mask`` and folds the sequence they spell; callers
        that pass ``inputs_embeds`` (integrated gradients) give the features as ``structure`` ([1 or B, T, F],
        from :meth:`structure_features` of the real ids)."""

        def __init__(self, config):
            super().__init__(config)
            self.setup_structure(config, config.hidden_size)

        def _init_weights(self, module):
            super()._init_weights(module)
            if self.is_structure_projection(module):
                torch.nn.init.zeros_(module.weight)  # start as the sequence-only model

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                    inputs_embeds=None, labels=None, structure=None, **kwargs):  # fmt: skip
            if inputs_embeds is None:
                inputs_embeds = self.bert.embeddings.word_embeddings(input_ids)
            inputs_embeds = self.add_structure(inputs_embeds, input_ids, attention_mask, structure)
            return super().forward(
                input_ids=None,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                position_ids=position_ids,
                inputs_embeds=inputs_embeds,
                labels=labels,
                **kwargs,
            )

    return StructureBertForSequenceClassification


_CLASS = None


def structure_model_class():
    """The ``StructureBertForSequenceClassification`` class (built on first use: transformers loads lazily)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _model_class()
    return _CLASS


def _k_of(config) -> int:
    from bertrbp.model import k_for_vocab_size

    return k_for_vocab_size(config.vocab_size)


def structure_spec_of(model) -> StructureSpec | None:
    """The structure features a loaded model uses (None: sequence-only, or not a BERT)."""
    return getattr(model, "structure_spec", None)


def config_has_structure(config_dict: dict) -> bool:
    """A checkpoint's config.json (as a dict) describes a structure-aware model."""
    return bool(config_dict.get(CONFIG_KEY))


def with_structure_input(model, features: str, engine: str = DEFAULT_ENGINE, gamma: float = 3.0):
    """A structure-aware copy of a BERT or CNN classifier: the same weights plus a zero projection (so it starts
    out predicting exactly what ``model`` predicts). A model that already is structure-aware is returned as it is
    when ``features`` match, refused when they differ."""
    import torch
    from transformers import BertForSequenceClassification

    from bertrbp.cnn import CnnClassifier
    from bertrbp.model import keep_head_fp32

    spec = StructureSpec(features, engine, gamma).check()
    existing = structure_spec_of(model)
    if existing is not None:
        if existing.features != spec.features:
            raise InputError(
                f"the model already uses --structure {existing.features}; give that (or none to keep it), "
                f"not {spec.features}."
            )
        return model
    if isinstance(model, CnnClassifier):
        model_class = CnnClassifier  # builds the projection when its config names features
    elif isinstance(model, BertForSequenceClassification):
        model_class = structure_model_class()
    else:
        raise InputError("--structure needs a BERT (a preset or checkpoint) or the CNN, not the k-mer model.")
    config = copy.deepcopy(model.config)
    setattr(config, CONFIG_KEY, spec.to_dict())
    with torch.random.fork_rng(devices=[]):  # building the new module must not move the caller's random stream
        structured = model_class(config)
    missing, unexpected = structured.load_state_dict(model.state_dict(), strict=False)
    if unexpected or set(missing) != {"structure_projection.weight"}:
        raise RuntimeError(f"structure conversion: missing {missing}, unexpected {unexpected}")
    torch.nn.init.zeros_(structured.structure_projection.weight)
    structured.train(model.training)
    return keep_head_fp32(structured)
