"""Speed and cost benchmark on CPU: throughput (sequences/s) and peak memory of every tool on 101-nt inputs.

For each model size (cnn, tiny, mini, small; base as a forward-pass estimate only) it measures, each in its own
fresh process (so the peak resident memory, ``ru_maxrss``, belongs to that measurement alone):

- raw model forward (inference mode, batch 64) and raw training step (forward + backward + AdamW, batch 32) on
  pre-tokenized tensors: the hardware/model limit the tools are compared against;
- ``predict``: read a FASTA file, tokenize, score, write the predictions TSV (bertrbp.predict);
- ``finetune``: the whole fine-tuning job (read, tokenize, carve 10 % validation, 1 epoch, validate, save;
  bertrbp.finetune.finetune), and its extrapolation to one RBP at the paper's 19,200 sequences x 3 epochs;
- ``attention-stats``: the tool's command line (eager attention, attention maps) against a raw eager forward that
  returns attention maps;
- ``tokenize``: reading + k-mer tokenizing + writing a tokens .npz (bertrbp.io.tokens);
- ``fold``: bench_fold's engines (ViennaRNA, LinearPartition), one process.

FLOPs are counted analytically (BERT forward per sequence of T tokens: L * (8 T H^2 + 4 T H I + 4 T^2 H) + 2 H^2,
training = 3 x forward); achieved FLOP/s is compared with a 2048 x 2048 float32 matrix multiply measured in the
same run and the same number of threads. The CPUs may be shared: the 1-minute load average is recorded with every
measurement.

    python bench/speed.py                 # full CPU run (~10-20 min on 2 shared cores); JSON to bench/results/
    python bench/speed.py --smoke         # seconds: tiny sizes, for CI
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))
sys.path.insert(0, str(REPO / "bench"))

DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
SEQ_LEN = 101
THREADS = 1  # the worker's torch threads; tools get the same (set by worker_main)
PAPER_TRAIN, PAPER_EPOCHS = 19_200, 3

# sequences per measurement: (forward/predict, train step and trainer loop, finetune tool, attention-stats)
FULL_N = {
    "cnn": (2048, 1024, 1024, 0),
    "tiny": (1024, 320, 352, 256),
    "mini": (512, 160, 192, 128),
    "small": (256, 96, 128, 64),
    "base": (64, 0, 0, 0),
}
SMOKE_N = {"cnn": (32, 32, 64, 0), "tiny": (32, 32, 64, 16)}


# ---------------------------------------------------------------- helpers shared by workers


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def sequences(n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """``n`` (id, 101-nt sequence, label): real RBP-31 sites when the data is present, else random."""
    import random

    rng = random.Random(seed)
    files = sorted(DATA.glob("rbp31/*/test.fa.gz"))
    if files:
        from bertrbp.io.sequences import iter_records

        out = []
        for record in iter_records(files[0]):
            if len(record.seq) == SEQ_LEN:
                out.append((f"s{len(out)}", record.seq, record.label))
            if len(out) >= max(n, 2000):
                break
        rng.shuffle(out)
        while len(out) < n:
            out += out
        return [(f"s{i}", s, label) for i, (_, s, label) in enumerate(out[:n])]
    return [(f"s{i}", "".join(rng.choice("ACGT") for _ in range(SEQ_LEN)), i % 2) for i in range(n)]


def write_fasta(seqs: list[tuple[str, str, int]], path: Path) -> Path:
    path.write_text("".join(f">{i} class:{label}\n{s}\n" for i, s, label in seqs))
    return path


def bert_forward_flops(config, tokens: int) -> float:
    """Multiply-adds x 2 of one BERT forward over ``tokens`` positions (projections, FFN, attention, pooler)."""
    layers, hidden, inner, t = config.num_hidden_layers, config.hidden_size, config.intermediate_size, tokens
    return (
        layers * (8 * t * hidden * hidden + 4 * t * hidden * inner + 4 * t * t * hidden)
        + 2 * hidden * hidden
        + 2 * hidden * config.num_labels
    )


def cnn_forward_flops(config, tokens: int) -> float:
    return (
        2 * config.embedding_dim * config.kernel_size * config.filters * tokens
        + 2 * config.filters * config.hidden_size
    )


def forward_flops(model, tokens: int) -> float:
    if getattr(model.config, "model_type", "") == "bert":
        return bert_forward_flops(model.config, tokens)
    return cnn_forward_flops(model.config, tokens)


def build(size: str):
    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(size, seed=0)
    return model, tokenizer


def token_batch(tokenizer, seqs, model):
    import torch

    ids, mask = tokenizer.encode_batch([s for _, s, _ in seqs], model.config.max_position_embeddings)
    return torch.from_numpy(ids), torch.from_numpy(mask)


# ---------------------------------------------------------------- workers (one per process)


def w_matmul(size: str, n: int) -> dict:
    import torch

    dim = 2048 if n > 64 else 512
    a, b = torch.randn(dim, dim), torch.randn(dim, dim)
    torch.mm(a, b)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    best = sorted(times)[len(times) // 2]
    return {"flops_s": 2 * dim**3 / best, "dim": dim}


def w_forward(size: str, n: int, attention: str = "sdpa", maps: bool = False) -> dict:
    import torch

    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(size, seed=0, attention=attention)
    model.eval()
    ids, mask = token_batch(tokenizer, sequences(n), model)
    batch = 64
    with torch.inference_mode():
        model(input_ids=ids[:batch], attention_mask=mask[:batch], output_attentions=maps)  # warm-up
        start = time.perf_counter()
        for i in range(0, n, batch):
            out = model(input_ids=ids[i : i + batch], attention_mask=mask[i : i + batch], output_attentions=maps)
            if maps:
                torch.stack(out.attentions).sum()  # touch every map, as the analysis does
        wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "n": n,
        "seq_s": n / wall,
        "flops_seq": forward_flops(model, ids.shape[1]),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def w_forward_maps(size: str, n: int) -> dict:
    return w_forward(size, n, attention="eager", maps=True)


def w_trainstep(size: str, n: int) -> dict:
    import torch

    model, tokenizer = build(size)
    model.train()
    ids, mask = token_batch(tokenizer, sequences(n), model)
    labels = torch.tensor([label for _, _, label in sequences(n)], dtype=torch.long)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = 32

    def step(sl):
        loss = model(input_ids=ids[sl], attention_mask=mask[sl], labels=labels[sl]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(slice(0, batch))  # warm-up
    start = time.perf_counter()
    for i in range(0, n, batch):
        step(slice(i, i + batch))
    wall = time.perf_counter() - start
    return {"wall_s": wall, "n": n, "seq_s": n / wall, "flops_seq": 3 * forward_flops(model, ids.shape[1])}


def w_trainer(size: str, n: int) -> dict:
    """The shared training loop (bertrbp.training.train) on pre-tokenized arrays: finetune's per-step path."""
    import numpy as np

    from bertrbp.training import ArrayBatches, TrainConfig, train

    model, tokenizer = build(size)
    seqs = sequences(n)
    ids, mask = tokenizer.encode_batch([s for _, s, _ in seqs], model.config.max_position_embeddings)
    labels = np.array([label for _, _, label in seqs], dtype=np.int64)
    config = TrainConfig(lr=1e-4, epochs=1, batch_size=32, seed=0, threads=THREADS, log_every=10)
    start = time.perf_counter()
    train(model, ArrayBatches(input_ids=ids, attention_mask=mask, labels=labels), config)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "n": n, "seq_s": n / wall}


