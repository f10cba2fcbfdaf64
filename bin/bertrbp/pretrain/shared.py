"""What the two pretraining objectives share around the trainer (``run``: masked LM; ``multitask_run``: one head
per CLIP experiment), kept in one place so both refuse, report and write their outputs the same way: refusing to
start over an unfinished run or to resume one on changed inputs, the trainer's result as metrics.json fields, and DIR/model with the model card
inside and beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_dir, atomic_open
from bertrbp.training.checkpoint import STATE_FILE, check_run_identity


def refuse_unfinished_run(out: Path, resume: bool) -> None:
    """A new run never starts over a checkpoint silently: the user continues it or picks another folder."""
    if not resume and (Path(out) / "checkpoints" / STATE_FILE).exists():
        raise InputError(
            f"{out}: holds an earlier run's checkpoint. Pass --resume to continue it, or choose another --output-dir."
        )


def refuse_changed_resume(out: Path, identity: dict, resume: bool) -> None:
    """On --resume of a checkpointed run, refuse changed inputs before any reading or building; writes nothing
    (a new run records its identity only once its inputs are accepted, so bad input leaves no folder behind)."""
    checkpoints = Path(out) / "checkpoints"
    if resume and (checkpoints / STATE_FILE).exists():
        check_run_identity(checkpoints, identity, resume=True)


def training_metrics(result) -> dict:
    """The trainer's result as the metrics.json fields both objectives write (each adds its own data fields)."""
    return {
        "history": result.history,
        "final": result.history[-1] if result.history else {},
        "global_step": result.global_step,
        "total_steps": result.total_steps,
        "wall_seconds": result.wall_seconds,
        "device": result.device,
        "bf16": result.bf16,
        "threads": result.threads,
        "resumed_from_step": result.resumed_from_step,
    }


def write_checkpoint_and_card(
    out: Path,
    metrics: dict,
    save_weights: Callable[[Path], None],
    describe: Callable[[Path], tuple[dict, str]],
) -> dict:
    """DIR/model (``save_weights(folder)``, plus the card as model_card.json and README.md, as finetune writes it),
    then metrics.json, model_card.json and model_card.md beside it, each atomically. ``describe(weights_file)``
    returns (card, markdown), so the card can carry the checksum of the weights it describes. Returns the card."""
    from bertrbp.provenance import to_json

    with atomic_dir(Path(out) / "model") as tmp:
        save_weights(tmp)
        card, markdown = describe(tmp / "model.safetensors")
        (tmp / "model_card.json").write_text(to_json(card))
        (tmp / "README.md").write_text(markdown)
    for name, text in (
        ("metrics.json", to_json(metrics)),
        ("model_card.json", to_json(card)),
        ("model_card.md", markdown),
    ):
        with atomic_open(Path(out) / name) as handle:
            handle.write(text)
    return card
