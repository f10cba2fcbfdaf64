"""Benchmark the folding engines on 101-nt CLIP sites: speed per core and MEA agreement.

Each engine folds the same sequences in one process (one core), so sequences/second is per core; CPU-time
throughput is reported beside wall-clock throughput because the CPUs may be shared with other jobs.
Agreement is the fraction of sequences whose MEA structures (and element strings) are identical.

    python bench/bench_fold.py              # 500 real eCLIP sites from ../shared/data/eclip
    python bench/bench_fold.py --smoke      # a few sequences, for CI (random RNA when the data is absent)
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

from bertrbp.fold.elements import element_string  # noqa: E402
from bertrbp.fold.engines import ENGINES, FoldOptions, fold_sequence  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "eclip"


def real_sites(data: Path, n: int, seed: int) -> list[str]:
    """``n`` 101-nt sites drawn evenly from every eCLIP file (bound and unbound alike)."""
    files = sorted(data.glob("*.tsv.gz"))
    rng = random.Random(seed)
    per_file = -(-n // len(files))
    sites: list[str] = []
    for path in files:
        with gzip.open(path, "rt") as handle:
            seqs = [line.split("\t")[0] for line in handle if line.strip()]
        sites += rng.sample([s for s in seqs if len(s) == 101], per_file)
    rng.shuffle(sites)
    return sites[:n]


def random_sites(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGT") for _ in range(101)) for _ in range(n)]


def run_engine(engine: str, seqs: list[str], gamma: float, beam: int) -> tuple[list[str], float, float]:
    """MEA structures, wall seconds and CPU seconds for one engine in this process."""
    options = FoldOptions(engine, gamma=gamma, beam_size=beam).check()
    fold_sequence(seqs[0], options)  # import and warm up outside the timing
    wall, cpu = time.perf_counter(), time.process_time()
    structures = [fold_sequence(s, options).structure for s in seqs]
    return structures, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="sequences to fold (default 500)")
    parser.add_argument("--smoke", action="store_true", help="20 sequences, random when the data is absent")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of eCLIP *.tsv.gz files")
    parser.add_argument("--gamma", type=float, default=3.0)
    parser.add_argument("--beam-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n = 20 if args.smoke else args.n
    if any(args.data.glob("*.tsv.gz")):
        seqs, source = real_sites(args.data, n, args.seed), f"real eCLIP sites from {args.data}"
    else:
        seqs, source = random_sites(n, args.seed), "random 101-nt RNA (eCLIP data not found)"

    results = {engine: run_engine(engine, seqs, args.gamma, args.beam_size) for engine in ENGINES}
    print(f"{len(seqs)} sequences ({source}), gamma {args.gamma}, LinearPartition beam {args.beam_size}, one process")
    print()
    print("| engine | wall s | seq/s per core (wall) | seq/s per core (CPU time) |")
    print("|---|---:|---:|---:|")
    for engine, (_, wall, cpu) in results.items():
        print(f"| {engine} | {wall:.2f} | {len(seqs) / wall:.1f} | {len(seqs) / max(cpu, 1e-9):.1f} |")
    vienna, linear = results["vienna"][0], results["linearpartition"][0]
    same = sum(a == b for a, b in zip(vienna, linear))
    same_elements = sum(element_string(a) == element_string(b) for a, b in zip(vienna, linear))
    same_nt = sum(x == y for a, b in zip(vienna, linear) for x, y in zip(a, b))
    total_nt = sum(len(a) for a in vienna)
    print()
    print("| agreement (vienna vs linearpartition) | fraction |")
    print("|---|---:|")
    print(f"| identical MEA structures | {same / len(seqs):.3f} ({same}/{len(seqs)}) |")
    print(f"| identical element strings | {same_elements / len(seqs):.3f} |")
    print(f"| identical dot-bracket characters | {same_nt / total_nt:.4f} |")


if __name__ == "__main__":
    main()
