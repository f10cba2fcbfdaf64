"""The run's manifest: what went in (checksums), what came out (counts per class and split), and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bertrbp import __version__
from bertrbp.io.sequences import SequenceRecord
from bertrbp.provenance import sha256


def class_counts(records: Sequence[SequenceRecord]) -> dict:
    counts = Counter(str(r.label) for r in records)
    return {"total": len(records), "class_0": counts.get("0", 0), "class_1": counts.get("1", 0)}


def input_entries(paths: Sequence[Path]) -> list[dict]:
    seen, out = set(), []
    for path in paths:
        key = str(Path(path).resolve())
        if key in seen:
            continue
        seen.add(key)
        out.append({"path": str(path), "sha256": sha256(path), "bytes": Path(path).stat().st_size})
    return out


def build_manifest(
    options: dict, inputs: list[dict], read: int, drops: dict, splits: dict, overlap: dict, extra: dict
) -> dict:
    return {
        "tool": "bertrbp-prepare",
        "version": __version__,
        "seed": options.get("seed"),
        "options": options,
        "inputs": inputs,
        "records_read": read,
        "dropped": drops,
        "splits": {name: class_counts(records) for name, records in splits.items()},
        "overlap": overlap,
        **extra,
    }