def w_predict(size: str, n: int) -> dict:
    from bertrbp.device import resolve_device
    from bertrbp.io.sequences import iter_records
    from bertrbp.model import save_checkpoint
    from bertrbp.predict import predict_records, write_predictions

    model, tokenizer = build(size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_checkpoint(model, tokenizer, tmp / "model")
        fasta = write_fasta(sequences(n), tmp / "in.fa")
        from bertrbp.model import load_classifier

        start = time.perf_counter()
        model, tokenizer, _ = load_classifier(str(tmp / "model"))
        model.eval()
        loaded = time.perf_counter()
        count = write_predictions(
            predict_records(model, tokenizer, iter_records(fasta), resolve_device("cpu"), batch_size=64),
            tmp / "predictions.tsv",
        )
        wall = time.perf_counter() - loaded
    return {"wall_s": wall, "load_s": loaded - start, "n": count, "seq_s": count / wall}


def w_finetune(size: str, n: int) -> dict:
    import json as _json

    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.training import TrainConfig

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fasta = write_fasta(sequences(n), tmp / "train.fa")
        config = TrainConfig(epochs=1, batch_size=32, seed=0, threads=THREADS, log_every=10)
        start = time.perf_counter()
        finetune(FinetuneOptions(train=[fasta], output_dir=tmp / "out", model=size, lr=1e-4, train_config=config))
        wall = time.perf_counter() - start
        card = _json.loads((tmp / "out" / "model_card.json").read_text())
    n_train = card["data"]["counts"]["train"]["total"]
    return {"wall_s": wall, "n": n_train, "seq_s": n_train / wall, "steps": card["optimizer_steps"]}


def w_attention(size: str, n: int) -> dict:
    import importlib
    import random

    from bertrbp.model import save_checkpoint

    model, tokenizer = build(size)
    seqs = sequences(n)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_checkpoint(model, tokenizer, tmp / "model")
        fasta = write_fasta(seqs, tmp / "in.fa")
        (tmp / "seq_labels.tsv").write_text("id\tprop\n" + "".join(f"{i}\t{rng.randint(0, 1)}\n" for i, _, _ in seqs))
        tokens = SEQ_LEN - 3 + 1
        (tmp / "tok_labels.tsv").write_text(
            "id\tboundary\n" + "".join(f"{i}\t{''.join(rng.choice('01') for _ in range(tokens))}\n" for i, _, _ in seqs)
        )
        app = importlib.import_module("bertrbp.cli.attention_stats").app
        args = [
            "--model",
            tmp / "model",
            "--sequences",
            fasta,
            "--output-dir",
            tmp / "out",
            "--sequence-labels",
            tmp / "seq_labels.tsv",
            "--token-labels",
            tmp / "tok_labels.tsv",
            "--no-figures",
            "--threads",
            THREADS,
        ]
        start = time.perf_counter()
        app(args=[str(a) for a in args], standalone_mode=False)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "n": n, "seq_s": n / wall}


