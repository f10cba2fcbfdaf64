"""One GPU run for issue 15: multi-task pretrain a ``small`` (4x256) k-mer BERT, then fine-tune it against random
init of the same size on the eCLIP and RBP-31 sets, all inside one time budget.

Why a GPU: on 2 CPU cores the shipped ``mini`` took 211 min for 2.2 epochs, and a ``small`` fine-tunes 2.8 times
slower than a ``mini`` (bench/results/speed_cpu.json); an H200 does both in minutes. The pretraining is bench/pretrain_multitask.py's (same 41 tasks,
same exclusions, ``--model-size small``); each fine-tuning run is one bench/accuracy.py run, as
bench/pretrained_vs_random.py makes them, but with the recipe the finetune tool gives a ``small`` (lr 2e-4,
bertrbp/recipe.py) for both arms; tags ``pvr_pretrained-small_nN`` and ``pvr_random-small_nN``. The unseen eCLIP
sets' runs are also scored on their spare training sites (bench/spare_sites.py), the rule by which checkpoints
are chosen.

The number of pretraining steps is set by the time left: a short probe times one optimizer step on the device.
Fine-tuning runs go by priority (eCLIP 2,000 sites, eCLIP 500, RBP-31 2,000, RBP-31 500), both arms of an
experiment next to each other, on ``--workers`` processes sharing the GPU; none starts after its deadline, and the
rows of every finished run are kept.

    bash bench/gpu_pretrain.sh                        # on the device machine (see the script for the data)
    python bench/gpu_pretrain.py --smoke --out /tmp/g  # CPU: tiny model, a few steps, two experiments
    bash bench/gpu_pretrain.sh --checkpoint assets/models/bertrbp-small-k3 --sizes eclip:0 rbp31:0  # all sites

``--val-predictions`` saves each run's validation log-odds beside its test predictions, and both come back in
results.tar.gz (predictions/SUITE/TAG/EXPERIMENT/): bench/ensemble_plus_member.py joins such a run to a CPU
ensemble trained here, on the validation split they share, without the model.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import accuracy  # noqa: E402  (puts bin/ on the path)
import pretrain_multitask  # noqa: E402
from bertrbp.recipe import default_recipe  # noqa: E402
from pretrained_vs_random import tag  # noqa: E402  (pvr_ARM-SIZE_nN: the rows its table --random-name SIZE joins)


def recipe_options(size: str, arm: str) -> list[str]:
    """The finetune tool's recipe for a random-init BERT of this preset (bertrbp.recipe; a checkpoint of that
    width gets the same rate and epochs), given explicitly so that both arms train the same way; only random init
    keeps its step floor."""
    recipe = default_recipe(size)
    options = ["--lr", f"{recipe.lr:g}", "--epochs", str(recipe.epochs), "--patience", str(recipe.patience)]
    options += ["--batch-size", "32", "--seed", "42"]
    return options + (["--min-steps", str(recipe.min_steps)] if arm == "random" else [])


PRIORITY = (("eclip", 2000), ("eclip", 500), ("rbp31", 2000), ("rbp31", 500))
TABLE_SECONDS = 45  # reading the 41 task files and the exclusion set, starting torch (25 s on the AMD EPYC here)
EPOCH_SECONDS = 6  # per epoch: the validation tasks' AUROC and a checkpoint


def log(message: str) -> None:
    """A progress line on the real stdout (a worker sends its runs' own output to its log file)."""
    print(f"[gpu_pretrain {time.strftime('%H:%M:%S')}] {message}", file=sys.__stdout__, flush=True)


def prepare_eclip(data: Path, work: Path, processes: int) -> None:
    """Split every eCLIP set once (bertrbp-prepare, seed 42) before anything reads them, in parallel."""
    names = accuracy.experiments("eclip", data)
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.starmap(accuracy.dataset_files, [("eclip", name, data, work, 42) for name in names])


def probe_step_seconds(size: str, n_tasks: int, batch: int, device_name: str) -> float:
    """Seconds per optimizer step of the multi-task model on random tokens (bf16 autocast where the trainer uses it)."""
    import torch

    from bertrbp.device import autocast, resolve_device, use_bf16
    from bertrbp.pretrain.multitask import build_multitask_model

    device = resolve_device(device_name)
    bf16 = use_bf16(device, "auto")
    model = build_multitask_model(size, 3, n_tasks, seed=0).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(5, 69, (batch, 101), device=device)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (batch, n_tasks), device=device).float()
    label_mask = (torch.rand_like(labels) < 0.1).float()

    def step() -> None:
        with autocast(device, bf16):
            loss = model(ids, mask, labels, label_mask).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(5):
        step()
    sync()
    reps = 30 if device.type == "cuda" else 3
    started = time.perf_counter()
    for _ in range(reps):
        step()
    sync()
    return (time.perf_counter() - started) / reps


