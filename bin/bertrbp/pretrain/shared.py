"""What the two pretraining objectives share around the trainer (``run``: masked LM; ``multitask_run``: one head
per CLIP experiment), kept in one place so both refuse, report and write their outputs the same way: refusing to
start over an unfinished run or to resume one on changed inputs, the trainer's result as metrics.json fields, and DIR/model with the model card
inside and beside it.
"""

from __future__ import annotations

from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.model_outputs import write_checkpoint_and_card  # noqa: F401  (re-exported for pretrain)
from bertrbp.training.checkpoint import STATE_FILE, check_run_identity

# what a run writes into --output-dir (both objectives); nothing else there is touched
OUTPUT_NAMES = ("model", "checkpoints", "metrics.json", "model_card.json", "model_card.md", "task_heads.safetensors")
OUTPUT_FOLDERS = ("model", "checkpoints")  # of OUTPUT_NAMES, the folders


def refuse_blocked_outputs(out: Path) -> None:
    """Refuse, before any work, anything in the way of the outputs of either objective."""
    from bertrbp.io.model_outputs import refuse_blocked_outputs as refuse

    refuse(out, OUTPUT_NAMES, OUTPUT_FOLDERS)


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
