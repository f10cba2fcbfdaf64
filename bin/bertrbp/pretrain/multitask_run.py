"""The pretrain tool's multi-task objective end to end: tasks -> exclusion -> shared trainer -> checkpoint + card.

Output folder (as for masked-LM pretraining)::

    DIR/model/                 config.json (BertModel), model.safetensors, vocab.txt -> finetune --model DIR/model
    DIR/task_heads.safetensors the per-task heads (not needed for fine-tuning; kept to score the tasks again)
    DIR/metrics.json           per-epoch train/validation loss and per-task validation AUROC
    DIR/model_card.{json,md}   settings, tasks, the exclusion report, results
    DIR/checkpoints/           trainer_state.pt, run.json and tasks.json (the task table's checksum) for --resume
"""

from __future__ import annotations

import logging
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_open
from bertrbp.model import MAX_POSITIONS, save_checkpoint
from bertrbp.pretrain.exclusion import ExclusionSet
from bertrbp.pretrain.init_model import continue_task_heads, load_start, starting_weights_lines
from bertrbp.pretrain.mlm import split_indices
from bertrbp.pretrain.multitask import (
    MultitaskBatches,
    TaskTable,
    build_multitask_model,
    build_task_table,
    evaluate_tasks,
)
from bertrbp.pretrain.shared import (
    refuse_changed_resume,
    refuse_unfinished_run,
    training_metrics,
    write_checkpoint_and_card,
)
from bertrbp.tokenizer import KmerTokenizer
from bertrbp.training import train
from bertrbp.training.checkpoint import check_run_identity

log = logging.getLogger("bertrbp")
TABLE_FILE = "tasks.json"  # in checkpoints/: the task table's size, checksum and per-task counts


def pretrain_multitask(options) -> dict:
    """Train the shared encoder on every task; returns the metrics written to metrics.json."""
    from bertrbp.pretrain.run import run_identity, starting_weights

    out = Path(options.output_dir)
    checkpoints = out / "checkpoints"
    init = starting_weights(options)  # first: an --output-dir over the start is refused as that, not as a resume
    refuse_unfinished_run(out, options.resume)
    identity = run_identity(options, init)
    refuse_changed_resume(out, identity, options.resume)  # before reading every task
    tokenizer = KmerTokenizer(options.k)
    exclusion = ExclusionSet.from_files(options.exclude, options.fmt) if options.exclude else None
    table = build_task_table(
        options.tasks, exclusion, tokenizer.max_sequence_length(MAX_POSITIONS), options.fmt, min_length=options.k
    )
    log.info(
        "multi-task data: %d distinct sequences over %d tasks; %d task records dropped as excluded sequences",
        len(table),
        len(table.names),
        sum(row["excluded"] for row in table.report),
    )
    train_idx, val_idx = split_indices(len(table), options.val_fraction, options.train.seed, "sequences")
    train_source = MultitaskBatches(table, tokenizer, train_idx)
    val_source = MultitaskBatches(table, tokenizer, val_idx) if len(val_idx) else None
    model = build_multitask_model(options.model_size, options.k, len(table.names), seed=options.train.seed)
    if init is not None:
        load_start(model, init)
        continue_task_heads(model.heads, table.names, init)
    # only now, with every input accepted, does a new run write anything (bad input leaves no folder behind)
    check_run_identity(checkpoints, identity, options.resume)
    check_task_table(checkpoints, table, options.resume)

    def epoch_end(model, context) -> dict:
        if val_source is None:
            return {}
        return evaluate_tasks(
            model, val_source, table.names, context.device, context.bf16, max(64, options.train.batch_size)
        )

    curve: list[dict] = []  # training loss at every log line (the trainer's window mean): the card's loss curve

    def on_step(step: int, loss: float | None) -> None:
        if loss is not None:
            curve.append({"step": step, "train_loss": round(loss, 5)})

    result = train(
        model,
        train_source,
        options.train,
        checkpoint_dir=checkpoints,
        resume=options.resume,
        epoch_end=epoch_end,
        on_step=on_step,
        desc="pretrain",
    )
    model.to("cpu")
    metrics = {
        **training_metrics(result),
        "train_loss_curve": curve,  # since this process started (a resumed run's earlier steps are in its log)
        "train_sequences": int(len(train_idx)),
        "val_sequences": int(len(val_idx)),
        "exclusion": exclusion_report(table, exclusion, options.exclude),
        "initialised_from": init.record if init is not None else None,
    }
    write_multitask_outputs(options, model, tokenizer, table, metrics, out)
    return metrics


