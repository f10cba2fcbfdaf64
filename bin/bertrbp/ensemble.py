"""Ensembles: several classifiers scored as one, their class-1 log-odds averaged.

Why log-odds: averaging logits keeps a confident member's say and is what the tools already write (the
``logit`` column), so an ensemble's logit is exactly the mean of its members' logits. An ensemble is a folder
holding ``ensemble.json`` and one sub-folder per member (self-contained: the pipeline can stage the folder
alone), or simply several ``--model`` arguments. ``EnsembleClassifier`` looks like any other classifier to
``bertrbp.inference`` (``.config.max_position_embeddings``, ``forward(input_ids, attention_mask)`` returning
``.logits`` as ``[-z/2, z/2]``), so predict, scan, variant-effect and attribute need no special path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from bertrbp.errors import InputError

MANIFEST = "ensemble.json"
FORMAT = "bertrbp-ensemble"
COMBINE = "mean_log_odds"


def is_ensemble_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(folder: str | Path) -> dict:
    """The manifest, checked: an object of our format whose members are sub-folders of ``folder`` (named
    without ``..``; a member folder may be a symlink).

    Why the checks: a hand-edited manifest was a traceback (a member without ``path``, members not a list), a
    member path ``.`` loaded the ensemble inside itself until Python's recursion limit, and ``../x`` loaded a
    model from outside the folder, which then no longer travels alone (the pipeline stages the folder by itself).
    """
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the ensemble manifest ({exc}).") from exc
    members = manifest.get("members") if isinstance(manifest, dict) else None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(members, list)
        or not members
    ):
        raise InputError(
            f"{path}: not a bert-rbp ensemble manifest (needs an object with format {FORMAT!r} and a list of members)."
        )
    for number, member in enumerate(members, 1):
        relative = member.get("path") if isinstance(member, dict) else None
        if not isinstance(relative, str) or not relative.strip():
            raise InputError(f"{path}: member {number} has no folder name ('path'); fix or rewrite the manifest.")
        parts = Path(relative).parts
        if Path(relative).is_absolute() or ".." in parts or all(part == "." for part in parts):
            raise InputError(
                f"{path}: member {number}'s folder {relative!r} is not inside the ensemble folder; an ensemble's "
                "members are its own sub-folders (bertrbp-finetune writes them so)."
            )
        if not (Path(folder) / relative).is_dir():
            raise InputError(f"{path}: member folder {relative!r} is missing next to the manifest.")
    return manifest


def write_manifest(folder: Path, members: list[dict], extra: dict | None = None) -> Path:
    """``members``: dicts with at least ``name`` and ``path`` (relative to ``folder``)."""
    manifest = {"format": FORMAT, "version": 1, "combine": COMBINE, "members": members, **(extra or {})}
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def member_sources(folder: str | Path) -> list[str]:
    return [str(Path(folder) / m["path"]) for m in read_manifest(folder)["members"]]


def log_odds(logits):
    """Class-1 log-odds from [N, 2] (softmax) or [N, 1] (sigmoid) logits, in float32."""
    logits = logits.float()
    return logits[:, 0] if logits.shape[-1] == 1 else logits[:, 1] - logits[:, 0]


def _module_base():
    import torch

    return torch.nn.Module


class EnsembleClassifier(_module_base()):
    """Members scored on the same token ids; logits ``[-z/2, z/2]`` with z the mean of their log-odds."""

    def __init__(self, members: Sequence, names: Sequence[str]):
        import torch

        super().__init__()
        if not members:
            raise InputError("an ensemble needs at least one member.")
        self.members = torch.nn.ModuleList(members)
        self.names = list(names)
        positions = min(m.config.max_position_embeddings for m in members)
        self.config = SimpleNamespace(
            max_position_embeddings=positions, model_type="bertrbp-ensemble", num_labels=2, members=self.names
        )

    def member_log_odds(self, input_ids, attention_mask=None):
        """[n_members, N] log-odds of every member."""
        import torch

        return torch.stack(
            [log_odds(m(input_ids=input_ids, attention_mask=attention_mask).logits) for m in self.members]
        )

    def forward(self, input_ids=None, attention_mask=None, labels=None, **_):
        import torch
        import torch.nn.functional as F
        from transformers.modeling_outputs import SequenceClassifierOutput

        z = self.member_log_odds(input_ids, attention_mask).mean(0)
        logits = torch.stack([-z / 2, z / 2], dim=-1)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
