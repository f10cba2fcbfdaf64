"""Benchmark folding on 101-nt CLIP sites: the engines against each other, and the tool against its bare engine.

``engines`` (the default): each engine folds the same sequences in one process (one core), so sequences/second is
per core; CPU-time throughput is reported beside wall-clock throughput because the CPUs may be shared with other
jobs. Agreement is the fraction of sequences whose MEA structures (and element strings) are identical.

``tool``: the whole ``bertrbp-fold`` command (a fresh process: start-up, reading, folding in its worker processes,
labels, writing) against ViennaRNA's bare partition function + MEA loop (``fold_compound``, ``pf``, ``MEA``; the
loop alone is timed, its start-up and reading are not) on the same FASTA, with the same settings, in one run:
each repeat runs the bare loop and every tool configuration back to back, and the ratio is taken per repeat, so
a change in the machine's load hits both sides. CPU time (the tool's includes its worker processes) is the fair
measure on a shared machine; wall time and the 1-minute load average (``/proc/loadavg``) are recorded beside it.
The tool's structures are checked against the bare loop's. ``--compare-tree`` adds an older checkout's tool.

    python bench/bench_fold.py              # engines: 500 real eCLIP sites from ../shared/data/eclip
    python bench/bench_fold.py --smoke      # a few sequences, for CI (random RNA when the data is absent)
    python bench/bench_fold.py tool --n 1000 --repeats 3 --json bench/results/fold_tool_cpu.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
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


# The bare engine: ViennaRNA's own calls, nothing else, timed around the loop only (run in a fresh process).
BARE_LOOP = """
import json, sys, time
import RNA
seqs = [line.strip().upper().replace("T", "U") for line in open(sys.argv[1]) if not line.startswith(">")]
gamma = float(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
structures = []
for seq in seqs:
    compound = RNA.fold_compound(seq)
    compound.pf()
    structures.append(compound.MEA(gamma)[0])
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
json.dump({"wall_s": wall, "cpu_s": cpu, "structures": structures}, sys.stdout)
"""

# Tool configurations: (name, extra arguments). OUT is replaced by a file in the run's scratch folder.
TOOL_CONFIGS = {
    "default, 1 worker": ["--threads", "1"],
    "pipeline (--token-labels), all CPUs": ["--token-labels", "OUT/t.tsv", "--threads", "0"],
    "all outputs (--token-labels --bpp --energy), 1 worker": [
        "--token-labels",
        "OUT/t.tsv",
        "--bpp",
        "OUT/u.tsv",
        "--energy",
        "--threads",
        "1",
    ],
}


def load1() -> float:
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


def _timed(command: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command``; wall seconds and CPU seconds of it and everything it waited for (its worker processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, wall, cpu


def run_bare(fasta: Path, gamma: float) -> dict:
    done, process_wall, process_cpu = _timed(
        [sys.executable, "-c", BARE_LOOP, str(fasta), str(gamma)], dict(os.environ)
    )
    result = json.loads(done.stdout)
    result.update(process_wall_s=process_wall, process_cpu_s=process_cpu)
    return result


def run_bare_parallel(parts: list[Path], gamma: float) -> dict:
    """The bare loop as ``len(parts)`` processes at once (one part each): the per-core reference for a tool run
    on all CPUs, since cores that fold side by side are each a little slower than one folding alone."""
    wall = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", BARE_LOOP, str(part), str(gamma)], stdout=subprocess.PIPE, text=True)
        for part in parts
    ]
    results = [json.loads(proc.communicate()[0]) for proc in procs]
    if any(proc.returncode for proc in procs):
        raise SystemExit("the parallel bare loop failed")
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": sum(r["cpu_s"] for r in results),
        "structures": [s for r in results for s in r["structures"]],
        "processes": len(parts),
    }


def run_tool(tree: Path, fasta: Path, scratch: Path, extra: list[str], gamma: float) -> dict:
    """The whole ``bertrbp-fold`` command from ``tree``/bin, as a fresh process; its structures column."""
    env = dict(os.environ, PYTHONPATH=str(tree / "bin"))
    args = [a.replace("OUT", str(scratch)) for a in extra]
    code = "import sys; from bertrbp.cli.fold import main; sys.argv[0] = 'bertrbp-fold'; main()"
    out = scratch / "s.tsv"
    _, wall, cpu = _timed([sys.executable, "-c", code, str(fasta), "-o", str(out), "--gamma", str(gamma), *args], env)
    with open(out) as handle:
        next(handle)
        structures = [line.split("\t")[2] for line in handle]
    return {"wall_s": wall, "cpu_s": cpu, "structures": structures}


def tool_vs_bare(seqs: list[str], repeats: int, gamma: float, trees: dict[str, Path]) -> dict:
    """Interleaved repeats of the bare loop and every (tree, configuration) of the tool; per-repeat ratios."""
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_fold_") as tmp:
        fasta = Path(tmp) / "sites.fa"
        fasta.write_text("".join(f">site{i}\n{s}\n" for i, s in enumerate(seqs)))
        one = Path(tmp) / "one.fa"
        one.write_text(f">site0\n{seqs[0]}\n")
        cpus = len(os.sched_getaffinity(0))
        parts = [Path(tmp) / f"part{i}.fa" for i in range(cpus)]
        for i, part in enumerate(parts):  # contiguous parts, so their structures concatenate in input order
            start, stop = i * len(seqs) // cpus, (i + 1) * len(seqs) // cpus
            part.write_text("".join(f">site{j}\n{seqs[j]}\n" for j in range(start, stop)))
        for repeat in range(repeats):
            row = {"repeat": repeat, "load1_before": load1()}
            bare = run_bare(fasta, gamma)
            row["bare"] = {k: v for k, v in bare.items() if k != "structures"}
            bare_all = run_bare_parallel(parts, gamma)
            assert bare_all["structures"] == bare["structures"]
            row["bare, all CPUs"] = {k: v for k, v in bare_all.items() if k != "structures"}
            for tree_index, (tree_name, tree) in enumerate(trees.items()):
                for config_index, (config, extra) in enumerate(TOOL_CONFIGS.items()):
                    scratch = Path(tmp) / f"r{repeat}_t{tree_index}_c{config_index}"
                    scratch.mkdir()
                    tool = run_tool(tree, fasta, scratch, extra, gamma)
                    entry = {k: v for k, v in tool.items() if k != "structures"}
                    entry["structures_match_bare"] = tool["structures"] == bare["structures"]
                    entry["cpu_ratio"] = bare["cpu_s"] / tool["cpu_s"]
                    entry["wall_ratio"] = bare["wall_s"] / tool["wall_s"]
                    if "--threads" in extra and extra[extra.index("--threads") + 1] == "0":
                        # all CPUs: also against the bare loop on as many processes at once
                        entry["cpu_ratio_vs_bare_all_cpus"] = bare_all["cpu_s"] / tool["cpu_s"]
                        entry["wall_ratio_vs_bare_all_cpus"] = bare_all["wall_s"] / tool["wall_s"]
                    row[f"{tree_name}: {config}"] = entry
                scratch = Path(tmp) / f"r{repeat}_t{tree_index}_startup"
                scratch.mkdir()
                startup = run_tool(tree, one, scratch, TOOL_CONFIGS["default, 1 worker"], gamma)
                row[f"start-up {tree_name}"] = {"wall_s": startup["wall_s"], "cpu_s": startup["cpu_s"]}
            row["load1_after"] = load1()
            runs.append(row)
            print(
                f"repeat {repeat + 1}/{repeats} done, load {row['load1_before']:.1f} -> {row['load1_after']:.1f}",
                file=sys.stderr,
                flush=True,
            )
    return {"runs": runs}


def tool_table(result: dict, n: int) -> str:
    runs = result["runs"]
    names = [key for key in runs[0] if ":" in key and not key.startswith("start-up ")]
    median = statistics.median
    bare_cpu = median(r["bare"]["cpu_s"] for r in runs)
    bare_wall = median(r["bare"]["wall_s"] for r in runs)
    lines = [
        "| what | seq per CPU-s (median) | seq per wall-s (median) | tool / bare, CPU (per repeat) | "
        "tool / bare, wall (per repeat) | structures = bare |",
        "|---|---:|---:|---|---|---|",
        f"| ViennaRNA bare loop (fold_compound, pf, MEA) | {n / bare_cpu:.1f} | {n / bare_wall:.1f} | 1 | 1 | - |",
    ]
    for name in names:
        entries = [r[name] for r in runs]
        cpu_ratios = ", ".join(f"{e['cpu_ratio']:.3f}" for e in entries)
        wall_ratios = ", ".join(f"{e['wall_ratio']:.3f}" for e in entries)
        lines.append(
            f"| {name} | {n / median(e['cpu_s'] for e in entries):.1f} | {n / median(e['wall_s'] for e in entries):.1f}"
            f" | {cpu_ratios} (median {median(e['cpu_ratio'] for e in entries):.3f}) | {wall_ratios} "
            f"(median {median(e['wall_ratio'] for e in entries):.3f}) | {all(e['structures_match_bare'] for e in entries)} |"
        )
    bare_all = [r["bare, all CPUs"] for r in runs]
    lines.insert(
        3,
        (
            f"| ViennaRNA bare loop, {bare_all[0]['processes']} processes at once | "
            f"{n / median(b['cpu_s'] for b in bare_all):.1f} | {n / median(b['wall_s'] for b in bare_all):.1f} | | | - |"
        ),
    )
    for name in names:
        entries = [r[name] for r in runs]
        if "cpu_ratio_vs_bare_all_cpus" in entries[0]:
            cpu = ", ".join(f"{e['cpu_ratio_vs_bare_all_cpus']:.3f}" for e in entries)
            wall = ", ".join(f"{e['wall_ratio_vs_bare_all_cpus']:.3f}" for e in entries)
            lines.append(
                f"| {name}, against the bare loop on as many processes | | | {cpu} (median "
                f"{median(e['cpu_ratio_vs_bare_all_cpus'] for e in entries):.3f}) | {wall} (median "
                f"{median(e['wall_ratio_vs_bare_all_cpus'] for e in entries):.3f}) | |"
            )
    for name in [key for key in runs[0] if key.startswith("start-up ")]:
        cpu = ", ".join(f"{r[name]['cpu_s']:.2f}" for r in runs)
        lines.append(f"| {name}: the tool folding 1 sequence, CPU s per repeat | {cpu} | | | | |")
    loads = ", ".join(f"{r['load1_before']:.1f}-{r['load1_after']:.1f}" for r in runs)
    lines.append("")
    lines.append(f"1-minute load average per repeat (before-after): {loads}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "what",
        nargs="?",
        choices=("engines", "tool"),
        default="engines",
        help="engines: ViennaRNA vs LinearPartition; tool: bertrbp-fold vs its bare engine",
    )
    parser.add_argument("--n", type=int, default=500, help="sequences to fold (default 500)")
    parser.add_argument("--smoke", action="store_true", help="20 sequences, random when the data is absent")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of eCLIP *.tsv.gz files")
    parser.add_argument("--gamma", type=float, default=3.0)
    parser.add_argument("--beam-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="tool: interleaved repeats (default 3)")
    parser.add_argument("--compare-tree", type=Path, help="tool: also time the tool of this checkout (its bin/)")
    parser.add_argument("--json", type=Path, help="tool: write the measurements and table here")
    args = parser.parse_args(argv)

    n = 20 if args.smoke else args.n
    if any(args.data.glob("*.tsv.gz")):
        seqs, source = real_sites(args.data, n, args.seed), f"real eCLIP sites from {args.data}"
    else:
        seqs, source = random_sites(n, args.seed), "random 101-nt RNA (eCLIP data not found)"

    if args.what == "tool":
        trees = {"this tree": REPO}
        if args.compare_tree:
            trees[f"tree {args.compare_tree}"] = args.compare_tree.resolve()
        repeats = 1 if args.smoke else args.repeats
        result = tool_vs_bare(seqs, repeats, args.gamma, trees)
        header = (
            f"{len(seqs)} sequences ({source}), gamma {args.gamma}, {repeats} interleaved repeats, "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%dT%H:%M:%S')}"
        )
        table = tool_table(result, len(seqs))
        print(header + "\n\n" + table)
        if args.json:
            result.update(header=header, markdown=table, n=len(seqs), command=" ".join(sys.argv))
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        return

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