def check_task_table(checkpoints: Path, table: TaskTable, resume: bool) -> None:
    """Record the task table a run trains on; on --resume refuse a table that differs from it.

    run.json proves the task and exclusion files are unchanged, but the table also depends on the code that reads,
    excludes and merges them; the trainer's data order and the validation split are positions in the table, so a
    resume on a different table would silently train on shuffled labels. (A run checkpointed before this file
    existed records its table at its first resume.)
    """
    import json

    path = checkpoints / TABLE_FILE
    summary = {"distinct_sequences": len(table), "sha256": table.digest(), "tasks": table.report}
    if resume and path.exists():
        try:  # an edited or damaged record was a JSONDecodeError or AttributeError traceback
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise InputError(f"{path}: unreadable ({reason}). Delete {checkpoints} to start over.") from exc
        if not isinstance(saved, dict):
            raise InputError(
                f"{path}: not a task-table record (a JSON object is expected). Delete {checkpoints} to start over."
            )
        if saved.get("sha256") != summary["sha256"]:
            raise InputError(
                f"{checkpoints}: --resume rebuilt a different task table ({saved.get('distinct_sequences')} -> "
                f"{summary['distinct_sequences']} distinct sequences) from the same files, so the reading or "
                "exclusion code changed since the run started. Resume with the bert-rbp version that started it, "
                "or start a new run in another --output-dir."
            )
        return
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")


def exclusion_report(table: TaskTable, exclusion: ExclusionSet | None, files: list[Path]) -> dict:
    """What was kept out and why: the excluded files (by checksum) and, per task, how many records were dropped."""
    from bertrbp.provenance import sha256

    return {
        "rule": "a task record is dropped when its sequence or its reverse complement equals any sequence of "
        "the exclusion files (every test split of every experiment, held-out sets)",
        "excluded_sequences": len(exclusion) if exclusion is not None else 0,
        "files": [{"file": str(path), "name": Path(path).name, "sha256": sha256(path)} for path in files],
        "tasks": table.report,
        "records_read": sum(row["read"] for row in table.report),
        "records_dropped": sum(row["excluded"] for row in table.report),
        "distinct_sequences_kept": len(table),
    }


def write_multitask_outputs(options, model, tokenizer: KmerTokenizer, table: TaskTable, metrics: dict, out: Path):
    """DIR/model (encoder in DNABERT layout + card), metrics, the model card and the task heads."""
    from safetensors.torch import save

    from bertrbp.provenance import sha256

    def describe(weights: Path) -> tuple[dict, str]:
        card = model_card(options, model, table, metrics, sha256(weights))
        return card, model_card_markdown(card)

    write_checkpoint_and_card(out, metrics, lambda folder: save_checkpoint(model.bert, tokenizer, folder), describe)
    heads = {"weight": model.heads.weight.detach().contiguous(), "bias": model.heads.bias.detach().contiguous()}
    with atomic_open(out / "task_heads.safetensors", "wb") as handle:
        handle.write(save(heads, metadata={"tasks": ",".join(table.names)}))


