"""Would one more model add to a trained ensemble? Scores both on the validation split they share (finetune's
stratified split of the experiment's training sites, --seed) and prints the AUROC of the ensemble, of the model
alone, and of the ensemble with the model as one more member (the mean of the members' log-odds, as
bertrbp-finetune combines them). A recipe is chosen on the validation columns; the test columns (each run's
test_predictions.tsv, scored once when that run was benchmarked) are shown for the record.

Both folders are bench/accuracy.py work folders of one suite (WORK/<suite>/<tag>), e.g. the best CPU recipe and
the shipped checkpoint's all-sites arm of bench/pretrained_vs_random.py:

    python bench/ensemble_plus_member.py --ensemble bench/out/accuracy/rbp31/kmer-pos+cnnlstmx3 \\
        --member bench/out/accuracy/rbp31/pvr_pretrained_nall 1_PARCLIP_AGO1234_hg19 2_PARCLIP_AGO2MNASE_hg19

With ``--tag``, the joined model (the ensemble plus the member, one more equal member, as ``bertrbp-finetune
--model ... --model CKPT@SEED`` trains it) gets one accuracy row per experiment in RESULTS/accuracy_SUITE_TAG.tsv,
built from both runs' rows there (accuracy_SUITE_<folder name>.tsv): its validation and test AUROC from the joined
log-odds, its training time and steps the sum of the two runs'.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))


VALIDATION_FILE = "val_predictions.tsv"  # a run's saved validation log-odds (a GPU run's models stay there)


def validation_log_odds(run: Path, seed: int, fraction: float, device: str = "cpu"):
    """(site ids, labels, log-odds) of the run's kept model on its validation split: scored here where the model
    is, else read from the run's val_predictions.tsv (write_validation_predictions), which a retrained model would
    have left stale."""
    if not (run / "finetune" / "model").exists() and (run / VALIDATION_FILE).exists():
        with open(run / VALIDATION_FILE, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        return [r["id"] for r in rows], [int(r["label"]) for r in rows], np.array([float(r["logit"]) for r in rows])
    import torch

    from bertrbp.finetune import score_log_odds
    from bertrbp.io.tokens import load_tokens
    from bertrbp.model import load_classifier
    from bertrbp.validation_split import split_validation

    model, _, _ = load_classifier(str(run / "finetune" / "model"))
    card = json.loads((run / "finetune" / "model_card.json").read_text())
    # a model's card has it in hyperparameters, an ensemble's at the top; cards before --val-split: random
    how = card.get("hyperparameters", {}).get("val_split") or card.get("val_split") or "random"
    _, val, _ = split_validation(load_tokens(run / "train.npz"), fraction, seed, how)
    _, log_odds, _ = score_log_odds(model.to(device).eval(), val, torch.device(device), False, 256)
    return list(val.ids), val.labels.tolist(), log_odds


def write_validation_predictions(run: Path, seed: int, fraction: float, device: str = "cpu") -> Path:
    """Save the run's validation log-odds beside its test_predictions.tsv, so that the run can be joined to an
    ensemble where its model is not (the GPU machine's models do not come back)."""
    ids, labels, log_odds = validation_log_odds(run, seed, fraction, device)
    lines = ["id\tlabel\tlogit", *(f"{i}\t{y}\t{float(z):.6g}" for i, y, z in zip(ids, labels, log_odds))]
    partial = run / (VALIDATION_FILE + ".partial")
    partial.write_text("\n".join(lines) + "\n")
    return partial.replace(run / VALIDATION_FILE)


def test_log_odds(run: Path) -> dict[str, tuple[float, int]]:
    with open(run / "test_predictions.tsv", newline="") as handle:
        return {row["id"]: (float(row["logit"]), int(row["label"])) for row in csv.DictReader(handle, delimiter="\t")}


def compare(ensemble: Path, member: Path, members: int, seed: int, fraction: float) -> dict[str, float]:
    """Validation and test AUROC of the ensemble, the member, and both as one ensemble of ``members`` + 1."""
    from bertrbp.metrics import binary_metrics

    ids, labels, ens = validation_log_odds(ensemble, seed, fraction)
    member_ids, member_labels, one = validation_log_odds(member, seed, fraction)
    if ids != member_ids or labels != member_labels:
        raise SystemExit(f"error: {ensemble} and {member} do not share a validation split; same --seed and data?")
    ens_test, one_test = test_log_odds(ensemble), test_log_odds(member)
    if ens_test.keys() != one_test.keys():
        raise SystemExit(f"error: {ensemble} and {member} scored different test sites.")
    test_ids = sorted(ens_test)
    test_labels = [ens_test[i][1] for i in test_ids]
    ens_t, one_t = (np.array([scores[i][0] for i in test_ids]) for scores in (ens_test, one_test))

    def auroc(y, scores) -> float:
        return binary_metrics(y, list(scores))["auroc"]

    def joined(a, b):
        return (members * a + b) / (members + 1)

    joined_test = binary_metrics(test_labels, list(joined(ens_t, one_t)))  # its AUROC and AUPRC from one scoring
    return {
        "val_ensemble": auroc(labels, ens),
        "val_member": auroc(labels, one),
        "val_joined": auroc(labels, joined(ens, one)),
        "test_ensemble": auroc(test_labels, ens_t),
        "test_member": auroc(test_labels, one_t),
        "test_joined": joined_test["auroc"],
        "test_auprc_joined": joined_test["auprc"],
    }


def joined_row(ensemble_row: dict, member_row: dict, result: dict, tag: str) -> dict:
    """The accuracy row of the ensemble with the member joined: the ensemble's row, with the joined AUROCs, the
    summed training (two runs, possibly on two machines: each row keeps its own) and both runs' members."""
    import datetime

    def total(column: str) -> str:
        return f"{float(ensemble_row[column]) + float(member_row[column]):g}"

    member = f"{member_row['tag']}={member_row['test_auroc']}"
    members = ";".join(x for x in (ensemble_row.get("member_test_auroc", ""), member) if x)
    ensemble_only = ("val_loss", "val_pred_std", "prior_entropy", "collapse_reasons")  # not the joined model's
    return {
        **{c: v for c, v in ensemble_row.items() if not c.startswith("test_") and c not in ensemble_only},
        "tag": tag,
        "model": f"{ensemble_row['model']},{member_row['model']}",
        "pretrained": str(ensemble_row.get("pretrained") == "True" or member_row.get("pretrained") == "True"),
        "parameters": int(ensemble_row["parameters"] or 0) + int(member_row["parameters"] or 0),
        "optimizer_steps": total("optimizer_steps"),
        "train_wall_s": total("train_wall_s"),
        "predict_wall_s": total("predict_wall_s"),
        "epochs_run": f"{ensemble_row.get('epochs_run', '')}+{member_row.get('epochs_run', '')}",
        "val_auroc": round(result["val_joined"], 4),
        "test_auroc": round(result["test_joined"], 4),
        "test_auprc": round(result["test_auprc_joined"], 4),
        "collapsed": str(ensemble_row["collapsed"] == "True" or member_row["collapsed"] == "True"),
        "member_test_auroc": members,
        "reused_members": f"{ensemble_row['tag']};{member_row['tag']}",
        "model_kind": "ensemble",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ensemble", type=Path, required=True, help="accuracy.py work folder of the ensemble's tag")
    parser.add_argument("--member", type=Path, required=True, help="accuracy.py work folder of the model's tag")
    parser.add_argument("--members", type=int, default=4, help="members in the ensemble (its mean's weight)")
    parser.add_argument("--seed", type=int, default=42, help="the runs' --seed (their validation split)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--tag", help="write the joined model's accuracy rows under this tag (see above)")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("experiments", nargs="+")
    args = parser.parse_args(argv)
    import accuracy

    suite = args.ensemble.parent.name
    if args.tag in (args.ensemble.name, args.member.name):
        raise SystemExit(f"error: --tag {args.tag} would append to a source run's own rows; give a new tag.")
    if args.tag:
        sources = [args.results / f"accuracy_{suite}_{folder.name}.tsv" for folder in (args.ensemble, args.member)]
        ensemble_rows, member_rows = ({r["experiment"]: r for r in accuracy.read_rows(p)} for p in sources)
        missing = [name for name in args.experiments if name not in ensemble_rows or name not in member_rows]
        if missing:
            raise SystemExit(f"error: no row for {', '.join(missing)} in {' or '.join(map(str, sources))}.")
    import torch

    torch.set_num_threads(1)
    columns = ("val_ensemble", "val_member", "val_joined", "test_ensemble", "test_member", "test_joined")
    print("| experiment | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    rows = []
    for name in args.experiments:
        row = compare(args.ensemble / name, args.member / name, args.members, args.seed, args.val_fraction)
        rows.append(row)
        if args.tag:
            joined = joined_row(ensemble_rows[name], member_rows[name], row, args.tag)
            accuracy.append_row(args.results / f"accuracy_{suite}_{args.tag}.tsv", joined)
        print(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |", flush=True)
    print("| **mean** | " + " | ".join(f"{np.mean([r[c] for r in rows]):.4f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
