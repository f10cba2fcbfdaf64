"""Would one more model add to a trained ensemble? Scores both on the validation split they share (finetune's
stratified split of the experiment's training sites, --seed) and prints the AUROC of the ensemble, of the model
alone, and of the ensemble with the model as one more member (the mean of the members' log-odds, as
bertrbp-finetune combines them). A recipe is chosen on the validation columns; the test columns (each run's
test_predictions.tsv, scored once when that run was benchmarked) are shown for the record.

Both folders are bench/accuracy.py work folders of one suite (WORK/<suite>/<tag>), e.g. the best CPU recipe and
the shipped checkpoint's all-sites arm of bench/pretrained_vs_random.py:

    python bench/ensemble_plus_member.py --ensemble bench/out/accuracy/rbp31/kmer-pos+cnnlstmx3 \\
        --member bench/out/accuracy/rbp31/pvr_pretrained_nall 1_PARCLIP_AGO1234_hg19 2_PARCLIP_AGO2MNASE_hg19
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))


def validation_log_odds(run: Path, seed: int, fraction: float):
    """(site ids, labels, log-odds) of the run's kept model on its validation split."""
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
    _, log_odds, _ = score_log_odds(model.eval(), val, torch.device("cpu"), False, 256)
    return list(val.ids), val.labels.tolist(), log_odds


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

    return {
        "val_ensemble": auroc(labels, ens),
        "val_member": auroc(labels, one),
        "val_joined": auroc(labels, joined(ens, one)),
        "test_ensemble": auroc(test_labels, ens_t),
        "test_member": auroc(test_labels, one_t),
        "test_joined": auroc(test_labels, joined(ens_t, one_t)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ensemble", type=Path, required=True, help="accuracy.py work folder of the ensemble's tag")
    parser.add_argument("--member", type=Path, required=True, help="accuracy.py work folder of the model's tag")
    parser.add_argument("--members", type=int, default=4, help="members in the ensemble (its mean's weight)")
    parser.add_argument("--seed", type=int, default=42, help="the runs' --seed (their validation split)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("experiments", nargs="+")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    columns = ("val_ensemble", "val_member", "val_joined", "test_ensemble", "test_member", "test_joined")
    print("| experiment | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    rows = []
    for name in args.experiments:
        row = compare(args.ensemble / name, args.member / name, args.members, args.seed, args.val_fraction)
        rows.append(row)
        print(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |", flush=True)
    print("| **mean** | " + " | ".join(f"{np.mean([r[c] for r in rows]):.4f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
