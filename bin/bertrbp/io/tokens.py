"""The tokenized-dataset file (``.npz``) that tokenize writes and finetune/pretrain read.

Arrays: ``input_ids`` [N, L] int32 (padded with [PAD]=0), ``attention_mask`` [N, L] int8, ``labels`` [N] int8
(-1 where unknown), ``ids`` [N] str, ``k`` scalar. Written atomically. ``run_tokenize(TokenizeOptions)`` is the
tokenize tool's job.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_path
from bertrbp.io.sequences import SequenceRecord
from bertrbp.tokenizer import PAD_ID, KmerTokenizer

log = logging.getLogger("bertrbp")

NO_LABEL = -1


@dataclass
class TokenizedDataset:
    input_ids: np.ndarray
    attention_mask: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    k: int

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_labels(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels != NO_LABEL).all())

    def subset(self, index: np.ndarray) -> TokenizedDataset:
        return TokenizedDataset(
            self.input_ids[index], self.attention_mask[index], self.labels[index], self.ids[index], self.k
        )


def check_record_fits(record: SequenceRecord, tokenizer: KmerTokenizer, max_positions: int) -> None:
    """Refuse a record the model cannot take (longer than its positions, or shorter than k), naming it."""
    limit = tokenizer.max_sequence_length(max_positions)
    if len(record.seq) > limit:
        raise InputError(
            f"{record.source}: record '{record.id}' (line {record.line}) has {len(record.seq)} nt; the model "
            f"takes at most {limit} nt. Cut long sequences into windows (bertrbp-scan) or trim them (bertrbp-prepare)."
        )
    if len(record.seq) < tokenizer.k:
        raise InputError(f"{record.source}: record '{record.id}' (line {record.line}) is shorter than k={tokenizer.k}.")


_ENCODE_CHUNK = 4096  # sequences encoded at once by tokenize_records


def tokenize_records(
    records: Iterable[SequenceRecord], tokenizer: KmerTokenizer, max_positions: int = 512
) -> TokenizedDataset:
    """Tokenize all records into one padded dataset."""
    ids, seqs, labels = [], [], []
    for record in records:
        check_record_fits(record, tokenizer, max_positions)
        ids.append(record.id)
        seqs.append(record.seq)
        labels.append(NO_LABEL if record.label is None else record.label)
    if not seqs:
        raise InputError("no sequences to tokenize.")
    # encode_batch works in int64 (about 35 bytes a token at its peak); chunk by chunk into the int32/int8 arrays
    # that are kept (5 bytes a token), so a million sites peak near the result's size, not seven times it
    width = max(len(seq) for seq in seqs) - tokenizer.k + 3  # [CLS] + k-mers + [SEP]
    input_ids = np.full((len(seqs), width), PAD_ID, dtype=np.int32)
    mask = np.zeros((len(seqs), width), dtype=np.int8)
    for start in range(0, len(seqs), _ENCODE_CHUNK):
        chunk_ids, chunk_mask = tokenizer.encode_batch(seqs[start : start + _ENCODE_CHUNK], max_positions)
        input_ids[start : start + len(chunk_ids), : chunk_ids.shape[1]] = chunk_ids
        mask[start : start + len(chunk_ids), : chunk_mask.shape[1]] = chunk_mask
    return TokenizedDataset(input_ids, mask, np.asarray(labels, dtype=np.int8), np.asarray(ids), tokenizer.k)


def save_tokens(dataset: TokenizedDataset, path: str | Path) -> Path:
    """Write the dataset atomically as a compressed ``.npz``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                input_ids=dataset.input_ids,
                attention_mask=dataset.attention_mask,
                labels=dataset.labels,
                ids=dataset.ids,
                k=np.int64(dataset.k),
            )
    return path


