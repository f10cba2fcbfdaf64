"""Benchmark attention-stats against an eager forward pass that returns the same attention maps, side by side.

Per model size, on the same batches of real 101-nt sites (../shared/data/tial1, random sequences when absent),
in one process, interleaved over ``--repeats`` rounds (median reported), each timed in wall and CPU seconds:

- ``eager_maps``: ``model(..., output_attentions=True)`` with eager attention: the forward pass that hands
  back every layer's ``[B, heads, L, L]`` maps (what any analysis of the maps must at least pay);
- ``stats_pass``: attention-stats' pass 1 (``collect_stats``): forward with the on-the-fly reduction, a_m and r
  of every head, and the streaming sums for sequence and token labels;
- ``analyse``: the whole analysis (pass 1, pass 2 over the chosen heads' layers, binning);
- ``v1_reduce``: the previous engine (maps returned, then reduced layer by layer in float32), for reference.

The ratio reported is eager_maps time / other time (1.0 = as fast as the forward pass; the goal is >= 0.8 for
the per-sequence work). Machine load (``uptime``) is recorded before and after: the CPUs may be shared.

    python bench/bench_attention.py                  # small and base presets, 256 sequences, 1 thread
    python bench/bench_attention.py --smoke          # tiny, a few sequences (CI)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

DATA = REPO.parent / "shared" / "data" / "tial1" / "dev.tsv.gz"
RESULTS = REPO / "bench" / "results"


def sites(n: int, seed: int) -> tuple[list[str], str]:
    """``n`` 101-nt sequences: the BERT-RBP authors' TIAL1 split when present, else random."""
    if DATA.is_file():
        with gzip.open(DATA, "rt") as handle:
            next(handle)
            seqs = []
            for line in handle:
                kmers = line.split("\t")[0].split()
                seqs.append(kmers[0] + "".join(k[-1] for k in kmers[1:]))
                if len(seqs) == n:
                    break
        return seqs, str(DATA.relative_to(REPO.parent))
    rng = random.Random(seed)
    return ["".join(rng.choice("ACGT") for _ in range(101)) for _ in range(n)], "random 101-nt sequences"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unavailable"


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_preset(preset: str, seqs: list[str], batch_size: int, repeats: int, n_token_props: int) -> dict:
    import numpy as np
    import torch

    from bertrbp.attention.analysis import Inputs, Settings, analyse, collect_stats
    from bertrbp.attention.engine import open_model
    from bertrbp.attention.formulas import cls_attention, token_attention
    from bertrbp.model import load_classifier

    rng = np.random.default_rng(0)
    run = open_model(preset, torch.device("cpu"))
    eager, tokenizer, _ = load_classifier(preset, attention="eager", seed=0)
    eager.eval()
    inputs = Inputs(
        [f"s{i}" for i in range(len(seqs))],
        seqs,
        ["5utr", "3utr", "exon", "intron", "cds"],
        rng.integers(0, 2, (len(seqs), 5)).astype(np.uint8),
        [f"p{i}" for i in range(n_token_props)],
        [rng.integers(0, 2, (n_token_props, len(s) - 2)).astype(np.uint8) for s in seqs],
    )
    settings = Settings(batch_size=batch_size)
    batches = [tokenizer.encode_batch(seqs[i : i + batch_size], 512) for i in range(0, len(seqs), batch_size)]

    def eager_maps():
        with torch.inference_mode():
            for ids, mask in batches:
                out = eager(
                    input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_attentions=True
                )
                assert len(out.attentions) == run.n_layers

    def v1_reduce():
        with torch.inference_mode():
            for ids, mask in batches:
                maskf = torch.from_numpy(mask).float()
                out = eager(
                    input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_attentions=True
                )
                a = [cls_attention(att.float()[:, None], maskf)[:, 0] for att in out.attentions]
                r = [token_attention(att.float()[:, None], maskf)[:, 0] for att in out.attentions]
                torch.stack(a, 1).double().numpy(), torch.stack(r, 1).double().numpy()

    def stats_pass():
        collect_stats(run, inputs, settings)

    def whole():
        analyse(run, inputs, settings)

    tasks = {"eager_maps": eager_maps, "stats_pass": stats_pass, "analyse": whole, "v1_reduce": v1_reduce}
    for fn in tasks.values():  # warm-up (allocator, lazy imports) outside the timing
        if fn is not whole:
            fn()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, fn in tasks.items():
            times[name].append(timed(fn))
    med = {
        name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts)) for name, ts in times.items()
    }
    base_wall, base_cpu = med["eager_maps"]
    rows = {}
    for name, (wall, cpu) in med.items():
        rows[name] = {
            "wall_s": round(wall, 6),
            "cpu_s": round(cpu, 6),
            "sequences_per_wall_s": round(len(seqs) / wall, 2),
            "ratio_to_eager_wall": round(base_wall / wall, 3),
            "ratio_to_eager_cpu": round(base_cpu / cpu, 3),
            "all_wall_s": [round(w, 4) for w, _ in times[name]],
        }
    return {
        "preset": preset,
        "layers": run.n_layers,
        "heads": run.n_heads,
        "n_sequences": len(seqs),
        "batch_size": batch_size,
        "token_properties": n_token_props,
        "sequence_properties": 5,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="small,base", help="model sizes (default small,base)")
    parser.add_argument("--n", type=int, default=256, help="sequences (default 256)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--token-properties", type=int, default=8, help="token labels (6 structure + boundaries)")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 16 sequences, 1 repeat")
    parser.add_argument("--output", type=Path, default=None, help="JSON results (default bench/results/...)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.smoke:
        args.presets, args.n, args.repeats, args.batch_size = "tiny", 16, 1, 8
    seqs, source = sites(args.n, 0)
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "uptime_before": uptime(),
        },
        "data": source,
        "runs": [],
    }
    for preset in args.presets.split(","):
        result = bench_preset(preset, seqs, args.batch_size, args.repeats, args.token_properties)
        report["runs"].append(result)
        for name, row in result["results"].items():
            print(
                f"{preset:6s} {name:11s} wall {row['wall_s']:8.3f} s  cpu {row['cpu_s']:8.3f} s  "
                f"{row['sequences_per_wall_s']:8.1f} seq/s  vs eager maps: wall x{row['ratio_to_eager_wall']:.3f} "
                f"cpu x{row['ratio_to_eager_cpu']:.3f}",
                flush=True,
            )
    report["machine"]["uptime_after"] = uptime()
    print("load before:", report["machine"]["uptime_before"])
    print("load after: ", report["machine"]["uptime_after"])
    output = args.output or RESULTS / ("attention_smoke.json" if args.smoke else "attention_cpu.json")
    if not args.smoke or args.output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n")
        print("wrote", output)


if __name__ == "__main__":
    main()
