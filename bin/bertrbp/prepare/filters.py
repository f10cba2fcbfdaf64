"""Drop sequences the paper drops, counting each drop and its reason for the manifest.

Reasons: ``contains_N`` (letters outside ACGT; other letters are refused by the readers), ``too_short`` /
``too_long``, ``duplicate`` (exact copy of an earlier sequence with the same label), ``conflicting_label``
(the same sequence labelled both 0 and 1: every copy dropped, no label can be trusted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bertrbp.io.sequences import SequenceRecord


@dataclass
class DropLog:
    """Counts of dropped records by reason and by class (label)."""

    counts: Counter = field(default_factory=Counter)
    by_class: dict = field(default_factory=dict)
    renamed: list = field(default_factory=list)  # (old, new) ids made unique; kept records, reported not dropped

    def add(self, reason: str, record: SequenceRecord) -> None:
        self.counts[reason] += 1
        per = self.by_class.setdefault(reason, Counter())
        per[str(record.label)] += 1

    def as_dict(self) -> dict:
        return {
            "total": sum(self.counts.values()),
            "reasons": {
                reason: {"count": n, "by_class": dict(self.by_class[reason])}
                for reason, n in sorted(self.counts.items())
            },
        }


def filter_letters(
    records: list[SequenceRecord], log: DropLog, drop_n: bool = True, min_length: int = 1, max_length: int | None = None
) -> list[SequenceRecord]:
    """Keep records whose sequence is plain ACGT (unless ``drop_n`` is off) and within the length bounds."""
    kept = []
    for record in records:
        if drop_n and "N" in record.seq:
            log.add("contains_N", record)
        elif len(record.seq) < min_length:
            log.add("too_short", record)
        elif max_length is not None and len(record.seq) > max_length:
            log.add("too_long", record)
        else:
            kept.append(record)
    return kept


def drop_duplicates(records: list[SequenceRecord], log: DropLog) -> list[SequenceRecord]:
    """Keep the first copy of each sequence; drop every copy of a sequence seen with both labels."""
    labels: dict[str, set] = {}
    for record in records:
        labels.setdefault(record.seq, set()).add(record.label)
    seen: set[str] = set()
    kept = []
    for record in records:
        if len(labels[record.seq]) > 1:
            log.add("conflicting_label", record)
        elif record.seq in seen:
            log.add("duplicate", record)
        else:
            seen.add(record.seq)
            kept.append(record)
    return kept
