"""Reading the shared label TSVs (docs/architecture.md) that prepare and fold write, with clear errors.

Sequence labels: header ``id`` + one column per property, cells 0/1. Token labels: header ``id`` + one column
per property, each cell a string of ``0``/``1``, one character per k-mer token ([CLS]/[SEP] excluded).
Ids not in the analysed sequence file are ignored (a label file may describe a superset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.sequences import numbered_lines


@dataclass
class LabelTable:
    """Properties and, per id, a uint8 array: ``[P]`` for sequence labels, ``[P, T]`` for token labels."""

    properties: list[str]
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def _read_table(path: Path, kind: str) -> tuple[list[str], Iterable[tuple[int, list[str]]]]:
    lines = numbered_lines(path)  # gzip and encoding failures as InputError, like every line-based reader
    _, header = next(lines, (1, None))
    if header is None or not header.strip():
        raise InputError(f"{path}: the {kind} label file is empty; expected a header 'id<TAB>property...'.")
    columns = header.split("\t")
    if columns[0].strip().lower() != "id" or len(columns) < 2:
        raise InputError(
            f"{path}: line 1 must be a header 'id<TAB>property...' (got {header[:80]!r}). "
            f"{kind.capitalize()} label files are written by bertrbp-prepare and bertrbp-fold."
        )
    properties = [c.strip() for c in columns[1:]]
    if len(set(properties)) != len(properties) or not all(properties):
        raise InputError(f"{path}: property names in the header must be unique and non-empty: {properties}.")

    def body():
        for number, line in lines:
            if line.strip():
                yield number, line.split("\t")

    return properties, body()


def read_sequence_labels(path: str | Path) -> LabelTable:
    """Read a sequence-labels TSV (cells 0/1)."""
    path = Path(path)
    properties, body = _read_table(path, "sequence")
    table = LabelTable(properties, sources=[str(path)])
    for number, fields in body:
        where = f"{path}: line {number}"
        if len(fields) != len(properties) + 1:
            raise InputError(f"{where}: {len(fields)} columns, the header has {len(properties) + 1}.")
        record_id = fields[0].strip()
        if record_id in table.rows:
            raise InputError(f"{where}: id '{record_id}' appears twice. Give one row per sequence.")
        cells = [c.strip() for c in fields[1:]]
        bad = [(p, c) for p, c in zip(properties, cells) if c not in ("0", "1")]
        if bad:
            raise InputError(f"{where}: id '{record_id}': property {bad[0][0]!r} is {bad[0][1]!r}, not 0 or 1.")
        table.rows[record_id] = np.array([c == "1" for c in cells], dtype=np.uint8)
    return table


def read_token_labels(paths: Sequence[str | Path]) -> LabelTable:
    """Read and merge token-label TSVs (cells: strings of 0/1). The same property in two files is an error."""
    merged = LabelTable([])
    for path in map(Path, paths):
        properties, body = _read_table(path, "token")
        clash = set(properties) & set(merged.properties)
        if clash:
            raise InputError(
                f"{path}: property {sorted(clash)[0]!r} is also in {', '.join(merged.sources)}. "
                "Rename the column in one file."
            )
        rows: dict[str, np.ndarray] = {}
        for number, fields in body:
            where = f"{path}: line {number}"
            if len(fields) != len(properties) + 1:
                raise InputError(f"{where}: {len(fields)} columns, the header has {len(properties) + 1}.")
            record_id = fields[0].strip()
            if record_id in rows:
                raise InputError(f"{where}: id '{record_id}' appears twice. Give one row per sequence.")
            cells = [c.strip() for c in fields[1:]]
            lengths = {len(c) for c in cells}
            if len(lengths) != 1:
                raise InputError(
                    f"{where}: id '{record_id}': the properties' strings differ in length ({sorted(lengths)})."
                )
            for prop, cell in zip(properties, cells):
                if cell.strip("01"):
                    raise InputError(
                        f"{where}: id '{record_id}': property {prop!r} holds characters other than 0 and 1."
                    )
            rows[record_id] = (np.frombuffer("".join(cells).encode("ascii"), dtype=np.uint8) - ord("0")).reshape(
                len(properties), -1
            )
        if merged.properties:
            missing = set(merged.rows) ^ set(rows)
            for record_id in set(merged.rows) & set(rows):
                if merged.rows[record_id].shape[1] != rows[record_id].shape[1]:
                    raise InputError(
                        f"{path}: id '{record_id}' has {rows[record_id].shape[1]} tokens, but "
                        f"{merged.rows[record_id].shape[1]} in {', '.join(merged.sources)}."
                    )
            for record_id in missing:
                merged.rows.pop(record_id, None)
                rows.pop(record_id, None)
            merged.rows = {i: np.concatenate([merged.rows[i], rows[i]]) for i in merged.rows}
        else:
            merged.rows = rows
        merged.properties += properties
        merged.sources.append(str(path))
    return merged


def check_sequence_labels(table: LabelTable, ids: Sequence[str]) -> np.ndarray:
    """``[N, P]`` labels of ``ids`` in order; an id without a row is an error naming it."""
    for record_id in ids:
        if record_id not in table.rows:
            raise InputError(
                f"{table.sources[0]}: no labels for sequence '{record_id}'. Every analysed sequence needs a row; "
                "make the labels from the same sequence file (bertrbp-prepare --gtf) or drop the sequence."
            )
    return np.stack([table.rows[i] for i in ids]) if ids else np.zeros((0, len(table.properties)), np.uint8)


def check_token_labels(table: LabelTable, ids: Sequence[str], lengths: Sequence[int], k: int) -> list[np.ndarray]:
    """Per sequence ``[P, T]`` token labels; a missing id or a length other than len(seq) - k + 1 is an error."""
    out = []
    for record_id, length in zip(ids, lengths):
        row = table.rows.get(record_id)
        if row is None:
            raise InputError(
                f"{', '.join(table.sources)}: no token labels for sequence '{record_id}' (every token-label file "
                "must have a row for every analysed sequence). Make them from the same sequence file."
            )
        expected = length - k + 1
        if row.shape[1] != expected:
            raise InputError(
                f"{', '.join(table.sources)}: sequence '{record_id}' has {length} nt, so {expected} {k}-mer tokens, "
                f"but its token labels have {row.shape[1]} characters. Make the labels with the same k "
                "and sequences."
            )
        out.append(row)
    return out
