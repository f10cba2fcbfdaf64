"""Loading several fine-tuned models for one run, named for output files, sharing one tokenisation.

Scan and variant-effect score the same windows with every model, so all models must cut sequences the same
way (same k, same positions); a mix is refused rather than silently tokenised twice. A model may be an ensemble
(a finetune ensemble folder), and ``--ensemble`` merges all ``--model`` into one averaged model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.tokenizer import KmerTokenizer

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class NamedModel:
    """A classifier in eval mode on its device, with the name used in output files and columns."""

    name: str
    model: object
    source: str


def checkpoint_folder(path: Path) -> Path:
    """Accept a checkpoint or ensemble folder, or a finetune output folder (whose model is ``DIR/model``)."""
    from bertrbp.model import model_folder

    return model_folder(path)


def model_name(path: Path) -> str:
    """Name of a model for outputs: the folder name (its parent's, for a finetune ``.../model`` folder)."""
    folder = path.resolve()
    name = folder.parent.name if folder.name == "model" and folder.parent.name else folder.name
    return _SAFE_NAME.sub("_", name) or "model"


def parse_model_spec(spec: str) -> tuple[str, Path]:
    """``NAME=DIR`` names a model explicitly; a plain ``DIR`` is named after its folder."""
    if "=" in spec and not Path(spec).exists():
        name, _, folder = spec.partition("=")
        if not name or not folder:
            raise InputError(f"--model {spec!r}: write NAME=DIR or just DIR.")
        return _SAFE_NAME.sub("_", name), Path(folder)
    return model_name(Path(spec)), Path(spec)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... : the first not taken (``a``, ``a``, ``a_2`` give ``a``, ``a_2``,
    ``a_2_2``; counting repeats of a name alone gave two ``a_2``, whose bedGraphs were written into one file)."""
    if name not in taken:
        return name
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


def load_models(specs: Sequence[str], device, attention: str = "sdpa") -> tuple[list[NamedModel], KmerTokenizer]:
    """Load every ``--model`` onto ``device`` in eval mode; returns them and their shared tokenizer."""
    from bertrbp.model import open_classifier

    if not specs:
        raise InputError("give at least one --model DIR.")
    models: list[NamedModel] = []
    tokenizer: KmerTokenizer | None = None
    positions = None
    for spec in specs:
        name, folder = parse_model_spec(spec)
        model, tok, _ = open_classifier(
            str(checkpoint_folder(folder)), attention=attention, device=device, trained=True
        )
        if tokenizer is None:
            tokenizer, positions = tok, model.config.max_position_embeddings
        elif tok.k != tokenizer.k or model.config.max_position_embeddings != positions:
            raise InputError(
                f"--model {spec}: k={tok.k}, {model.config.max_position_embeddings} positions, but the first model "
                f"has k={tokenizer.k}, {positions} positions. Models scored together must share one tokenisation; "
                "run them separately."
            )
        name = unique_name(name, {m.name for m in models})
        models.append(NamedModel(name, model, str(folder)))
    assert tokenizer is not None
    return models, tokenizer


@dataclass
class OpenModels:
    """Models ready to score: on their device in eval mode, with the shared tokenizer and the bf16 decision."""

    models: list[NamedModel]
    tokenizer: KmerTokenizer
    device: object
    bf16: bool


def as_ensemble(models: list[NamedModel], name: str = "ensemble") -> list[NamedModel]:
    """All models as one, averaging their log-odds (``--ensemble``)."""
    from bertrbp.ensemble import EnsembleClassifier

    if len(models) == 1:
        return models
    merged = EnsembleClassifier([m.model for m in models], [m.name for m in models])
    return [NamedModel(name, merged.eval(), ",".join(m.source for m in models))]


def open_models(
    specs: Sequence[str],
    device_name: str = "auto",
    bf16: str = "auto",
    window: int | None = None,
    ensemble: bool = False,
) -> OpenModels:
    """The start every multi-model tool shares: resolve the device, load the models, check ``window`` if given.

    ``ensemble``: score all ``specs`` as one model named ``ensemble`` (mean of their log-odds) instead of one
    output column per model. An ensemble folder from bertrbp-finetune is one model either way.
    """
    from bertrbp.calibration import inference_bf16
    from bertrbp.device import resolve_device

    device = resolve_device(device_name)
    models, tokenizer = load_models(specs, device)
    if ensemble:
        models = as_ensemble(models)
    if window is not None:
        check_window(window, models, tokenizer)
    return OpenModels(models, tokenizer, device, inference_bf16(device, bf16, [m.model for m in models]))


def max_window(models: Sequence[NamedModel], tokenizer: KmerTokenizer) -> int:
    """Longest window (nt) every model accepts."""
    return min(tokenizer.max_sequence_length(m.model.config.max_position_embeddings) for m in models)


def check_window(window: int, models: Sequence[NamedModel], tokenizer: KmerTokenizer) -> None:
    """Refuse a window the models cannot take or the tokenizer cannot cut."""
    limit = max_window(models, tokenizer)
    if window < tokenizer.k or window > limit:
        raise InputError(
            f"--window {window}: must be between k={tokenizer.k} and {limit} nt (the models' positions). "
            "Use the window length the models were trained on (101 for BERT-RBP)."
        )
