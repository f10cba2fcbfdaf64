"""Read every input layout into labelled ``SequenceRecord`` lists.

Layouts: any format of ``bertrbp.io.sequences`` (labels from headers/columns), RBPsuite/GraphProt pairs whose
label is in the file name (``<RBP>.positive.fa``, ``*.positives.fa.gz``), explicit ``--positives`` /
``--negatives`` files, and BED intervals cut from an indexed genome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.genome import GenomeFasta, read_bed
from bertrbp.io.sequences import Coordinates, SequenceRecord, iter_records, parse_label

INPUT_FORMATS = ("auto", "fasta", "tsv", "kmer-tsv", "rbp24", "rbpsuite")
_POSITIVE = re.compile(r"(?:^|[._-])positives?(?:[._-]|$)", re.IGNORECASE)
_NEGATIVE = re.compile(r"(?:^|[._-])negatives?(?:[._-]|$)", re.IGNORECASE)


@dataclass
class SourceSpec:
    """What to read: positional inputs plus the optional explicit layouts."""

    inputs: Sequence[Path] = ()
    fmt: str = "auto"
    label: int | None = None
    positives: Sequence[Path] = ()
    negatives: Sequence[Path] = ()
    bed: Sequence[Path] = ()
    genome: Path | None = None
    bed_label_column: str = "none"  # none | name | score
    files: list[Path] = field(default_factory=list)  # filled with every file read (for checksums)


def label_from_name(path: Path) -> int | None:
    """1 for ``*positive(s)*`` file names, 0 for ``*negative(s)*``, None otherwise."""
    name = path.name
    pos, neg = bool(_POSITIVE.search(name)), bool(_NEGATIVE.search(name))
    if pos == neg:
        return None
    return 1 if pos else 0


def expand_rbpsuite(path: Path) -> list[tuple[Path, int]]:
    """Files of an RBPsuite-style input: a folder holding ``*.positive.fa``/``*.negative.fa``, or those files."""
    if path.is_dir():
        found = [(p, label_from_name(p)) for p in sorted(path.iterdir()) if p.is_file()]
        found = [(p, lab) for p, lab in found if lab is not None]
        if not any(lab == 1 for _, lab in found) or not any(lab == 0 for _, lab in found):
            raise InputError(
                f"{path}: an RBPsuite folder must hold '<RBP>.positive.fa' and '<RBP>.negative.fa' files; "
                f"found {[p.name for p, _ in found] or 'none'}."
            )
        return sorted(found, key=lambda item: (-item[1], item[0].name))  # positives first, like --positives
    lab = label_from_name(path)
    if lab is None:
        raise InputError(
            f"{path}: with --format rbpsuite/rbp24 the file name must say 'positive' or 'negative' "
            "(e.g. TIAL1.positive.fa); otherwise use --positives/--negatives or --label."
        )
    return [(path, lab)]


def _read_file(path: Path, fmt: str, label: int | None) -> list[SequenceRecord]:
    reader_fmt = "fasta" if fmt in ("rbp24", "rbpsuite") else fmt
    records = list(iter_records(path, reader_fmt, label))
    if fmt == "rbp24":
        for record in records:
            record.extra["rbp24"] = True
    return records


def read_positional(spec: SourceSpec) -> list[SequenceRecord]:
    """Records of the positional inputs; unlabelled files take the label their name implies."""
    records: list[SequenceRecord] = []
    for path in spec.inputs:
        path = Path(path)
        if spec.fmt in ("rbpsuite", "rbp24") and spec.label is None:
            for file, lab in expand_rbpsuite(path):
                spec.files.append(file)
                records += _read_file(file, spec.fmt, lab)
            continue
        if path.is_dir():
            raise InputError(f"{path}: is a directory; give files, or --format rbpsuite for an RBPsuite folder.")
        spec.files.append(path)
        batch = _read_file(path, spec.fmt, spec.label)
        guessed = label_from_name(path)
        if guessed is not None and any(r.label is None for r in batch):
            for record in batch:
                if record.label is None:
                    record.label = guessed
        records += batch
    return records


def read_pairs(spec: SourceSpec) -> list[SequenceRecord]:
    """Records of ``--positives`` (label 1) and ``--negatives`` (label 0) files."""
    records: list[SequenceRecord] = []
    fmt = "fasta" if spec.fmt in ("rbp24", "rbpsuite") else spec.fmt
    for paths, lab in ((spec.positives, 1), (spec.negatives, 0)):
        for path in paths:
            spec.files.append(Path(path))
            batch = list(iter_records(path, fmt, lab))
            if spec.fmt == "rbp24":
                for record in batch:
                    record.extra["rbp24"] = True
            records += batch
    return records


def _bed_label(interval, column: str, fixed: int | None) -> int | None:
    where = f"{interval.source}: line {interval.line}"
    if column == "name":
        return parse_label(interval.name, f"{where} (name column)")
    if column == "score":
        return parse_label(interval.score, f"{where} (score column)")
    return fixed


NOT_ACGT = re.compile("[^ACGT]")  # genome letters that count as N


def read_bed_sites(spec: SourceSpec) -> list[SequenceRecord]:
    """Sequences of BED intervals cut from ``spec.genome`` (reverse complement on '-')."""
    if not spec.bed:
        return []
    if spec.genome is None:
        raise InputError("--bed needs --genome: the genome FASTA the BED coordinates refer to.")
    if spec.bed_label_column == "none" and spec.label is None:
        raise InputError("--bed needs labels: give --label 0|1 or --bed-label-column name|score.")
    records: list[SequenceRecord] = []
    with GenomeFasta(spec.genome) as genome:
        for path in spec.bed:
            spec.files.append(Path(path))
            for interval in read_bed(path, require_strand=True):
                # IUPAC codes (hg19 has some) count as N: dropped by --drop-n, else kept as N (a sequence file
                # with them is refused, naming the letters); passed through, finetune refused the file prepare wrote
                seq = NOT_ACGT.sub("N", genome.fetch_interval(interval))
                record_id = interval.key() if spec.bed_label_column == "name" else interval.display_id()
                coords = Coordinates(interval.chrom, interval.start, interval.end, interval.strand)
                records.append(
                    SequenceRecord(
                        record_id,
                        seq,
                        _bed_label(interval, spec.bed_label_column, spec.label),
                        seq,
                        coords,
                        str(path),
                        interval.line,
                        {"coords_base": "bed"},
                    )
                )
    return records


def read_sources(spec: SourceSpec) -> list[SequenceRecord]:
    """All records of ``spec``; every record must end up with a 0/1 label."""
    if spec.fmt not in INPUT_FORMATS:
        raise InputError(f"unknown --format {spec.fmt!r}; choose one of {', '.join(INPUT_FORMATS)}.")
    if not (spec.inputs or spec.positives or spec.negatives or spec.bed):
        raise InputError("no input: give sequence files, --positives/--negatives, or --bed with --genome.")
    records = read_positional(spec) + read_pairs(spec) + read_bed_sites(spec)
    for record in records:
        if record.label is None:
            raise InputError(
                f"{record.source}: record '{record.id}' (line {record.line}) has no label. Give labels in the "
                "header (class:0/1) or TSV column, name the files *.positive.fa / *.negative.fa, or use "
                "--positives/--negatives or --label."
            )
    return records


def unique_ids(records: Iterable[SequenceRecord]) -> list[tuple[str, str]]:
    """Make ids unique in place (``ID~2``, ``ID~3`` for repeats; spaces to ``_``) so outputs key cleanly; order
    decides. Returns the (old, new) id of every renamed record, for the log and the manifest."""
    used: set[str] = set()
    renamed: list[tuple[str, str]] = []
    for record in records:
        base = record.id.replace(" ", "_")
        new, count = base, 1
        while new in used:
            count += 1
            new = f"{base}~{count}"
        used.add(new)
        if new != record.id:
            renamed.append((record.id, new))
        record.id = new
    return renamed
