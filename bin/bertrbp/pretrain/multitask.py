"""Supervised multi-task pretraining: one shared k-mer BERT encoder, one binary head per CLIP experiment.

Why: masked-language pretraining of a small BERT on CLIP windows lifted fine-tuned AUROC by under 0.01 at the
scale two CPU cores allow, while binding preferences are shared across RBPs (U-rich, GU-rich, GGAC-like
motifs). Training the encoder to tell bound from unbound sites for every available experiment at once gives
fine-tuning on a new RBP a start that already reads binding motifs.

Each training file is one task (``NAME=FILE``; any labelled format the readers know). A sequence found in
several tasks becomes one example with a label for each of them; the loss is the binary cross-entropy over
the labels it has. Every sequence that equals an excluded sequence (either strand: every test split of every
experiment) is dropped, and the drops are counted per task for the model card's exclusion report.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.sequences import iter_records
from bertrbp.model import MAX_POSITIONS, preset_config
from bertrbp.pretrain.exclusion import ExclusionSet
from bertrbp.tokenizer import KmerTokenizer

UNLABELLED = -1
TASK_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # the Galaxy wrapper's validator allows the same


def parse_task(spec: str) -> tuple[str, Path]:
    """``NAME=FILE`` -> (name, path); the name becomes the head's name in the model card."""
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise InputError(f"--task {spec!r}: expected NAME=FILE (e.g. --task PUM2=rbp31/PUM2/train.fa.gz).")
    if not TASK_NAME.fullmatch(name.strip()):
        raise InputError(
            f"--task {spec!r}: a task name holds letters, digits, '_', '.' and '-' only (it is listed, "
            "comma-separated, in task_heads.safetensors and the model card); rename the task."
        )
    return name.strip(), Path(path.strip())


@dataclass
class TaskTable:
    """Distinct sequences with one label column per task (UNLABELLED where a task does not have the sequence)."""

    names: list[str]
    sequences: list[str]
    labels: np.ndarray  # (n_sequences, n_tasks) int8
    report: list[dict] = field(default_factory=list)  # per task: file, read, excluded, kept, positives

    def __len__(self) -> int:
        return len(self.sequences)

    def digest(self) -> str:
        """SHA-256 of the names, sequences (in row order) and labels: what --resume must rebuild exactly, since the
        trainer's data order and validation split are positions in this table."""
        import hashlib

        digest = hashlib.sha256("\t".join(self.names).encode())
        for seq in self.sequences:
            digest.update(seq.encode("ascii") + b"\n")
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()


def build_task_table(
    tasks: list[tuple[str, Path]],
    exclusion: ExclusionSet | None,
    max_length: int,
    fmt: str = "auto",
    min_length: int = 1,
) -> TaskTable:
    """Read every task's labelled file, drop excluded sequences, merge identical sequences across tasks.

    Records shorter than ``min_length`` (k: they have no k-mer token) are refused here, naming the record: found
    first by the tokenizer, mid-training, they stopped the run with no file named and a checkpoint folder left."""
    names = [name for name, _ in tasks]
    if len(set(names)) != len(names):
        raise InputError(
            f"--task names must be distinct; repeated: {sorted({n for n in names if names.count(n) > 1})}."
        )
    index: dict[str, int] = {}
    columns: list[dict[int, int]] = []
    report = []
    for name, path in tasks:
        if not Path(path).is_file():
            raise InputError(f"--task {name}={path}: file not found.")
        column: dict[int, int] = {}
        read = excluded = 0
        for record in iter_records(path, fmt):
            if record.label is None:
                raise InputError(f"{path}: record '{record.id}' (line {record.line}) has no label; tasks need 0/1.")
            if len(record.seq) > max_length:
                raise InputError(
                    f"{path}: record '{record.id}' is {len(record.seq)} nt, longer than the model's {max_length}."
                )
            if len(record.seq) < min_length:
                raise InputError(
                    f"{path}: record '{record.id}' (line {record.line}) is {len(record.seq)} nt, shorter than "
                    f"k={min_length}, so it has no k-mer token; remove it or use a smaller --k."
                )
            read += 1
            if exclusion is not None and exclusion.match(record.seq):
                excluded += 1
                continue
            row = index.setdefault(record.seq, len(index))
            column[row] = max(column.get(row, 0), int(record.label))  # a site bound in any copy is bound
        columns.append(column)
        report.append(
            {
                "task": name,
                "file": str(path),
                "read": read,
                "excluded": excluded,
                "kept": len(column),
                "positives": sum(column.values()),
            }
        )
    for (name, path), row in zip(tasks, report):
        _check_task_trainable(name, path, row)
    labels = np.full((len(index), len(tasks)), UNLABELLED, dtype=np.int8)
    for t, column in enumerate(columns):
        rows = np.fromiter(column.keys(), dtype=np.int64, count=len(column))
        labels[rows, t] = np.fromiter(column.values(), dtype=np.int8, count=len(column))
    return TaskTable(names, list(index), labels, report)


