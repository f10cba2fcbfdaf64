"""Lift intervals between assemblies with a UCSC chain file (pyliftover's chain index).

An interval is kept only when it maps whole: its first and last bases each map to exactly one place, on the
same chain, and the lifted interval has the same length. With a genome of the target assembly, the lifted
sequence must also equal the record's sequence (the paper kept 100 % identity).
"""

from __future__ import annotations

from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.genome import GenomeFasta
from bertrbp.io.sequences import Coordinates, SequenceRecord, with_coordinates
from bertrbp.prepare.filters import DropLog
from bertrbp.prepare.sources import NOT_ACGT


class ChainMapper:
    """Interval liftover with a UCSC ``.over.chain`` file (plain or gzip)."""

    def __init__(self, path: str | Path) -> None:
        import gzip

        from pyliftover.chainfile import LiftOverChainFile

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: chain file not found.")
        with open(self.path, "rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        try:
            with gzip.open(self.path, "rb") if gz else open(self.path, "rb") as handle:
                self._chains = LiftOverChainFile(handle)
        except Exception as exc:  # pyliftover raises bare Exception on malformed chains
            raise InputError(
                f"{self.path}: not a valid UCSC chain file ({exc}). Download e.g. hg19ToHg38.over.chain.gz "
                "from https://hgdownload.soe.ucsc.edu/goldenPath/hg19/liftOver/."
            ) from None
        self._check_chains()

    def _check_chains(self) -> None:
        """At least one chain, each inside the chromosome sizes its header gives.

        Why: pyliftover skips lines that are not chains, so a BED or any text file passed as --chain lifted
        nothing and prepare blamed the filters ('only class [] is left'); and it does not check the sizes, so a
        chain cut or edited to a smaller target size lifted sites past the chromosome's end (or, on a minus
        chain, to negative starts) with exit 0."""
        chains = self._chains.chains
        if not chains:
            raise InputError(
                f"{self.path}: no 'chain' lines; not a UCSC chain file. Give a liftover chain such as "
                "hg19ToHg38.over.chain.gz."
            )
        for chain in chains:
            for side in ("source", "target"):
                start, end, size = (getattr(chain, f"{side}_{what}") for what in ("start", "end", "size"))
                if not 0 <= start <= end <= size:
                    raise InputError(
                        f"{self.path}: chain {chain.id or '(no id)'} ({chain.source_name} -> {chain.target_name}): "
                        f"its {side} interval {start}-{end} is not within the {side} size {size}. The file is "
                        "damaged or edited; download it again."
                    )

    def _hits(self, chrom: str, position: int) -> list:
        hits = self._chains.query(chrom, position)
        if hits is None and chrom.startswith("chr"):
            hits = self._chains.query(chrom[3:], position)
        elif hits is None:
            hits = self._chains.query(f"chr{chrom}", position)
        return list(hits or [])

    def _map(self, hit, position: int) -> tuple[str, int, str]:
        source_start, _, (target_start, chain) = hit
        target = target_start + (position - source_start)
        if chain.target_strand == "-":
            target = chain.target_size - 1 - target
        return chain.target_name, target, chain.target_strand

    def lift(self, coords: Coordinates) -> tuple[Coordinates | None, str]:
        """(lifted 0-based half-open interval, '') or (None, reason): unmapped, ambiguous, split or resized."""
        first, last = self._hits(coords.chrom, coords.start), self._hits(coords.chrom, coords.end - 1)
        if not first or not last:
            return None, "liftover_unmapped"
        if len(first) > 1 or len(last) > 1:
            return None, "liftover_ambiguous"
        if first[0][2][1] is not last[0][2][1]:
            return None, "liftover_split"
        chrom, a, chain_strand = self._map(first[0], coords.start)
        _, b, _ = self._map(last[0], coords.end - 1)
        lo, hi = min(a, b), max(a, b) + 1
        if hi - lo != coords.end - coords.start:
            return None, "liftover_length_changed"
        strand = coords.strand
        if chain_strand == "-" and strand in "+-":
            strand = "-" if strand == "+" else "+"
        return Coordinates(chrom, lo, hi, strand), ""


def lift_records(
    records: list[SequenceRecord], chain: str | Path, log: DropLog, genome: str | Path | None = None
) -> list[SequenceRecord]:
    """Records whose interval lifts whole (and, with ``genome``, to the identical sequence), coords replaced."""
    mapper = ChainMapper(chain)
    target = GenomeFasta(genome) if genome is not None else None
    kept = []
    try:
        for record in records:
            if record.coords is None:
                log.add("liftover_no_coordinates", record)
                continue
            lifted, reason = mapper.lift(record.coords)
            if lifted is None:
                log.add(reason, record)
                continue
            if target is not None:
                if target.resolve(lifted.chrom) is None or lifted.end > target.lengths[target.resolve(lifted.chrom)]:
                    log.add("liftover_outside_genome", record)
                    continue
                if NOT_ACGT.sub("N", target.fetch(lifted.chrom, lifted.start, lifted.end, lifted.strand)) != record.seq:
                    log.add("liftover_sequence_changed", record)
                    continue
            record.extra["source_coords"] = record.coords
            record.coords = lifted
            new_id = with_coordinates(record.id, lifted)
            if new_id is not None:
                # an id that names the source interval would name the wrong place to every later step (a GTF of
                # the target assembly, the locus split): its coordinates name the lifted interval, bedtools-style
                log.renamed.append((record.id, new_id))
                record.id = new_id
            kept.append(record)
    finally:
        if target is not None:
            target.close()
    return kept
