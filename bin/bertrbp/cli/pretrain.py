"""bertrbp-pretrain: DNABERT-style masked-language-model pretraining of a k-mer BERT on FASTA corpora.

Genomes, transcriptomes or sequence sets are cut into windows (--window, --stride); spans of k tokens are masked
(15 % of tokens by default, 80/10/10 mask/random/keep). The checkpoint in DIR/model has DNABERT's layout, so
`bertrbp-finetune --model DIR/model` loads it like DNABERT. Give the test files with --exclude: a corpus sharing
sequences with them (either strand) is refused, or with --on-overlap drop, cleaned.

--objective multitask instead trains the encoder to tell bound from unbound sites for many CLIP experiments at
once (--task NAME=FILE per experiment, one head each); every sequence of the --exclude files is dropped from
every task (either strand) and counted in the model card's exclusion report.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import (
    Bf16Option,
    DeviceOption,
    FormatOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    log,
    make_app,
    run,
    seed_option,
    setup_logging,
)

app = make_app(__doc__)


@app.command()
def pretrain(
    corpus: list[Path] | None = typer.Option(
        None,
        "--corpus",
        help="--objective mlm: FASTA (plain/gzip) genomes, transcriptomes or sequence sets; TSV sequence files too.",
    ),
    objective: str = typer.Option(
        "mlm",
        "--objective",
        help="mlm: masked k-mers on --corpus (DNABERT); multitask: one bound/unbound head per --task, shared encoder.",
    ),
    task: list[str] | None = typer.Option(
        None,
        "--task",
        help="--objective multitask: NAME=FILE, a labelled training set (FASTA class:0/1 or TSV); repeat per experiment.",
    ),
    output_dir: Path = typer.Option(
        ...,
        "--output-dir",
        help="Writes model/, metrics.json, model_card.{json,md}, checkpoints/ (multitask: task_heads.safetensors).",
    ),
    model_size: str = typer.Option("small", "--model-size", help="tiny, mini, small, medium or base (DNABERT's size)."),
    init_model: str | None = typer.Option(
        None,
        "--init-model",
        help="Start from this k-mer BERT (an earlier run's DIR/model or a bundled name such as bertrbp-mini-k3) "
        "instead of random weights: masked LM then multi-task, or a finished run continued on a new schedule. "
        "A multi-task run's task heads continue by task name only from an earlier run's own DIR/model.",
    ),
    k: int = typer.Option(3, "--k", help="k-mer size (3, 4, 5 or 6)."),
    window: int = typer.Option(101, "--window", help="mlm: window length in nt (shorter records are kept whole)."),
    stride: int = typer.Option(50, "--stride", help="mlm: distance between window starts in nt."),
    exclude: list[Path] | None = typer.Option(
        None,
        "--exclude",
        help="Test/held-out sequence files that must not be in the corpus or in any --task (either strand).",
    ),
    on_overlap: str = typer.Option(
        "fail", "--on-overlap", help="mlm: fail refuses a corpus overlapping --exclude; drop removes the overlap."
    ),
    mlm_probability: float = typer.Option(
        0.15, "--mlm-probability", help="Fraction of k-mer tokens masked (in spans of k)."
    ),
    max_n_fraction: float = typer.Option(
        0.1, "--max-n-fraction", min=0.0, max=1.0, help="Skip windows with a larger fraction of N."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps."),
    epochs: int = typer.Option(1, "--epochs", help="Passes over the corpus (capped by --max-steps)."),
    batch_size: int = batch_size_option(64, "Windows per batch."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Batches per optimizer step."),
    lr: float = typer.Option(4e-4, "--lr", help="Peak learning rate (DNABERT: 4e-4)."),
    warmup_ratio: float = typer.Option(0.05, "--warmup-ratio", help="Fraction of steps of linear warmup."),
    weight_decay: float = typer.Option(0.01, "--weight-decay", help="AdamW weight decay (not on biases/LayerNorm)."),
    val_fraction: float = typer.Option(
        0.02, "--val-fraction", help="Fraction of windows (mlm) or task sequences (multitask) held out for validation."
    ),
    seed: int = seed_option("Seed for initialisation, data order and masking."),
    device: str = DeviceOption,
    bf16: str = Bf16Option,
    threads: int = ThreadsOption,
    save_steps: int = typer.Option(0, "--save-steps", help="Also checkpoint every N optimizer steps (0 = per epoch)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run checkpointed in OUTPUT_DIR/checkpoints."),
    fmt: str = FormatOption,
    version: bool | None = VersionOption,
) -> None:
    """Pretrain a k-mer BERT (masked LM on --corpus, or multi-task on --task files); finetune loads it like DNABERT."""
    setup_logging()
    from bertrbp.pretrain.multitask import parse_task
    from bertrbp.pretrain.run import PretrainOptions
    from bertrbp.pretrain.run import pretrain as run_pretrain
    from bertrbp.training import TrainConfig

    config = TrainConfig(
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        warmup_ratio=warmup_ratio,
        weight_decay=weight_decay,
        seed=seed,
        device=device,
        bf16=bf16,
        threads=threads,
        save_steps=save_steps,
        max_steps=max_steps,
    )
    options = PretrainOptions(
        corpus=list(corpus or []),
        objective=objective,
        tasks=[parse_task(spec) for spec in task or []],
        output_dir=output_dir,
        model_size=model_size,
        init_model=init_model,
        k=k,
        window=window,
        stride=stride,
        exclude=list(exclude or []),
        on_overlap=on_overlap,
        mlm_probability=mlm_probability,
        max_n_fraction=max_n_fraction,
        val_fraction=val_fraction,
        resume=resume,
        fmt=fmt,
        train=config,
    )
    metrics = run_pretrain(options)
    final = metrics["final"]
    log.info(
        "pretrained %s model (k=%d) for %d steps on %d %s; %s; checkpoint in %s",
        model_size,
        k,
        metrics["global_step"],
        metrics.get("train_windows", metrics.get("train_sequences", 0)),
        "windows" if objective == "mlm" else "sequences",
        ", ".join(f"{key} {value:.4f}" for key, value in final.items() if isinstance(value, float)),
        output_dir / "model",
    )


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
