"""Keep test and held-out sequences out of a pretraining corpus.

Pretraining on a test sequence lets the encoder memorise it, which inflates every later AUROC measured on it.
The exclusion set holds the sequences of the given files (any reader format), each under a canonical key (the
smaller of the sequence and its reverse complement), so one lookup matches either strand. Matching is on whole
sequences: a corpus record or window is excluded when it equals an excluded sequence or its reverse
complement. (Sequences embedded inside a longer corpus record, e.g. a test site inside a chromosome, are not
detected; cut such corpora from training files, as the bench script does.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.io.sequences import iter_records, reverse_complement


def canonical(seq: str) -> str:
    """One key for a sequence and its reverse complement."""
    rc = reverse_complement(seq)
    return seq if seq <= rc else rc


@dataclass
class ExclusionSet:
    """Canonical keys of excluded sequences, with where each came from (for error messages)."""

    origin: dict[str, str] = field(default_factory=dict)
    max_length: int = 0
    files: list[str] = field(default_factory=list)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], fmt: str = "auto") -> ExclusionSet:
        paths = list(paths)
        excluded = cls(files=[str(p) for p in paths])
        for record in (r for path in paths for r in iter_records(path, fmt)):
            excluded.add(record.seq, f"{record.source}: record '{record.id}' (line {record.line})")
        return excluded

    def add(self, seq: str, where: str) -> None:
        self.origin.setdefault(canonical(seq), where)
        self.max_length = max(self.max_length, len(seq))

    def __len__(self) -> int:
        return len(self.origin)

    def match(self, seq: str) -> str | None:
        """Where the excluded copy of ``seq`` (either strand) came from, or None."""
        if not self.origin or len(seq) > self.max_length:
            return None
        return self.origin.get(canonical(seq))
