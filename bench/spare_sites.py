"""Score fine-tuned models of ``bench/accuracy.py --max-train N`` runs on the training sites their subset left out.

Why: choosing between two pretrained checkpoints by the fine-tuning runs' own validation AUROC means 50 sites per
set at 500 training sites and 180 at 2,000, too few to separate checkpoints a few thousandths apart (the stage-3
candidate of bertrbp-mini-k3 lost on those and won on the test splits, read afterwards). The rest of each training
split (about 8,500 sites of an eCLIP set) is neither test data nor seen by that run, and for the unseen eCLIP sets
(bench/pretrain_multitask.py ``UNSEEN``) not seen by pretraining either: a held-out pool 45-170 times larger. It
shares chromosomes with the run's training sites, so it measures a choice, not the result; the test split stays
the result.

    python bench/spare_sites.py --suite eclip --tags pvr_pretrained-stage2_n500 pvr_pretrained_n500 --unseen-only
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import accuracy  # noqa: E402  (puts bin/ on the path)

COLUMNS = ["suite", "experiment", "tag", "max_train", "n_spare", "spare_auroc", "val_auroc", "test_auroc", "bf16"]


@functools.lru_cache(maxsize=1)
def training_split(suite: str, name: str, data: Path, work: Path, seed: int):
    """An experiment's whole training split, tokenized as bench/accuracy.py tokenizes it (3-mers). Cached: the
    tags of one call score the same experiments, each at its own subset size."""
    from bertrbp.io.sequences import iter_records
    from bertrbp.io.tokens import tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    train_file, _ = accuracy.dataset_files(suite, name, data, work, seed)
    return tokenize_records(iter_records(train_file), KmerTokenizer(3))


def spare_data(suite: str, name: str, max_train: int, seed: int, data: Path, work: Path, limit: int):
    """The tokenized training sites the seeded ``max_train`` subset left out (a seeded ``limit`` of them, 0 = all)."""
    tokens = training_split(suite, name, data, work, seed)
    _, rest = accuracy.subset_rows(tokens.labels, max_train, seed)
    if limit and limit < len(rest):
        rest = np.sort(np.random.default_rng(seed).choice(rest, size=limit, replace=False))
    return tokens.subset(rest)


def score(model_dir: Path, tokens, threads: int, bf16: str) -> tuple[float, bool]:
    """(AUROC of the kept model on ``tokens``, whether bf16 was used)."""
    from sklearn.metrics import roc_auc_score

    from bertrbp.calibration import inference_bf16
    from bertrbp.device import resolve_device, set_threads
    from bertrbp.finetune import score_log_odds
    from bertrbp.model import load_classifier

    set_threads(threads)
    device = resolve_device("auto")
    model, _, _ = load_classifier(str(model_dir))
    model.to(device).eval()
    on = inference_bf16(device, bf16, [model])
    _, log_odds, _ = score_log_odds(model, tokens, device, on, 256)
    return float(roc_auc_score(tokens.labels, log_odds)), on


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=accuracy.SUITES, default="eclip")
    parser.add_argument("--tags", nargs="+", required=True, help="bench/accuracy.py tags of --max-train runs")
    parser.add_argument("--experiments", nargs="*")
    parser.add_argument("--unseen-only", action="store_true", help="only the eCLIP sets pretraining never saw")
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of this many spare sites (0 = all)")
    parser.add_argument("--seed", type=int, default=42, help="the runs' --seed (it also drew their subset)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", default="auto", choices=("auto", "yes", "no"))
    parser.add_argument("--data", type=Path, default=accuracy.DATA)
    parser.add_argument("--work", type=Path, default=accuracy.WORK)
    parser.add_argument("--results", type=Path, default=accuracy.RESULTS, help="where the runs' rows are")
    parser.add_argument("--out", type=Path, help="default: RESULTS/spare_sites_SUITE.tsv (rows appended)")
    args = parser.parse_args(argv)
    out = args.out or args.results / f"spare_sites_{args.suite}.tsv"
    done = {(r["tag"], r["experiment"]) for r in accuracy.read_rows(out)}
    rows_of = {
        tag: {r["experiment"]: r for r in accuracy.read_rows(accuracy.results_path(args.suite, tag, args.results))}
        for tag in args.tags
    }
    names = args.experiments or sorted(set().union(*rows_of.values()))
    if args.unseen_only:
        from pretrain_multitask import UNSEEN

        names = [n for n in names if n in UNSEEN]
    # experiment by experiment, so that each training split is read and tokenized once for all tags
    for name in names:
        for tag, rows in rows_of.items():
            model_dir = args.work / args.suite / tag / name / "finetune" / "model"
            if (tag, name) in done or name not in rows or not model_dir.is_dir():
                print(f"skip {tag} {name}: {'done' if (tag, name) in done else 'no finished run here'}", flush=True)
                continue
            row = rows[name]
            max_train = int(row["n_train"]) + int(row["n_val"])
            tokens = spare_data(args.suite, name, max_train, args.seed, args.data, args.work, args.limit)
            auroc, on = score(model_dir, tokens, args.threads, args.bf16)
            result = {"suite": args.suite, "experiment": name, "tag": tag, "max_train": max_train}
            result |= {"n_spare": len(tokens), "spare_auroc": f"{auroc:.4f}", "val_auroc": row["val_auroc"]}
            result |= {"test_auroc": row["test_auroc"], "bf16": on}
            accuracy.append_row(out, result, COLUMNS)
            print(f"{tag} {name}: spare AUROC {auroc:.4f} on {len(tokens)} sites", flush=True)


if __name__ == "__main__":
    main()
