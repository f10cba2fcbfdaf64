"""CNN architecture choice on validation splits only: one row per (variant, experiment, seed), no test data read.

Each variant is a ``bertrbp.cnn.CnnShape`` (bertrbp-finetune --cnn-conv-layers, --cnn-lstm) and optionally a
structure input (--structure); it is trained by
``bertrbp.finetune.finetune`` at the CNN's default recipe (bertrbp/recipe.py) on an RBP-31 experiment's
training sites, exactly as ``bench/accuracy.py`` trains it (same tokens, same stratified 10 % validation carve,
split seed 42), and the row keeps the kept epoch's validation AUROC. Test splits are never opened, so a design
chosen from this table has not seen them. Rows go to ``bench/results/cnn_variants.tsv`` as they finish; a rerun
skips rows already there.

    python bench/cnn_variants.py --variants one-conv two-conv lstm two-conv+lstm \\
        --experiments 1_PARCLIP_AGO1234_hg19 30_ICLIP_U2AF65_Hela_iCLIP_ctrl_all_clusters 10_PARCLIP_ELAVL1A_hg19
    python bench/cnn_variants.py --report
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import accuracy  # noqa: E402  (puts bin/ on the path too)

RESULTS = accuracy.RESULTS / "cnn_variants.tsv"
# every variant names each field of bertrbp.cnn.CnnShape, so rows stay comparable when its defaults move
VARIANTS = {
    "one-conv": {"conv_layers": 1, "lstm_hidden": 0},  # the position-pooled CNN of the previous round (cnn4)
    "two-conv": {"conv_layers": 2, "lstm_hidden": 0},
    "three-conv": {"conv_layers": 3, "lstm_hidden": 0},
    "lstm": {"conv_layers": 1, "lstm_hidden": 32},
    "lstm64": {"conv_layers": 1, "lstm_hidden": 64},
    "two-conv+lstm": {"conv_layers": 2, "lstm_hidden": 32},  # the CnnShape default since this comparison
    # the default CNN with structure input (finetune --structure unpaired / elements)
    "two-conv+lstm+unpaired": {"conv_layers": 2, "lstm_hidden": 32, "structure": "unpaired"},
    "two-conv+lstm+elements": {"conv_layers": 2, "lstm_hidden": 32, "structure": "elements"},
}


def row_experiment(experiment: str, max_train: int) -> str:
    """The experiment as a row names it: a subset run is its own experiment, so its rows never pass for full ones."""
    return f"{experiment}_max{max_train}" if max_train else experiment


def train_variant(variant: str, experiment: str, seed: int, args) -> dict:
    """Train one variant on the experiment's training sites; the row with its validation AUROC."""
    from bertrbp.cnn import CnnShape
    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.recipe import resolve
    from bertrbp.tokenizer import KmerTokenizer
    from bertrbp.training import TrainConfig

    name = row_experiment(experiment, args.max_train)
    work = args.work / variant / name / f"seed{seed}"
    train_file, _ = accuracy.dataset_files("rbp31", experiment, args.data, args.work, 42)
    tokens = accuracy.training_tokens(train_file, KmerTokenizer(3), args.max_train, 42, work.parent / "train.npz")
    overrides = VARIANTS[variant]
    recipe = resolve("cnn", None, None, None, "default")
    config = TrainConfig(
        epochs=recipe.epochs, batch_size=32, seed=seed, threads=args.threads, device="cpu", patience=recipe.patience
    )
    options = FinetuneOptions(
        train=[tokens],
        output_dir=work,
        model="cnn",
        val_fraction=0.1,
        val_split="random",  # the split of the committed table (cnn_variants.tsv)
        split_seed=42,
        train_config=config,
        cnn_shape=CnnShape(overrides["conv_layers"], overrides["lstm_hidden"]),  # --cnn-conv-layers, --cnn-lstm
        structure=overrides.get("structure", "none"),  # --structure
    )
    started = time.perf_counter()
    metrics = finetune(options).metrics
    return {
        "experiment": name,
        "variant": variant,
        **{key: overrides[key] for key in ("conv_layers", "lstm_hidden")},
        "seed": seed,
        "val_auroc": round(metrics["validation"]["val_auroc"], 4),
        "epochs_run": len(metrics["epochs"]),
        "kept_epoch": metrics.get("kept_epoch"),
        "train_wall_s": round(time.perf_counter() - started, 1),
        "threads": args.threads,
        "load_before": accuracy.load_average(),
    }


FIELDS = [
    "experiment", "variant", "conv_layers", "lstm_hidden", "seed", "val_auroc", "epochs_run", "kept_epoch",
    "train_wall_s", "threads", "load_before",
]  # fmt: skip


def report(path: Path) -> str:
    """Markdown: each variant's validation AUROC per experiment and seed; the mean only for variants that ran
    every column (a mean over other experiments would not compare)."""
    rows = accuracy.read_rows(path)
    by_variant: dict[str, dict[str, float]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], {})[f"{row['experiment']} seed {row['seed']}"] = float(row["val_auroc"])
    if not by_variant:
        return "(no rows)"
    columns = sorted({c for values in by_variant.values() for c in values})

    def mean(values: dict[str, float]) -> float | None:
        return sum(values[c] for c in columns) / len(columns) if all(c in values for c in columns) else None

    lines = [
        "| variant | " + " | ".join(accuracy._short(c.split(" seed ")[0]) for c in columns) + " | mean |",
        "|---|" + "---:|" * (len(columns) + 1),
    ]
    for variant, values in sorted(by_variant.items(), key=lambda kv: -(mean(kv[1]) or 0)):
        cells = " | ".join(f"{values[c]:.4f}" if c in values else "–" for c in columns)
        average = mean(values)
        lines.append(f"| {variant} | {cells} | {'–' if average is None else f'**{average:.4f}**'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--experiments", nargs="*", default=[])
    parser.add_argument("--seeds", default="42", help="comma-separated initialisation seeds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-train", type=int, default=0, help="seeded stratified subset (0 = every site)")
    parser.add_argument("--data", type=Path, default=accuracy.DATA)
    parser.add_argument("--work", type=Path, default=accuracy.WORK.parent / "cnn_variants")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report", action="store_true", help="print the markdown table of --results")
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.results))
        return
    from bertrbp.device import set_threads
    from bertrbp.finetune_ensemble import parse_seeds

    set_threads(args.threads)
    seeds = parse_seeds(args.seeds, 0, 42)
    done = {(r["variant"], r["experiment"], r["seed"]) for r in accuracy.read_rows(args.results)}
    for experiment in args.experiments or accuracy.experiments("rbp31", args.data):
        for variant in args.variants:
            for seed in seeds:
                if (variant, row_experiment(experiment, args.max_train), str(seed)) in done:
                    continue
                row = train_variant(variant, experiment, seed, args)
                accuracy.append_row(args.results, row, FIELDS)
                print(f"{variant} {experiment} seed {seed}: validation AUROC {row['val_auroc']}", flush=True)


if __name__ == "__main__":
    main()
