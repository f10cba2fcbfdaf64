"""``bertrbp-pretrain --init-model``: start a pretraining run from a saved k-mer BERT instead of random weights.

Why: pretraining on 2 cores runs in stages. A masked-LM run can be followed by a multi-task stage (the issue's
"both in sequence"), and a finished run can go on under a new learning-rate schedule (``--resume`` continues a run
only with its own settings, ``--max-steps`` included). The start must be checked (same k, same architecture) and
recorded (the run identity and the model card carry its weights' checksum), or a card could not say what it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")
HEADS_FILE = "task_heads.safetensors"  # beside DIR/model in a multi-task run's output folder
RUN_MODEL_FOLDER = "model"  # a bertrbp-pretrain run writes its checkpoint to DIR/model
# besides the preset's shape, what every weight tensor's shape depends on: the start must equal the preset in these
_TENSOR_SHAPE_KEYS = ("vocab_size", "max_position_embeddings", "type_vocab_size")


@dataclass(frozen=True)
class InitModel:
    """A checked starting checkpoint: its folder, weights' checksum (what the run identity records) and ``record``,
    the entry the new model card carries about it (``start_record``: how it was named, its checksum, the steps it
    had trained, what it was itself started from, its exclusion report). The record is made when the start is
    checked, from the start's own card, so nothing that changes or moves during training can alter or break it."""

    source: str  # as given: a folder or a bundled name
    folder: Path
    weights_sha256: str
    record: dict = field(default_factory=dict)

    def identity(self) -> dict:
        """The weights alone: a renamed or moved start folder still resumes, a retrained one does not."""
        return {"weights_sha256": self.weights_sha256}


def start_record(source: str, folder: Path, weights_sha256: str, earlier_card: dict) -> dict:
    """The card entry for a start: a bundled name as given, a folder as its last two parts (``RUN/model``), since
    a card must not carry this machine's paths and the checksum, not the path, identifies the start."""
    from bertrbp.model import resolve_model_source

    bundled = resolve_model_source(source) != source
    results = earlier_card.get("results")
    return {
        "source": source if bundled else last_parts(folder.resolve()),
        "weights_sha256": weights_sha256,
        "steps": results.get("global_step") if isinstance(results, dict) else None,
        "task": earlier_card.get("task"),
        "initialised_from": portable_start(earlier_card.get("initialised_from")),
        "exclusion": start_exclusion(earlier_card),
    }


def last_parts(path: str | Path, parts: int = 2) -> str:
    """``rbp31/EXP/test.fa.gz`` -> ``EXP/test.fa.gz``: enough of a path to tell files apart, none of the machine."""
    return str(Path(*Path(path).parts[-parts:]))


def portable_start(start) -> dict | None:
    """A card's start entry (and the starts nested in it) without absolute paths: cards written before the start
    was recorded by ``source`` name it by ``name`` and an absolute ``path``."""
    if not isinstance(start, dict):
        return None
    start = dict(start)
    path = start.pop("path", None)
    start.pop("name", None)
    if path is not None and "source" not in start:
        start = {"source": last_parts(path), **start}
    start["initialised_from"] = portable_start(start.get("initialised_from"))
    return start


def start_exclusion(earlier_card: dict) -> dict | None:
    """The start's exclusion report in one form for both objectives: how many sequences, and which files (the
    last two parts of each path, and the checksum where the card kept one); None when it excluded nothing.
    Multi-task cards keep it under ``exclusion``; masked-LM cards under ``corpus``."""
    report, files = earlier_card.get("exclusion"), None
    if isinstance(report, dict) and report.get("files"):
        files = [_excluded_file(entry) for entry in report["files"]]
    corpus = earlier_card.get("corpus")
    if files is None and isinstance(corpus, dict) and corpus.get("exclusion_files"):
        report, files = corpus, [_excluded_file(name) for name in corpus["exclusion_files"]]
    if files is None:
        return None
    return {"excluded_sequences": report.get("excluded_sequences"), "files": files}


def _excluded_file(entry) -> dict:
    """One exclusion file as a card lists it: a dict with ``file`` and ``sha256``, or a bare path."""
    if isinstance(entry, dict):
        return {"file": last_parts(entry.get("file") or entry.get("name") or ""), "sha256": entry.get("sha256")}
    return {"file": last_parts(str(entry)), "sha256": None}


