"""Does our own pretraining lift AUROC? Pretrain on training sequences only, fine-tune eCLIP RBPs from it and
from random weights with identical settings, and report per-RBP and mean AUROC differences.

Steps (every tool runs in this process through its real command line, so one import of torch serves all):
1. ``bertrbp-prepare`` splits every eCLIP set of ../shared/data/eclip with a fixed seed (``--seed``) into
   ``NAME.train.fa`` / ``NAME.test.fa`` / ``NAME.nontrain.fa``.
2. ``bertrbp-pretrain`` on the corpus = every eCLIP ``*.train.fa`` + every ``rbp31/*/train.fa.gz``, with
   ``--exclude`` = every eCLIP ``*.nontrain.fa`` (test + held-out), every ``rbp31/*/test.fa.gz``, the RBP-24
   ``*.ls.*`` test sets and TIAL1's test/dev splits. The same site often appears in several RBPs' sets, so one
   RBP's training site can be another's test site: ``--on-overlap drop`` (default here) removes those and the
   table reports how many; ``--on-overlap fail`` shows them as an error instead.
3. For each RBP in ``--rbps``: ``bertrbp-finetune`` from the pretrained checkpoint and from the same-sized
   preset (random weights), identical settings and seed, on (a seeded stratified subset of) its training split;
   ``bertrbp-predict`` on its test split; AUROC from ``bertrbp.metrics``.
4. Prints a markdown table (per RBP: AUROC pretrained, random, difference; then the mean) and writes it with the
   raw numbers to ``WORK/bench_pretrain.md`` / ``.json``.

Exact command (the full benchmark; CPU-sized "mini" model, 4 layers x 128)::

    python bench/bench_pretrain.py --work /tmp/bench_pretrain --model-size mini --max-steps 2000 \
        --batch-size 64 --rbps HNRNPK_K562 RBFOX2_HepG2 PRPF8_K562 TRA2A_K562 --max-train 4000 \
        --finetune-epochs 3 --finetune-lr 2e-4 --threads 0

Expected wall time (estimated from measurements, not from a full run): building the ~1M-window corpus with the
exclusion check takes ~1-2 min (630,000 RBP-31 records in 53 s); one mini pretraining step (64 windows, forward +
backward) took ~7 s on the 2 heavily shared CPU cores of our dev machine (load ~10), so 2,000 steps are ~1 h on 2
free cores and up to ~4 h on shared ones; the 8 fine-tunings (3,600 sites x 3 epochs each) and predictions add
~1-3 h. With ``--device cuda`` the whole benchmark takes well under 30 min. Interrupted runs pick up where they
stopped (prepared splits and the pretrained model are reused; pretraining resumes from its checkpoint).

    python bench/bench_pretrain.py --smoke     # 2 RBPs, 200+200 sites each, tiny model: under a minute
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

from bertrbp.io.sequences import iter_records  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DEFAULT_RBPS = ["HNRNPK_K562", "RBFOX2_HepG2", "PRPF8_K562", "TRA2A_K562"]


def tool(module: str, *args) -> None:
    """Run a bertrbp tool's command line in this process (raises on failure)."""
    app = importlib.import_module(f"bertrbp.cli.{module}").app
    app(args=[str(a) for a in args], standalone_mode=False)


def head_tsv(source: Path, target: Path, per_class: int, seed: int) -> Path:
    """A seeded subset of an eCLIP TSV with ``per_class`` sites of each label (for --smoke)."""
    rng = random.Random(seed)
    with gzip.open(source, "rt") as handle:
        rows = [line for line in handle if line.strip()]
    by_label = {label: [r for r in rows if r.rstrip("\n").split("\t")[1] == label] for label in ("1", "0")}
    chosen = [r for label in by_label for r in rng.sample(by_label[label], min(per_class, len(by_label[label])))]
    target.write_text("".join(chosen))
    return target


def subset_fasta(source: Path, target: Path, n: int, seed: int) -> Path:
    """A seeded stratified subset of ``n`` records of a prepared FASTA (all when n is larger)."""
    records = list(iter_records(source))
    if n < len(records):
        rng = random.Random(seed)
        chosen = []
        for label in (0, 1):
            members = [r for r in records if r.label == label]
            chosen += rng.sample(members, round(n * len(members) / len(records)))
        records = chosen
    target.write_text("".join(f">{r.id} class:{r.label}\n{r.seq}\n" for r in records))
    return target


def prepare_all(args, work: Path) -> dict[str, Path]:
    """Split every eCLIP set (or, with --smoke, a small sample of the chosen RBPs) with prepare's fixed seed."""
    prepared = work / "prepared"
    names = args.rbps if args.smoke else sorted(p.name.split(".")[0] for p in (DATA / "eclip").glob("*.tsv.gz"))
    for name in names:
        source = DATA / "eclip" / f"{name}.tsv.gz"
        if args.smoke:
            source = head_tsv(source, work / f"{name}.sample.tsv", 200, args.seed)
        if not (prepared / f"{name}.train.fa").exists():
            tool(
                "prepare",
                source,
                "--output-dir",
                prepared,
                "--prefix",
                name,
                "--seed",
                args.seed,
                "--test-size",
                args.test_size,
            )
    return {name: prepared / name for name in names}


def corpus_files(args, prefixes: dict[str, Path]) -> tuple[list[Path], list[Path]]:
    """(training files for the corpus, every test/held-out file to exclude)."""
    corpus = [Path(f"{p}.train.fa") for p in prefixes.values()]
    exclude = [Path(f"{p}.nontrain.fa") for p in prefixes.values()]
    if not args.smoke:
        corpus += sorted(DATA.glob("rbp31/*/train.fa.gz"))
        exclude += sorted(DATA.glob("rbp31/*/test.fa.gz")) + sorted(DATA.glob("rbp24/*.ls.*.fa.gz"))
        exclude += sorted(DATA.glob("tial1/*.tsv.gz"))
    return corpus, exclude


