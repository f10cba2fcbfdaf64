"""A small streaming VCF reader (plain or gzip): one ``Variant`` per ALT allele, with its line for messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.sequences import numbered_lines

_BASES = re.compile(r"^[ACGTN]+$")


@dataclass
class Variant:
    """One REF->ALT allele; ``pos`` is 1-based as in the VCF, ``start`` the 0-based first REF base."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    line: int = 0
    source: str = ""

    @property
    def start(self) -> int:
        return self.pos - 1

    @property
    def end(self) -> int:
        return self.start + len(self.ref)

    def where(self) -> str:
        return f"{self.source}: line {self.line} ({self.chrom}:{self.pos} {self.ref}>{self.alt})"


def iter_vcf(path: str | Path) -> Iterator[tuple[Variant, str]]:
    """Yield ``(variant, problem)`` per ALT allele; ``problem`` is '' or why the allele cannot be scored.

    Symbolic (``<DEL>``), breakend, missing (``.``/``*``) and non-ACGTN alleles are yielded with a problem
    rather than raised, so the caller can report them; malformed lines raise ``InputError``.
    """
    path = Path(path)
    count = 0
    for number, line in numbered_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        where = f"{path}: line {number}"
        if len(fields) < 5:
            raise InputError(
                f"{where}: a VCF data line needs at least 5 tab-separated columns "
                f"(CHROM POS ID REF ALT), found {len(fields)}."
            )
        chrom, pos_text, vid, ref, alts = (f.strip() for f in fields[:5])
        try:
            pos = int(pos_text)
        except ValueError:
            raise InputError(f"{where}: POS {pos_text!r} is not a whole number.") from None
        if pos < 1:
            raise InputError(f"{where}: POS {pos} must be 1 or more (VCF positions are 1-based).")
        ref = ref.upper()
        if not _BASES.match(ref):
            raise InputError(f"{where}: REF {ref!r} must be A, C, G, T or N letters.")
        for alt in alts.split(","):
            count += 1
            variant = Variant(chrom, pos, vid if vid != "." else "", ref, alt.upper(), number, str(path))
            problem = ""
            if not _BASES.match(variant.alt):
                problem = f"ALT {alt!r} is not a sequence allele (symbolic, breakend or missing); not scored"
            elif variant.alt == ref:
                problem = "ALT equals REF; nothing to score"
            yield variant, problem
    if count == 0:
        raise InputError(f"{path}: no variants found (only headers or empty).")