def w_tokenize(size: str, n: int) -> dict:
    from bertrbp.io.sequences import iter_records
    from bertrbp.io.tokens import save_tokens, tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    tokenizer = KmerTokenizer(3)
    with tempfile.TemporaryDirectory() as tmp:
        fasta = write_fasta(sequences(n), Path(tmp) / "in.fa")
        start = time.perf_counter()
        save_tokens(tokenize_records(iter_records(fasta), tokenizer), Path(tmp) / "out.npz")
        wall = time.perf_counter() - start
    return {"wall_s": wall, "n": n, "seq_s": n / wall}


def w_fold(size: str, n: int) -> dict:
    import bench_fold

    seqs = [s for _, s, _ in sequences(n)]
    out = {}
    for engine in bench_fold.ENGINES:
        _, wall, cpu = bench_fold.run_engine(engine, seqs, 3.0, 100)
        out[engine] = {"wall_s": wall, "cpu_s": cpu, "seq_s": n / wall}
    return {"engines": out, "n": n}


WORKERS = {
    "matmul": w_matmul,
    "forward": w_forward,
    "forward_maps": w_forward_maps,
    "trainstep": w_trainstep,
    "trainer": w_trainer,
    "predict": w_predict,
    "finetune": w_finetune,
    "attention": w_attention,
    "tokenize": w_tokenize,
    "fold": w_fold,
}


