"""GPU benchmark: BERT-base fine-tuning on 19,200 sequences x 3 epochs and prediction of 100,000 sequences,
through the project's own code paths (``bertrbp.finetune.finetune`` and ``bertrbp.predict.predict_records``).

Prints wall times, sequences/s and achieved TFLOP/s (analytic BERT FLOPs, see bench/speed.py), beside a raw
bf16 forward of the same model on pre-tokenized tensors and a large bf16 matmul measured in the same run.
Targets on one H100: fine-tune <= 60 s, predict >= 15,000 sequences/s. The data: real 101-nt RBP-31 training
sites when ../shared/data is present, else random 101-nt sequences (speed does not depend on the letters).

    bash bench/gpu.sh                 # the full run (one GPU, under 8 minutes)
    python bench/gpu_bench.py --smoke # a CPU smoke test of the same code (tiny model, few sequences)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))
sys.path.insert(0, str(REPO / "bench"))

from speed import DATA, RESULTS, SEQ_LEN, bert_forward_flops, load1  # noqa: E402


def pool(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """``n`` (sequence, label) pairs of 101 nt: real RBP-31 training sites, else random."""
    import random

    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    files = sorted(DATA.glob("rbp31/*/train.fa.gz"))
    if files:
        from bertrbp.io.sequences import iter_records

        for path in files:
            out += [(r.seq, r.label) for r in iter_records(path) if len(r.seq) == SEQ_LEN]
            if len(out) >= n:
                break
    if len(out) < n:
        out += [("".join(rng.choice("ACGT") for _ in range(SEQ_LEN)), rng.randint(0, 1)) for _ in range(n - len(out))]
    rng.shuffle(out)
    return out[:n]


def write_fasta(items: list[tuple[str, int]], path: Path) -> Path:
    with open(path, "w") as handle:
        for i, (seq, label) in enumerate(items):
            handle.write(f">s{i} class:{label}\n{seq}\n")
    return path


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(device, bf16: bool, dim: int) -> float:
    import torch

    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(dim, dim, device=device, dtype=dtype), torch.randn(dim, dim, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 20 if device.type == "cuda" else 3
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * dim**3 * reps / (time.perf_counter() - start)


def raw_forward(model, tokenizer, seqs: list[str], device, bf16: bool, batch: int, compile_: bool) -> float:
    """Sequences/s of the bare model on pre-tokenized, device-resident tensors (one sync at the end)."""
    import torch

    from bertrbp.device import autocast

    ids, mask = tokenizer.encode_batch(seqs, model.config.max_position_embeddings)
    ids, mask = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
    forward = torch.compile(model) if compile_ else model
    with torch.inference_mode(), autocast(device, bf16):
        for _ in range(2):
            forward(input_ids=ids[:batch], attention_mask=mask[:batch])
        sync(device)
        start = time.perf_counter()
        for i in range(0, len(seqs), batch):
            forward(input_ids=ids[i : i + batch], attention_mask=mask[i : i + batch])
        sync(device)
    return len(seqs) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="base", help="model preset (random init; speed only)")
    parser.add_argument("--n-train", type=int, default=19_200, help="training sequences after the validation carve")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="fine-tuning batch (the paper's 32)")
    parser.add_argument("--n-predict", type=int, default=100_000)
    parser.add_argument("--predict-batch", type=int, default=1024)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile the raw-forward reference")
    parser.add_argument("--smoke", action="store_true", help="tiny model, few sequences, runs on CPU in seconds")
    parser.add_argument("--output", type=Path, help="JSON results (default bench/results/gpu.json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.model, args.n_train, args.epochs, args.n_predict, args.predict_batch = "tiny", 96, 1, 200, 64

    import logging

    import torch

    from bertrbp.device import resolve_device, use_bf16
    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.io.sequences import iter_records
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records, write_predictions
    from bertrbp.training import TrainConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = resolve_device(args.device)
    bf16 = use_bf16(device, "auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    val_fraction = 0.1
    n_total = round(args.n_train / (1 - val_fraction))
    res: dict = {"device": name, "model": args.model, "bf16": bf16, "torch": torch.__version__, "load1": load1()}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = pool(max(n_total, args.n_predict))
        train_fa = write_fasta(data[:n_total], tmp / "train.fa")
        predict_fa = write_fasta(data[: args.n_predict], tmp / "predict.fa")

        config = TrainConfig(
            lr=2e-4, epochs=args.epochs, batch_size=args.batch_size, seed=0, device=args.device, log_every=50
        )
        start = time.perf_counter()
        finetune(
            FinetuneOptions(
                train=[train_fa],
                output_dir=tmp / "ft",
                model=args.model,
                lr=2e-4,
                val_fraction=val_fraction,
                train_config=config,
            )
        )
        sync(device)
        ft_wall = time.perf_counter() - start
        card = json.loads((tmp / "ft" / "model_card.json").read_text())
        n_train = card["data"]["counts"]["train"]["total"]

        model, tokenizer, _ = load_classifier(str(tmp / "ft" / "model"))
        model.to(device).eval()
        flops_fwd = bert_forward_flops(model.config, tokenizer.encode_batch(["A" * SEQ_LEN], 512)[0].shape[1])
        start = time.perf_counter()
        count = write_predictions(
            predict_records(
                model, tokenizer, iter_records(predict_fa), device, batch_size=args.predict_batch, bf16=bf16
            ),
            tmp / "predictions.tsv",
        )
        sync(device)
        pr_wall = time.perf_counter() - start

        raw = raw_forward(
            model,
            tokenizer,
            [s for s, _ in data[: min(args.n_predict, 20_000)]],
            device,
            bf16,
            args.predict_batch,
            args.compile,
        )
        peak = matmul_flops(device, bf16, 8192 if device.type == "cuda" else 1024)

    seen = n_train * args.epochs
    res.update(
        finetune={
            "sequences": n_train,
            "epochs": args.epochs,
            "wall_s": ft_wall,
            "seq_s": seen / ft_wall,
            "tflop_s": 3 * flops_fwd * seen / ft_wall / 1e12,
            "optimizer_steps": card["optimizer_steps"],
            "target_wall_s": 60,
        },
        predict={
            "sequences": count,
            "wall_s": pr_wall,
            "seq_s": count / pr_wall,
            "tflop_s": flops_fwd * count / pr_wall / 1e12,
            "target_seq_s": 15_000,
        },
        raw_forward={"seq_s": raw, "tflop_s": flops_fwd * raw / 1e12, "compiled": args.compile},
        matmul_tflop_s=peak / 1e12,
        gpu_peak_memory_gb=(torch.cuda.max_memory_allocated(device) / 2**30) if device.type == "cuda" else None,
    )
    ft, pr = res["finetune"], res["predict"]
    print(f"\ndevice {name}, model {args.model}, bf16 {bf16}, torch {torch.__version__}")
    print("| step | sequences | wall s | seq/s | achieved TFLOP/s | target | met |")
    print("|---|---:|---:|---:|---:|---|---|")
    print(
        f"| fine-tune ({n_train} x {args.epochs} epochs, batch {args.batch_size}, incl. reading, validation, saving) "
        f"| {seen} | {ft['wall_s']:.1f} | {ft['seq_s']:.0f} | {ft['tflop_s']:.3g} | <= 60 s | {ft['wall_s'] <= 60} |"
    )
    print(
        f"| predict (read FASTA, tokenize, score, write TSV; batch {args.predict_batch}) | {count} | "
        f"{pr['wall_s']:.1f} | {pr['seq_s']:.0f} | {pr['tflop_s']:.3g} | >= 15,000 seq/s | {pr['seq_s'] >= 15000} |"
    )
    print(f"| raw forward (pre-tokenized, on device) | | | {raw:.0f} | {res['raw_forward']['tflop_s']:.3g} | | |")
    print(f"| {'bf16' if bf16 else 'fp32'} matmul reference | | | | {res['matmul_tflop_s']:.3g} | | |")
    output = args.output or RESULTS / ("gpu_smoke.json" if args.smoke else "gpu.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
