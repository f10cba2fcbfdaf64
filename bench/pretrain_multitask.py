"""Make the shipped checkpoint assets/models/bertrbp-mini-k3: multi-task pretraining over ../shared/data.

Tasks (one head each): the training set of each of the 21 RBP-31 experiments and the training split of 20 of
the 30 eCLIP sets (split by ``bertrbp-prepare --seed 42`` exactly as bench/accuracy.py splits them).
Never seen, so that fine-tuning gains on them measure transfer to a new RBP: the other 10 eCLIP sets
(``UNSEEN``, including the demo's HNRNPK_K562 and UCHL5_K562), whose every sequence is excluded.
Excluded from every task (either strand): every eCLIP test split, every RBP-31 test set, the RBP-24 test sets,
TIAL1's test and validation splits, the demo files, and the whole of each unseen eCLIP set.

    python bench/pretrain_multitask.py --out /work/pretrain_mt              # start (or --resume to continue)
    python bench/pretrain_multitask.py --out /work/pretrain_mt --print-only  # just print the pretrain command
    python bench/pretrain_multitask.py --out /work/pretrain_mt2 --init-model /work/pretrain_mt/model \
        --max-steps 8000 --lr 3e-4 --seed 43     # the shipped checkpoint's second stage, on a new data order
    python bench/pretrain_multitask.py --out /work/pretrain_mt3 --init-model assets/models/bertrbp-mini-k3 \
        --max-steps 6000 --lr 3e-4 --seed 44     # the third stage (new task heads)
    python bench/pretrain_multitask.py --out /work/pretrain_mt4 --init-model /work/pretrain_mt3/model \
        --max-steps 6000 --lr 3e-4 --seed 45 --threads 2   # the fourth (a run folder: heads continued), shipped
    python bench/pretrain_multitask.py --out /work/pretrain_mt5 --init-model /work/pretrain_mt4/model \
        --max-steps 6000 --lr 3e-4 --seed 46 --threads 2   # a fifth: lost to the fourth at 2,000 sites, not shipped
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))
sys.path.insert(0, str(REPO / "bench"))

from accuracy import WORK, dataset_files, experiments  # noqa: E402

DATA = REPO.parent / "shared" / "data"
UNSEEN = [
    "HNRNPK_K562",
    "UCHL5_K562",
    "RBFOX2_HepG2",
    "TRA2A_K562",
    "PRPF8_K562",
    "HNRNPA1_K562",
    "ILF3_K562",
    "SLBP_K562",
    "FMR1_K562",
    "DDX3X_K562",
]


def task_and_exclusion_files(work: Path, seed: int = 42, data: Path = DATA) -> tuple[list[str], list[Path]]:
    """(``NAME=FILE`` task specs, exclusion files) as described in the module docstring."""
    tasks, exclude = [], []
    for name in experiments("rbp31", data):
        train, test = dataset_files("rbp31", name, data, work, seed)
        tasks.append(f"{name}={train}")
        exclude.append(test)
    for name in experiments("eclip", data):
        train, test = dataset_files("eclip", name, data, work, seed)
        exclude.append(test)
        if name in UNSEEN:
            exclude.append(data / "eclip" / f"{name}.tsv.gz")
        else:
            tasks.append(f"eCLIP_{name}={train}")
    exclude += sorted(data.glob("rbp24/*.ls.*.fa.gz")) + sorted(data.glob("tial1/*.tsv.gz"))
    exclude += sorted((REPO / "assets" / "demo").glob("*.tsv"))
    return tasks, exclude


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model-size", default="mini")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=42, help="a second stage takes another seed: a new data order")
    parser.add_argument("--init-model", help="start from this checkpoint (a second stage), not random weights")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--print-only", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--work", type=Path, default=WORK, help="where bench/accuracy.py keeps the eCLIP splits")
    args = parser.parse_args(argv)
    tasks, exclude = task_and_exclusion_files(args.work, data=args.data)
    command = ["--objective", "multitask", "--output-dir", args.out, "--model-size", args.model_size, "--k", 3]
    command += [x for spec in tasks for x in ("--task", spec)] + [x for path in exclude for x in ("--exclude", path)]
    command += ["--epochs", args.epochs, "--max-steps", args.max_steps, "--batch-size", args.batch_size]
    command += ["--lr", args.lr, "--warmup-ratio", 0.05, "--val-fraction", 0.01, "--save-steps", 250]
    command += ["--threads", args.threads, "--device", args.device, "--seed", args.seed]
    command += ["--init-model", args.init_model] if args.init_model else []
    command += ["--resume"] if args.resume else []
    command = [str(x) for x in command]
    print("bertrbp-pretrain " + " ".join(shlex.quote(x) for x in command), flush=True)
    if not args.print_only:
        from bertrbp.cli.common import run
        from bertrbp.cli.pretrain import app

        run(app, command)


if __name__ == "__main__":
    main()
