"""fp32 vs bf16 autocast on this CPU: speed (train step, forward) and validation AUROC, for the BERT presets.

Why: ``--bf16 auto`` turns bf16 on for CPUs with native bf16 (AVX512-BF16 / AMX-BF16) only if it is measured
faster AND equally accurate here. For each preset and precision, in one process per measurement (so one does
not warm the other's caches):

- ``trainstep``: forward + backward + AdamW on pre-tokenized 101-nt batches of 32 (sequences/s);
- ``forward``: inference forward, batch 64 (sequences/s);
- ``finetune``: the project's fine-tuning job (``bertrbp.finetune.finetune``) on a seeded, stratified subset of
  an RBP-31 experiment's *training* file (validation carved from the rest of that file, never the test file),
  same seed, same data order, reporting the validation AUROC it reached and the wall time.

    python bench/bf16_cpu.py --threads 1                       # tiny, mini, small; JSON to bench/results/
    python bench/bf16_cpu.py --smoke                           # seconds
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
EXPERIMENT = "29_ICLIP_TIAL1_hg19"


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({f for f in ("avx512_bf16", "amx_bf16", "amx_tile") if f in text.split()})


def batches(n: int, seed: int = 0):
    import numpy as np

    from bertrbp.tokenizer import KmerTokenizer

    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), 101)) for _ in range(n)]
    ids, mask = KmerTokenizer(3).encode_batch(seqs, 512)
    return ids, mask, rng.integers(0, 2, n)


def measure_speed(size: str, bf16: bool, threads: int, n_train: int, n_forward: int) -> dict:
    import torch

    from bertrbp.device import autocast
    from bertrbp.model import load_classifier
    from bertrbp.training import TrainConfig, build_optimizer

    torch.set_num_threads(threads)
    device = torch.device("cpu")
    model, _, _ = load_classifier(size, seed=0)
    ids, mask, labels = batches(max(n_train, n_forward))
    ids, mask, labels = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    out = {}
    if n_train:
        model.train()
        optimizer = build_optimizer(model, TrainConfig(), device)

        def step(sl):
            with autocast(device, bf16):
                loss = model(input_ids=ids[sl], attention_mask=mask[sl], labels=labels[sl]).loss.float()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        step(slice(0, 32))  # warm-up (oneDNN kernel selection)
        started = time.perf_counter()
        for start in range(0, n_train, 32):
            step(slice(start, start + 32))
        out["trainstep_seq_s"] = n_train / (time.perf_counter() - started)
    model.eval()
    with torch.inference_mode():
        with autocast(device, bf16):
            model(input_ids=ids[:64], attention_mask=mask[:64])
        started = time.perf_counter()
        for start in range(0, n_forward, 64):
            with autocast(device, bf16):
                model(input_ids=ids[start : start + 64], attention_mask=mask[start : start + 64])
        out["forward_seq_s"] = n_forward / (time.perf_counter() - started)
    return out


def measure_finetune(
    size: str, bf16: bool, threads: int, n_train: int, n_val: int, epochs: int, lr: float, data: Path
) -> dict:
    import numpy as np
    from sklearn.model_selection import train_test_split

    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.io.sequences import iter_records
    from bertrbp.io.tokens import save_tokens, tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    records = list(iter_records(data / "rbp31" / EXPERIMENT / "train.fa.gz"))
    labels = [r.label for r in records]
    keep, _ = train_test_split(np.arange(len(records)), train_size=n_train + n_val, stratify=labels, random_state=42)
    tokens = tokenize_records([records[i] for i in sorted(keep)], KmerTokenizer(3))
    with tempfile.TemporaryDirectory() as tmp:
        save_tokens(tokens, Path(tmp) / "train.npz")
        from bertrbp.training import TrainConfig

        config = TrainConfig(
            epochs=epochs, batch_size=32, threads=threads, bf16="yes" if bf16 else "no", device="cpu", seed=42
        )
        options = FinetuneOptions(
            train=[Path(tmp) / "train.npz"],
            output_dir=Path(tmp) / "out",
            model=size,
            lr=lr,
            val_fraction=n_val / (n_train + n_val),
            train_config=config,
        )
        started = time.perf_counter()
        result = finetune(options)
        wall = time.perf_counter() - started
    return {
        "val_auroc": result.metrics["validation"]["val_auroc"],
        "val_loss": result.metrics["validation"]["val_loss"],
        "per_epoch_val_auroc": [e["val_auroc"] for e in result.metrics["epochs"]],
        "finetune_wall_s": wall,
        "n_train": n_train,
        "n_val": n_val,
        "epochs": epochs,
        "lr": lr,
    }


def worker(args) -> None:
    spec = json.loads(args.worker)
    load_before = os.getloadavg()[0]
    result = {"load1_before": round(load_before, 2)}
    if spec["task"] == "speed":
        result.update(measure_speed(spec["size"], spec["bf16"], spec["threads"], spec["n_train"], spec["n_forward"]))
    else:
        result.update(
            measure_finetune(
                spec["size"],
                spec["bf16"],
                spec["threads"],
                spec["n_train"],
                spec["n_val"],
                spec["epochs"],
                spec["lr"],
                Path(spec["data"]),
            )
        )
    result["load1_after"] = round(os.getloadavg()[0], 2)
    print("RESULT " + json.dumps(result), flush=True)


def run_worker(spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS=str(spec["threads"])),
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed: {spec}\n{proc.stderr[-3000:]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=["tiny", "mini", "small"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=3000, help="finetune: training sites")
    parser.add_argument("--n-val", type=int, default=1500, help="finetune: validation sites")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--output", type=Path, default=RESULTS / "bf16_cpu.json")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    if args.smoke:
        args.sizes, args.n_train, args.n_val = ["tiny"], 200, 100
    speed_n = {"tiny": (640, 1280), "mini": (320, 640), "small": (160, 320), "medium": (64, 128)}
    report = {
        "hardware": {
            "cpu": platform.processor() or platform.machine(),
            "cpu_flags": cpu_flags(),
            "cpus_available": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
        },
        "threads": args.threads,
        "experiment": EXPERIMENT,
        "command": " ".join(sys.argv),
        "sizes": {},
    }
    for size in args.sizes:
        n_train, n_forward = (64, 64) if args.smoke else speed_n.get(size, (64, 128))
        entry = report["sizes"].setdefault(size, {})
        for name, bf16 in (("fp32", False), ("bf16", True)):
            spec = {
                "task": "speed",
                "size": size,
                "bf16": bf16,
                "threads": args.threads,
                "n_train": n_train,
                "n_forward": n_forward,
            }
            entry[name] = run_worker(spec)
            print(size, name, entry[name], flush=True)
        for name, bf16 in (("fp32", False), ("bf16", True)):
            spec = {
                "task": "finetune",
                "size": size,
                "bf16": bf16,
                "threads": args.threads,
                "n_train": args.n_train,
                "n_val": args.n_val,
                "epochs": args.epochs,
                "lr": args.lr,
                "data": str(args.data),
            }
            entry[name].update(run_worker(spec))
            print(size, name, entry[name], flush=True)
        entry["trainstep_speedup"] = entry["bf16"]["trainstep_seq_s"] / entry["fp32"]["trainstep_seq_s"]
        entry["forward_speedup"] = entry["bf16"]["forward_seq_s"] / entry["fp32"]["forward_seq_s"]
        entry["finetune_speedup"] = entry["fp32"]["finetune_wall_s"] / entry["bf16"]["finetune_wall_s"]
        entry["val_auroc_bf16_minus_fp32"] = entry["bf16"]["val_auroc"] - entry["fp32"]["val_auroc"]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
