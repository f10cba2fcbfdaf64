"""Genome access: an indexed FASTA reader, a strand-aware BED reader, and reverse complement.

A whole genome never sits in memory: ``GenomeFasta`` reads through a ``.fai`` index (pyfaidx builds it on
first use, next to the FASTA; bgzip-compressed genomes work too). Coordinates are 0-based half-open
everywhere, as in BED. Chromosome names are matched as given, then with/without a ``chr`` prefix
(``chrM`` <-> ``MT``), because UCSC and Ensembl files are routinely mixed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from bertrbp.errors import InputError
from bertrbp.io.sequences import numbered_lines, reverse_complement

__all__ = ["BedInterval", "GenomeFasta", "read_bed", "reverse_complement"]


@dataclass
class BedInterval:
    """One BED line: 0-based half-open ``[start, end)`` on ``chrom``; ``strand`` is '+', '-' or '.'."""

    chrom: str
    start: int
    end: int
    name: str = ""
    score: str = ""
    strand: str = "."
    line: int = 0
    source: str = ""
    extra: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.end - self.start

    def key(self) -> str:
        """A readable id, ``chrom:start-end(strand)``, used when the BED line has no name."""
        return f"{self.chrom}:{self.start}-{self.end}({self.strand})"

    def display_id(self) -> str:
        """The line's name, else ``key()``: '.' is BED's "no name" (bedtools writes it), so it names nothing."""
        return self.name if self.name not in ("", ".") else self.key()


def read_bed(path: str | Path, require_strand: bool = False) -> Iterator[BedInterval]:
    """Stream intervals from a BED file (plain or gzip); ``track``/``browser``/``#`` lines are skipped.

    ``require_strand`` refuses lines without '+'/'-' (RNA binding is strand-specific).
    """
    path = Path(path)
    count = 0
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            fields = line.split()
        where = f"{path}: line {number}"
        if len(fields) < 3:
            raise InputError(f"{where}: a BED line needs at least 3 columns (chrom, start, end), found {len(fields)}.")
        chrom = fields[0].strip()
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise InputError(f"{where}: start {fields[1]!r} and end {fields[2]!r} must be whole numbers.") from None
        if start < 0 or end <= start:
            raise InputError(f"{where}: interval {start}-{end} is empty or negative; BED needs 0 <= start < end.")
        strand = fields[5].strip() if len(fields) > 5 else "."
        if strand not in ("+", "-", "."):
            raise InputError(f"{where}: strand {strand!r} must be '+', '-' or '.'.")
        if require_strand and strand == ".":
            raise InputError(f"{where}: no strand. RNA-binding sites are strand-specific; give '+' or '-' in column 6.")
        count += 1
        yield BedInterval(
            chrom,
            start,
            end,
            name=fields[3].strip() if len(fields) > 3 else "",
            score=fields[4].strip() if len(fields) > 4 else "",
            strand=strand,
            line=number,
            source=str(path),
            extra=[f.strip() for f in fields[6:]],
        )
    if count == 0:
        raise InputError(f"{path}: no BED intervals found (the file is empty).")


def _aliases(chrom: str) -> list[str]:
    """Names a chromosome goes by in UCSC vs Ensembl files."""
    names = [chrom]
    if chrom in ("chrM", "chrMT"):
        names += ["MT", "M"]
    elif chrom in ("MT", "M"):
        names += ["chrM"]
    names.append(chrom[3:] if chrom.startswith("chr") else f"chr{chrom}")
    return names


def check_index_matches(fasta: Path, fai: Path, read: Callable[[int, int], bytes], size: int | None = None) -> None:
    """Refuse a ``.fai`` written for another version of the FASTA, which would fetch the wrong bases silently.

    Why: pyfaidx rebuilds an index only when it is older than the FASTA, so a genome replaced by an older copy
    (``cp -p``, ``rsync -t``, an unpacked archive) or an index copied from another build is trusted as it is.
    Each record's header line must end at the offset the index gives, and only whitespace may follow the last
    base of any record: one short read per sequence, no scan of the bases. ``read(offset, count)`` reads the
    uncompressed FASTA (plain or through a bgzip ``.gzi``); ``size`` is its length when known. The index is the
    user's file, so it is not rebuilt here.
    """
    if not fai.is_file():
        return
    stale = f"{fai}: this index does not match {fasta} (it was written for another version of the FASTA)"
    fix = f"Remove {fai.name} so it is rebuilt, or run 'samtools faidx {fasta.name}'."
    last = 0  # the byte after the last base of any record
    with open(fai, encoding="utf-8", errors="replace") as index:
        for number, line in enumerate(index, 1):
            fields = line.rstrip("\n").split("\t")
            try:
                name, length, offset, bases, width = fields[0], *map(int, fields[1:5])
            except ValueError:
                raise InputError(f"{fai}: line {number} is not a FASTA index line. {fix}") from None
            if length and bases:  # full lines before the last one carry (width - bases) line-end bytes each
                last = max(last, offset + length + (-(-length // bases) - 1) * (width - bases))
            before = read(max(0, offset - _HEADER_WINDOW), offset - max(0, offset - _HEADER_WINDOW))
            start = before.rfind(b"\n", 0, len(before) - 1) + 1
            if start == 0 and offset > len(before):
                continue  # a header longer than the window: nothing to compare cheaply
            header = before[start:]
            if not (header.startswith(b">") and header[1:].split(maxsplit=1)[:1] == [name.encode()]):
                raise InputError(f"{stale}: sequence {name!r} does not start at byte {offset}. {fix}")
    if size is not None and last > size:
        raise InputError(f"{stale}: it ends at byte {last}, the file at byte {size}. {fix}")
    tail = read(last, _TAIL_WINDOW + 1)
    if tail.strip() or len(tail) > _TAIL_WINDOW:
        raise InputError(f"{stale}: the FASTA goes on after byte {last}, where the index ends. {fix}")


def _plain_reader(handle: BinaryIO) -> Callable[[int, int], bytes]:
    """Reads of an open FASTA. Why one handle: opening the file for each record's header took 8 of a genome's
    12 s of opening at 200,000 contigs (a transcriptome, a draft assembly), at every start of scan or variant-effect."""

    def read(offset: int, count: int) -> bytes:
        handle.seek(offset)
        return handle.read(count)

    return read


def _bgzip_reader(faidx) -> Callable[[int, int], bytes]:
    """Read uncompressed bytes of a bgzip FASTA through pyfaidx's open reader and its .gzi block table."""
    import bisect

    from pyfaidx import make_virtual_offset

    starts = [block.ustart for block in faidx.gzi_index]

    def read(offset: int, count: int) -> bytes:
        block = faidx.gzi_index[max(0, bisect.bisect_right(starts, offset) - 1)]
        try:
            with faidx.lock:
                faidx.file.seek(make_virtual_offset(block.cstart, offset - block.ustart))
                return faidx.file.read(count)
        except (ValueError, OSError, EOFError) as exc:  # Bio's bgzf on a cut file: "block size only 0"
            raise InputError(
                f"{faidx.filename}: cannot read the bgzip genome at byte {offset} ({exc}); the file is truncated or "
                "corrupt, or its .gzi belongs to another file. Copy it again, or remove the .fai and .gzi."
            ) from None

    return read