def _check_task_trainable(name: str, path: Path, row: dict) -> None:
    """A head needs bound and unbound sites: refuse a task the exclusion emptied or that has one class only,
    rather than train a head that can only learn a constant (and report an AUROC of nothing)."""
    if row["kept"] == 0:
        raise InputError(
            f"--task {name}={path}: no sequences left ({row['read']} read, {row['excluded']} equal an --exclude "
            "sequence on either strand). Drop this task or check that its file is a training set, not a test set."
        )
    if row["positives"] in (0, row["kept"]):
        label = 1 if row["positives"] else 0
        raise InputError(
            f"--task {name}={path}: all {row['kept']} sequences kept are labelled {label} (one class only); a task "
            "needs bound (1) and unbound (0) sites, e.g. merge the positive and negative files into one."
        )


class MultitaskBatches:
    """BatchSource over a TaskTable: tokenized sequences, float labels and the mask of labels each one has."""

    def __init__(self, table: TaskTable, tokenizer: KmerTokenizer, indices: np.ndarray | None = None):
        self.table, self.tokenizer = table, tokenizer
        self.indices = np.arange(len(table)) if indices is None else np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def batch(self, indices: np.ndarray, generator=None) -> dict:
        import torch

        rows = self.indices[np.asarray(indices)]
        ids, mask = self.tokenizer.encode_batch([self.table.sequences[i] for i in rows], MAX_POSITIONS)
        labels = torch.from_numpy(self.table.labels[rows].astype(np.float32))
        return {
            "input_ids": torch.from_numpy(ids),
            "attention_mask": torch.from_numpy(mask),
            "labels": labels.clamp(min=0),
            "label_mask": (labels != UNLABELLED).float(),
        }


def build_multitask_model(size: str, k: int, n_tasks: int, seed: int | None = None):
    """A randomly initialised encoder of preset ``size`` with ``n_tasks`` binary heads on the pooled output."""
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    return _multitask_class()(preset_config(size, k=k), n_tasks)


@functools.cache
def _multitask_class():
    """The module class, defined on first use (and once) so importing this file does not import torch."""
    from types import SimpleNamespace

    import torch
    from transformers import BertModel

    class _MultitaskBert(torch.nn.Module):
        """BertModel (pooler included, so fine-tuning inherits it) + one linear head per task."""

        def __init__(self, config, n_tasks: int):
            super().__init__()
            config.architectures = ["BertModel"]
            self.bert = BertModel(config)
            self.dropout = torch.nn.Dropout(config.hidden_dropout_prob)
            self.heads = torch.nn.Linear(config.hidden_size, n_tasks)

        def forward(self, input_ids, attention_mask, labels=None, label_mask=None):
            pooled = self.bert(input_ids=input_ids, attention_mask=attention_mask).pooler_output
            logits = self.heads(self.dropout(pooled)).float()
            loss = None
            if labels is not None:
                per_label = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
                loss = (per_label * label_mask).sum() / label_mask.sum().clamp(min=1.0)
            return SimpleNamespace(loss=loss, logits=logits)

    return _MultitaskBert


def evaluate_tasks(model, source: MultitaskBatches, names: list[str], device, bf16: bool, batch_size: int) -> dict:
    """Validation loss and per-task AUROC (mean over tasks with both classes among the validation sequences)."""
    import torch
    from sklearn.metrics import roc_auc_score

    from bertrbp.device import autocast
    from bertrbp.training import to_device

    logits, labels, masks, loss_sum, count = [], [], [], 0.0, 0.0
    with torch.no_grad():
        for start in range(0, len(source), batch_size):
            batch = to_device(source.batch(np.arange(start, min(start + batch_size, len(source)))), device)
            with autocast(device, bf16):
                out = model(**batch)
            weight = float(batch["label_mask"].sum())
            loss_sum += float(out.loss) * weight
            count += weight
            logits.append(out.logits.float().cpu().numpy())
            labels.append(batch["labels"].cpu().numpy())
            masks.append(batch["label_mask"].cpu().numpy().astype(bool))
    if not logits:
        return {}
    logits, labels, masks = np.concatenate(logits), np.concatenate(labels), np.concatenate(masks)
    per_task = {}
    for t, name in enumerate(names):
        chosen = masks[:, t]
        if len(set(labels[chosen, t].tolist())) == 2:
            per_task[name] = float(roc_auc_score(labels[chosen, t], logits[chosen, t]))
    return {
        "val_loss": loss_sum / max(1.0, count),
        "val_mean_task_auroc": float(np.mean(list(per_task.values()))) if per_task else float("nan"),
        "val_task_auroc": per_task,
    }
