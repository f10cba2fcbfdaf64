"""Pretraining corpora: FASTA genomes, transcriptomes or sequence sets cut into windows, kept on disk.

A chromosome is never held in memory: FASTA is read line by line and windows of ``window`` nt are cut every
``stride`` nt as the lines arrive; a last window ending at the record's end covers any tail the stride left
over, and records shorter than the window are kept whole. Windows are written as ASCII rows padded with NUL
bytes to a file (``windows.u8``, [N, window] uint8, memory-mapped for training) with their lengths
(``lengths.i32``) and ``corpus.json``, so a genome-sized corpus trains in bounded memory and ``--resume``
reuses it.

Every record and every window is checked against an ``ExclusionSet`` (exact sequence or reverse complement).
``on_overlap="fail"`` scans the whole corpus and then refuses it, naming an example and the count;
``"drop"`` removes the overlapping records (all their windows) and windows and reports how many.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_dir
from bertrbp.io.sequences import detect_format, iter_records, normalize_sequence, numbered_lines
from bertrbp.pretrain.exclusion import ExclusionSet

OVERLAP_MODES = ("fail", "drop")
CORPUS_META = "corpus.json"


@dataclass
class CorpusStats:
    """What went into a corpus; recorded in corpus.json and the model card."""

    files: list[str]
    window: int
    stride: int
    records: int = 0
    windows: int = 0
    nucleotides: int = 0
    dropped_records: int = 0
    dropped_windows: int = 0
    skipped_short: int = 0
    skipped_n: int = 0
    excluded_sequences: int = 0
    exclusion_files: list[str] = field(default_factory=list)


class WindowCutter:
    """Cut one record, fed in chunks, into windows of ``window`` nt every ``stride`` nt, plus a tail window."""

    def __init__(self, window: int, stride: int):
        self.window, self.stride = window, stride
        self.buf, self.buf_start, self.next_start, self.last_end = "", 0, 0, 0

    def feed(self, chunk: str) -> list[str]:
        """The windows ``chunk`` completes. The buffer is trimmed once per chunk, not once per window: a record on
        one line is one chunk, and trimming after each window copied the rest of it each time (quadratic)."""
        self.buf += chunk
        out = []
        last_start = None
        while self.next_start + self.window <= self.buf_start + len(self.buf):
            offset = self.next_start - self.buf_start
            out.append(self.buf[offset : offset + self.window])
            last_start, self.last_end = self.next_start, self.next_start + self.window
            self.next_start += self.stride
        if last_start is not None:  # keep the last window's start so a tail window can still be formed at the end
            self.buf, self.buf_start = self.buf[last_start - self.buf_start :], last_start
        return out

    def finish(self) -> list[str]:
        total = self.buf_start + len(self.buf)
        if self.last_end == 0:
            return [self.buf] if self.buf else []  # shorter than one window: keep it whole
        return [self.buf[-self.window :]] if self.last_end < total else []


def _fasta_events(path: Path) -> Iterator[tuple[str, str]]:
    """('start', where), ('seq', upper-case chunk) ... per record, streaming line by line."""
    started = False
    for number, line in numbered_lines(path):
        if line.startswith(">"):
            started = True
            yield "start", f"{path}: record '{line[1:].strip()}' (line {number})"
        elif line.strip():
            if not started:
                raise InputError(f"{path}: line {number}: sequence text before the first FASTA header.")
            yield "seq", normalize_sequence(line, f"{path}: line {number}")
    if not started:
        raise InputError(f"{path}: no FASTA records found (the file is empty).")


def _record_events(path: Path, fmt: str) -> Iterator[tuple[str, str]]:
    """The same events for any input format; non-FASTA formats hold short sequences, read whole."""
    if (detect_format(path) if fmt == "auto" else fmt) == "fasta":
        yield from _fasta_events(path)
        return
    for record in iter_records(path, fmt):
        yield "start", f"{record.source}: record '{record.id}' (line {record.line})"
        yield "seq", record.seq


class _Writer:
    """Append windows to windows.u8 / lengths.i32 in chunks."""

    def __init__(self, directory: Path, window: int, chunk: int = 65536):
        self.window, self.chunk = window, chunk
        self.rows = np.zeros((chunk, window), dtype=np.uint8)
        self.lengths = np.zeros(chunk, dtype=np.int32)
        self.fill = 0
        self.windows_file = open(directory / "windows.u8", "wb")
        self.lengths_file = open(directory / "lengths.i32", "wb")

    def add(self, seq: str) -> None:
        data = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        self.rows[self.fill] = 0
        self.rows[self.fill, : len(data)] = data
        self.lengths[self.fill] = len(data)
        self.fill += 1
        if self.fill == self.chunk:
            self.flush()

    def flush(self) -> None:
        self.windows_file.write(self.rows[: self.fill].tobytes())
        self.lengths_file.write(self.lengths[: self.fill].tobytes())
        self.fill = 0

    def close(self) -> None:
        self.flush()
        self.windows_file.close()
        self.lengths_file.close()


class _Builder:
    """Streams records into windows, applying the length, N and exclusion filters."""

    def __init__(
        self,
        writer: _Writer,
        stats: CorpusStats,
        k: int,
        exclusion: ExclusionSet | None,
        on_overlap: str,
        max_n_fraction: float,
    ):
        self.writer, self.stats, self.k = writer, stats, k
        self.exclusion = exclusion if exclusion is not None and len(exclusion) else None
        self.on_overlap, self.max_n_fraction = on_overlap, max_n_fraction
        self.overlaps = 0
        self.example: str | None = None

    def _overlap(self, seq: str, where: str) -> bool:
        """True when seq is excluded; counts it and remembers the first example."""
        source = self.exclusion.match(seq) if self.exclusion else None
        if source is None:
            return False
        self.overlaps += 1
        if self.example is None:
            self.example = f"{where} ({len(seq)} nt, {seq[:20]}...) equals {source} or its reverse complement"
        return True

    def _maskable(self, window: str) -> bool:
        """True when the window holds one span of k k-mer tokens without N (2k-1 clean nucleotides), the least the
        masker can mask. Why: a batch of windows without one got no masked token, so the loss was NaN (weights
        ruined, validation loss 0.0) with exit 0, e.g. a corpus of 9-nt records with --k 6."""
        return max(map(len, window.split("N"))) >= 2 * self.k - 1

    def _emit(self, window: str, where: str) -> None:
        if window.count("N") > self.max_n_fraction * len(window):
            self.stats.skipped_n += 1
        elif not self._maskable(window):
            self.stats.skipped_short += 1
        elif self._overlap(window, f"a window of {where}"):
            self.stats.dropped_windows += 1
        else:
            self.writer.add(window)
            self.stats.windows += 1
            self.stats.nucleotides += len(window)

    def record(self, where: str, chunks: Iterable[str]) -> None:
        """Window one record. While it could still equal an excluded sequence, its windows are held back."""
        self.stats.records += 1
        cutter = WindowCutter(self.stats.window, self.stats.stride)
        limit = self.exclusion.max_length if self.exclusion else -1
        held: list[str] = []
        prefix, length = [], 0
        for chunk in chunks:
            length += len(chunk)
            if length <= limit:
                prefix.append(chunk)
            windows = cutter.feed(chunk)
            if length <= limit:
                held.extend(windows)
                continue
            for window in held + windows:
                self._emit(window, where)
            held = []
        windows = held + cutter.finish()
        if length <= limit and self._overlap("".join(prefix), where):
            self.stats.dropped_records += 1
            return
        for window in windows:
            self._emit(window, where)


def _records(events: Iterator[tuple[str, str]]) -> Iterator[tuple[str, Iterator[str]]]:
    """Group events into (where, chunk iterator) pairs; each iterator must be consumed before the next."""
    events = iter(events)
    pending = next(events, None)
    while pending is not None:
        where = pending[1]

        def chunks() -> Iterator[str]:
            nonlocal pending
            for event in events:
                if event[0] == "start":
                    pending = event
                    return
                yield event[1]
            pending = None

        yield where, chunks()


def build_corpus(
    paths: Iterable[str | Path],
    directory: str | Path,
    *,
    window: int,
    stride: int,
    k: int,
    exclusion: ExclusionSet | None = None,
    on_overlap: str = "fail",
    max_n_fraction: float = 0.1,
    fmt: str = "auto",
    max_window: int | None = None,
) -> CorpusStats:
    """Write the windowed corpus of ``paths`` into ``directory`` (atomically) and return its statistics."""
    paths = [Path(p) for p in paths]
    if on_overlap not in OVERLAP_MODES:
        raise InputError(f"--on-overlap must be one of {', '.join(OVERLAP_MODES)}, not {on_overlap!r}.")
    if window < 2 * k - 1:
        raise InputError(
            f"--window {window} is shorter than {2 * k - 1} nt, the least that holds a masked span of k={k} k-mers."
        )
    if max_window is not None and window > max_window:
        raise InputError(
            f"--window {window} exceeds the model's {max_window} nt (512 positions); use a smaller window."
        )
    if stride < 1:
        raise InputError(f"--stride must be >= 1, not {stride}.")
    if not paths:
        raise InputError("no corpus files given (--corpus FILE...).")
    stats = CorpusStats([str(p) for p in paths], window, stride)
    if exclusion is not None:
        stats.excluded_sequences = len(exclusion)
        stats.exclusion_files = list(exclusion.files)
    from tqdm import tqdm

    with atomic_dir(directory) as tmp:
        writer = _Writer(tmp, window)
        builder = _Builder(writer, stats, k, exclusion, on_overlap, max_n_fraction)
        try:
            with tqdm(desc="corpus", unit=" records", disable=None) as bar:
                for path in paths:
                    for where, chunks in _records(_record_events(path, fmt)):
                        builder.record(where, chunks)
                        bar.update(1)
        finally:
            writer.close()
        if builder.overlaps and on_overlap == "fail":
            raise InputError(
                f"the corpus shares {builder.overlaps} sequence(s) with the exclusion set (--exclude): e.g. "
                f"{builder.example}. Pretrain on training files only, or pass --on-overlap drop to remove them."
            )
        if stats.windows == 0:
            raise InputError(
                f"no corpus windows left from {', '.join(map(str, paths))} (without the {2 * k - 1} nt free of N that "
                f"a masked span of k={k} k-mers needs: {stats.skipped_short}, "
                f"too many N: {stats.skipped_n}, excluded: {stats.dropped_windows + stats.dropped_records})."
            )
        (tmp / CORPUS_META).write_text(json.dumps(asdict(stats), indent=2) + "\n")
    return stats


class Corpus:
    """A built corpus, memory-mapped: ``len(corpus)`` windows, ``corpus.sequences(indices)`` as strings."""

    def __init__(self, directory: str | Path):
        directory = Path(directory)
        meta = directory / CORPUS_META
        if not meta.exists():
            raise InputError(f"{directory}: not a corpus folder (no {CORPUS_META}).")
        self.stats = _read_stats(meta)
        self.lengths = np.fromfile(directory / "lengths.i32", dtype=np.int32)
        windows = directory / "windows.u8"
        _check_files(directory, self.stats, self.lengths, windows)
        self.rows = np.memmap(windows, dtype=np.uint8, mode="r", shape=(len(self.lengths), self.stats.window))

    def __len__(self) -> int:
        return len(self.lengths)

    def sequences(self, indices: Iterable[int]) -> list[str]:
        return [self.rows[i, : self.lengths[i]].tobytes().decode("ascii") for i in indices]


def _damaged(path: Path, what: str) -> InputError:
    return InputError(
        f"{path}: {what}, so the corpus cannot be reused. Delete {path.parent} (it is rebuilt from --corpus) and "
        "run again."
    )


def _read_stats(meta: Path) -> CorpusStats:
    """corpus.json as written by build_corpus: an object of CorpusStats fields, whole numbers >= 0 (window >= 1).

    Why: a truncated or edited corpus.json of a --resume was a traceback (JSON, dataclass or memory map)."""
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(meta, f"unreadable ({' '.join(str(exc).split())[:200]})") from exc
    names = [item.name for item in fields(CorpusStats)]
    if not isinstance(saved, dict):
        raise _damaged(meta, "not a corpus record (a JSON object is expected)")
    required = [item.name for item in fields(CorpusStats) if item.default is item.default_factory is MISSING]
    odd = [f"no {name}" for name in required if name not in saved]
    odd += [f"unknown {key}" for key in saved if key not in names]
    if odd:
        raise _damaged(meta, f"not a corpus record ({', '.join(odd)})")
    for name in [name for name in names if name in saved]:
        value, lists = saved[name], name in ("files", "exclusion_files")
        good = (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
            if lists
            else isinstance(value, int) and not isinstance(value, bool) and value >= (name == "window")
        )
        if not good:
            wanted = "a list of file names" if lists else f"a whole number >= {int(name == 'window')}"
            raise _damaged(meta, f"{name} is {json.dumps(value)[:60]}, not {wanted}")
    return CorpusStats(**saved)


def _check_files(directory: Path, stats: CorpusStats, lengths: np.ndarray, windows: Path) -> None:
    """lengths.i32 and windows.u8 hold the stats' number of windows, each 1..window nt long.

    Why: a truncated file was a memory-map traceback, or (lengths.i32) trained silently on part of the corpus."""
    lengths_file = directory / "lengths.i32"
    if lengths_file.stat().st_size != 4 * stats.windows:
        raise _damaged(
            lengths_file,
            f"{lengths_file.stat().st_size} bytes, not the {4 * stats.windows} of "
            f"{stats.windows} windows (truncated?)",
        )
    if windows.stat().st_size != stats.windows * stats.window:
        raise _damaged(
            windows,
            f"{windows.stat().st_size} bytes, not the {stats.windows * stats.window} of "
            f"{stats.windows} windows of {stats.window} nt (truncated?)",
        )
    if len(lengths) and not (lengths.min() >= 1 and lengths.max() <= stats.window):
        raise _damaged(lengths_file, f"window lengths outside 1..{stats.window}")
    _check_ascii(windows, stats.window)


def _check_ascii(windows: Path, window: int, step: int = 1 << 24) -> None:
    """Every byte of windows.u8 is ASCII (nucleotide letters, and zeros after each window's end).

    Why: another byte was a UnicodeDecodeError traceback in the middle of a resumed pretraining."""
    flat = np.memmap(windows, dtype=np.uint8, mode="r") if windows.stat().st_size else np.zeros(0, np.uint8)
    for start in range(0, len(flat), step):
        odd = np.flatnonzero(flat[start : start + step] >= 128)
        if len(odd):
            at = start + int(odd[0])
            raise _damaged(windows, f"byte {at} (window {at // window}) is {flat[at]:#04x}, not a nucleotide letter")