def worker_main(task: str, size: str, n: int, threads: int) -> None:
    import logging

    global THREADS
    THREADS = threads
    logging.disable(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        import torch

        from bertrbp.device import set_threads

        set_threads(threads)
        torch.manual_seed(0)
    except ImportError:
        pass
    base_rss = peak_rss_mb()
    before = load1()
    result = WORKERS[task](size, n)
    result.update(
        task=task,
        size=size,
        peak_rss_mb=round(peak_rss_mb(), 1),
        rss_after_imports_mb=round(base_rss, 1),
        load1_before=before,
        load1_after=load1(),
    )
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- orchestration


def measure(task: str, size: str, n: int, threads: int, in_process: bool = False) -> dict:
    """Run one worker in a fresh process, so its peak memory is its own (``in_process``: here, for smoke runs)."""
    if in_process:
        import contextlib
        import io
        import logging

        buffer = io.StringIO()
        before = logging.root.manager.disable
        try:
            with contextlib.redirect_stdout(buffer):
                worker_main(task, size, n, threads)
        finally:  # the worker silences logging for its process; here that process is the caller's (a test's)
            logging.disable(before)
        result = json.loads(buffer.getvalue().strip().splitlines()[-1][len("RESULT ") :])
        print(f"  {task:12s} {size:6s} n={n:<5d} done", file=sys.stderr, flush=True)
        return result
    cmd = [sys.executable, __file__, "--worker", task, "--size", size, "--n", str(n), "--threads", str(threads)]
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{task} {size} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    print(
        f"  {task:12s} {size:6s} n={n:<5d} "
        + (f"{result['seq_s']:.1f} seq/s" if "seq_s" in result else "")
        + f"  peak {result['peak_rss_mb']:.0f} MB  load {result['load1_before']}",
        file=sys.stderr,
        flush=True,
    )
    return result


def hardware() -> dict:
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import torch

    return {
        "cpu": model,
        "cpus_available": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg(),
    }


def run_all(args) -> dict:
    sizes = SMOKE_N if args.smoke else FULL_N
    threads = args.threads or len(os.sched_getaffinity(0))
    out: dict = {"hardware": hardware(), "threads": threads, "smoke": args.smoke, "seq_len": SEQ_LEN, "sizes": {}}
    print(f"threads {threads}; measuring:", file=sys.stderr)

    def m(task: str, size: str, n: int, t: int = threads) -> dict:
        return measure(task, size, n, t, in_process=args.smoke)

    out["matmul"] = m("matmul", "-", 64 if args.smoke else 2048)
    out["tokenize"] = m("tokenize", "-", 500 if args.smoke else 20000)
    out["fold"] = m("fold", "-", 3 if args.smoke else 100, 1)
    for size, (n_fwd, n_train, n_ft, n_att) in sizes.items():
        if args.sizes and size not in args.sizes:
            continue
        r: dict = {"forward": m("forward", size, n_fwd)}
        if size != "base":
            r["predict"] = m("predict", size, n_fwd)
            r["trainstep"] = m("trainstep", size, n_train)
            r["trainer"] = m("trainer", size, n_train)
            r["finetune"] = m("finetune", size, n_ft)
        if n_att:
            r["forward_maps"] = m("forward_maps", size, n_att)
            r["attention"] = m("attention", size, n_att)
        out["sizes"][size] = r
    out["hardware"]["loadavg_end"] = os.getloadavg()
    return out


def tables(res: dict) -> str:
    """Markdown tables of one run."""
    hw, matmul = res["hardware"], res["matmul"]["flops_s"]
    load_all = [m["load1_before"] for s in res["sizes"].values() for m in s.values()]
    lines = [
        f"CPU: {hw['cpu']}, {res['threads']} threads ({hw['cpus_available']} CPUs available), torch {hw['torch']}, "
        f"{hw['date']}; 1-min load average during the run {min(load_all, default=0):.1f}-{max(load_all, default=0):.1f}.",
        f"Reference: {res['matmul']['dim']}x{res['matmul']['dim']} float32 matmul = {matmul / 1e9:.1f} GFLOP/s.",
        "",
        "| model | params | raw forward seq/s | predict seq/s | predict / raw | raw train-step seq/s | trainer loop seq/s "
        "(ms per step of 32) | trainer / raw | finetune job seq/s (n) | job fixed cost s | forward GFLOP/s (% of matmul) | train GFLOP/s "
        "(% of matmul) | per RBP 19,200 x 3 ep | peak MB predict / finetune |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in res["sizes"].items():
        fwd = r["forward"]
        gf = fwd["seq_s"] * fwd["flops_seq"] / 1e9
        cells = [size, f"{fwd['parameters'] / 1e6:.2f} M", f"{fwd['seq_s']:.1f}"]
        if "predict" in r:
            tr, lp, ft, pr = r["trainstep"], r["trainer"], r["finetune"], r["predict"]
            gt = tr["seq_s"] * tr["flops_seq"] / 1e9
            fixed = fixed_cost(ft, lp["seq_s"], fwd["seq_s"])
            per_rbp = per_rbp_seconds(fixed, lp["seq_s"], fwd["seq_s"])
            cells += [
                f"{pr['seq_s']:.1f}",
                f"{pr['seq_s'] / fwd['seq_s']:.2f}",
                f"{tr['seq_s']:.1f}",
                f"{lp['seq_s']:.1f} ({32e3 / lp['seq_s']:.0f})",
                f"{lp['seq_s'] / tr['seq_s']:.2f}",
                f"{ft['seq_s']:.1f} ({ft['n']})",
                f"{fixed:.0f}",
                f"{gf:.1f} ({100 * gf * 1e9 / matmul:.0f} %)",
                f"{gt:.1f} ({100 * gt * 1e9 / matmul:.0f} %)",
                _duration(per_rbp),
                f"{pr['peak_rss_mb']:.0f} / {ft['peak_rss_mb']:.0f}",
            ]
        else:
            cells += [
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                f"{gf:.1f} ({100 * gf * 1e9 / matmul:.0f} %)",
                "",
                "",
                f"{fwd['peak_rss_mb']:.0f} (forward)",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    att = [(s, r) for s, r in res["sizes"].items() if "attention" in r]
    if att:
        lines += [
            "",
            "| model | raw eager forward with attention maps seq/s | attention-stats seq/s | tool / raw | peak MB |",
            "|---|---:|---:|---:|---:|",
        ]
        for size, r in att:
            raw, tool = r["forward_maps"], r["attention"]
            lines.append(
                f"| {size} | {raw['seq_s']:.1f} | {tool['seq_s']:.1f} | {tool['seq_s'] / raw['seq_s']:.2f} | "
                f"{tool['peak_rss_mb']:.0f} |"
            )
    tok, fold = res["tokenize"], res["fold"]
    lines += [
        "",
        "| CPU-only tool | sequences | seq/s | peak MB |",
        "|---|---:|---:|---:|",
        f"| tokenize (read FASTA, 3-mers, write .npz) | {tok['n']} | {tok['seq_s']:.0f} | {tok['peak_rss_mb']:.0f} |",
    ]
    for engine, e in fold["engines"].items():
        lines.append(f"| fold, {engine} (1 core) | {fold['n']} | {e['seq_s']:.1f} | {fold['peak_rss_mb']:.0f} |")
    lines += [
        "",
        "Peak MB is the peak resident memory of the whole measuring process (python + torch + model + data); "
        f"a process that only imports torch peaks at about {res['tokenize']['rss_after_imports_mb']:.0f} MB here.",
    ]
    return "\n".join(lines)


def fixed_cost(finetune_job: dict, trainer_seq_s: float, forward_seq_s: float) -> float:
    """Seconds of the finetune job not explained by training and validating at the measured rates (loading,
    tokenizing, saving checkpoints): job wall - n_train / trainer rate - n_val / forward rate."""
    n_val = round(finetune_job["n"] / 9)  # 10 % validation carve: n_val = n_train / 9
    return max(0.0, finetune_job["wall_s"] - finetune_job["n"] / trainer_seq_s - n_val / forward_seq_s)


def per_rbp_seconds(fixed: float, trainer_seq_s: float, forward_seq_s: float) -> float:
    """One RBP at the paper's size: 19,200 x 3 epochs of training + 3 validations of 2,133 + the fixed cost."""
    return fixed + PAPER_TRAIN * PAPER_EPOCHS / trainer_seq_s + PAPER_EPOCHS * round(PAPER_TRAIN / 9) / forward_seq_s


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and few sequences (seconds), for CI")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = every CPU of this process)")
    parser.add_argument("--sizes", nargs="*", help="model sizes to measure (default: cnn tiny mini small base)")
    parser.add_argument("--output", type=Path, help="JSON results (default bench/results/speed_cpu.json)")
    parser.add_argument("--tables-from", type=Path, help="print the tables of an earlier run's JSON and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="-", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.size, args.n, args.threads)
        return
    if args.tables_from:
        print(tables(json.loads(args.tables_from.read_text())))
        return
    res = run_all(args)
    text = tables(res)
    output = args.output or (RESULTS / ("speed_cpu_smoke.json" if args.smoke else "speed_cpu.json"))
    output.parent.mkdir(parents=True, exist_ok=True)
    res["markdown"] = text
    output.write_text(json.dumps(res, indent=2) + "\n")
    print(text)
    print(f"\nwrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
