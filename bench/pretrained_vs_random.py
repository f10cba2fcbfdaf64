"""Does the shipped pretrained checkpoint lift fine-tuned AUROC? Same recipe, same seed, same split, pretrained
(assets/models/bertrbp-mini-k3) vs random-init ``mini`` (same architecture), beside the k-mer floor trained on the
same sites.

Each arm is one bench/accuracy.py run (tag ``pvr_<arm>_n<sites>``, rows in bench/results/accuracy_<suite>_<tag>.tsv),
so the split, the subset of training sites (seeded, stratified; 10 % of it is the validation set for early
stopping) and the single scoring of each test split are the accuracy benchmark's. ``table`` joins the arms into
bench/results/pretrained_vs_random.tsv (one row per suite, experiment and training size) and .md (means).

``seen_in_pretraining``: whether the experiment's own training labels were one of the checkpoint's pretraining
tasks (bench/pretrain_multitask.py). The unseen eCLIP sets measure what a user with a new RBP gets.

    python bench/pretrained_vs_random.py run --suite eclip --sizes 2000 --unseen-only     # 10 sets x 3 arms
    python bench/pretrained_vs_random.py run --suite eclip --sizes 500 0 --experiments HNRNPK_K562 UCHL5_K562
    python bench/pretrained_vs_random.py run --suite rbp31 --sizes 2000 --experiments 23_PARCLIP_PUM2_hg19
    python bench/pretrained_vs_random.py table
    python bench/pretrained_vs_random.py table --checkpoint-name small --random-name small   # bench/gpu_pretrain.py's
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import accuracy  # noqa: E402
from bertrbp.recipe import BERT_MIN_STEPS  # noqa: E402  (accuracy put bin/ on the path)
from pretrain_multitask import UNSEEN  # noqa: E402

CHECKPOINT = REPO / "assets" / "models" / "bertrbp-mini-k3"
# one recipe for both BERT arms: the finetune defaults that train a random-init mini (bertrbp/recipe.py), so the
# random arm is not handicapped; early stopping on the validation loss, the best validation-AUROC epoch kept.
# Random init also gets its default step floor, given explicitly since --epochs alone drops it (more epochs on small
# sets: it sits at the class prior for its first hundred or so steps); the checkpoint has no such plateau and no
# floor, so it gets fewer steps, never more.
RECIPE = ["--lr", "5e-4", "--epochs", "8", "--patience", "2", "--batch-size", "32", "--seed", "42"]
ARMS = {
    "pretrained": ["--pretrained", str(CHECKPOINT), *RECIPE],
    "random": ["--model", "mini", *RECIPE, "--min-steps", str(BERT_MIN_STEPS)],
    "kmer": ["--model", "kmer", "--seed", "42"],
}
OUT = accuracy.RESULTS / "pretrained_vs_random"


def tag(arm: str, sites: int, name: str | None = None) -> str:
    """``pvr_<arm>_n<sites>``; another checkpoint's arm is ``pvr_pretrained-<name>_n<sites>``, and a random init of
    another size ``pvr_random-<name>_n<sites>`` (bench/gpu_pretrain.py's ``small`` arms)."""
    return f"pvr_{arm}{f'-{name}' if name else ''}_n{sites or 'all'}"


def arm_options(arm: str, checkpoint: Path | None) -> list[str]:
    """The arm's finetune options; ``checkpoint`` replaces the shipped one (a candidate, compared before shipping)."""
    if arm == "pretrained" and checkpoint is not None:
        return ["--pretrained", str(checkpoint), *RECIPE]
    return ARMS[arm]


def run(args) -> None:
    names = args.experiments or accuracy.experiments(args.suite, accuracy.DATA)
    if args.unseen_only:
        names = [n for n in names if n in UNSEEN]
    for sites in args.sizes:
        for arm in args.arms:
            argv = ["--suite", args.suite, "--experiments", *names, *arm_options(arm, args.checkpoint)]
            argv += ["--max-train", str(sites), "--threads", str(args.threads)]
            accuracy.main([*argv, "--tag", tag(arm, sites, args.checkpoint_name if arm == "pretrained" else None)])


def _rows(suite: str, arm: str, sites: int, name: str | None = None) -> dict[str, dict]:
    path = accuracy.results_path(suite, tag(arm, sites, name), accuracy.RESULTS)
    return {row["experiment"]: row for row in accuracy.read_rows(path)} if path.exists() else {}


def table(args) -> None:
    rows, sizes = [], []  # sizes[i]: the training sites row i asked for (its arm's tag), "all" for 0
    for suite in ("eclip", "rbp31"):
        for sites in (500, 2000, 0):
            names = {"pretrained": args.checkpoint_name, "random": args.random_name, "kmer": None}
            arms = {arm: _rows(suite, arm, sites, names[arm]) for arm in ARMS}
            for name in sorted(set(arms["pretrained"]) & set(arms["random"])):
                pre, rnd, kmer = arms["pretrained"][name], arms["random"][name], arms["kmer"].get(name)
                sizes.append(str(sites or "all"))
                rows.append(
                    {
                        "suite": suite,
                        "experiment": name,
                        "n_train": int(pre["n_train"]) + int(pre["n_val"]),
                        "n_train_gradient": pre["n_train"],
                        "seen_in_pretraining": suite == "rbp31" or name not in UNSEEN,
                        "auroc_pretrained": pre["test_auroc"],
                        "auroc_random": rnd["test_auroc"],
                        "difference": f"{float(pre['test_auroc']) - float(rnd['test_auroc']):+.4f}",
                        "auroc_kmer": kmer["test_auroc"] if kmer else "",
                        "epochs_run_pretrained": pre["epochs_run"],
                        "epochs_run_random": rnd["epochs_run"],
                        "train_wall_s_pretrained": pre["train_wall_s"],
                        "train_wall_s_random": rnd["train_wall_s"],
                        "load_before": pre["load_before"],
                        **_verdict_columns(suite, sites, name, names),
                    }
                )
    stem = "pretrained_vs_random" + (f"_{args.checkpoint_name}" if args.checkpoint_name else "")
    stem += f"_random-{args.random_name}" if args.random_name and args.random_name != args.checkpoint_name else ""
    tsv = accuracy.RESULTS / f"{stem}.tsv"
    with open(tsv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["suite"], delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| suite | training sites | seen in pretraining | experiments | AUROC pretrained | AUROC random | "
        "difference | median difference | pretrained > random | k-mer floor (same sites) | stalled (pretrained, "
        "random) | calibrated (pretrained, random) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for row, size in zip(rows, sizes):
        groups.setdefault((row["suite"], size, "yes" if row["seen_in_pretraining"] else "no"), []).append(row)
    for suite, size in sorted({(suite, size) for suite, size, _ in groups}, key=_size_order):
        parts = [key for key in groups if key[:2] == (suite, size)]
        if len(parts) > 1:  # seen and unseen sets of one suite and size: the goal is over all of them
            groups[(suite, size, "all")] = [row for key in parts for row in groups[key]]
    for key in sorted(groups, key=_size_order):
        lines.append(_summary_line(key, groups[key]))
    text = "\n".join(lines) + "\n"
    (accuracy.RESULTS / f"{stem}.md").write_text(text)
    print(text)


def _verdicts(suite: str, arm: str, sites: int, name: str, arm_name: str | None = None) -> tuple[str, str, str]:
    """From finetune's metrics.json beside the rows ('' when not kept): its stall verdict on the kept model (after
    calibration), whether any epoch's validation loss left the class prior (the kept epoch, best by validation
    AUROC, can be an earlier one still at the prior), and whether finetune calibrated the kept model."""
    import json

    from bertrbp.collapse import LOSS_MARGIN

    path = accuracy.history_path(accuracy.RESULTS, suite, tag(arm, sites, arm_name), name)
    if not path.exists():
        return "", "", ""
    metrics = json.loads(path.read_text())
    prior = metrics.get("collapse", {}).get("class_prior_entropy")
    losses = [epoch.get("val_loss") for epoch in metrics.get("epochs", [])]
    left = prior is not None and any(loss is not None and loss < prior - LOSS_MARGIN for loss in losses)
    calibrated = bool((metrics.get("calibration") or {}).get("applied"))
    return str(bool(metrics.get("stalled"))), str(left), str(calibrated)


def _verdict_columns(suite: str, sites: int, name: str, arm_names: dict[str, str | None]) -> dict[str, str]:
    columns = {}
    for arm in ("pretrained", "random"):
        stalled, left, calibrated = _verdicts(suite, arm, sites, name, arm_names[arm])
        columns |= {f"stalled_{arm}": stalled, f"left_prior_{arm}": left, f"calibrated_{arm}": calibrated}
    return columns


def _size_order(key: tuple) -> tuple:
    """Suite, then training sites in size order (500, 2000, all), then seen in pretraining (no, yes, all)."""
    suite, size, *seen = key
    return (suite, float("inf") if size == "all" else int(size), *(["no", "yes", "all"].index(s) for s in seen))


def _summary_line(key: tuple, chosen: list[dict]) -> str:
    """One markdown row: means of both arms, mean and median difference, wins, the k-mer floor on the same sets."""
    suite, sites, seen = key
    pre, rnd = (statistics.mean(float(r[column]) for r in chosen) for column in ("auroc_pretrained", "auroc_random"))
    median = statistics.median(float(r["auroc_pretrained"]) - float(r["auroc_random"]) for r in chosen)
    kmers = [float(r["auroc_kmer"]) for r in chosen if r["auroc_kmer"]]
    floor = f"{statistics.mean(kmers):.4f} ({len(kmers)})" if kmers else ""
    better = sum(float(r["auroc_pretrained"]) > float(r["auroc_random"]) for r in chosen)
    stalled, calibrated = (
        ", ".join(str(sum(r[f"{column}_{arm}"] == "True" for r in chosen)) for arm in ("pretrained", "random"))
        for column in ("stalled", "calibrated")
    )
    return (
        f"| {suite} | {sites} | {seen} | {len(chosen)} | {pre:.4f} | {rnd:.4f} | {pre - rnd:+.4f} | {median:+.4f} | "
        f"{better}/{len(chosen)} | {floor} | {stalled} | {calibrated} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--suite", choices=("eclip", "rbp31"), default="eclip")
    go.add_argument("--experiments", nargs="*")
    go.add_argument("--unseen-only", action="store_true")
    go.add_argument("--sizes", nargs="+", type=int, default=[2000], help="training sites per experiment; 0 = all")
    go.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    go.add_argument("--threads", type=int, default=1)
    go.add_argument("--checkpoint", type=Path, help="a candidate checkpoint instead of the shipped one")
    go.add_argument("--checkpoint-name", help="names the candidate's tag: pvr_pretrained-NAME_n<sites>")
    shown = sub.add_parser("table")
    shown.add_argument("--checkpoint-name", help="the candidate's rows instead of the shipped checkpoint's")
    shown.add_argument(
        "--random-name",
        help="the random-init rows of another size (pvr_random-NAME_n<sites>), e.g. small beside bertrbp-small-k3; "
        "the files are then pretrained_vs_random_NAME.{md,tsv} when --checkpoint-name is the same NAME",
    )
    args = parser.parse_args(argv)
    if args.command == "run" and bool(args.checkpoint) != bool(args.checkpoint_name):
        # one without the other would file a candidate's rows under the shipped tag, or skip by its rows
        parser.error("--checkpoint and --checkpoint-name go together")
    run(args) if args.command == "run" else table(args)


if __name__ == "__main__":
    main()