def read_card(folder: Path) -> dict:
    """A model_card.json in ``folder`` (the start's, or its run's), or {} when there is none or it cannot be read:
    the weights still define the start; only what the card says about them is lost."""
    import json

    path = folder / "model_card.json"
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("--init-model: %s unreadable (%s); going on without what it says", path, exc)
        return {}
    odd = _odd_card_field(card)
    if odd:
        log.warning("--init-model: %s: %s, not as bertrbp-pretrain writes it; going on without what it says", path, odd)
        return {}
    return card


def _is_files(value) -> bool:
    """A card's list of exclusion files: paths, or objects whose file/name is a path."""

    def one(entry) -> bool:
        if isinstance(entry, dict):
            return all(isinstance(entry.get(key), (str, type(None))) for key in ("file", "name", "sha256"))
        return isinstance(entry, str)

    return value is None or (isinstance(value, list) and all(one(entry) for entry in value))


def _odd_card_field(card, where: str = "the card") -> str | None:
    """What in a start's card is not of the type start_record reads (None when all is), so an edited card loses
    its record instead of stopping the run: a number as a path or a file list was a TypeError traceback, a text
    file list was recorded letter by letter as files."""
    if not isinstance(card, dict):
        return f"{where} is not a JSON object"
    for key, good in (  # other types of these were read as absent, as they still are
        ("path", lambda v: v is None or isinstance(v, str)),
        ("exclusion", lambda v: not isinstance(v, dict) or _is_files(v.get("files"))),
        ("corpus", lambda v: not isinstance(v, dict) or _is_files(v.get("exclusion_files"))),
    ):
        if not good(card.get(key)):
            return f"{key} in {where}"
    start = card.get("initialised_from")
    return _odd_card_field(start, f"initialised_from in {where}") if isinstance(start, dict) else None


def resolve_init_model(source: str, model_size: str, k: int) -> InitModel:
    """Check that ``source`` (a folder or a bundled short name) is a k-mer BERT of this ``model_size`` and ``k``."""
    import json

    from bertrbp.model import PRESET_SHAPE_KEYS, load_tokenizer, preset_config, preset_with_shape, resolve_model_source
    from bertrbp.model_checks import check_checkpoint_folder
    from bertrbp.provenance import sha256

    folder = Path(resolve_model_source(source))
    if not (folder / "config.json").is_file():
        raise InputError(
            f"--init-model {source}: not a checkpoint folder (no config.json); give the model/ folder of an earlier "
            "bertrbp-pretrain run, or a bundled name such as bertrbp-mini-k3."
        )
    check_checkpoint_folder(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert":
        raise InputError(f"--init-model {source}: a {config.get('model_type')} model; only a k-mer BERT can start one.")
    init_k = load_tokenizer(str(folder)).k
    if init_k != k:
        raise InputError(f"--init-model {source}: its vocabulary is {init_k}-mers; pass --k {init_k}.")
    preset = preset_config(model_size, k=k)
    wanted = preset.to_dict()
    if any(config.get(key) != wanted[key] for key in PRESET_SHAPE_KEYS):
        same = preset_with_shape(config)
        hint = f"pass --model-size {same}" if same else "it matches no preset size"
        raise InputError(
            f"--init-model {source}: {config.get('num_hidden_layers')} layers of width {config.get('hidden_size')}, "
            f"not the {model_size} size; {hint}."
        )
    differing = [key for key in _TENSOR_SHAPE_KEYS if config.get(key) != wanted[key]]
    if differing:
        details = ", ".join(f"{key} {config.get(key)} (the preset has {wanted[key]})" for key in differing)
        raise InputError(
            f"--init-model {source}: {details}; bertrbp-pretrain builds the preset's embeddings, so only a "
            "checkpoint with the same vocabulary and positions can start it (e.g. one written by bertrbp-pretrain)."
        )
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"--init-model {source}: no model.safetensors in {folder}.")
    _check_tensor_shapes(source, weights, preset)
    checksum = sha256(weights)
    return InitModel(source, folder, checksum, start_record(source, folder, checksum, read_card(folder)))


