"""Accuracy benchmark: AUROC on real CLIP data beside published methods, one row per (dataset, model setting).

Suites (data in ../shared/data):
- ``rbp31``: the iONMF RBP-31 split. Train on ``train.fa.gz`` only (validation carved from it, stratified,
  seeded), test once on ``test.fa.gz``. Published AUROCs (DeepRKE, iDeepS, DeepBind, GraphProt) come from
  ``reference/RBP31_DeepRKE_supp_AUC.tsv`` and are averaged over the same experiments as ours.
- ``eclip``: each ENCODE eCLIP set split by ``bertrbp-prepare`` with a fixed seed; train on ``NAME.train.fa``,
  test on ``NAME.test.fa``.
- ``tial1``: the BERT-RBP authors' TIAL1 split. Only their dev (4,800) and test (6,000) splits exist here,
  so we train on dev (validation carved from it) and test on test: far less training data than the authors had.

Training and prediction go through the project's own code (``bertrbp.finetune.finetune`` and
``bertrbp.predict.predict_records``), the same paths as ``bertrbp-finetune`` / ``bertrbp-predict``.
Each finished row is appended to ``bench/results/accuracy_<suite>_<tag>.tsv`` at once, so an interrupted run
keeps its rows and a rerun skips them. ``--report`` prints the markdown tables from every results file.

    python bench/accuracy.py --suite rbp31 --model cnn --epochs 3            # CNN baseline, all experiments
    (without --epochs/--lr/--patience/--min-steps each model gets bertrbp-finetune's defaults: bertrbp/recipe.py;
    --epochs alone drops the random-init step floor)
    python bench/accuracy.py --suite rbp31 --model mini --lr 2e-4 --epochs 1 # random-init BERT
    python bench/accuracy.py --suite rbp31 --pretrained DIR --lr 2e-4        # pretrained BERT
    python bench/accuracy.py --suite rbp31 --model kmer                      # the k-mer floor (seconds each)
    python bench/accuracy.py --suite rbp31 --model mini                      # the tool's default recipe for mini
    python bench/accuracy.py --suite rbp31 --model mini,cnn,kmer             # an ensemble, one tag
    python bench/accuracy.py --suite rbp31 --model mini --seeds 1,2,3        # a 3-seed ensemble
    python bench/accuracy.py --suite rbp31 --model mini --structure unpaired # structure-aware input (finetune --structure)
    python bench/accuracy.py --report                                        # markdown tables
    python bench/accuracy.py --smoke                                         # seconds: tiny model, few sites
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

import numpy as np  # noqa: E402

DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results"
WORK = REPO / "bench" / "out" / "accuracy"
REFERENCE = DATA / "reference" / "RBP31_DeepRKE_supp_AUC.tsv"
PUBLISHED = ("DeepRKE", "iDeepS", "DeepBind", "GraphProt")
SUITES = ("rbp31", "eclip", "tial1")
FIELDS = (
    "suite",
    "experiment",
    "tag",
    "model",
    "pretrained",
    "layers",
    "hidden",
    "parameters",
    "lr",
    "epochs",
    "epochs_run",
    "batch_size",
    "n_train",
    "n_val",
    "n_test",
    "optimizer_steps",
    "train_wall_s",
    "predict_wall_s",
    "val_auroc",
    "test_auroc",
    "test_auprc",
    "collapsed",
    "collapse_reasons",
    "val_pred_std",
    "val_loss",
    "prior_entropy",
    "threads",
    "load_before",
    "load_after",
    "date",
    "bf16",
    "model_kind",
    "structure",
    "member_test_auroc",
    "reused_members",
    "min_steps",
    "planned_epochs",
    "calibrated",  # finetune --calibrate: Platt scaling of a stalled kept model (the *_raw columns: before it)
    "test_accuracy",
    "test_mcc",
    "test_log_loss",
    "test_accuracy_raw",
    "test_mcc_raw",
    "test_log_loss_raw",
    "val_split",  # how the validation set was carved (bertrbp-finetune --val-split)
)


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- datasets


def experiments(suite: str, data: Path) -> list[str]:
    if suite == "rbp31":
        return sorted((p.name for p in (data / "rbp31").iterdir() if (p / "train.fa.gz").exists()), key=_number)
    if suite == "eclip":
        return sorted(p.name.split(".")[0] for p in (data / "eclip").glob("*.tsv.gz"))
    return ["TIAL1"]


def _number(name: str) -> tuple[int, str]:
    head = name.split("_")[0]
    return (int(head), name) if head.isdigit() else (10**6, name)


def dataset_files(suite: str, name: str, data: Path, work: Path, seed: int) -> tuple[Path, Path]:
    """(training file, test file) of one experiment; eCLIP is split by bertrbp-prepare first."""
    if suite == "rbp31":
        return data / "rbp31" / name / "train.fa.gz", data / "rbp31" / name / "test.fa.gz"
    if suite == "tial1":
        return data / "tial1" / "dev.tsv.gz", data / "tial1" / "test.tsv.gz"
    prepared = work / "eclip_prepared"
    prefix = prepared / name
    if not Path(f"{prefix}.train.fa").exists():
        run_prepare(data / "eclip" / f"{name}.tsv.gz", prepared, name, seed)
    return Path(f"{prefix}.train.fa"), Path(f"{prefix}.test.fa")


def run_prepare(source: Path, out: Path, prefix: str, seed: int) -> None:
    """bertrbp-prepare with a fixed seed, in this process through its command line."""
    import importlib

    try:
        app = importlib.import_module("bertrbp.cli.prepare").app
    except ImportError as exc:
        raise SystemExit(f"error: bertrbp-prepare is not available yet ({exc}); the eCLIP suite needs it.") from exc
    app(args=[str(source), "--output-dir", str(out), "--prefix", prefix, "--seed", str(seed)], standalone_mode=False)


def training_tokens(train: Path, tokenizer, max_train: int, seed: int, target: Path):
    """Tokenize the training file; keep a seeded stratified subset of ``max_train`` sequences (0 = all)."""
    from bertrbp.io.sequences import iter_records
    from bertrbp.io.tokens import save_tokens, tokenize_records

    data = tokenize_records(iter_records(train), tokenizer)
    if max_train and max_train < len(data):
        data = data.subset(subset_rows(data.labels, max_train, seed)[0])
    save_tokens(data, target)
    return target


def subset_rows(labels, max_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, rows left out), each sorted: the seeded stratified ``--max-train`` subset of a training file.
    bench/spare_sites.py scores the rows left out, which no fine-tuning run of that size saw."""
    from sklearn.model_selection import train_test_split

    keep, rest = train_test_split(np.arange(len(labels)), train_size=max_train, stratify=labels, random_state=seed)
    return np.sort(keep), np.sort(rest)