def finetune_and_score(args, prefix: Path, model: str, out: Path) -> dict:
    """Fine-tune ``model`` on the RBP's training split, predict its test split, return the metrics."""
    from bertrbp.metrics import binary_metrics

    train = Path(f"{prefix}.train.fa")
    if args.max_train:
        out.parent.mkdir(parents=True, exist_ok=True)
        train = subset_fasta(train, out.parent / f"{prefix.name}.train.subset.fa", args.max_train, args.seed)
    started = time.perf_counter()
    tool(
        "finetune",
        "--train",
        train,
        "--output-dir",
        out,
        "--model",
        model,
        "--epochs",
        args.finetune_epochs,
        "--batch-size",
        args.batch_size,
        "--lr",
        args.finetune_lr,
        "--seed",
        args.seed,
        "--threads",
        args.threads,
        "--device",
        args.device,
    )
    predictions = out / "test_predictions.tsv"
    tool(
        "predict",
        "--model",
        out / "model",
        f"{prefix}.test.fa",
        "-o",
        predictions,
        "--threads",
        args.threads,
        "--device",
        args.device,
    )
    labels, probabilities = [], []
    with open(predictions) as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            labels.append(int(row["label"]))
            probabilities.append(float(row["probability"]))
    metrics = binary_metrics(labels, probabilities, where=str(predictions))
    metrics["seconds"] = time.perf_counter() - started
    return metrics


def table(rows: list[dict], corpus: dict, steps: int) -> str:
    lines = [
        f"Pretraining: {corpus['windows']:,} windows from {corpus['records']:,} training records; "
        f"dropped as overlapping a test split: {corpus['dropped_records']:,} records, {corpus['dropped_windows']:,} "
        f"windows; {steps} steps.",
        "",
        "| RBP | AUROC pretrained | AUROC random init | difference |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['rbp']} | {row['pretrained']:.4f} | {row['random']:.4f} | {row['difference']:+.4f} |")
    if rows:
        mean = {key: sum(r[key] for r in rows) / len(rows) for key in ("pretrained", "random", "difference")}
        lines.append(f"| **mean** | {mean['pretrained']:.4f} | {mean['random']:.4f} | {mean['difference']:+.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_pretrain"), help="working folder")
    parser.add_argument("--smoke", action="store_true", help="2 RBPs, 200+200 sites, tiny model, a few steps")
    parser.add_argument("--rbps", nargs="+", default=DEFAULT_RBPS, help="eCLIP sets to fine-tune (file stems)")
    parser.add_argument("--model-size", default="mini")
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-4, help="pretraining learning rate")
    parser.add_argument("--finetune-lr", type=float, default=2e-4)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=4000, help="training sites per RBP (0 = all)")
    parser.add_argument("--test-size", default="6000", help="prepare's --test-size (count or fraction)")
    parser.add_argument("--on-overlap", default="drop", choices=("drop", "fail"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rbps = args.rbps[:2]
        args.model_size, args.max_steps, args.batch_size = "tiny", 20, 32
        args.finetune_epochs, args.max_train, args.finetune_lr, args.test_size = 1, 0, 1e-3, "0.3"
    if not (DATA / "eclip").is_dir():
        sys.exit(f"real data not found at {DATA}; this benchmark needs ../shared/data")
    work = args.work / ("smoke" if args.smoke else "full")
    if args.smoke and work.exists():
        shutil.rmtree(work)  # a smoke run always runs every step
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    prefixes = prepare_all(args, work)
    corpus, exclude = corpus_files(args, prefixes)
    pretrained = work / "pretrained"
    if not (pretrained / "model" / "config.json").exists():
        tool(
            "pretrain",
            *[a for f in corpus for a in ("--corpus", f)],
            *[a for f in exclude for a in ("--exclude", f)],
            "--output-dir",
            pretrained,
            "--model-size",
            args.model_size,
            "--max-steps",
            args.max_steps,
            "--epochs",
            100,
            "--batch-size",
            args.batch_size,
            "--lr",
            args.lr,
            "--on-overlap",
            args.on_overlap,
            "--seed",
            args.seed,
            "--threads",
            args.threads,
            "--device",
            args.device,
            "--save-steps",
            500,
            "--resume",
        )
    pretrain_metrics = json.loads((pretrained / "metrics.json").read_text())

    rows = []
    for rbp in args.rbps:
        scores = {
            label: finetune_and_score(args, prefixes[rbp], model, work / "finetuned" / f"{rbp}.{label}")
            for label, model in (("pretrained", pretrained / "model"), ("random", args.model_size))
        }
        rows.append(
            {
                "rbp": rbp,
                "pretrained": scores["pretrained"]["auroc"],
                "random": scores["random"]["auroc"],
                "difference": scores["pretrained"]["auroc"] - scores["random"]["auroc"],
                "metrics": scores,
            }
        )
    report = table(rows, pretrain_metrics["corpus"], pretrain_metrics["global_step"])
    report += f"\nSettings: {vars(args)}; total {time.perf_counter() - started:.0f} s.\n"
    print(report)
    (work / "bench_pretrain.md").write_text(report)
    (work / "bench_pretrain.json").write_text(
        json.dumps(
            {"rows": rows, "pretrain": pretrain_metrics, "settings": {k: str(v) for k, v in vars(args).items()}},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
