"""An outer validation carve for recipe studies: a share of an experiment's TRAINING sites (by locus) becomes the
study's ``test.fa.gz``, the rest its ``train.fa.gz``, so two recipes can be compared with bench/accuracy.py
(``--data OUT``) without reading the official test split, which stays for the single final scoring.

    python bench/outer_carve.py --out /tmp/outer 18_ICLIP_hnRNPL_Hela_group_3975_... 15_PARCLIP_IGF2BP123_hg19

Sites over one locus (overlapping windows, same chromosome and strand) stay on one side, stratified by label, as
in bertrbp-finetune's ``--val-split locus``; ids without coordinates are split at random.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from bertrbp.io.sequences import iter_records  # noqa: E402
from bertrbp.validation_split import _grouped, locus_groups  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def carve(train: Path, out: Path, fraction: float, seed: int) -> tuple[int, int]:
    """Write out/train.fa.gz and out/test.fa.gz from ``train``; returns their sizes."""
    records = list(iter_records(train))
    labels = np.array([r.label for r in records])
    groups = locus_groups([r.id for r in records], [len(r.seq) for r in records])
    kept, held = _grouped(labels, np.asarray(groups if groups is not None else range(len(records))), fraction, seed)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", kept), ("test", held)):
        with gzip.open(out / f"{name}.fa.gz", "wt") as handle:
            for i in sorted(rows):
                handle.write(f"> {records[i].id}; class:{records[i].label}\n{records[i].seq}\n")
    return len(kept), len(held)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+")
    parser.add_argument("--suite", default="rbp31")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True, help="the study's data folder (OUT/<suite>/<experiment>)")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7, help="not the runs' --seed, so the carve is not their split")
    args = parser.parse_args(argv)
    for name in args.experiments:
        kept, held = carve(
            args.data / args.suite / name / "train.fa.gz", args.out / args.suite / name, args.fraction, args.seed
        )
        print(f"{name}\t{kept} train\t{held} outer validation", flush=True)


if __name__ == "__main__":
    main()