def _check_tensor_shapes(source: str, weights: Path, config) -> None:
    """Every tensor the start shares with the preset's masked-LM model must have its shape: a config that claims
    the preset over weights of another shape is refused now, not by load_state_dict after the corpus is built.
    The expected shapes come from a model built on the meta device (no memory, no weights)."""
    import torch
    from safetensors import safe_open
    from transformers import BertForMaskedLM

    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in BertForMaskedLM(config).state_dict().items()}
    with safe_open(str(weights), framework="pt") as handle:
        for name in handle.keys():
            shape, want = tuple(handle.get_slice(name).get_shape()), expected.get(_model_key(name))
            if want is not None and shape != want:
                raise InputError(
                    f"--init-model {source}: tensor {name} has shape {shape}, this model size and k need {want}; "
                    "give a checkpoint written for this size and k (e.g. by bertrbp-pretrain)."
                )


def load_start(model, init: InitModel) -> None:
    """Copy ``init``'s weights into ``model`` (BertForMaskedLM or the multi-task module; both keep the encoder in
    ``model.bert``); refuse a start that would leave any encoder weight new.

    New are allowed: the pooler (a masked-LM checkpoint has none), the masked-LM head (a multi-task or fine-tuned
    start has none) and the task heads (``continue_task_heads``). Anything else missing means the checkpoint is not
    the encoder it claims to be, and training from it would silently be training from random weights.
    """
    from safetensors.torch import load_file

    state = {_model_key(name): value for name, value in load_file(init.folder / "model.safetensors").items()}
    missing, _ = model.load_state_dict(state, strict=False)  # shapes were checked by resolve_init_model
    missing = [name for name in missing if not name.startswith(_MAY_BE_NEW) and not name.endswith("position_ids")]
    if missing:
        raise InputError(
            f"--init-model {init.source}: its weights lack {len(missing)} encoder tensors ({missing[0]}, ...); "
            "give a k-mer BERT checkpoint folder."
        )
    log.info("weights initialised from %s (sha256 %s)", init.folder, init.weights_sha256[:12])


_MAY_BE_NEW = ("bert.pooler.", "cls.", "heads.")


def _model_key(name: str) -> str:
    """A checkpoint tensor's name inside a model with ``.bert``: a bare BertModel's names gain the ``bert.`` prefix."""
    return name if name.startswith(("bert.", "cls.", "classifier.")) else f"bert.{name}"


def _own_task_heads(init: InitModel) -> Path | None:
    """The start's task heads, only when the start is a multi-task run's own DIR/model (a whole run folder, also
    from a Galaxy zip of one) and DIR/model_card.json names these very weights; any other start (a bundled name,
    a zip of the model alone, a file that merely lies beside it) starts its heads new."""
    folder = init.folder.resolve()
    path = folder.parent / HEADS_FILE
    if folder.name != RUN_MODEL_FOLDER or not path.is_file():
        return None
    return path if read_card(folder.parent).get("weights_sha256") == init.weights_sha256 else None


def continue_task_heads(heads, names: list[str], init: InitModel) -> int:
    """Rows of ``init``'s task heads (``DIR/task_heads.safetensors`` beside its model/) copied to the same-named
    tasks of ``heads``, so a continued multi-task run does not start its heads over; returns how many."""
    import torch
    from safetensors import safe_open

    path = _own_task_heads(init)
    if path is None:
        return 0
    with safe_open(str(path), framework="pt") as handle:
        saved_names = (handle.metadata() or {}).get("tasks", "").split(",")
        weight, bias = handle.get_tensor("weight"), handle.get_tensor("bias")
    if weight.shape[1] != heads.weight.shape[1]:
        return 0
    rows = {name: i for i, name in enumerate(saved_names)}
    copied = 0
    with torch.no_grad():
        for row, name in enumerate(names):
            if name in rows:
                heads.weight[row] = weight[rows[name]]
                heads.bias[row] = bias[rows[name]]
                copied += 1
    log.info("%d of %d task heads continued from %s", copied, len(names), path)
    return copied


def starting_weights_lines(start: dict | None) -> list[str]:
    """The model card's line on where training started (nothing for random weights)."""
    if not start:
        return []
    steps = f", after {start['steps']} optimizer steps of its own" if start.get("steps") else ""
    where = start.get("source") or start.get("path")  # cards written before "source" name the path
    lines = [f"- started from {where} (weights sha256 {start['weights_sha256'][:16]}…{steps}), not random weights"]
    exclusion = start.get("exclusion")
    if exclusion:
        lines.append(
            f"- the start was itself trained with {exclusion.get('excluded_sequences')} sequences of "
            f"{len(exclusion.get('files') or [])} files excluded (listed under initialised_from in model_card.json)"
        )
    return lines