def load_tokens(path: str | Path) -> TokenizedDataset:
    """Read a dataset written by ``save_tokens``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: tokens file not found.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ("input_ids", "attention_mask", "labels", "ids", "k")}
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a tokens file written by bertrbp-tokenize ({exc}).") from exc
    _check_arrays(path, arrays)
    return TokenizedDataset(
        arrays["input_ids"], arrays["attention_mask"], arrays["labels"], arrays["ids"], int(arrays["k"])
    )


def _check_arrays(path: Path, arrays: dict) -> None:
    """The arrays save_tokens writes: whole-number ids and mask [N, L], labels [N] of -1/0/1, ids [N] text, k.

    Why: an edited or foreign .npz with a 1-D input_ids, a shorter mask or labels, float labels or a k array was a
    traceback deep in finetune (IndexError, sklearn, torch), float token ids were cut to whole numbers silently and
    labels of 2 were read as 'no bound sequences'."""

    def refuse(what: str) -> InputError:
        return InputError(
            f"{path}: {what}; not a tokens file as bertrbp-tokenize writes it. Tokenize the sequences again."
        )

    input_ids, mask, labels, ids, k = (arrays[name] for name in ("input_ids", "attention_mask", "labels", "ids", "k"))
    whole = (np.integer, np.bool_)
    if k.shape != () or not np.issubdtype(k.dtype, np.integer):
        raise refuse(f"k is {k.dtype} of shape {k.shape}, not one whole number")
    if input_ids.ndim != 2 or not np.issubdtype(input_ids.dtype, np.integer):
        raise refuse(f"input_ids is {input_ids.dtype} of shape {input_ids.shape}, not whole numbers [sequences, width]")
    if mask.shape != input_ids.shape or not issubclass(mask.dtype.type, whole) or not np.isin(mask, (0, 1)).all():
        raise refuse(f"attention_mask is {mask.dtype} of shape {mask.shape}, not 0/1 of input_ids' {input_ids.shape}")
    rows = (input_ids.shape[0],)
    if labels.shape != rows or not np.issubdtype(labels.dtype, np.integer) or not np.isin(labels, (-1, 0, 1)).all():
        raise refuse(f"labels is {labels.dtype} of shape {labels.shape}, not -1/0/1 for each of {rows[0]} rows")
    if ids.shape != rows or ids.dtype.kind != "U":
        raise refuse(f"ids is {ids.dtype} of shape {ids.shape}, not text for each of {rows[0]} rows")


@dataclass
class TokenizeOptions:
    """What bertrbp-tokenize was asked to do (one field per flag)."""

    inputs: Sequence[Path]
    output: Path
    k: int = 3
    fmt: str = "auto"
    label: int | None = None
    max_positions: int = 512
    vocab_dir: Path | None = None


def refuse_vocab_over_outputs(options: TokenizeOptions) -> None:
    """Refuse, before any work, a --vocab-dir whose vocab.txt is the -o file or an input file, or cannot be written.

    Why: ``-o DIR/vocab.txt --vocab-dir DIR`` wrote the tokens and then replaced them with the vocabulary, with
    exit 0 and a log line naming the tokens file; a folder named DIR/vocab.txt failed the run with exit 2 after
    the tokens file was published.
    """
    from bertrbp.io.atomic import check_output_file, refuse_overwriting_inputs

    if options.vocab_dir is not None:
        check_output_file(Path(options.vocab_dir) / "vocab.txt", "vocab.txt")
        refuse_overwriting_inputs(
            {"--output": Path(options.output), "--vocab-dir's vocab.txt": Path(options.vocab_dir) / "vocab.txt"},
            {"inputs": [Path(path) for path in options.inputs]},
        )


def run_tokenize(options: TokenizeOptions) -> TokenizedDataset:
    """The tokenize tool's job: read every record (ids unique), write the ``.npz`` and, if asked, DNABERT's
    ``vocab.txt``; returns the dataset written."""
    from bertrbp.io.sequences import check_unique_ids, iter_many

    tokenizer = KmerTokenizer(options.k)
    refuse_vocab_over_outputs(options)
    records = check_unique_ids(iter_many(options.inputs, options.fmt, options.label))
    dataset = tokenize_records(records, tokenizer, options.max_positions)
    save_tokens(dataset, options.output)
    if options.vocab_dir is not None:
        Path(options.vocab_dir).mkdir(parents=True, exist_ok=True)
        tokenizer.save_vocab(options.vocab_dir)
    log.info(
        "tokenized %d sequences (k=%d, width %d) into %s",
        len(dataset),
        options.k,
        dataset.input_ids.shape[1],
        options.output,
    )
    return dataset