def subsample_records(records: list, n: int, seed: int) -> list:
    """A seeded subset of ``n`` records (stratified by label), for --max-test in smoke runs."""
    if not n or n >= len(records):
        return records
    from sklearn.model_selection import train_test_split

    labels = [r.label for r in records]
    keep, _ = train_test_split(np.arange(len(records)), train_size=n, stratify=labels, random_state=seed)
    return [records[i] for i in sorted(keep)]


# ---------------------------------------------------------------- one row


def model_shape(model) -> tuple[str, str, int]:
    config = model.config
    kind = getattr(config, "model_type", "")
    default = {"bertrbp-kmer": "kmer", "bertrbp-ensemble": "ensemble"}.get(kind, "conv")
    layers = getattr(config, "num_hidden_layers", default)
    hidden = getattr(config, "hidden_size", "")
    return str(layers), str(hidden), sum(p.numel() for p in model.parameters())


def run_one(args, suite: str, name: str, source: str, pretrained: bool) -> dict:
    """Fine-tune on the experiment's training data, predict its test data once, return the result row."""
    import json

    from bertrbp.device import resolve_device, set_threads
    from bertrbp.finetune import FinetuneOptions, finetune
    from bertrbp.finetune_ensemble import finetune_ensemble, member_plan, parse_seeds
    from bertrbp.io.sequences import iter_records
    from bertrbp.metrics import binary_metrics
    from bertrbp.model import load_classifier, takes_structure
    from bertrbp.predict import predict_records, write_predictions
    from bertrbp.recipe import resolve
    from bertrbp.structure_prefold import prefolded
    from bertrbp.tokenizer import KmerTokenizer
    from bertrbp.training import TrainConfig

    load_before = load_average()
    work = args.work / suite / args.tag / name
    work.mkdir(parents=True, exist_ok=True)
    train_file, test_file = dataset_files(suite, name, args.data, args.work, args.seed)
    seeds = parse_seeds(args.seeds, 0, args.seed)
    plan = member_plan([source] if pretrained else [args.model], seeds, args.seed)  # member_plan splits a,b
    tokens = training_tokens(train_file, KmerTokenizer(3), args.max_train, args.seed, work / "train.npz")
    reused = reuse_members(args.work / suite / args.reuse / name, work, plan) if args.reuse else {}

    def options_for(model_source: str, seed: int, out: Path) -> FinetuneOptions:
        recipe = resolve(model_source, args.lr, args.epochs, args.patience, args.lr_policy, min_steps=args.min_steps)
        config = TrainConfig(
            epochs=recipe.epochs,
            min_steps=recipe.min_steps,
            batch_size=args.batch_size,
            seed=seed,
            threads=args.threads,
            device=args.device,
            bf16=args.bf16,
            patience=recipe.patience,
        )
        return FinetuneOptions(
            train=[tokens],
            output_dir=out,
            model=model_source,
            lr=args.lr,
            val_fraction=args.val_fraction,
            val_split=args.val_split,
            lr_policy=args.lr_policy,
            split_seed=args.seed if args.member_splits == "shared" else seed,  # own: each member's seed carves
            train_config=config,
            structure=args.structure if takes_structure(model_source) else "none",
            resume=bool(reused),  # a reused member resumes at its last step: nothing to train, same model
        )

    started = time.perf_counter()
    # as bertrbp-finetune: with --structure, every sequence folded once
    with prefolded([tokens], None, "auto", args.structure, 3, (args.threads or 1) * args.jobs) as folds:
        if len(plan) == 1:
            result = finetune(options_for(plan[0].source, plan[0].seed, work / "finetune"))
        else:
            result = finetune_ensemble(plan, work / "finetune", options_for, args.jobs, folds)
    train_wall = time.perf_counter() - started
    for member, seconds in reused.items():  # count a reused member's original training, not its no-op resume
        resumed = json.loads((work / "finetune" / "members" / member / "model_card.json").read_text())
        train_wall += seconds - resumed["wall_seconds"]
    card = json.loads((work / "finetune" / "model_card.json").read_text())
    if len(plan) > 1:  # the ensemble's card lists members; steps and lr come from the first member's card
        first = json.loads((work / "finetune" / "members" / plan[0].name / "model_card.json").read_text())
        card = {
            **first,
            "threads": first["threads"],
            "optimizer_steps": sum(
                json.loads((work / "finetune" / "members" / m.name / "model_card.json").read_text())["optimizer_steps"]
                for m in plan
            ),
        }
        card["data"] = first["data"]

    set_threads(args.threads)
    device = resolve_device(args.device)
    model, tokenizer, _ = load_classifier(str(work / "finetune" / "model"))
    model.to(device).eval()
    records = subsample_records(list(iter_records(test_file)), args.max_test, args.seed)
    started = time.perf_counter()
    predictions = list(predict_records(model, tokenizer, records, device, batch_size=64))
    predict_wall = time.perf_counter() - started
    write_predictions(predictions, work / "test_predictions.tsv")
    test = binary_metrics([p.label for p in predictions], [p.probability for p in predictions], where=str(test_file))

    calibration = result.metrics.get("calibration") or {}
    probability = calibration_columns(predictions, calibration)
    members = member_aurocs(work / "finetune" / "model", records, device) if len(plan) > 1 else ""
    layers, hidden, parameters = model_shape(model)
    counts = card["data"]["counts"]
    return {
        "suite": suite,
        "experiment": name,
        "tag": args.tag,
        "model": source if not pretrained else "pretrained",
        "pretrained": pretrained,
        "layers": layers,
        "hidden": hidden,
        "parameters": parameters,
        "lr": card["hyperparameters"]["lr"],
        "epochs": card["hyperparameters"]["epochs"],
        "min_steps": card["hyperparameters"].get("min_steps", 0),  # the step floor: more epochs than asked
        "planned_epochs": result.metrics.get("early_stopping", {}).get("planned_epochs", ""),
        "epochs_run": "+".join(
            str(len(json.loads((work / "finetune" / "members" / m.name / "metrics.json").read_text())["epochs"]))
            for m in plan
        )
        if len(plan) > 1
        else len(result.metrics["epochs"]),
        "batch_size": args.batch_size,
        "n_train": counts["train"]["total"],
        "n_val": counts["validation"]["total"],
        "n_test": test["n"],
        "optimizer_steps": card["optimizer_steps"],
        "train_wall_s": round(train_wall, 1),
        "predict_wall_s": round(predict_wall, 1),
        "val_auroc": round(result.metrics["validation"]["val_auroc"], 4),
        "test_auroc": round(test["auroc"], 4),
        "bf16": card.get("bf16"),
        "model_kind": result.metrics.get("model_kind"),
        "structure": args.structure,
        "val_split": card["hyperparameters"].get("val_split"),  # the split used (auto resolved)
        "test_auprc": round(test["auprc"], 4),
        **probability,
        "member_test_auroc": members,
        "reused_members": ";".join(f"{args.reuse}/{member}" for member in reused),
        "collapsed": result.collapsed,
        "collapse_reasons": "; ".join(result.metrics["collapse"].get("reasons", [])),
        # the numbers behind the verdict, so a reader can judge a near-constant predictor themselves
        "val_pred_std": f"{result.metrics['collapse'].get('prediction_std', float('nan')):.3g}",
        "val_loss": f"{result.metrics['collapse'].get('val_loss', float('nan')):.4f}",
        "prior_entropy": f"{result.metrics['collapse'].get('class_prior_entropy', float('nan')):.4f}",
        "threads": card["threads"],
        "load_before": load_before,
        "load_after": load_average(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def calibration_columns(predictions: list, calibration: dict) -> dict:
    """Test accuracy, MCC and log loss of the written model, and of its raw outputs where finetune calibrated it
    (the calibration's inverse applied to the same predictions: one scoring of the test split serves both)."""
    from bertrbp.calibration import log_loss
    from bertrbp.metrics import binary_metrics

    labels = np.array([p.label for p in predictions])
    logits = np.array([p.logit for p in predictions], dtype=np.float64)
    applied = bool(calibration.get("applied"))
    raw = (logits - calibration["shift"]) / calibration["scale"] if applied else logits
    columns = {"calibrated": applied if calibration else ""}
    for suffix, values in (("", logits), ("_raw", raw)):
        m = binary_metrics(labels, 1 / (1 + np.exp(-values)), where="test set")
        columns |= {
            f"test_accuracy{suffix}": round(m["accuracy"], 4),
            f"test_mcc{suffix}": round(m["mcc"], 4),
            f"test_log_loss{suffix}": round(log_loss(values, labels), 4),
        }
    return columns


def reuse_members(source: Path, work: Path, plan: list) -> dict[str, float]:
    """Copy the neural members of ``plan`` that ``source`` (the same experiment under another tag) already trained,
    with its training file, so a larger ensemble trains only its new members (e.g. a third CNN seed beside two).
    Each copied member is then run with --resume: training is exactly resumable and its checkpoint holds the whole
    run, so it trains no step and keeps the same model; --resume refuses it if data, split, model or settings
    differ. Returns {member: its original training seconds}. k-mer members are refitted (seconds, deterministic)."""
    import json
    import shutil

    from bertrbp.io.tokens import load_tokens

    if not (source / "train.npz").exists():
        print(f"--reuse: nothing under {source}; training every member", flush=True)
        return {}
    ours, theirs = load_tokens(work / "train.npz"), load_tokens(source / "train.npz")
    if not (np.array_equal(ours.input_ids, theirs.input_ids) and np.array_equal(ours.labels, theirs.labels)):
        raise SystemExit(
            f"error: --reuse: {source} trained on other sites (--max-train or --seed differ); drop --reuse."
        )
    reused = {}
    for member in plan if len(plan) > 1 else []:
        done = source / "finetune" / "members" / member.name
        if not (done / "checkpoints" / "trainer_state.pt").exists() or not (done / "model_card.json").exists():
            continue
        target = work / "finetune" / "members" / member.name
        if target.exists():
            shutil.rmtree(target)  # a half-made copy from an interrupted attempt of this tag
        shutil.copytree(done, target)
        reused[member.name] = json.loads((done / "model_card.json").read_text())["wall_seconds"]
    if reused:  # the same arrays; their file byte for byte, because --resume checks its checksum
        shutil.copyfile(source / "train.npz", work / "train.npz")
    print(f"--reuse: {len(reused)} of {len(plan)} members from {source}", flush=True)
    return reused


def member_aurocs(ensemble: Path, records: list, device) -> str:
    """'name=AUROC;...': each ensemble member scored alone on the same test records, so one ensemble run also
    gives every member's row (a BERT member's test AUROC without training it again)."""
    import json

    from bertrbp.metrics import binary_metrics
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records

    cells = []
    for member in json.loads((ensemble / "ensemble.json").read_text())["members"]:
        model, tokenizer, _ = load_classifier(str(ensemble / member["path"]))
        model.to(device).eval()
        scored = list(predict_records(model, tokenizer, records, device, batch_size=64))
        auroc = binary_metrics([p.label for p in scored], [p.probability for p in scored])["auroc"]
        cells.append(f"{member['name']}={auroc:.4f}")
    return ";".join(cells)


@contextlib.contextmanager
def claim(marker: Path) -> Iterator[bool]:
    """Yield True when this process may train the experiment ``marker`` stands for (the marker file, created
    exclusively, holds its pid and is removed afterwards); False while another live process holds it. A marker
    whose process has died is taken over, so a killed run does not block a rerun."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            handle = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if _claim_is_live(marker):
                yield False
                return
            marker.unlink(missing_ok=True)
    else:
        yield False
        return
    os.write(handle, str(os.getpid()).encode())
    os.close(handle)
    try:
        yield True
    finally:
        marker.unlink(missing_ok=True)


def _claim_is_live(marker: Path) -> bool:
    """Whether the process named in ``marker`` still runs (an empty marker younger than a minute: being written)."""
    try:
        text = marker.read_text().strip()
        if not text:
            return time.time() - marker.stat().st_mtime < 60
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True


def history_path(results: Path, suite: str, tag: str, name: str) -> Path:
    return results / "finetune_metrics" / f"{suite}_{tag}_{name}.json"


def keep_history(args, name: str) -> None:
    """Keep finetune's metrics.json (validation AUROC, loss and prediction spread per epoch) beside the rows."""
    import shutil

    target = history_path(args.results, args.suite, args.tag, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.work / args.suite / args.tag / name / "finetune" / "metrics.json", target)


def results_path(suite: str, tag: str, results: Path) -> Path:
    return results / f"accuracy_{suite}_{tag}.tsv"


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def append_row(path: Path, row: dict, columns: list[str] | None = None) -> None:
    """Append one finished row (header first when new, ``columns`` or this benchmark's): partial runs keep every
    finished experiment. An existing file keeps its own header (columns added later are left out of its rows)."""
    new = not path.exists()
    fields = (columns or FIELDS) if new else open(path).readline().rstrip("\n").split("\t")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fields, delimiter="\t", extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()


# ---------------------------------------------------------------- report


def published() -> dict[str, dict[str, float]]:
    """experiment id -> {method: AUROC} from the DeepRKE supplementary table."""
    table: dict[str, dict[str, float]] = {}
    if not REFERENCE.exists():
        return table
    lines = [line for line in REFERENCE.read_text().splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        table[row["experiment_id"]] = {m: float(row[m]) for m in PUBLISHED if row.get(m)}
    return table


def _short(name: str) -> str:
    parts = name.split("_")
    return "_".join(parts[:3]) if len(parts) > 3 else name


def report(results: Path) -> str:
    """Markdown tables from every accuracy_*.tsv: one per suite, experiments x settings, plus means."""
    ref = published()
    out = []
    for suite in SUITES:
        files = sorted(results.glob(f"accuracy_{suite}_*.tsv"))
        runs = {p.stem[len(f"accuracy_{suite}_") :]: {r["experiment"]: r for r in read_rows(p)} for p in files}
        runs = {tag: rows for tag, rows in runs.items() if rows}
        if not runs:
            continue
        names = sorted({n for rows in runs.values() for n in rows}, key=_number)
        tags = list(runs)
        methods = [m for m in PUBLISHED if suite == "rbp31" and ref]
        out += [f"### {suite}", ""]
        out.append("| experiment | " + " | ".join(tags + methods) + " |")
        out.append("|---|" + "---:|" * (len(tags) + len(methods)))
        for name in names:
            cells = []
            for tag in tags:
                row = runs[tag].get(name)
                cells.append(
                    "" if row is None else row["test_auroc"] + (" (collapsed)" if row["collapsed"] == "True" else "")
                )
            cells += [f"{ref.get(name, {}).get(m, float('nan')):.3f}" for m in methods]
            out.append(f"| {_short(name)} | " + " | ".join(cells) + " |")
        # means over the experiments every setting finished (and, for published columns, the same set)
        common = [n for n in names if all(n in rows for rows in runs.values())]
        if common and len(runs) > 1:
            means = [f"{np.mean([float(runs[t][n]['test_auroc']) for n in common]):.3f}" for t in tags]
            means += [f"{np.mean([ref[n][m] for n in common if n in ref]):.3f}" for m in methods]
            out.append(
                f"| **mean of the {len(common)} experiments all settings finished** | " + " | ".join(means) + " |"
            )
        out += ["", *settings_table(runs, names, ref, methods)]
        out += [
            "",
            "| setting | model | layers x hidden | parameters | lr | epochs | batch | n_train (max) | "
            "steps | train s (sum) | predict s (sum) | experiments | collapsed | load avg (1/5/15 min) range |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for tag in tags:
            rows = list(runs[tag].values())
            first = rows[0]
            loads = sorted(float(r["load_before"].split("/")[0]) for r in rows)
            out.append(
                f"| {tag} | {first['model']} | {first['layers']} x {first['hidden']} | {first['parameters']} | "
                f"{first['lr']} | {first['epochs']} | {first['batch_size']} | {max(int(r['n_train']) for r in rows)} | "
                f"{first['optimizer_steps']} | {sum(float(r['train_wall_s']) for r in rows):.0f} | "
                f"{sum(float(r['predict_wall_s']) for r in rows):.0f} | {len(rows)} | "
                f"{sum(r['collapsed'] == 'True' for r in rows)} | {loads[0]:.1f}-{loads[-1]:.1f} |"
            )
        out.append("")
        if suite == "tial1":
            out += detail_table(runs, results, suite)
    return "\n".join(out)


def _on_subset(tag: str) -> bool:
    """A setting trained on a subset of the training sites (--max-train, or the pretrained-vs-random sizes)."""
    return "_max" in tag or tag.startswith("pvr_")


def settings_table(runs: dict[str, dict[str, dict]], names: list[str], ref: dict, methods: list[str]) -> list[str]:
    """One line per setting: mean test and validation AUROC over the experiments it finished, how many of them
    it beat the k-mer floor on (the ``kmer`` setting, same experiment), and the published methods' mean over the
    same experiments. Validation AUROC is what a recipe may be chosen by; test AUROC is reported, never tuned on."""
    floor = runs.get("kmer", {})
    lines = [
        "| setting | experiments | our mean test AUROC | mean validation AUROC | above the k-mer floor | "
        + "".join(f"{m} (same experiments) | " for m in methods),
        "|---|---:|---:|---:|---:|" + "---:|" * len(methods),
    ]
    for tag, rows in runs.items():
        done = [n for n in names if n in rows and (n in ref or not methods)]
        test = np.mean([float(rows[n]["test_auroc"]) for n in done])
        val = np.mean([float(rows[n]["val_auroc"]) for n in done])
        floored = [n for n in done if n in floor]
        above = ""  # the floor is trained on every training site: settings on a subset are not compared with it
        if tag != "kmer" and floored and not _on_subset(tag):
            beat = sum(float(rows[n]["test_auroc"]) > float(floor[n]["test_auroc"]) for n in floored)
            above = f"{beat} of {len(floored)}"
        theirs = "".join(f"{np.mean([ref[n][m] for n in done]):.3f} | " for m in methods)
        lines.append(f"| {tag} | {len(done)} | **{test:.3f}** | {val:.3f} | {above} | " + theirs)
    return lines


def detail_table(runs: dict[str, dict[str, dict]], results: Path, suite: str) -> list[str]:
    """One line per (setting, experiment) with the numbers behind the collapse verdict (the lr safety table):
    per epoch, validation AUROC / std of the predicted probabilities / validation loss (from finetune's
    metrics.json), against the loss of a constant predictor (the class-prior entropy)."""
    import json

    lines = [
        "| setting | model | lr | epochs | steps | per epoch: val AUROC / prediction std / val loss | constant "
        "predictor's loss | kept epoch | test AUROC | collapsed (finetune's verdict) |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for tag, rows in runs.items():
        for name, row in rows.items():
            path = history_path(results, suite, tag, name)
            epochs, kept, prior = "not recorded", "", ""
            history = json.loads(path.read_text()) if path.exists() else {}
            if history.get("epochs"):  # an ensemble's history lists its members, not epochs
                epochs = "; ".join(
                    f"{h['val_auroc']:.3f} / {h['prediction_std']:.2g} / {h['val_loss']:.3f}" for h in history["epochs"]
                )
                kept = history["kept_epoch"]
                prior = f"{history['epochs'][0]['collapse']['class_prior_entropy']:.3f}"
            lines.append(
                f"| {tag} | {row['model']} {row['layers']}x{row['hidden']} | {row['lr']} | {row['epochs']} | "
                f"{row['optimizer_steps']} | {epochs} | {prior} | {kept} | {row['test_auroc']} | "
                f"{row['collapsed']} |"
            )
    return lines + [""]


# ---------------------------------------------------------------- main


def default_tag(args) -> str:
    source = "pretrained" if args.pretrained else args.model.replace(",", "+")
    lr = "default" if args.lr is None else f"{args.lr:g}"
    if args.model in ("kmer", "kmer-pos") and not args.pretrained:
        tag = args.model
    else:
        epochs = "default" if args.epochs is None else args.epochs
        tag = f"{source}_lr{lr}_e{epochs}_b{args.batch_size}"
        tag += "" if args.patience is None else f"_p{args.patience}"
        tag += "" if args.min_steps is None else f"_ms{args.min_steps}"
        tag += f"_seeds{args.seeds.replace(',', '-')}" if args.seeds else ""
        tag += "" if args.lr_policy == "default" else f"_{args.lr_policy}"
    tag += "" if args.structure == "none" else f"_struct-{args.structure}"
    tag += "" if args.jobs == 1 else f"_jobs{args.jobs}"
    tag += "" if args.val_split == "random" else f"_val-{args.val_split}"
    tag += "" if args.member_splits == "shared" else "_own-splits"
    return tag + (f"_max{args.max_train}" if args.max_train else "")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=SUITES, default="rbp31")
    parser.add_argument("--experiments", nargs="*", help="experiment names (default: every one present)")
    parser.add_argument(
        "--model",
        default="cnn",
        help="cnn, kmer, or a BERT preset for random init (tiny mini small ...); comma-separated "
        "(e.g. mini,cnn,kmer) trains an ensemble, as bertrbp-finetune --model ... --model ...",
    )
    parser.add_argument("--seeds", help="comma-separated seeds: one ensemble member per seed (and model)")
    parser.add_argument("--patience", type=int, default=None, help="default: the finetune tool's (recipe)")
    parser.add_argument("--lr-policy", default="default", choices=("default", "paper"))
    parser.add_argument("--bf16", default="auto", choices=("auto", "yes", "no"))
    parser.add_argument(
        "--structure",
        default="none",
        choices=("none", "unpaired", "elements", "both"),
        help="per-token structure input for BERT and CNN models, as bertrbp-finetune --structure",
    )
    parser.add_argument("--pretrained", help="checkpoint folder of a pretrained BERT (overrides --model)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the finetune tool's (recipe)")
    parser.add_argument(
        "--min-steps", type=int, default=None, help="least optimizer steps; default: the finetune tool's (recipe)"
    )
    parser.add_argument("--lr", type=float, default=None, help="default: the finetune tool's default for the model")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-train", type=int, default=0, help="seeded stratified subset of training data (0 = all)")
    parser.add_argument("--max-test", type=int, default=0, help="subset of the test set (0 = all; for --smoke)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument(
        "--val-split",
        default="random",
        choices=("auto", "locus", "random"),
        help="bertrbp-finetune --val-split; default random, the split of every committed table before it (the "
        "tool's default is auto: give --val-split auto to measure it); not random adds _val-<split> to the tag",
    )
    parser.add_argument(
        "--member-splits",
        default="shared",
        choices=("shared", "own"),
        help="shared: every ensemble member validates on the split of --seed (bertrbp-finetune); own: each member "
        "carves its validation split with its own seed, so the members together train on more of the data; own "
        "adds _own-splits to the tag",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="torch threads of each model (of each member)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        choices=range(1, 65),
        metavar="N",
        help="ensemble members trained at once (bertrbp-finetune --jobs), default 1; each takes --threads threads",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--reuse",
        metavar="TAG",
        help="take the ensemble members TAG already trained on each experiment (same settings; checked by "
        "--resume) and train only the new ones, e.g. a third CNN seed; train_wall_s counts their original time",
    )
    parser.add_argument("--tag", help="name of this setting in the results (default from model, lr, epochs, ...)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--report", action="store_true", help="print the markdown tables of every results file")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 400 training and 200 test sites")
    args = parser.parse_args(argv)
    if args.smoke:
        args.model, args.pretrained, args.epochs, args.max_train, args.max_test = "tiny", None, 1, 400, 200
        args.experiments = args.experiments or experiments(args.suite, args.data)[:1]
        args.tag = args.tag or "smoke"
    args.tag = args.tag or default_tag(args)
    if args.reuse and args.reuse == args.tag:
        parser.error(f"--reuse {args.reuse} is this run's own --tag; name the tag whose members to take.")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.report:
        print(report(args.results))
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (args.data / args.suite).exists() and not (args.suite == "tial1" and (args.data / "tial1").exists()):
        raise SystemExit(f"error: {args.data / args.suite} not found; the accuracy benchmark needs the real data.")
    source = args.pretrained or args.model
    path = results_path(args.suite, args.tag, args.results)
    for name in args.experiments or experiments(args.suite, args.data):
        # claim the experiment, then look for its row: two runs of one tag (e.g. in opposite orders, sharing one
        # work folder) split the experiments, since a run appends its row before it lets go of the claim
        with claim(args.work / args.suite / args.tag / f".{name}.claim") as mine:
            if not mine:
                print(f"skip {name}: another run of this tag is training it", flush=True)
                continue
            if name in {row["experiment"] for row in read_rows(path)}:
                print(f"skip {name}: already in {path}", flush=True)
                continue
            row = run_one(args, args.suite, name, source, bool(args.pretrained))
            keep_history(args, name)
            append_row(path, row)
        print(
            "\t".join(
                f"{k}={row[k]}"
                for k in ("experiment", "test_auroc", "val_auroc", "collapsed", "train_wall_s", "load_before")
            ),
            flush=True,
        )
    print(report(args.results))


if __name__ == "__main__":
    main()
