"""Building, loading and saving k-mer BERT classifiers in DNABERT's checkpoint layout.

A model source is either a preset name for random initialisation (the paper's BERT-baseline) or a pretrained
checkpoint: a local folder or a Hugging Face hub id such as ``zhihan1996/DNA_bert_3``, holding
``config.json``, weights (safetensors or ``pytorch_model.bin``) and ``vocab.txt``. Both paths go through
``load_classifier`` so the tests, which save tiny checkpoints, exercise the same code as a hub download.

Attention maps need eager attention: transformers' default SDPA kernel returns none, so callers that read
attention pass ``attention="eager"`` (set again after ``from_pretrained``, which may reset it).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bertrbp.errors import InputError
from bertrbp.tokenizer import KmerTokenizer, dnabert_vocab

T = TypeVar("T")

if TYPE_CHECKING:
    from bertrbp.cnn import CnnShape

# name: (layers, hidden, heads, intermediate)
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (2, 64, 2, 128),
    "mini": (4, 128, 4, 512),
    "small": (4, 256, 4, 1024),
    "medium": (8, 512, 8, 2048),
    "base": (12, 768, 12, 3072),
}
MAX_POSITIONS = 512
ATTENTION_CHOICES = ("sdpa", "eager")
CNN_PRESET = "cnn"  # the DeepBind-like convolutional baseline (bertrbp.cnn), random init
KMER_PRESET = "kmer"  # logistic regression on 1-5-mer frequencies (bertrbp.kmer), fitted by scikit-learn
KMER_POS_PRESET = "kmer-pos"  # the same, plus 1-3-mer frequencies in 10 position bins along the site
KMER_GBT_PRESET = "kmer-gbt"  # gradient-boosted trees on the kmer-pos features (bertrbp.kmer_trees)
KMER_KINDS = ("kmer", "kmer-pos", "kmer-gbt")  # fitted by scikit-learn in one pass (no learning rate, no epochs)
BUILTIN_MODELS = (CNN_PRESET, KMER_PRESET, KMER_POS_PRESET, KMER_GBT_PRESET)
_VOCAB_SIZE_TO_K = {len(dnabert_vocab(k)): k for k in (3, 4, 5, 6)}


def k_for_vocab_size(vocab_size: int) -> int:
    """k of a DNABERT k-mer vocabulary of ``vocab_size`` tokens."""
    if vocab_size not in _VOCAB_SIZE_TO_K:
        raise InputError(f"vocab size {vocab_size} is not a DNABERT k-mer vocabulary (k = 3..6).")
    return _VOCAB_SIZE_TO_K[vocab_size]


def bundled_model_dirs() -> list[Path]:
    """Where short checkpoint names (``bertrbp-mini-k3``) are looked up, in order: the folders in
    $BERTRBP_MODELS (':'-separated; a site's own collection), then the repository's assets/models, which the
    pipeline and the containers carry beside bin/ (so a name works offline, with no hub)."""
    extra = [Path(p) for p in os.environ.get("BERTRBP_MODELS", "").split(os.pathsep) if p]
    return [*extra, Path(__file__).resolve().parents[2] / "assets" / "models"]


def resolve_model_source(source: str) -> str:
    """A bundled checkpoint's short name -> its folder; an existing path, preset or hub id is returned unchanged.

    Built-in names (the presets, ``cnn``, ``kmer``) are never looked up, so a collection in $BERTRBP_MODELS that
    happens to hold a folder called ``tiny`` or ``kmer`` cannot silently change what ``--model tiny`` trains."""
    source = str(source)
    if not source or "/" in source or os.sep in source or Path(source).exists():
        return source
    if source in PRESETS or source in BUILTIN_MODELS:
        return source
    for folder in bundled_model_dirs():
        if (folder / source / "config.json").is_file():
            return str(folder / source)
    return source


def bundled_model_names() -> list[str]:
    """Short names of the checkpoints found in bundled_model_dirs() (for help texts and error messages)."""
    names = {p.parent.name for folder in bundled_model_dirs() if folder.is_dir() for p in folder.glob("*/config.json")}
    return sorted(names)


def is_new_cnn(source: str) -> bool:
    """``source`` builds a new CNN (the preset, not a saved CNN folder): what --cnn-conv-layers/--cnn-lstm shape."""
    return is_named(source, CNN_PRESET)


def is_named(source: str, name: str) -> bool:
    """``source`` is the built-in model ``name`` (cnn, kmer) rather than a folder of that name."""
    return source == name and not Path(source).exists()


def is_kmer_kind(kind: str) -> bool:
    """A k-mer model (logistic regression, plain or positional, or boosted trees): one scikit-learn fit, no
    attention."""
    return kind in KMER_KINDS


def model_kind(source: str) -> str:
    """bert-pretrained, bert-random, cnn, kmer, kmer-pos or kmer-gbt: what a --model source trains (decides the
    recipe)."""
    source = resolve_model_source(source)
    for preset in (KMER_PRESET, KMER_POS_PRESET, KMER_GBT_PRESET):
        if is_named(source, preset):
            return preset
    config = folder_config(source)
    if config.get("model_type") == "bertrbp-kmer":
        if config.get("head") == "trees":
            return KMER_GBT_PRESET
        return "kmer-pos" if config.get("position_bins", 0) else "kmer"
    if is_named(source, CNN_PRESET) or config.get("model_type") == "bertrbp-cnn":
        return "cnn"
    return "bert-random" if is_preset(source) else "bert-pretrained"


STRUCTURE_KINDS = ("bert-random", "bert-pretrained", "cnn")  # model kinds that take --structure input


def takes_structure(source: str) -> bool:
    """--structure applies to BERT and CNN members; k-mer members of the same ensemble stay sequence-only."""
    return model_kind(source) in STRUCTURE_KINDS


def local_model_folder(source: str | Path) -> Path | None:
    """The folder a ``--model`` value loads from on this machine (a bundled short name's folder, a finetune run
    folder's DIR/model, a checkpoint or ensemble folder), or None for a preset or hub id."""
    resolved = resolve_model_source(str(source))
    return model_folder(resolved) if Path(resolved).is_dir() else None


def model_folder(path: str | Path) -> Path:
    """A checkpoint or ensemble folder, or a finetune output folder whose model is ``DIR/model``."""
    from bertrbp.ensemble import is_ensemble_folder

    path = Path(path)
    if (path / "config.json").exists() or is_ensemble_folder(path):
        return path
    if (path / "model" / "config.json").exists() or is_ensemble_folder(path / "model"):
        return path / "model"
    return path  # load_classifier reports what is wrong with it


@dataclass
class LoadReport:
    """What a load did: where from, which weights came from the checkpoint and which are new."""

    source: str
    pretrained: bool
    loaded: list[str] = field(default_factory=list)
    newly_initialised: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.pretrained:
            return f"random initialisation ({self.source})"
        return (
            f"loaded {len(self.loaded)} tensors from {self.source}; newly initialised: "
            f"{', '.join(self.newly_initialised) or 'none'}; unused from checkpoint: {len(self.unexpected)}"
        )


def preset_config(preset: str, k: int = 3, num_labels: int = 2, dropout: float = 0.1):
    """A BertConfig of a named size with DNABERT's vocabulary for k."""
    from transformers import BertConfig

    if preset not in PRESETS:
        raise InputError(f"unknown model size {preset!r}; choose one of {', '.join(PRESETS)}.")
    layers, hidden, heads, intermediate = PRESETS[preset]
    return BertConfig(
        vocab_size=len(dnabert_vocab(k)),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=MAX_POSITIONS,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        num_labels=num_labels,
        pad_token_id=0,
    )


PRESET_SHAPE_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")


def preset_with_shape(config: dict) -> str | None:
    """The preset whose layers, width, heads and feed-forward size a checkpoint's config has (None: no preset)."""
    for name, shape in PRESETS.items():
        if tuple(config.get(key) for key in PRESET_SHAPE_KEYS) == shape:
            return name
    return None


def preset_for_width(hidden_size: int) -> str | None:
    """The widest preset no wider than ``hidden_size``: how a checkpoint of any width borrows a preset's recipe
    (a 384-wide one trains like ``small``); None below the narrowest preset's width."""
    fitting = [name for name, (_, hidden, _, _) in PRESETS.items() if hidden <= hidden_size]
    return max(fitting, key=lambda name: PRESETS[name][1]) if fitting else None


def is_preset(source: str) -> bool:
    """A source names a preset (random init) when it is a preset name and not an existing folder."""
    return source in PRESETS and not Path(source).exists()


def _set_attention(model, attention: str) -> None:
    if attention not in ATTENTION_CHOICES:
        raise InputError(f"attention implementation must be one of {ATTENTION_CHOICES}, not {attention!r}.")
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(attention)
    else:  # older transformers
        model.config._attn_implementation = attention


def load_tokenizer(source: str) -> KmerTokenizer:
    """The tokenizer of a checkpoint: its vocab.txt, else k inferred from the config's vocab size.

    A bundled short name is resolved first, and a hub id checked for reachability, as in ``load_classifier``:
    attention-stats reads the tokenizer before the model, and asked the hub for ``bertrbp-mini-k3`` for 40 s."""
    source = resolve_model_source(source)
    folder = Path(source)
    if folder.is_dir():
        vocab = folder / "vocab.txt"
        if vocab.exists():
            return KmerTokenizer.from_vocab_file(vocab)
        config_path = folder / "config.json"
        if not config_path.exists():
            raise InputError(f"{folder}: no config.json; not a model checkpoint folder.")
        vocab_size = folder_config(str(folder)).get("vocab_size")
    else:
        _check_source(source)
        try:
            from huggingface_hub import hf_hub_download

            return KmerTokenizer.from_vocab_file(hf_hub_download(source, "vocab.txt"))
        except InputError:
            raise
        except Exception:
            from transformers import AutoConfig

            vocab_size = AutoConfig.from_pretrained(source).vocab_size
    if vocab_size not in _VOCAB_SIZE_TO_K:
        raise InputError(f"{source}: vocab size {vocab_size} is not a DNABERT k-mer vocabulary (k = 3..6).")
    return KmerTokenizer(_VOCAB_SIZE_TO_K[vocab_size])


def _check_source(source: str) -> None:
    from bertrbp.model_checks import check_checkpoint_folder, check_hub_reachable

    folder = Path(source)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{source}: expected a checkpoint folder (config.json, weights, vocab.txt), got a file.")
    if folder.is_dir() and not (folder / "config.json").exists():
        raise InputError(f"{source}: no config.json in this folder; it is not a model checkpoint.")
    if not folder.exists() and ("/" not in source or source.startswith((".", "/"))):
        raise InputError(
            f"model {source!r}: neither a preset ({', '.join(PRESETS)}), a bundled checkpoint "
            f"({', '.join(bundled_model_names()) or 'none installed'}), an existing checkpoint folder, "
            "nor a hub id like 'zhihan1996/DNA_bert_3'."
        )
    if folder.is_dir():
        check_checkpoint_folder(folder)  # truncated weights, absurd sizes: one clear line before transformers
    else:
        check_hub_reachable(source)


def quiet_transformers() -> None:
    """Silence transformers' own 'Loading weights' / 'Writing model shards' bars; tools show their own progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def folder_config(source: str) -> dict:
    """A local checkpoint folder's config.json ({} when there is none)."""
    from bertrbp.model_checks import read_config  # a list or non-UTF-8 config.json was a traceback in the callers

    return read_config(Path(source)) if (Path(source) / "config.json").is_file() else {}


def _folder_model_type(source: str) -> str | None:
    """The ``model_type`` of a local checkpoint folder's config.json (None when there is none)."""
    return folder_config(source).get("model_type")


def _bert_class(source: str):
    """BertForSequenceClassification, or its structure-aware subclass (bertrbp.structure_input) when the folder's
    config.json records structure features: such a model folds its inputs itself, so no tool needs a flag."""
    from transformers import BertForSequenceClassification

    if (Path(source) / "config.json").is_file():
        from bertrbp.structure_input import config_has_structure, structure_model_class

        if config_has_structure(folder_config(source)):
            return structure_model_class()
    return BertForSequenceClassification


def _is_cnn_checkpoint(source: str) -> bool:
    """A local folder holding the convolutional baseline (bertrbp.cnn), not a BERT."""
    from bertrbp.cnn import MODEL_TYPE

    return _folder_model_type(source) == MODEL_TYPE


def keep_head_fp32(model):
    """Run the classification head in float32, also under bf16 autocast.

    Why: autocast rounds the logits to bf16 (8 bits of mantissa, steps of ~0.008 near 1), so the scores of a
    model whose outputs differ only a little tie and its AUROC drops to 0.5 (measured: bench/bf16_cpu.py).
    The head is one small matrix product, so float32 costs nothing measurable.
    """
    import types

    import torch

    head = getattr(model, "classifier", None)
    if isinstance(head, torch.nn.Linear) and not getattr(head, "_bertrbp_fp32", False):
        head.forward = types.MethodType(_fp32_linear_forward, head)  # a bound method: deepcopy rebinds it
        head._bertrbp_fp32 = True
    return model


def _fp32_linear_forward(self, x):
    import torch

    with torch.autocast(device_type=x.device.type, enabled=False):
        return torch.nn.functional.linear(
            x.float(), self.weight.float(), None if self.bias is None else self.bias.float()
        )


def open_classifier(sources, *, attention: str = "sdpa", device=None, seed: int | None = None, trained: bool = False):
    """(model, tokenizer, LoadReport) for one source, or an ensemble averaging the log-odds of several.

    The one way the inference tools open models (predict, scan, variant-effect, attribute, attention-stats;
    training loads with ``load_classifier``): several ``--model`` arguments, or one ensemble folder, score as one
    model. With ``device`` the model is moved there in eval mode. ``seed`` fixes a preset's random weights.
    ``trained``: the tools that score binding refuse a model with randomly initialised weights (a preset, a
    pretrained checkpoint without its classification head, weights that do not fit the config), whose scores
    would be noise that changes from run to run.
    """
    from bertrbp.ensemble import EnsembleClassifier

    sources = [str(model_folder(s)) for s in ([sources] if isinstance(sources, (str, Path)) else sources)]
    if not sources:
        raise InputError("give at least one --model.")
    if len(sources) == 1:
        opened = load_classifier(sources[0], attention=attention, seed=seed)
        if trained:
            require_trained(opened[2], sources[0])
        return _for_inference(opened, device)
    members, names, tokenizer, random_weights = [], [], None, []
    for source in sources:
        model, tok, report = load_classifier(source, attention=attention, seed=seed)
        if trained:
            require_trained(report, source)
        random_weights += [f"{source}: {name}" for name in report.newly_initialised]
        random_weights += [] if report.pretrained else [f"{source}: every weight (a random-init preset)"]
        if tokenizer is not None and (tok.k != tokenizer.k):
            raise InputError(
                f"--model {source}: k={tok.k}, but the first model has k={tokenizer.k}; models "
                "averaged together must share one tokenisation."
            )
        tokenizer = tokenizer or tok
        members.append(model)
        names.append(source)
    ensemble = EnsembleClassifier(members, names)
    # the members' random weights stay visible to a caller that opens this as one model (an ensemble folder)
    report = LoadReport(f"ensemble of {len(sources)}", True, newly_initialised=random_weights)
    return _for_inference((ensemble, tokenizer, report), device)


def require_trained(report: LoadReport, source: str) -> None:
    """Refuse a model some of whose weights are new random ones (see ``open_classifier``'s ``trained``)."""
    if not report.pretrained:
        raise InputError(
            f"--model {source}: a random-init preset, not a trained model; its scores would be noise. Give a "
            "fine-tuned model folder (bertrbp-finetune's <output-dir>/model)."
        )
    if report.newly_initialised:
        shown = ", ".join(report.newly_initialised[:3]) + (", ..." if len(report.newly_initialised) > 3 else "")
        raise InputError(
            f"--model {source}: {len(report.newly_initialised)} weight(s) are not in the checkpoint and would be "
            f"random ({shown}): a pretrained checkpoint without a classification head, or weights that do not "
            "fit its config.json. Fine-tune it first (bertrbp-finetune --model ...) and give the fine-tuned "
            "<output-dir>/model."
        )


def _for_inference(opened: tuple, device) -> tuple:
    """``opened`` with its model on ``device`` in eval mode (dropout off); unchanged without a device."""
    if device is None:
        return opened
    model, tokenizer, report = opened
    return model.to(device).eval(), tokenizer, report


def _load_ensemble(source: str, attention: str):
    from bertrbp.ensemble import member_sources

    model, tokenizer, report = open_classifier(member_sources(source), attention=attention)
    random_weights = list(report.newly_initialised)
    if len(member_sources(source)) == 1:
        from bertrbp.ensemble import EnsembleClassifier

        model = EnsembleClassifier([model], member_sources(source))
        random_weights += [] if report.pretrained else ["every weight (a random-init preset)"]
    return model, tokenizer, LoadReport(f"ensemble {source}", True, newly_initialised=random_weights)


def load_classifier(
    source: str,
    *,
    k: int = 3,
    num_labels: int = 2,
    attention: str = "sdpa",
    dropout: float | None = None,
    seed: int | None = None,
    cnn_shape: CnnShape | None = None,
):
    """Return (model, tokenizer, LoadReport) for a preset name or a checkpoint folder / hub id.

    ``"cnn"`` (and a folder saved from it) gives the convolutional baseline of ``bertrbp.cnn`` instead of a BERT;
    ``"kmer"``/``"kmer-pos"`` (and their folders) the k-mer logistic regressions of ``bertrbp.kmer``; a folder with
    ``ensemble.json`` an ``EnsembleClassifier`` of its members. These have no attention maps, so ``attention``
    is ignored for them. The classification head always runs in float32 (``keep_head_fp32``).

    From a pretrained masked-LM checkpoint the encoder weights are transferred and the classification head is
    newly initialised; the report lists which is which. ``cnn_shape`` (a ``bertrbp.cnn.CnnShape``) sets the depth of
    a new ``"cnn"``; any other source brings its own architecture, so it is refused there.
    """
    if cnn_shape is not None and not is_new_cnn(source):
        raise InputError(
            f"--cnn-conv-layers/--cnn-lstm shape a new CNN (the preset 'cnn'); --model {source} is a saved or "
            "other model with its own architecture. Drop them or train the preset."
        )
    model, tokenizer, report = _load(
        source, k=k, num_labels=num_labels, attention=attention, dropout=dropout, seed=seed, cnn_shape=cnn_shape
    )
    return keep_head_fp32(model), tokenizer, report


def _load(
    source: str,
    *,
    k: int,
    num_labels: int,
    attention: str,
    dropout: float | None,
    seed: int | None,
    cnn_shape: CnnShape | None = None,
):
    import torch
    from transformers import BertForSequenceClassification

    from bertrbp.ensemble import is_ensemble_folder

    source = resolve_model_source(source)

    quiet_transformers()
    if seed is not None:
        torch.manual_seed(seed)
    if is_ensemble_folder(source):
        return _load_ensemble(source, attention)
    if any(is_named(source, preset) for preset in (KMER_PRESET, KMER_POS_PRESET, KMER_GBT_PRESET)):
        from bertrbp.kmer import POSITION_BINS, new_kmer

        positional = source in (KMER_POS_PRESET, KMER_GBT_PRESET)
        head = "trees" if source == KMER_GBT_PRESET else "logistic"
        model = new_kmer(len(dnabert_vocab(k)), position_bins=POSITION_BINS if positional else 0, head=head)
        fitted = ["bias", "trees"] if head == "trees" else ["weight", "bias"]
        return model, KmerTokenizer(k), LoadReport(f"preset:{source}", False, [], fitted, [])
    if is_preset(source):
        config = preset_config(source, k=k, num_labels=num_labels, dropout=0.1 if dropout is None else dropout)
        config._attn_implementation = attention
        model = BertForSequenceClassification(config)
        _set_attention(model, attention)
        tokenizer = KmerTokenizer(k)
        names = [n for n, _ in model.named_parameters()]
        return model, tokenizer, LoadReport(f"preset:{source}", False, [], names, [])
    if is_new_cnn(source):
        from bertrbp.cnn import new_cnn

        model = new_cnn(len(dnabert_vocab(k)), dropout=0.1 if dropout is None else dropout, shape=cnn_shape)
        names = [n for n, _ in model.named_parameters()]
        return model, KmerTokenizer(k), LoadReport(f"preset:{source}", False, [], names, [])
    _check_source(source)
    if _folder_model_type(source) == "bertrbp-kmer":
        from bertrbp.kmer import load_kmer

        model, info = _load_weights(lambda: load_kmer(source), source)
        check_loaded(model, info, source)
        tokenizer = load_tokenizer(source)
        _check_vocab_fits(model, tokenizer, source)
        fitted = ["bias", "trees"] if model.config.head == "trees" else ["weight", "bias"]
        return model, tokenizer, LoadReport(source, True, fitted, [], [])
    if _is_cnn_checkpoint(source):
        from bertrbp.cnn import load_cnn

        model, info = _load_weights(lambda: load_cnn(source), source)
        check_loaded(model, info, source)
        tokenizer = load_tokenizer(source)
        _check_vocab_fits(model, tokenizer, source)
        loaded = sorted(set(n for n, _ in model.named_parameters()) - set(info.get("missing_keys", [])))
        report = LoadReport(source, True, loaded, sorted(info.get("missing_keys", [])), [])
        return model, tokenizer, report
    kwargs = {
        "num_labels": num_labels,
        "attn_implementation": attention,
        "output_loading_info": True,
        "ignore_mismatched_sizes": True,  # reported by check_loaded, naming the tensors, not by a table
    }
    if dropout is not None:
        kwargs.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    model, info = _load_weights(lambda: _bert_class(source).from_pretrained(source, **kwargs), source)
    new_head = check_loaded(model, info, source, head="classifier.")
    _set_attention(model, attention)
    tokenizer = load_tokenizer(source)
    _check_vocab_fits(model, tokenizer, source)
    missing = sorted({*info.get("missing_keys", []), *new_head})
    loaded = sorted(set(n for n, _ in model.named_parameters()) - set(missing))
    report = LoadReport(source, True, loaded, missing, sorted(info.get("unexpected_keys", [])))
    return model, tokenizer, report


def check_loaded(model, info: dict, source: str, head: str | None = None) -> list[str]:
    """After any ``from_pretrained``: refuse weights whose shapes differ from what config.json builds (an edited
    or mixed-up config) or that hold NaN or inf; returns the names of a classification head (``head``: its name
    prefix) of another size, which are drawn anew.

    Why here: transformers either raises pointing at a report table, or with ``ignore_mismatched_sizes``
    silently draws those tensors at random; one line naming the tensors says what to fix. A head of another
    size (a checkpoint fine-tuned for 3 classes) is the usual transfer case: it is new, as a missing head is, so
    fine-tuning trains it and the scoring tools refuse it (``require_trained``).
    """
    mismatched = sorted(info.get("mismatched_keys", []))
    body = [entry for entry in mismatched if not (head and entry[0].startswith(head))]
    if body:
        shown = "; ".join(
            f"{name} is {list(saved)} in the file, {list(built)} by config.json" for name, saved, built in body[:3]
        )
        raise InputError(
            f"{source}: the weights do not fit config.json ({len(body)} tensor(s): {shown}"
            f"{' ...' if len(body) > 3 else ''}). Restore the config.json saved with these weights."
        )
    _check_finite_weights(model, source)
    return [entry[0] for entry in mismatched]


def _check_finite_weights(model, source: str) -> None:
    """Refuse a checkpoint holding NaN or infinite values: every score it gave would be NaN."""
    import torch

    bad = [name for name, tensor in model.state_dict().items() if not torch.isfinite(tensor).all()]
    if bad:
        raise InputError(
            f"{source}: the weights hold NaN or infinite values ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}). "
            "Train the model again or use an earlier checkpoint."
        )


def _check_vocab_fits(model, tokenizer: KmerTokenizer, source: str) -> None:
    """The config's vocabulary is the one vocab.txt tokenizes into (else every token id means another k-mer)."""
    if model.config.vocab_size != tokenizer.vocab_size:
        raise InputError(
            f"{source}: config vocab_size {model.config.vocab_size} does not match vocab.txt "
            f"({tokenizer.vocab_size} tokens)."
        )


def _load_weights(load: Callable[[], T], source: str) -> T:
    """Run a ``from_pretrained`` loader with transformers' table silenced and its failures as one error line."""
    try:
        with warnings.catch_warnings(), _quiet_load_report():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # torch's notice, before our line
            return load()
    except InputError:
        raise
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{source}: refused the PyTorch weights file: it is not plain tensors (loading it would unpickle code) "
            "or it is corrupt. Use a checkpoint with model.safetensors, or re-save the weights from a trusted copy."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - odd weights, size mismatch, I/O: one line, not a traceback
        detail = " ".join(str(exc).split())
        raise InputError(
            f"could not load model {source!r} ({type(exc).__name__}: {detail[:300]}"
            f"{'...' if len(detail) > 300 else ''}). Check the checkpoint folder or download it again."
        ) from exc


@contextlib.contextmanager
def _quiet_load_report() -> Iterator[None]:
    """Drop transformers' LOAD REPORT table of missing, unexpected and mismatched keys while loading.

    Why: the tools log their own load summary (``LoadReport``: weights loaded, new, unexpected) and refuse random
    weights with one error line; the table printed the same keys first, so an error did not end the output.
    Only that table is dropped: other warnings stay, and so does a report with CONVERSION entries, which the
    error after it points to.
    """
    import logging

    def keep(record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return "LOAD REPORT" not in message or "CONVERSION" in message

    logger = logging.getLogger("transformers.modeling_utils")  # where from_pretrained logs the table
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def save_checkpoint(model, tokenizer: KmerTokenizer, directory: str | Path) -> Path:
    """Save in DNABERT's layout: config.json, model.safetensors, vocab.txt."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    quiet_transformers()  # its 'Writing model shards' bar in a tool's log
    try:
        model.save_pretrained(directory, safe_serialization=True)
    except Exception as exc:  # safetensors reports a full disk as SafetensorError
        from bertrbp.io.atomic import reraise_os_error

        reraise_os_error(exc, directory / "model.safetensors")
        raise
    tokenizer.save_vocab(directory)
    return directory