def model_card(options, model, table: TaskTable, metrics: dict, weights_sha256: str) -> dict:
    """What was trained, on which tasks, excluding what, with what result (the masked-LM card's conventions)."""
    from bertrbp import __version__
    from bertrbp.provenance import device_description, software_versions

    config = model.bert.config
    final = {k: v for k, v in metrics["final"].items() if not isinstance(v, dict)}
    return {
        "tool": "bertrbp-pretrain",
        "version": __version__,
        "task": "supervised multi-task pretraining: one bound/unbound head per CLIP experiment on a shared encoder",
        "architecture": "BertModel (encoder + pooler; fine-tuning adds a new classification head)",
        "model_size": options.model_size,
        "k": options.k,
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "attention_heads": config.num_attention_heads,
        "parameters": sum(p.numel() for p in model.bert.parameters()),
        "tasks": table.names,
        "exclusion": metrics["exclusion"],
        "training": options.train.to_dict(),
        "initialised_from": metrics.get("initialised_from"),
        "results": {
            "final": final,
            "val_task_auroc": metrics["final"].get("val_task_auroc", {}),
            "history": [{k: v for k, v in row.items() if not isinstance(v, dict)} for row in metrics["history"]],
            "train_loss_curve": metrics["train_loss_curve"],
            **{k: metrics[k] for k in ("global_step", "wall_seconds", "device", "bf16", "threads")},
            "train_sequences": metrics["train_sequences"],
            "val_sequences": metrics["val_sequences"],
        },
        "device_description": device_description(metrics["device"]),
        "software": software_versions(),
        "weights_sha256": weights_sha256,
        "usage": f"bertrbp-finetune --model {Path(options.output_dir) / 'model'} --train TRAIN.fa --output-dir OUT",
    }


def model_card_markdown(card: dict) -> str:
    """The card for people: the per-task exclusion table (the leakage report) comes before the results."""
    exclusion, results = card["exclusion"], card["results"]
    final = results["final"]
    lines = [
        f"# k-mer BERT pretrained on {len(card['tasks'])} CLIP experiments ({card['model_size']}, k={card['k']})",
        "",
        f"{card['task']}; by bertrbp-pretrain {card['version']}.",
        "",
        "## Model",
        f"- {card['layers']} layers, hidden size {card['hidden_size']}, {card['attention_heads']} heads, "
        f"{card['parameters']:,} parameters; DNABERT layout, fine-tune with `{card['usage']}`",
        "",
        "## Tasks and exclusions",
        f"- {exclusion['records_read']:,} task records read, {exclusion['records_dropped']:,} dropped because the "
        f"sequence (either strand) is one of {exclusion['excluded_sequences']:,} excluded sequences; "
        f"{exclusion['distinct_sequences_kept']:,} distinct sequences kept",
        f"- rule: {exclusion['rule']}",
        f"- exclusion files ({len(exclusion['files'])}): " + ", ".join(f["name"] for f in exclusion["files"]),
        "",
        "| task | records | excluded | kept | bound | validation AUROC |",
        "|---|---|---|---|---|---|",
        *[
            f"| {row['task']} | {row['read']:,} | {row['excluded']:,} | {row['kept']:,} | {row['positives']:,} | "
            f"{results['val_task_auroc'].get(row['task'], float('nan')):.3f} |"
            for row in exclusion["tasks"]
        ],
        "",
        "## Training",
        f"- {results['global_step']} optimizer steps on {results['train_sequences']:,} sequences "
        f"({results['val_sequences']:,} held out), lr {card['training']['lr']}, batch "
        f"{card['training']['batch_size']}, seed {card['training']['seed']}",
        f"- {card['device_description']}, bf16 {'on' if results['bf16'] else 'off'}, {results['threads']} threads, "
        f"{results['wall_seconds'] / 60:.1f} min",
        *starting_weights_lines(card.get("initialised_from")),
        "",
        "## Results (validation)",
        *[f"- {key}: {value:.4f}" if isinstance(value, float) else f"- {key}: {value}" for key, value in final.items()],
        "",
        "| epoch | step | train loss | validation loss | mean task AUROC |",
        "|---|---|---|---|---|",
        *[
            f"| {row.get('epoch')} | {row.get('step')} | {row.get('train_loss', float('nan')):.4f} | "
            f"{row.get('val_loss', float('nan')):.4f} | {row.get('val_mean_task_auroc', float('nan')):.4f} |"
            for row in results["history"]
        ],
        "",
        "- Software: " + ", ".join(f"{k} {v}" for k, v in card["software"].items()),
        "",
        "Full details: model_card.json.",
        "",
    ]
    return "\n".join(lines)