_HEADER_WINDOW = 4096  # bytes read before each record's offset to find its header line
_TAIL_WINDOW = 65536  # whitespace allowed after the last base


class GenomeFasta:
    """Random access to an indexed genome FASTA (plain or bgzip), without loading it into memory."""

    def __init__(self, path: str | Path) -> None:
        import pyfaidx

        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: genome FASTA not found.")
        fai = Path(f"{self.path}.fai")
        had_index = os.path.lexists(fai)  # a link, even dangling, is the user's
        try:
            try:
                self._fasta = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=True, read_ahead=10000)
            except Exception:  # not an interrupt: another process may have written the index meanwhile
                if not had_index:
                    fai.unlink(missing_ok=True)  # pyfaidx's half-built index of a FASTA it could not read
                raise
        except pyfaidx.UnsupportedCompressionFormat as exc:
            raise InputError(
                f"{self.path}: gzip genomes must be bgzip-compressed to be indexed ({exc}). "
                "Run 'gunzip' then 'bgzip' (htslib), or give the uncompressed FASTA."
            ) from None
        # RuntimeError: blank lines at the end; struct.error, EOFError: a cut bgzip file
        except (pyfaidx.FastaIndexingError, ValueError, OSError, RuntimeError, struct.error, EOFError) as exc:
            raise InputError(
                f"{self.path}: cannot index the genome FASTA ({exc}). Give an uncompressed or bgzip FASTA "
                "with unique sequence names and equal line lengths within each sequence; the folder must be "
                "writable for the .fai index, or the .fai must exist."
            ) from None
        faidx = self._fasta.faidx
        if getattr(faidx, "_bgzf", False):  # a bgzip index holds uncompressed offsets, read through the .gzi
            check_index_matches(self.path, fai, _bgzip_reader(faidx))
        else:
            with open(self.path, "rb") as handle:
                check_index_matches(self.path, fai, _plain_reader(handle), self.path.stat().st_size)
        self.lengths: dict[str, int] = {name: len(rec) for name, rec in self._fasta.records.items()}

    def resolve(self, chrom: str) -> str | None:
        """The genome's name for ``chrom`` (trying chr-prefix aliases), or None when absent."""
        for name in _aliases(chrom):
            if name in self.lengths:
                return name
        return None

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+", where: str = "") -> str:
        """Upper-case sequence of ``[start, end)`` on ``chrom``, reverse-complemented when ``strand == '-'``."""
        prefix = f"{where}: " if where else ""
        name = self.resolve(chrom)
        if name is None:
            shown = ", ".join(list(self.lengths)[:5])
            raise InputError(
                f"{prefix}chromosome {chrom!r} is not in {self.path} (it has {shown}, ...). "
                "Use the genome assembly the coordinates refer to."
            )
        if start < 0 or end > self.lengths[name] or start >= end:
            raise InputError(
                f"{prefix}interval {chrom}:{start}-{end} lies outside {name} (length {self.lengths[name]}) "
                "or is empty. Check the assembly (hg19 vs hg38) and 0-based BED coordinates."
            )
        seq = str(self._fasta[name][start:end])
        return reverse_complement(seq) if strand == "-" else seq

    def fetch_interval(self, interval: BedInterval) -> str:
        """Sequence of a BED interval on its strand ('.' read as '+')."""
        return self.fetch(
            interval.chrom,
            interval.start,
            interval.end,
            interval.strand,
            where=f"{interval.source}: line {interval.line}",
        )

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> GenomeFasta:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
