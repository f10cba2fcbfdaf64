"""RBP-24 (GraphProt) windows: the UPPERCASE viewpoint inside lowercase flanks.

``full`` keeps flanks and viewpoint; ``viewpoint`` keeps only the uppercase letters. With a ``length`` the
window is centred on the viewpoint centre: ``full`` takes flank letters around it, ``viewpoint`` trims the
viewpoint or pads it with N. Header coordinates (0-based half-open, viewpoint only) follow the window.
"""

from __future__ import annotations

import re

from bertrbp.errors import InputError
from bertrbp.io.sequences import Coordinates, SequenceRecord

_UPPER = re.compile(r"[A-Z]+")
MODES = ("full", "viewpoint")


def viewpoint_span(raw: str, where: str) -> tuple[int, int]:
    """(start, end) of the uppercase viewpoint in ``raw``; from first to last uppercase letter."""
    runs = [m.span() for m in _UPPER.finditer(raw)]
    if not runs:
        raise InputError(
            f"{where}: no UPPERCASE viewpoint. RBP-24 sequences mark the binding site in upper case; "
            "use --rbp24-mode full or a different --format."
        )
    return runs[0][0], runs[-1][1]


def window(seq_len: int, vp: tuple[int, int], mode: str, length: int | None) -> tuple[int, int]:
    """Window [a, b) in sequence positions (may reach outside 0..seq_len: padded with N)."""
    lo, hi = (0, seq_len) if mode == "full" else vp
    if length is None:
        return lo, hi
    centre2 = vp[0] + vp[1]  # twice the centre, keeps odd/even lengths exact
    a = (centre2 - length) // 2
    return a, a + length


def _shift_coords(coords: Coordinates, vp: tuple[int, int], win: tuple[int, int]) -> Coordinates:
    """Genomic interval of the window, from the viewpoint's (extensions mirror on '-')."""
    left, right = vp[0] - win[0], win[1] - vp[1]
    if coords.strand == "-":
        return Coordinates(coords.chrom, coords.start - right, coords.end + left, coords.strand)
    return Coordinates(coords.chrom, coords.start - left, coords.end + right, coords.strand)


def shape_record(record: SequenceRecord, mode: str, length: int | None) -> SequenceRecord:
    """Cut ``record`` to its RBP-24 window in place; ``raw`` keeps the letters (and case) of the window."""
    if mode not in MODES:
        raise InputError(f"--rbp24-mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if length is not None and length < 1:
        raise InputError(f"--length must be a positive number of nucleotides, not {length}.")
    where = f"{record.source}: record '{record.id}' (line {record.line})"
    raw = record.raw.strip()
    vp = viewpoint_span(raw, where)
    a, b = window(len(raw), vp, mode, length)
    lo, hi = (0, len(raw)) if mode == "full" else vp
    raw_win = "".join(raw[i] if lo <= i < hi else "N" for i in range(a, b))
    padded = a < lo or b > hi
    seq = raw_win.upper().replace("U", "T")
    coords = record.coords
    if coords is not None and not padded and coords.end - coords.start == vp[1] - vp[0]:
        coords = _shift_coords(coords, vp, (a, b))
        record.extra["coords_base"] = "bed"
    else:
        coords = None  # padded letters (or coordinates that do not fit the viewpoint) have no genomic place
    record.extra["padded"] = padded
    record.seq, record.raw, record.coords = seq, raw_win, coords
    record.extra["viewpoint"] = [vp[0] - a, vp[1] - a]
    return record
