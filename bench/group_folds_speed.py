"""Time the validation split by locus: bertrbp.group_folds against scikit-learn's StratifiedGroupKFold, same rows.

    python bench/group_folds_speed.py [--experiment 1_PARCLIP_AGO1234_hg19] [--seed 42]

Both run in this one process on the same labels and loci (an RBP-31 training set), so the ratio holds under load;
the load average is printed beside the times. Writes bench/results/group_folds_speed.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from bertrbp.group_folds import first_group_fold  # noqa: E402
from bertrbp.io.sequences import iter_records  # noqa: E402
from bertrbp.validation_split import fold_count, locus_groups  # noqa: E402

DATA = Path(os.environ.get("BERTRBP_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="1_PARCLIP_AGO1234_hg19")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "group_folds_speed.md")
    args = parser.parse_args()
    from sklearn.model_selection import StratifiedGroupKFold

    records = list(iter_records(DATA / "rbp31" / args.experiment / "train.fa.gz"))
    labels = np.array([r.label for r in records])
    groups = np.asarray(locus_groups([r.id for r in records], [len(r.seq) for r in records]))
    folds = fold_count(0.1)  # finetune's default --val-fraction
    started = time.perf_counter()
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=args.seed)
    theirs = next(splitter.split(np.zeros(len(labels)), labels, groups))[1]
    middle = time.perf_counter()
    ours = first_group_fold(labels, groups, folds, args.seed)
    ended = time.perf_counter()
    same = np.array_equal(ours, theirs)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        "# Validation split by locus: bertrbp.group_folds against scikit-learn",
        "",
        f"`python bench/group_folds_speed.py --experiment {args.experiment} --seed {args.seed}`; "
        f"{len(labels):,} sites in {len(np.unique(groups)):,} loci, {folds} folds; load average {load}.",
        "",
        "| | seconds | same rows |",
        "|---|---:|---|",
        f"| scikit-learn StratifiedGroupKFold | {middle - started:.2f} | |",
        f"| bertrbp.group_folds | {ended - middle:.2f} | {'yes' if same else 'NO'} |",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
