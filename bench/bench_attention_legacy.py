"""The previous attention-stats (before issue 16) against the same eager forward pass, for the record.

Runs the old package from a source tree extracted from git, in this process, side by side with
``model(..., output_attentions=True)`` on the same batches (same data and labels as bench_attention.py):

    git archive 1182f79 bin | tar -x -C /tmp/old_tree
    python bench/bench_attention_legacy.py --tree /tmp/old_tree --preset small --n 256
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, required=True, help="folder holding the old bin/ (git archive)")
    parser.add_argument("--commit", default="1182f79", help="the commit the tree was extracted from (recorded)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "attention_cpu_legacy_small.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.tree / "bin"))
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    import numpy as np
    import torch

    # Imported after the old package: bench_attention puts this repository's bin/ on sys.path.
    from bench_attention import sites, uptime  # data and load reporting shared with the main bench
    from bertrbp.attention.analysis import Inputs, Settings, analyse
    from bertrbp.attention.engine import open_model
    from bertrbp.model import load_classifier

    assert str(args.tree) in sys.modules["bertrbp"].__file__, "the old tree was not imported"
    torch.set_num_threads(1)
    before = uptime()
    seqs, source = sites(args.n, 0)
    rng = np.random.default_rng(0)
    inputs = Inputs(
        [f"s{i}" for i in range(len(seqs))],
        seqs,
        ["5utr", "3utr", "exon", "intron", "cds"],
        rng.integers(0, 2, (len(seqs), 5)).astype(np.uint8),
        [f"p{i}" for i in range(8)],
        [rng.integers(0, 2, (8, len(s) - 2)).astype(np.uint8) for s in seqs],
    )
    run = open_model(args.preset, torch.device("cpu"))
    eager, tokenizer, _ = load_classifier(args.preset, attention="eager", seed=0)
    eager.eval()
    batches = [tokenizer.encode_batch(seqs[i : i + 32], 512) for i in range(0, len(seqs), 32)]

    def eager_maps():
        with torch.inference_mode():
            for ids, mask in batches:
                eager(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_attentions=True)

    def legacy_analyse():
        analyse(run, inputs, Settings(batch_size=32))

    eager_maps()
    times: dict[str, list[tuple[float, float]]] = {"eager_maps": [], "legacy_analyse": []}
    for _ in range(args.repeats):
        for name, fn in (("eager_maps", eager_maps), ("legacy_analyse", legacy_analyse)):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    report = {
        "commit": args.commit,
        "preset": args.preset,
        "n_sequences": len(seqs),
        "data": source,
        "threads": 1,
        "uptime_before": before,
        "uptime_after": uptime(),
        "median_wall_s": {k: round(v[0], 4) for k, v in med.items()},
        "median_cpu_s": {k: round(v[1], 4) for k, v in med.items()},
        "ratio_to_eager_wall": round(med["eager_maps"][0] / med["legacy_analyse"][0], 3),
        "ratio_to_eager_cpu": round(med["eager_maps"][1] / med["legacy_analyse"][1], 3),
    }
    print(json.dumps(report, indent=2))
    args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
