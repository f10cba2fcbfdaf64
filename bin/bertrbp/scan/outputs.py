"""Writing a scan: PREFIX.<model>.bedGraph, PREFIX.profile.tsv and PREFIX.peaks.bed, all streamed and atomic.

Coordinates: bedGraph and BED are 0-based half-open in genome (or FASTA-record) coordinates; the profile TSV's
``pos`` is 1-based (as in VCF), ``offset`` is 0-based along the scored strand (transcript 5'->3') and ``base`` is
the base on that strand. On '-' regions rows are still written in increasing genome position. bedGraph lines merge runs of equal values
(written with 4 decimals). Peak BED columns: chrom, start, end, name (``model|region|peakN``), score
(round(1000 * max probability), for genome browsers), strand, model, max_probability, summit (0-based
genome position of the maximum).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import complement
from bertrbp.scan.peaks import Peak, PeakCaller
from bertrbp.scan.profile import ProfileChunk
from bertrbp.scan.windows import ScanTarget

PROFILE_COLUMNS = ["region", "chrom", "pos", "strand", "offset", "base"]


def output_paths(prefix: str | Path, model_names: Sequence[str]) -> dict[str, Path]:
    """Every file a scan writes, keyed 'profile', 'peaks' and 'bedGraph NAME' per model (a model may be named
    'profile': its bedGraph is PREFIX.profile.bedGraph, beside PREFIX.profile.tsv)."""
    prefix = str(prefix)
    paths = {bedgraph_key(name): Path(f"{prefix}.{name}.bedGraph") for name in model_names}
    paths["profile"] = Path(f"{prefix}.profile.tsv")
    paths["peaks"] = Path(f"{prefix}.peaks.bed")
    return paths


def bedgraph_key(name: str) -> str:
    return f"bedGraph {name}"


class ScanWriter:
    """Open every output atomically; ``write_target`` consumes one target's chunks. Use as a context manager."""

    def __init__(self, prefix: str | Path, model_names: Sequence[str], threshold: float) -> None:
        self.names = list(model_names)
        self.threshold = threshold
        self.paths = output_paths(prefix, self.names)
        self._stack = contextlib.ExitStack()
        self.n_peaks = 0
        self.n_positions = 0

    def __enter__(self) -> ScanWriter:
        handles = {key: self._stack.enter_context(atomic_open(path, "w")) for key, path in self.paths.items()}
        self.bedgraphs = [handles[bedgraph_key(name)] for name in self.names]
        self.profile, self.peaks = handles["profile"], handles["peaks"]
        self.profile.write("\t".join(PROFILE_COLUMNS + self.names) + "\n")
        return self

    def __exit__(self, *exc) -> bool:
        return self._stack.__exit__(*exc)

    def write_target(self, target: ScanTarget, chunks) -> None:
        """Write bedGraph runs, profile rows and peaks of one target as its chunks arrive."""
        callers = [PeakCaller(self.threshold) for _ in self.names]
        pending: list[list | None] = [None] * len(self.names)
        peak_counter = [0]
        for chunk in chunks:
            self._write_profile(target, chunk)
            for row, name in enumerate(self.names):
                values = chunk.values[row]
                pending[row] = self._write_bedgraph(target, chunk.first, values, pending[row], self.bedgraphs[row])
                for peak in callers[row].feed(chunk.first, values):
                    self._write_peak(target, name, peak, peak_counter)
        for row, name in enumerate(self.names):
            if pending[row] is not None:
                self._emit_run(target, pending[row], self.bedgraphs[row])
            for peak in callers[row].finish():
                self._write_peak(target, name, peak, peak_counter)

    def _write_profile(self, target: ScanTarget, chunk: ProfileChunk) -> None:
        bases = target.fetch(chunk.first, chunk.end)
        if target.strand == "-":
            bases = complement(bases)
        lines = []
        for index in range(chunk.values.shape[1]):
            local = chunk.first + index
            scores = "\t".join(f"{v:.4f}" for v in chunk.values[:, index])
            lines.append(
                f"{target.name}\t{target.chrom}\t{target.genome_position(local) + 1}\t{target.strand}\t"
                f"{target.offset(local)}\t{bases[index]}\t{scores}\n"
            )
        self.profile.writelines(lines)
        self.n_positions += chunk.values.shape[1]

    def _write_bedgraph(self, target: ScanTarget, first: int, values: np.ndarray, run, handle):
        """Extend or emit runs of equal (4-decimal) values; returns the run still open at the chunk's end."""
        text = [f"{v:.4f}" for v in values]
        for index, value in enumerate(text):
            if run is not None and run[2] == value:
                run[1] = first + index + 1
                continue
            if run is not None:
                self._emit_run(target, run, handle)
            run = [first + index, first + index + 1, value]
        return run

    @staticmethod
    def _emit_run(target: ScanTarget, run, handle) -> None:
        handle.write(f"{target.chrom}\t{target.genome_position(run[0])}\t{target.genome_position(run[1])}\t{run[2]}\n")

    def _write_peak(self, target: ScanTarget, name: str, peak: Peak, counter: list[int]) -> None:
        counter[0] += 1
        self.n_peaks += 1
        score = int(round(1000 * min(max(peak.max_score, 0.0), 1.0)))
        self.peaks.write(
            f"{target.chrom}\t{target.genome_position(peak.start)}\t{target.genome_position(peak.end)}\t"
            f"{name}|{target.name}|peak{counter[0]}\t{score}\t{target.strand}\t{name}\t{peak.max_score:.4f}\t"
            f"{target.genome_position(peak.summit)}\n"
        )