def plan_steps(seconds: float, step_s: float, sequences: int, batch: int, max_epochs: int) -> tuple[int, int]:
    """(optimizer steps, epochs) that fit ``seconds`` of training at ``step_s`` per step, at most ``max_epochs``."""
    per_epoch = math.ceil(sequences / batch)
    fit = int(seconds / (step_s * 1.3 + EPOCH_SECONDS / per_epoch))  # 30 % for data, logging, the scheduler
    steps = max(1, min(fit, max_epochs * per_epoch))
    return steps, math.ceil(steps / per_epoch)


ARMS = ("pretrained", "random")


def jobs(suites: dict[str, list[str]], sizes: tuple = PRIORITY, arms: tuple = ARMS) -> list[tuple[str, str, str, int]]:
    """(suite, experiment, arm, sites) in the order they run: by size, unseen eCLIP sets first, arms side by side."""
    order = []
    for suite, sites in sizes:
        names = sorted(suites.get(suite, []), key=lambda n: (n not in pretrain_multitask.UNSEEN, n))
        order += [(suite, name, arm, sites) for name in names for arm in arms]
    return order


def job_argv(job: tuple[str, str, str, int], checkpoint: Path, args) -> list[str]:
    suite, name, arm, sites = job
    model = ["--pretrained", str(checkpoint)] if arm == "pretrained" else ["--model", args.model_size]
    argv = ["--suite", suite, "--experiments", name, *model, *recipe_options(args.model_size, arm)]
    argv += ["--max-train", str(sites), "--threads", "1", "--device", args.device]
    argv += ["--tag", tag(arm, sites, args.model_size)]
    argv += ["--data", str(args.data), "--work", str(args.work)]
    if args.smoke:  # later options win: one short epoch, a few floor steps, part of the test split
        argv += ["--epochs", "1", "--min-steps", "5", "--max-test", "300"]
    return argv


def worker(index: int, queue, stop_at: float, checkpoint: Path, args) -> None:
    """Run jobs from ``queue`` until it is empty or ``stop_at`` has passed; rows go to this worker's results folder."""
    import logging

    import ensemble_plus_member
    import spare_sites

    logging.disable(logging.INFO)  # each run logs every epoch; the rows and this driver's lines are the record
    results = args.out / "results" / f"w{index:02d}"
    results.mkdir(parents=True, exist_ok=True)
    sys.stdout = sys.stderr = open(results / "worker.log", "a", buffering=1)  # noqa: SIM115  (the worker's life)
    while time.time() < stop_at:
        job = queue.get()  # blocking: get_nowait() can say "empty" while another worker holds the queue's lock
        if job is None:  # one end marker per worker, after the jobs
            return
        suite, name, arm, sites = job
        started = time.time()
        try:
            accuracy.main([*job_argv(job, checkpoint, args), "--results", str(results)])
            if args.val_predictions:
                run = args.work / suite / tag(arm, sites, args.model_size) / name
                ensemble_plus_member.write_validation_predictions(run, 42, 0.1, args.device)  # job_argv's split
            if suite == "eclip" and name in pretrain_multitask.UNSEEN and sites:
                spare_argv = ["--suite", suite, "--tags", tag(arm, sites, args.model_size), "--experiments", name]
                spare_argv += ["--threads", "1"]
                spare_argv += ["--data", str(args.data), "--work", str(args.work), "--results", str(results)]
                spare_sites.main(spare_argv)
        except BaseException as exc:  # one failed run must not end the others
            log(f"worker {index}: {job} failed: {exc!r}")
            continue
        log(f"worker {index}: {suite} {name} {arm} {sites} done in {time.time() - started:.0f} s")


