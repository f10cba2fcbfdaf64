"""Which sequences the attention analysis sees: all of them, or a seeded sample stratified by label.

Why: input files list bound sites first, so "the first N" of a capped run are all bound (a full-size RBP once
gave 2,000 bound and 0 unbound). The paper analyses the whole non-training set, which is the default. With a
cap, each label (1, 0, and "unknown" for records without one) keeps its share of the file, by largest
remainders; within a label the sequences are a uniform random sample (one reservoir per label, so memory is
bounded by the cap, not the file). The chosen sequences keep their file order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.io.sequences import check_unique_ids, iter_records


def label_key(label: int | None) -> str:
    return "unknown" if label is None else str(label)


@dataclass
class SequenceSample:
    """The analysed sequences, their labels, and how they were chosen (counts per label: file vs analysed)."""

    ids: list[str]
    seqs: list[str]
    labels: list[int | None]
    in_file: Counter = field(default_factory=Counter)
    method: str = "all"

    @property
    def analysed(self) -> Counter:
        return Counter(label_key(label) for label in self.labels)

    def summary(self) -> dict:
        """JSON-ready: method, totals and per-label counts in the file and in the analysis."""
        return {
            "method": self.method,
            "in_file": sum(self.in_file.values()),
            "analysed": len(self.ids),
            "in_file_by_label": dict(sorted(self.in_file.items())),
            "analysed_by_label": dict(sorted(self.analysed.items())),
        }


def quotas(counts: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` over the labels in proportion to ``counts`` (largest remainders, ties by label)."""
    size = sum(counts.values())
    if total >= size:
        return dict(counts)
    exact = {key: total * n / size for key, n in counts.items()}
    out = {key: int(value) for key, value in exact.items()}
    left = total - sum(out.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:left]:
        out[key] += 1
    return out


def choose_sequences(path: str | Path, max_sequences: int | None = None, seed: int = 42) -> SequenceSample:
    """Stream ``path`` and keep every record, or a label-stratified seeded sample of ``max_sequences``."""
    records = check_unique_ids(iter_records(path))
    if max_sequences is None:
        sample = SequenceSample([], [], [])
        for record in records:
            sample.ids.append(record.id)
            sample.seqs.append(record.seq)
            sample.labels.append(record.label)
            sample.in_file[label_key(record.label)] += 1
        return sample
    rng = np.random.default_rng(seed)
    reservoirs: dict[str, list] = {}
    seen: Counter = Counter()
    for index, record in enumerate(records):
        key = label_key(record.label)
        seen[key] += 1
        item = (index, record.id, record.seq, record.label)
        reservoir = reservoirs.setdefault(key, [])
        if len(reservoir) < max_sequences:
            reservoir.append(item)
        else:  # Algorithm R: the kept items stay a uniform sample of this label's records so far
            slot = int(rng.integers(0, seen[key]))
            if slot < max_sequences:
                reservoir[slot] = item
    chosen = []
    for key, n in quotas(dict(seen), max_sequences).items():
        pool = reservoirs[key]
        picks = rng.choice(len(pool), size=n, replace=False) if n < len(pool) else range(len(pool))
        chosen.extend(pool[i] for i in picks)
    chosen.sort()
    capped = sum(seen.values()) > max_sequences
    method = (
        "all"
        if not capped
        else ("stratified by label" if set(seen) != {"unknown"} else "random (no labels in the file)")
    )
    return SequenceSample([c[1] for c in chosen], [c[2] for c in chosen], [c[3] for c in chosen], seen, method)
