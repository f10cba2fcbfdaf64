"""``bertrbp-pretrain --init-model``: start a pretraining run from a saved k-mer BERT instead of random weights.

Why: pretraining on 2 cores runs in stages. A masked-LM run can be followed by a multi-task stage (the issue's
"both in sequence"), and a finished run can go on under a new learning-rate schedule (``--resume`` continues a run
only with its own settings, ``--max-steps`` included). The start must be checked (same k, same architecture) and
recorded (the run identity and the model card carry its weights' checksum), or a card could not say what it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")
HEADS_FILE = "task_heads.safetensors"  # beside DIR/model in a multi-task run's output folder
_SHAPE_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")


@dataclass(frozen=True)
class InitModel:
    """A checked starting checkpoint: its folder, config and weights' checksum (what the run identity records)."""

    folder: Path
    config: dict
    weights_sha256: str

    def identity(self) -> dict:
        return {"name": self.folder.name, "weights_sha256": self.weights_sha256}

    def card(self) -> dict:
        """What the model card says about the start: the folder, its checksum and the steps it had trained."""
        import json

        card_path = self.folder / "model_card.json"
        earlier = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        results = earlier.get("results", {})
        return {
            **self.identity(),
            "path": str(self.folder),
            "steps": results.get("global_step"),
            "task": earlier.get("task"),
            "initialised_from": earlier.get("initialised_from"),
        }


def resolve_init_model(source: str, model_size: str, k: int) -> InitModel:
    """Check that ``source`` (a folder or a bundled short name) is a k-mer BERT of this ``model_size`` and ``k``."""
    import json

    from bertrbp.model import PRESETS, load_tokenizer, preset_config, resolve_model_source
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
    wanted = preset_config(model_size, k=k).to_dict()
    if any(config.get(key) != wanted[key] for key in _SHAPE_KEYS):
        same = [
            p for p in PRESETS if all(preset_config(p, k=k).to_dict()[key] == config.get(key) for key in _SHAPE_KEYS)
        ]
        hint = f"pass --model-size {same[0]}" if same else "it matches no preset size"
        raise InputError(
            f"--init-model {source}: {config.get('num_hidden_layers')} layers of width {config.get('hidden_size')}, "
            f"not the {model_size} size; {hint}."
        )
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"--init-model {source}: no model.safetensors in {folder}.")
    return InitModel(folder, config, sha256(weights))


def load_start(model, init: InitModel) -> None:
    """Copy ``init``'s weights into ``model`` (BertForMaskedLM or the multi-task module; both keep the encoder in
    ``model.bert``); refuse a start that would leave any encoder weight new.

    New are allowed: the pooler (a masked-LM checkpoint has none), the masked-LM head (a multi-task or fine-tuned
    start has none) and the task heads (``continue_task_heads``). Anything else missing means the checkpoint is not
    the encoder it claims to be, and training from it would silently be training from random weights.
    """
    from safetensors.torch import load_file

    state = {_model_key(name): value for name, value in load_file(init.folder / "model.safetensors").items()}
    missing, _ = model.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.startswith(_MAY_BE_NEW) and not name.endswith("position_ids")]
    if missing:
        raise InputError(
            f"--init-model {init.folder}: its weights lack {len(missing)} encoder tensors ({missing[0]}, ...); "
            "give a k-mer BERT checkpoint folder."
        )
    log.info("weights initialised from %s (sha256 %s)", init.folder, init.weights_sha256[:12])


_MAY_BE_NEW = ("bert.pooler.", "cls.", "heads.")


def _model_key(name: str) -> str:
    """A checkpoint tensor's name inside a model with ``.bert``: a bare BertModel's names gain the ``bert.`` prefix."""
    return name if name.startswith(("bert.", "cls.", "classifier.")) else f"bert.{name}"


def continue_task_heads(heads, names: list[str], init: InitModel) -> int:
    """Rows of ``init``'s task heads (``DIR/task_heads.safetensors`` beside its model/) copied to the same-named
    tasks of ``heads``, so a continued multi-task run does not start its heads over; returns how many."""
    import torch
    from safetensors import safe_open

    path = init.folder.parent / HEADS_FILE
    if not path.is_file():
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
    return [
        f"- started from {start['path']} (weights sha256 {start['weights_sha256'][:16]}…{steps}), not random weights"
    ]