def finetune_all(checkpoint: Path, args, stop_at: float, kill_at: float) -> None:
    suites = {"eclip": accuracy.experiments("eclip", args.data), "rbp31": accuracy.experiments("rbp31", args.data)}
    if args.experiments:
        suites = {s: [n for n in names if n in args.experiments] for s, names in suites.items()}
    context = mp.get_context("spawn")
    queue = context.Queue()
    plan = jobs(suites, args.sizes, tuple(dict.fromkeys(args.arms)))  # an arm named twice runs once
    if not plan:
        log(f"nothing to fine-tune: no experiment of {args.sizes} among {args.experiments or 'all'}")
    for job in [*plan, *[None] * args.workers]:
        queue.put(job)
    log(f"{len(plan)} fine-tuning runs queued on {args.workers} workers")
    procs = [context.Process(target=worker, args=(i, queue, stop_at, checkpoint, args)) for i in range(args.workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(max(0.0, kill_at - time.time()))
    for proc in procs:
        if proc.is_alive():
            log(f"worker {proc.name} still running at the deadline: stopped (its run in progress is lost)")
            proc.terminate()
            proc.join(5)


def merge_results(out: Path, work: Path | None = None) -> None:
    """One accuracy_SUITE_TAG.tsv per tag, one spare-sites file and one finetune_metrics folder (the stall and
    calibration verdicts of bench/pretrained_vs_random.py table), from the workers' folders; with ``work``, every
    run's test and validation predictions under predictions/SUITE/TAG/EXPERIMENT/."""
    import shutil

    for path in sorted(work.glob("*/*/*/val_predictions.tsv")) if work else []:
        for name in ("test_predictions.tsv", "val_predictions.tsv"):
            if (path.parent / name).exists():  # a partial run must not stop the merge of the finished rows
                target = out / "predictions" / path.parent.relative_to(work) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path.parent / name, target)

    for path in sorted((out / "results").glob("w*/finetune_metrics/*.json")):
        (out / "finetune_metrics").mkdir(exist_ok=True)
        shutil.copyfile(path, out / "finetune_metrics" / path.name)
    merged: dict[str, list[str]] = {}
    for path in sorted((out / "results").glob("w*/*.tsv")):
        lines = path.read_text().splitlines()
        if lines:
            merged.setdefault(path.name, [lines[0]]).extend(lines[1:])
    for name, lines in merged.items():
        (out / name).write_text("\n".join(lines) + "\n")
        log(f"{name}: {len(lines) - 1} rows")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="pretraining run, results and log")
    parser.add_argument("--data", type=Path, default=accuracy.DATA)
    parser.add_argument("--work", type=Path, default=None, help="default: OUT/work")
    parser.add_argument("--budget", type=float, default=560, help="seconds for everything, from the start")
    parser.add_argument("--pretrain-until", type=float, default=300, help="seconds from the start")
    parser.add_argument("--model-size", default="small")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=6e-4)
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=14)
    parser.add_argument("--experiments", nargs="*", help="only these experiments (default: every one)")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS), help="which arms to fine-tune")
    parser.add_argument(
        "--val-predictions",
        action="store_true",
        help="save each run's validation log-odds and bring them back with its test predictions (predictions/)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="fine-tune this checkpoint (of --model-size's width) instead of pretraining one, e.g. "
        "assets/models/bertrbp-small-k3 with --sizes eclip:0 rbp31:0 for the all-sites rows",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=suite_and_sites,
        default=None,
        metavar="SUITE:SITES",
        help="fine-tuning runs in this order (0 = all training sites); default: "
        + " ".join(f"{suite}:{sites}" for suite, sites in PRIORITY),
    )
    parser.add_argument("--smoke", action="store_true", help="CPU: tiny model, 2 steps, 2 experiments, 2 workers")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = args.sizes or [("eclip", 500)]
        args.model_size, args.device, args.workers, args.max_epochs = "tiny", "cpu", 2, 1
        args.experiments = args.experiments or ["HNRNPK_K562", "CPSF6_K562"]
    args.sizes = args.sizes or list(PRIORITY)
    args.work = args.work or args.out / "work"
    return args


def suite_and_sites(text: str) -> tuple[str, int]:
    """``eclip:2000`` -> ("eclip", 2000); 0 sites = all of them."""
    suite, _, sites = text.partition(":")
    if suite not in ("eclip", "rbp31") or not sites.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give SUITE:SITES, SUITE eclip or rbp31, SITES a number (0 = all)")
    return suite, int(sites)


def pretrain_on_budget(args, start: float) -> tuple[Path, dict]:
    """Pretrain for as many steps as fit before ``--pretrain-until`` (at most ``--max-epochs``); returns the
    checkpoint folder and the run's summary (probe, plan, wall time)."""
    tasks, _ = pretrain_multitask.task_and_exclusion_files(args.work, data=args.data)
    step_s = probe_step_seconds(args.model_size, len(tasks), args.batch_size, args.device)
    training_seconds = args.pretrain_until - (time.time() - start) - TABLE_SECONDS
    sequences = 681_766 if not args.smoke else 20 * args.batch_size  # the task table's size (measured)
    steps, epochs = plan_steps(training_seconds, step_s, sequences, args.batch_size, args.max_epochs)
    steps = 2 if args.smoke else steps
    log(f"probe: {step_s * 1000:.1f} ms per step of {args.batch_size}; {training_seconds:.0f} s -> {steps} steps")
    run = args.out / "pretrain"
    pretrain_argv = ["--out", str(run), "--model-size", args.model_size, "--max-steps", str(steps)]
    pretrain_argv += ["--epochs", str(epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr)]
    pretrain_argv += ["--threads", "4", "--device", args.device, "--seed", "42"]
    pretrain_argv += ["--data", str(args.data), "--work", str(args.work)]
    started = time.time()
    proc = mp.get_context("spawn").Process(target=pretrain_multitask.main, args=(pretrain_argv,))
    proc.start()  # its own process: its memory and GPU context are gone before the fine-tuning workers start
    proc.join(max(0.0, start + args.budget - 60 - time.time()))  # an underestimated step leaves a minute to report
    if proc.is_alive():
        log("pretraining still running a minute before the budget ends: stopped")
        proc.terminate()
        proc.join(10)
    wall = time.time() - started
    log(f"pretraining ended with exit code {proc.exitcode} after {wall:.0f} s")
    summary = {"probe_step_s": step_s, "planned_steps": steps, "planned_epochs": epochs, "pretrain_wall_s": wall}
    summary |= {"batch_size": args.batch_size, "lr": args.lr, "model_size": args.model_size}
    checkpoint = run / "model"
    if proc.exitcode != 0 or not (checkpoint / "config.json").exists():
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        raise SystemExit("error: pretraining failed; no fine-tuning runs")
    return checkpoint, summary


def stop_children(signum, frame) -> None:
    """On SIGTERM (the wrapper's ``timeout``), end the pretraining and fine-tuning processes too: they hold the GPU
    and the log's pipe, and would outlive this one."""
    for child in mp.active_children():
        child.terminate()
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    import signal

    args = parse(argv)
    signal.signal(signal.SIGTERM, stop_children)
    start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    prepare_eclip(args.data, args.work, max(1, args.workers))
    log(f"eCLIP splits ready ({time.time() - start:.0f} s)")
    if args.checkpoint:
        checkpoint, summary = args.checkpoint.resolve(), {"checkpoint": str(args.checkpoint)}
    else:
        checkpoint, summary = pretrain_on_budget(args, start)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    finetune_all(checkpoint, args, stop_at=start + args.budget - 40, kill_at=start + args.budget)
    merge_results(args.out, args.work if args.val_predictions else None)
    summary["total_wall_s"] = time.time() - start
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
