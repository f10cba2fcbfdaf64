"""bertrbp-finetune: train a binding-site classifier: pretrained k-mer BERT, random-init BERT, CNN or k-mer model.

Defaults per model kind (bertrbp/recipe.py): a DNABERT-wide pretrained checkpoint gets the BERT-RBP authors'
settings (AdamW lr 2e-4, eps 1e-8, weight decay 0.01, 10 % linear warmup, 3 epochs, batch 32, dropout 0.1,
clipping 1.0, seed 42); a narrower checkpoint (e.g. the bundled bertrbp-mini-k3) the rate of a random-init BERT of
its width for up to 8 epochs; a random-init BERT preset a rate that trains it (tiny 1e-3, mini 5e-4, small 2e-4, medium/base
1e-4; the paper's 10x rate 2e-3 with --lr-policy paper) for up to 8 epochs and at least 300 optimizer steps
(--min-steps: more epochs on a small set, no early stop before); the CNN lr 1e-3 for up to 10
epochs; 'kmer' a logistic regression on 1-5-mer frequencies (seconds); 'kmer-pos' the same plus 1-3-mers in
10 position bins along the site (seconds; strong where the site is centred on the cross-link); 'kmer-gbt'
gradient-boosted trees on the kmer-pos features (about a minute on 27,000 sites). Neural models stop early when the
validation loss has not improved for --patience epochs (2) and keep the best epoch (validation AUROC).
--recipe paper reproduces the BERT-RBP authors' training instead: batch 32 x 4 accumulation (effective 128), all
training sequences (no validation split), 3 epochs, the last kept (no early stopping), fp32, lr 2e-4 (random init:
the paper's 10x, 2e-3); any option given explicitly still wins.
Several --model and/or --seeds train an ensemble: one folder per member under DIR/members/ and DIR/model/
holding ensemble.json, which predict, scan, variant-effect and attribute take as one --model.
The authors found training unstable below an effective batch of 128 (batch size x gradient accumulation):
use --grad-accum, e.g. --batch-size 32 --grad-accum 4.
Exit status: 0 done, 2 bad input, 3 the model collapsed and --fail-on-collapse was given.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import (
    DeviceOption,
    FormatOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    make_app,
    run,
    seed_option,
    setup_logging,
)
from bertrbp.finetune_run import DEFAULT_MODELS, FinetuneRunOptions, run_finetune

app = make_app(__doc__)


@app.command()
def finetune(
    train: list[Path] = typer.Option(
        ..., "--train", help="Labelled training sequences: FASTA/TSV/k-mer TSV (repeatable) or one tokens .npz."
    ),
    output_dir: Path = typer.Option(
        ..., "--output-dir", help="Writes model/, metrics.json, model_card.json/.md, checkpoints/."
    ),
    val: Path | None = typer.Option(None, "--val", help="Validation file; default: a stratified split of --train."),
    model: list[str] = typer.Option(
        list(DEFAULT_MODELS),
        "--model",
        help="Checkpoint folder or hub id (lr default 2e-4, 3 epochs; a checkpoint narrower than DNABERT, e.g. "
        "bertrbp-mini-k3 or bertrbp-small-k3, the rate of its width and up to 8 epochs); a preset tiny/mini/small/medium/base for a "
        "random-init BERT (lr default 1e-3/5e-4/2e-4/1e-4/1e-4, up to 8 epochs, at least 300 steps); 'cnn' for the DeepBind-like "
        "baseline (lr 1e-3, up to 10 epochs); 'kmer' for logistic regression on 1-5-mer frequencies; 'kmer-pos' "
        "adds 1-3-mer frequencies in 10 position bins; 'kmer-gbt' boosted trees on those features. Repeat "
        "(e.g. --model mini --model cnn --model kmer) to train an ensemble; MODEL@SEED (or @SEED+SEED) gives that "
        "model its own seeds instead of --seeds (e.g. --model cnn --model CKPT@42 --seeds 42,43,44: three CNNs, one BERT).",
    ),
    k: int = typer.Option(3, "--k", help="k-mer size for random-init models (checkpoints bring their own)."),
    recipe: str = typer.Option(
        "default",
        "--recipe",
        help="default: the project's recommended recipe (per-kind rates and epochs, 10 % validation split, early "
        "stopping, best epoch kept, bf16 where native). paper: the BERT-RBP authors' training exactly: --grad-accum "
        "4 (x batch 32 = 128), --val-fraction 0, --epochs 3 (the CNN: 10), --patience 0, --keep last, --bf16 no, "
        "--lr-policy paper; the k-mer models keep the default recipe (their C is chosen on a validation split). "
        "Options given explicitly win over the recipe.",
    ),
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        help="Most epochs (default per model kind, see --model; 3 with --recipe paper, the CNN 10). Given without "
        "--min-steps it is also the least: the recipe's step floor is dropped.",
    ),
    patience: int | None = typer.Option(
        None,
        "--patience",
        min=0,
        help="Stop when the validation loss has not improved for this many epochs (default 2; 0 = never stop "
        "early, the --recipe paper setting).",
    ),
    min_steps: int | None = typer.Option(
        None,
        "--min-steps",
        min=0,
        help="Train at least this many optimizer steps: a small training set gets more epochs than --epochs, and "
        "early stopping waits until then (default 300 for a random-init BERT preset, which sits at the class "
        "prior for its first hundred or so steps; 0 for checkpoints, the CNN and --recipe paper; 0 = no floor). "
        "--epochs given without it drops the floor.",
    ),
    lr_policy: str | None = typer.Option(
        None,
        "--lr-policy",
        help="default: rates that train each model kind; paper: the BERT-RBP paper's 10x rate (2e-3) for "
        "random-init BERTs, which stalls or collapses small models here. Default: the --recipe's.",
    ),
    seeds: str | None = typer.Option(
        None,
        "--seeds",
        help="Comma-separated seeds, e.g. 1,2,3: train one ensemble member per seed (and --model).",
    ),
    ensemble: int = typer.Option(
        0,
        "--ensemble",
        min=0,
        help="Train N members with seeds --seed, --seed+1, ... (same as --seeds).",
    ),
    batch_size: int = batch_size_option(32, "Sequences per batch (see --grad-accum)."),
    grad_accum: int | None = typer.Option(
        None,
        "--grad-accum",
        help="Gradient accumulation steps (default 1; 4 with --recipe paper). The authors found training unstable "
        "below an effective batch (batch size x accumulation) of 128: e.g. --batch-size 32 --grad-accum 4.",
    ),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate (default depends on --model, see there)."),
    warmup_ratio: float = typer.Option(0.1, "--warmup-ratio", help="Fraction of steps with linear warmup."),
    weight_decay: float = typer.Option(0.01, "--weight-decay", help="AdamW weight decay (not on bias/LayerNorm)."),
    val_fraction: float | None = typer.Option(
        None,
        "--val-fraction",
        help="Stratified validation fraction when no --val (default 0.1; 0 = train on every sequence, needs --keep "
        "last: the --recipe paper setting).",
    ),
    val_split: str = typer.Option(
        "auto",
        "--val-split",
        help="How --val-fraction is carved: locus (overlapping sites, by the coordinates in the record ids, all on "
        "one side, so validation scores unseen loci as a test split does), random (stratified by label), or auto "
        "(locus when every id carries coordinates and some windows overlap, else random).",
    ),
    seed: int = seed_option(),
    device: str = DeviceOption,
    bf16: str | None = typer.Option(
        None,
        "--bf16",
        help="bf16 autocast: auto (on for CUDA and for CPUs with native bf16, AMX/AVX512-BF16), yes, no. Default: "
        "auto; no (fp32) with --recipe paper.",
    ),
    threads: int = ThreadsOption,
    jobs: int = typer.Option(
        0,
        "--jobs",
        min=0,
        help="Ensemble members trained at once, each in a process of its own, sharing the --threads CPUs (0 = auto: "
        "on a CPU one member per CPU, up to the members; on a GPU one at a time). With one thread per member the "
        "models are those of --jobs 1 --threads 1; --threads 1 trains one member at a time.",
    ),
    keep: str | None = typer.Option(
        None,
        "--keep",
        help="Keep the model of the best (validation AUROC) or the last epoch (default best; last with --recipe paper).",
    ),
    calibrate: str = typer.Option(
        "auto",
        "--calibrate",
        help="Platt calibration of the kept model, written into its output layer (BERT and CNN): auto (only when "
        "its probabilities sat at the class prior, finetune's 'stalled' verdict, as an early epoch kept on a small "
        "set often does), yes (always), no. Fitted on the training sites while the model has not fitted them (its "
        "outputs sit at the prior there and rank them no better than validation), then checked on the held-out "
        "validation sites; else on validation. "
        "Applied only when its cross-fitted loss beats the class prior. A single model's ranking (AUROC) never "
        "changes; in an ensemble a "
        "calibrated member weighs more in the mean log-odds. A strongly calibrated model scores in fp32 under "
        "--bf16 auto.",
    ),
    save_steps: int = typer.Option(
        0, "--save-steps", help="Also checkpoint every N optimizer steps (0 = every epoch only)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from DIR/checkpoints exactly."),
    fmt: str = FormatOption,
    fail_on_collapse: bool = typer.Option(
        False, "--fail-on-collapse", help="Exit with status 3 when the model collapsed to a constant/chance predictor."
    ),
    structure: str = typer.Option(
        "none",
        "--structure",
        help="Per-token RNA secondary structure as an extra input embedding of BERT and CNN models: none, unpaired (mean "
        "unpaired probability of the token's nucleotides), elements (fraction in each F/T/I/H/M/S element of the "
        "MEA structure) or both; folded with bertrbp-fold's ViennaRNA code. Recorded in the model, so predict, "
        "scan, variant-effect, attribute and attention-stats fold their inputs the same way without a flag. "
        "k-mer ensemble members stay sequence-only.",
    ),
    cnn_conv_layers: int | None = typer.Option(
        None,
        "--cnn-conv-layers",
        help="Convolutions of a new CNN (--model cnn): the first (kernel 10) plus residual ones (kernel 5). "
        "Default 2; 1 is the previous, faster CNN.",
    ),
    cnn_lstm: int | None = typer.Option(
        None,
        "--cnn-lstm",
        help="BiLSTM units per direction over a new CNN's convolutions (0 = none, faster). Default 32.",
    ),
    version: bool | None = VersionOption,
) -> None:
    """Fine-tune a classifier (or an ensemble) and write the model, per-epoch metrics and a model card.

    The authors found training unstable below an effective batch of 128 (batch size x gradient accumulation):
    use --grad-accum, e.g. --batch-size 32 --grad-accum 4.
    Exit status: 0 done, 2 bad input, 3 collapsed model with --fail-on-collapse.
    """
    setup_logging()
    options = FinetuneRunOptions(
        train=train,
        output_dir=output_dir,
        val=val,
        models=model,
        k=k,
        recipe=recipe,
        epochs=epochs,
        patience=patience,
        min_steps=min_steps,
        lr_policy=lr_policy,
        seeds=seeds,
        ensemble=ensemble,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        warmup_ratio=warmup_ratio,
        weight_decay=weight_decay,
        val_fraction=val_fraction,
        val_split=val_split,
        seed=seed,
        device=device,
        bf16=bf16,
        threads=threads,
        jobs=jobs,
        keep=keep,
        calibrate=calibrate,
        save_steps=save_steps,
        resume=resume,
        fmt=fmt,
        fail_on_collapse=fail_on_collapse,
        structure=structure,
        cnn_conv_layers=cnn_conv_layers,
        cnn_lstm=cnn_lstm,
    )
    result = run_finetune(options)
    if result.collapsed and fail_on_collapse:
        typer.echo(
            "error: the model collapsed (see the warning above); failing because of --fail-on-collapse.", err=True
        )
        raise typer.Exit(3)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
