"""Streaming readers for every sequence format the tools accept.

Formats (``fmt``):
- ``fasta``: plain or gzip FASTA, DNA or RNA, any case, wrapped lines. A ``class:0``/``class:1`` field in the
  header (RBP-31) gives the label; coordinates such as ``chr1,+,69302,69402`` (RBP-31) or
  ``id;chr5,137088438,137088480,-`` (RBP-24) or ``chr1:14361-14462(+)`` (RBPsuite) are parsed into
  ``Coordinates`` when present.
- ``tsv``: ``SEQUENCE<TAB>LABEL`` without header (ENCODE eCLIP sets as distributed by EDCNN).
- ``kmer-tsv``: BERT-RBP's ``sequence<TAB>label`` with a header, the sequence written as space-separated
  overlapping k-mers; the nucleotide sequence is rebuilt and the overlap checked.

Every reader yields ``SequenceRecord`` objects one at a time, so arbitrarily large inputs stream in bounded
memory. Problems raise ``InputError`` naming the file, the record and what to do.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bertrbp.errors import InputError

VALID_LETTERS = frozenset("ACGTUN")
FORMATS = ("auto", "fasta", "tsv", "kmer-tsv")

_CLASS_FIELD = re.compile(r"(?:^|[\s;|,])(?:class|label)[:=]\s*(\S+?)(?:[;|,\s]|$)")
_RBP31_COORDS = re.compile(r"^(?P<chrom>[^,\s;]+),(?P<strand>[+-]),(?P<start>\d+),(?P<end>\d+)")
_RBP24_COORDS = re.compile(r"(?P<chrom>[^,\s;]+),(?P<start>\d+),(?P<end>\d+),(?P<strand>[+-])")
# RBPsuite / bedtools getfasta -s names, as in the BERT-RBP paper's data: chr1:14361-14462(+) (0-based start)
_RBPSUITE_COORDS = re.compile(r"(?:^|[;|])(?P<chrom>[^\s:;,|]+):(?P<start>\d+)-(?P<end>\d+)\((?P<strand>[+-])\)")


@dataclass(frozen=True)
class Coordinates:
    """Genomic interval of a sequence as written in its source header (as given: 0- or 1-based per source)."""

    chrom: str
    start: int
    end: int
    strand: str


@dataclass
class SequenceRecord:
    """One input sequence.

    ``seq`` is upper-case DNA (U read as T, N kept). ``raw`` keeps the letters as written, case included, for
    tools that need the case (RBP-24 viewpoints). ``label`` is 0, 1 or None (unknown).
    """

    id: str
    seq: str
    label: int | None = None
    raw: str = ""
    coords: Coordinates | None = None
    source: str = ""
    line: int = 0
    extra: dict = field(default_factory=dict)


_COMPLEMENT = str.maketrans("ACGTUNRYKMSWBDHVacgtunrykmswbdhv", "TGCAANYRMKSWVHDBtgcaanyrmkswvhdb")


def complement(seq: str) -> str:
    """Complement of DNA/RNA letters and IUPAC codes, case kept (U pairs as A; result is DNA); one table for
    every tool, so no strand shows a code uncomplemented (scan's profile once kept R as R on the minus strand)."""
    return seq.translate(_COMPLEMENT)


def reverse_complement(seq: str) -> str:
    """Reverse complement, as ``complement``."""
    return complement(seq)[::-1]


def normalize_sequence(raw: str, where: str) -> str:
    """Upper-case, U to T, and reject letters outside ACGTUN with a message naming ``where``."""
    seq = raw.strip().upper()
    bad = set(seq) - VALID_LETTERS
    if bad:
        shown = ", ".join(repr(c) for c in sorted(bad)[:5])
        raise InputError(
            f"{where}: letters outside A, C, G, T, U, N: {shown}. "
            "Remove or replace those letters (IUPAC ambiguity codes other than N are not accepted)."
        )
    if not seq:
        raise InputError(f"{where}: empty sequence. Remove the record or give it a sequence.")
    return seq.replace("U", "T")


def parse_label(text: str, where: str) -> int:
    """Parse a 0/1 label, accepting '0', '1', '0.0', '1.0'."""
    value = text.strip()
    if value in ("0", "1"):
        return int(value)
    if value in ("0.0", "1.0"):
        return int(float(value))
    raise InputError(f"{where}: label {value!r} is not 0 or 1. Labels must be 0 (unbound) or 1 (bound).")


def open_text(path: str | Path) -> IO[str]:
    """Open plain or gzip text by content (magic bytes), not by file name."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a sequence file.")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="strict")
    return open(path, encoding="utf-8-sig", errors="strict")  # -sig: a UTF-8 BOM (Windows editors) is skipped


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines (from 1, end of line removed) of a plain or gzip text file, UTF-8 with or without a BOM.

    Every line-based reader uses it, so gzip and encoding failures become the same InputError everywhere.
    """
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"{path}: the gzip stream is truncated or corrupt ({exc}). Download or compress the file again."
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text file (byte {exc.start} is not UTF-8).") from exc


def detect_format(path: str | Path) -> str:
    """Guess the format from the first non-empty line."""
    path = Path(path)
    for _, line in numbered_lines(path):
        if not line.strip():
            continue
        if line.startswith(">"):
            return "fasta"
        fields = line.split("\t")
        if fields[0].strip().lower() == "sequence":
            return "kmer-tsv"
        if len(fields) >= 2:
            return "tsv"
        raise InputError(
            f"{path}: line 1 is neither a FASTA header ('>') nor a SEQUENCE<TAB>LABEL row. "
            "Give FASTA, a two-column TSV, or BERT-RBP's k-mer TSV with a 'sequence<TAB>label' header."
        )
    raise InputError(f"{path}: the file is empty. Give at least one sequence.")


def _parse_header(header: str) -> tuple[str, int | None, Coordinates | None, str]:
    """Return (id, label, coordinates, raw label text) from a FASTA header line without '>'."""
    text = header.strip()
    label_text = None
    match = _CLASS_FIELD.search(text)
    if match:
        label_text = match.group(1)
    first = text.split()[0] if text else ""
    record_id = first.rstrip(";")
    return record_id, None, coordinates_in_id(record_id), label_text or ""


def canonical_chrom(name: str) -> str:
    """One spelling of a chromosome named the UCSC or the Ensembl way (``chr1`` and ``1``, ``chrM`` and ``MT``):
    the UCSC one. Splits and overlap checks compare these, so sites from a UCSC and an Ensembl file over one locus
    are one group."""
    bare = name[3:] if name.startswith("chr") else name
    return "chrM" if bare in ("M", "MT") else f"chr{bare}"


def _coordinates_match(record_id: str) -> re.Match | None:
    return _RBP31_COORDS.match(record_id) or _RBP24_COORDS.search(record_id) or _RBPSUITE_COORDS.search(record_id)


def coordinates_in_id(record_id: str) -> Coordinates | None:
    """The genomic interval a record id names (RBP-31, RBP-24 or RBPsuite style), or None."""
    match = _coordinates_match(record_id)
    if match is None:
        return None
    return Coordinates(match["chrom"], int(match["start"]), int(match["end"]), match["strand"])


def with_coordinates(record_id: str, coords: Coordinates) -> str | None:
    """``record_id`` with the interval it names replaced by ``coords`` (0-based, ``chrom:start-end(strand)``, as
    bedtools getfasta -s writes), the rest of the id kept; None when the id names no interval."""
    match = _coordinates_match(record_id)
    if match is None:
        return None
    start, end = match.start("chrom"), match.end()
    return f"{record_id[:start]}{coords.chrom}:{coords.start}-{coords.end}({coords.strand}){record_id[end:]}"


def iter_fasta(path: str | Path, label: int | None = None) -> Iterator[SequenceRecord]:
    """Stream FASTA records; ``label`` overrides any header label."""
    path = Path(path)
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    seen_any = False

    def finish() -> SequenceRecord:
        where = f"{path}: record '{header.strip()}' (line {header_line})"
        record_id, _, coords, label_text = _parse_header(header)
        if not record_id:
            raise InputError(f"{where}: the header has no identifier.")
        raw = "".join(chunks)
        seq = normalize_sequence(raw, where)
        if label is not None:
            lab: int | None = label
        elif label_text:
            lab = parse_label(label_text, where)
        else:
            lab = None
        return SequenceRecord(record_id, seq, lab, raw, coords, str(path), header_line)

    for number, line in numbered_lines(path):
        if line.startswith(">"):
            if header is not None:
                yield finish()
            header, header_line, chunks = line[1:], number, []
            seen_any = True
        elif header is None:
            if line.strip():
                raise InputError(
                    f"{path}: line {number}: sequence text before the first FASTA header. "
                    "A FASTA file starts with a '>' header line."
                )
        else:
            chunks.append(line.strip())
    if header is not None:
        yield finish()
    if not seen_any:
        raise InputError(f"{path}: no FASTA records found (the file is empty).")


def iter_tsv(path: str | Path, label: int | None = None) -> Iterator[SequenceRecord]:
    """Stream ``SEQUENCE<TAB>LABEL`` rows (no header). Ids are ``<file stem>:<line>``."""
    path = Path(path)
    stem = path.name.split(".")[0]
    count = 0
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{path}: line {number}"
        if len(fields) < 2 and label is None:
            raise InputError(f"{where}: expected SEQUENCE<TAB>LABEL, found {len(fields)} column(s).")
        lab = label if label is not None else parse_label(fields[1], where)
        seq = normalize_sequence(fields[0], where)
        count += 1
        yield SequenceRecord(f"{stem}:{number}", seq, lab, fields[0].strip(), None, str(path), number)
    if count == 0:
        raise InputError(f"{path}: the file is empty. Give at least one SEQUENCE<TAB>LABEL row.")


def kmers_to_sequence(kmers: list[str], where: str) -> str:
    """Rebuild a nucleotide sequence from overlapping k-mers, checking each overlaps the previous one."""
    if not kmers:
        raise InputError(f"{where}: no k-mers in the sequence column.")
    k = len(kmers[0])
    for index, kmer in enumerate(kmers):
        if len(kmer) != k:
            raise InputError(f"{where}: k-mer {index + 1} ({kmer!r}) has length {len(kmer)}, expected {k}.")
        if index and kmer[:-1] != kmers[index - 1][1:]:
            raise InputError(
                f"{where}: k-mer {index + 1} ({kmer!r}) does not overlap k-mer {index} ({kmers[index - 1]!r}) "
                "by k-1 letters. The column must hold overlapping k-mers with stride 1."
            )
    return kmers[0] + "".join(kmer[-1] for kmer in kmers[1:])


def iter_kmer_tsv(path: str | Path, label: int | None = None) -> Iterator[SequenceRecord]:
    """Stream BERT-RBP's k-mer TSV (header ``sequence<TAB>label``)."""
    path = Path(path)
    stem = path.name.split(".")[0]
    count = 0
    header_seen = False
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if not header_seen:
            if fields[0].strip().lower() != "sequence":
                raise InputError(f"{path}: line {number}: expected the header 'sequence<TAB>label'.")
            header_seen = True
            continue
        where = f"{path}: line {number}"
        if len(fields) < 2 and label is None:
            raise InputError(f"{where}: expected k-mers<TAB>label, found {len(fields)} column(s).")
        raw = kmers_to_sequence(fields[0].split(), where)
        seq = normalize_sequence(raw, where)
        lab = label if label is not None else parse_label(fields[1], where)
        count += 1
        yield SequenceRecord(f"{stem}:{number}", seq, lab, raw, None, str(path), number)
    if count == 0:
        raise InputError(f"{path}: no sequences after the header (the file is empty).")


def iter_records(path: str | Path, fmt: str = "auto", label: int | None = None) -> Iterator[SequenceRecord]:
    """Stream records from ``path`` in format ``fmt`` (see module docstring); ``label`` overrides labels."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if label is not None and label not in (0, 1):
        raise InputError(f"--label must be 0 or 1, not {label!r}.")
    if fmt == "auto":
        fmt = detect_format(path)
    reader = {"fasta": iter_fasta, "tsv": iter_tsv, "kmer-tsv": iter_kmer_tsv}[fmt]
    return reader(path, label)


def iter_many(paths: Iterable[str | Path], fmt: str = "auto", label: int | None = None) -> Iterator[SequenceRecord]:
    """Stream records from several files in order."""
    for path in paths:
        yield from iter_records(path, fmt, label)


def iter_labelled_pair(positives: str | Path, negatives: str | Path, fmt: str = "auto") -> Iterator[SequenceRecord]:
    """Stream a positives file (label 1) followed by a negatives file (label 0), e.g. RBPsuite or GraphProt."""
    yield from iter_records(positives, fmt, 1)
    yield from iter_records(negatives, fmt, 0)


def require_labels(records: Iterable[SequenceRecord]) -> Iterator[SequenceRecord]:
    """Pass records through, failing on the first one without a label."""
    for record in records:
        if record.label is None:
            raise InputError(
                f"{record.source}: record '{record.id}' (line {record.line}) has no label. "
                "Give labels in the header (class:0/1), in a TSV label column, or with --label / "
                "separate positive and negative files."
            )
        yield record


def check_unique_ids(records: Iterable[SequenceRecord]) -> Iterator[SequenceRecord]:
    """Pass records through, failing on a repeated id (ids key predictions and annotations)."""
    seen: dict[str, str] = {}
    for record in records:
        if record.id in seen:
            # a TSV row's id is made from its file name (up to the first dot) and line: renaming a record cannot help
            made = record.id == f"{Path(record.source).name.split('.')[0]}:{record.line}"
            advice = (
                "TSV rows are named <file name up to its first dot>:<line>, so these two files give the same ids; "
                "give them in separate runs, or rename one file so its name differs before the first dot."
                if made
                else "Ids must be unique; rename one of the records."
            )
            raise InputError(
                f"{record.source}: record '{record.id}' (line {record.line}) repeats an id first seen at "
                f"{seen[record.id]}. {advice}"
            )
        seen[record.id] = f"{record.source} line {record.line}"
        yield record
