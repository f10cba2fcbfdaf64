"""bertrbp-finetune: train a binding-site classifier from a pretrained k-mer BERT, a random-init BERT or the CNN.

Defaults are the BERT-RBP authors' settings (AdamW lr 2e-4, eps 1e-8, weight decay 0.01, 10 % linear warmup,
3 epochs, batch 32, dropout 0.1, clipping 1.0, seed 42). The authors found training unstable below an
effective batch of 128 (batch size x gradient accumulation): use --grad-accum, e.g. --batch-size 32
--grad-accum 4. Exit status: 0 done, 2 bad input, 3 the model collapsed and --fail-on-collapse was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bertrbp.cli.common import (
    Bf16Option, DeviceOption, FormatOption, ThreadsOption, VersionOption, batch_size_option, log, make_app, run,
    setup_logging,
)

app = make_app(__doc__)


@app.command()
def finetune(
    train: List[Path] = typer.Option(..., "--train", help="Labelled training sequences: FASTA/TSV/k-mer TSV (repeatable) or one tokens .npz."),
    output_dir: Path = typer.Option(..., "--output-dir", help="Writes model/, metrics.json, model_card.json/.md, checkpoints/."),
    val: Optional[Path] = typer.Option(None, "--val", help="Validation file; default: a stratified split of --train."),
    model: str = typer.Option(
        "zhihan1996/DNA_bert_3", "--model",
        help="Checkpoint folder or hub id (lr default 2e-4); a preset tiny/mini/small/medium/base for a random-init "
        "BERT (lr default 2e-3, 10x as in the paper); or 'cnn' for the DeepBind-like baseline (lr default 1e-3).",
    ),
    k: int = typer.Option(3, "--k", help="k-mer size for random-init models (checkpoints bring their own)."),
    epochs: int = typer.Option(3, "--epochs"),
    batch_size: int = batch_size_option(32, "Sequences per batch (see --grad-accum)."),
    grad_accum: int = typer.Option(
        1, "--grad-accum",
        help="Gradient accumulation steps. The authors found training unstable below an effective batch "
        "(batch size x accumulation) of 128: e.g. --batch-size 32 --grad-accum 4.",
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default depends on --model, see there)."),
    warmup_ratio: float = typer.Option(0.1, "--warmup-ratio", help="Fraction of steps with linear warmup."),
    weight_decay: float = typer.Option(0.01, "--weight-decay", help="AdamW weight decay (not on bias/LayerNorm)."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Stratified validation fraction when no --val."),
    seed: int = typer.Option(42, "--seed"),
    device: str = DeviceOption,
    bf16: str = Bf16Option,
    threads: int = ThreadsOption,
    keep: str = typer.Option("best", "--keep", help="Keep the model of the best (validation AUROC) or the last epoch."),
    save_steps: int = typer.Option(0, "--save-steps", help="Also checkpoint every N optimizer steps (0 = every epoch only)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from DIR/checkpoints exactly."),
    fmt: str = FormatOption,
    fail_on_collapse: bool = typer.Option(
        False, "--fail-on-collapse", help="Exit with status 3 when the model collapsed to a constant/chance predictor."
    ),
    version: Optional[bool] = VersionOption,
) -> None:
    """Fine-tune a classifier and write the model, per-epoch metrics and a model card.

    Defaults are the BERT-RBP authors' settings. The authors found training unstable below an effective batch
    of 128 (batch size x gradient accumulation): use --grad-accum, e.g. --batch-size 32 --grad-accum 4.
    Exit status: 0 done, 2 bad input, 3 collapsed model with --fail-on-collapse.
    """
    from bertrbp.finetune import FinetuneOptions, finetune as run_finetune
    from bertrbp.training import TrainConfig

    setup_logging()
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, warmup_ratio=warmup_ratio,
        weight_decay=weight_decay, seed=seed, device=device, bf16=bf16, threads=threads, save_steps=save_steps,
    )
    options = FinetuneOptions(
        train=train, output_dir=output_dir, val=val, model=model, k=k, lr=lr, val_fraction=val_fraction,
        keep=keep, resume=resume, fmt=fmt, fail_on_collapse=fail_on_collapse, train_config=config,
    )
    result = run_finetune(options)
    v = result.metrics["validation"]
    log.info(
        "kept epoch %d: validation AUROC %s, AUPRC %s, loss %s -> %s",
        result.metrics["kept_epoch"], _num(v["val_auroc"]), _num(v["val_auprc"]), _num(v["val_loss"]), output_dir / "model",
    )
    if result.collapsed and fail_on_collapse:
        typer.echo("error: the model collapsed (see the warning above); failing because of --fail-on-collapse.", err=True)
        raise typer.Exit(3)


def _num(value) -> str:
    return "nan" if value is None else f"{value:.4f}"


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
