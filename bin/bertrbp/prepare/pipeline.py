"""The whole bertrbp-prepare run: read, filter, shape, lift, deduplicate, sample, split, annotate, write.

All computing happens before the first byte is written; outputs then appear together (atomic renames), so
a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_open
from bertrbp.io.sequences import SequenceRecord
from bertrbp.prepare import coords as coordmod
from bertrbp.prepare import leakage, rbp24, sampling, writers
from bertrbp.prepare.filters import DropLog, drop_duplicates, filter_letters
from bertrbp.prepare.manifest import build_manifest, input_entries
from bertrbp.prepare.sources import SourceSpec, read_sources, unique_ids

log = logging.getLogger("bertrbp")


@dataclass
class PrepareOptions:
    output_dir: Path
    prefix: str = ""
    inputs: list[Path] = field(default_factory=list)
    fmt: str = "auto"
    label: int | None = None
    positives: list[Path] = field(default_factory=list)
    negatives: list[Path] = field(default_factory=list)
    bed: list[Path] = field(default_factory=list)
    genome: Path | None = None
    bed_label_column: str = "none"
    rbp24_mode: str = "full"
    length: int | None = None
    coords: str = "auto"
    drop_n: bool = True
    min_length: int = 1
    max_length: int | None = None
    dedup: bool = True
    max_per_class: int | None = 12600
    test_size: str = "6000"
    val_fraction: float = 0.0
    split: str = "random"
    test_chromosomes: list[str] = field(default_factory=list)
    similarity_k: int = 8
    similarity_threshold: float = 0.5
    chain: Path | None = None
    target_genome: Path | None = None
    gtf: Path | None = None
    k: int = 3
    seed: int = 42


def default_prefix(options: PrepareOptions) -> str:
    """The first input's name without sequence-file extensions, e.g. ``AATF_K562``."""
    for path in [*options.inputs, *options.positives, *options.bed]:
        name = Path(path).name
        for ext in (".gz", ".tsv", ".fa", ".fasta", ".fna", ".bed", ".txt", ".positive", ".positives"):
            name = name[: -len(ext)] if name.endswith(ext) else name
        if name:
            return name
    return "dataset"


def validate(options: PrepareOptions) -> None:
    """Refuse contradictory or out-of-range options before reading anything."""
    if options.split not in leakage.SPLITS:
        raise InputError(f"--split must be one of {', '.join(leakage.SPLITS)}, not {options.split!r}.")
    if options.test_chromosomes and options.split != "chromosome":
        raise InputError("--test-chromosomes only applies with --split chromosome.")
    sampling.parse_size(options.test_size, "--test-size")  # its form; whether it fits the data is checked later
    if not 0 <= options.val_fraction < 1:
        raise InputError(f"--val-fraction must be in [0, 1), not {options.val_fraction}.")
    if options.max_per_class is not None and options.max_per_class < 2:
        raise InputError(f"--max-per-class must be at least 2, not {options.max_per_class}.")
    if not 0 < options.similarity_threshold <= 1:
        raise InputError(f"--similarity-threshold must be in (0, 1], not {options.similarity_threshold}.")
    if not 3 <= options.similarity_k <= 16:
        raise InputError(f"--similarity-k must be between 3 and 16, not {options.similarity_k}.")
    if options.coords not in coordmod.CONVENTIONS:
        raise InputError(f"--coords must be one of {', '.join(coordmod.CONVENTIONS)}, not {options.coords!r}.")
    if options.k < 1:
        raise InputError(f"--k must be positive, not {options.k}.")
    # an option that nothing reads: the check the user asked for would silently not run (exit 0 before)
    if options.target_genome is not None and options.chain is None:
        raise InputError(
            "--target-genome checks lifted sequences, so it needs --chain; without a chain nothing is lifted. "
            "Give --chain, or drop --target-genome."
        )
    if options.genome is not None and not options.bed and options.chain is None:
        raise InputError(
            "--genome is read with --bed (the sites' genome) or with --chain (the liftover target genome); "
            "neither is given, so it would be ignored. Give --bed or --chain, or drop --genome."
        )
    if options.output_dir.exists() and not options.output_dir.is_dir():
        raise InputError(f"--output-dir {options.output_dir} exists and is not a folder.")
    for path in (options.gtf, options.chain, options.target_genome, options.genome):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{path}: file not found.")


def read_and_clean(options: PrepareOptions, drops: DropLog) -> tuple[list[SequenceRecord], list[Path], int]:
    """Records after reading, letter/length filters, RBP-24 shaping, liftover and de-duplication."""
    spec = SourceSpec(
        options.inputs,
        options.fmt,
        options.label,
        options.positives,
        options.negatives,
        options.bed,
        options.genome,
        options.bed_label_column,
    )
    records = read_sources(spec)
    n_read = len(records)
    records = filter_letters(records, drops, options.drop_n, options.min_length, options.max_length)
    for record in records:
        if options.fmt == "rbp24" or record.extra.get("rbp24"):
            rbp24.shape_record(record, options.rbp24_mode, options.length)
    coordmod.normalise_coords(records, options.coords)
    if options.chain is not None:
        from bertrbp.prepare.liftover import lift_records

        target = options.target_genome or (options.genome if not options.bed else None)
        records = lift_records(records, options.chain, drops, target)
    if options.dedup:
        records = drop_duplicates(records, drops)
    if drops.renamed:
        log.info(
            "gave %d lifted record(s) the lifted interval in their id; the manifest lists them", len(drops.renamed)
        )
    renamed = unique_ids(records)
    drops.renamed += renamed
    if renamed:
        shown = ", ".join(f"{old!r} -> {new!r}" for old, new in renamed[:3])
        log.warning(
            "renamed %d record id(s) that repeat an earlier id or contain spaces (%s%s); the manifest "
            "lists them under renamed_ids",
            len(renamed),
            shown,
            ", ..." if len(renamed) > 3 else "",
        )
    labels = {r.label for r in records}
    if labels != {0, 1}:
        raise InputError(
            f"after filtering, only class {sorted(labels)} is left ({len(records)} sequences; "
            f"dropped: {dict(drops.counts)}). A classifier needs bound (1) and unbound (0) sequences."
        )
    return records, spec.files, n_read


def held_out(
    records: list[SequenceRecord],
    options: PrepareOptions,
    kind: str,
    size: float | int,
    option: str,
    salt: int,
    locus_of: Sequence[int] | None = None,
) -> tuple[list[int], list[int]]:
    """(held-out, rest) indices of ``records`` for the split ``kind`` (``auto`` resolved); ``locus_of``: each
    record's locus group when already chained (else the records are chained here). Both sides hold each class."""
    seed = options.seed + salt
    if kind == "chromosome":
        held, rest = chromosome_split(records, options, size, option, seed, first=salt == 0)
    else:
        held, rest = group_split(records, options, kind, size, option, seed, locus_of)
    check_both_sides(records, held, rest, kind, option)
    return held, rest


def check_both_sides(records: list[SequenceRecord], held: list[int], rest: list[int], kind: str, option: str) -> None:
    """Refuse a split whose held-out or remaining side lacks a class (or is empty).

    Why: a split by locus or chromosome moves whole groups, so it can miss its targets: one chain holding every
    window left the test split empty, and --test-chromosomes chr1,chr2 left a training set of one class, with
    exit 0. A random split refuses such sizes already (``sampling.class_targets``).
    """
    from collections import Counter

    classes = sorted({r.label for r in records})
    counts = [Counter(records[i].label for i in side) for side in (held, rest)]
    if all(count[c] for count in counts for c in classes):
        return
    shown = "; ".join(
        f"{name} {sum(count.values())} ({', '.join(f'class {c}: {count[c]}' for c in classes)})"
        for name, count in zip(("held out", "kept"), counts)
    )
    raise InputError(
        f"{option} with the split by {kind}: {shown}; both sides need sequences of each class. Whole "
        f"{'chromosomes' if kind == 'chromosome' else 'groups'} move together: give another {option}"
        f"{' or --test-chromosomes' if kind == 'chromosome' else ''}, more data, or --split random."
    )


def chromosome_split(
    records: list[SequenceRecord], options: PrepareOptions, size: float | int, option: str, seed: int, first: bool
) -> tuple[list[int], list[int]]:
    """(held-out, rest): whole chromosomes; the first (test) split holds --test-chromosomes when given."""
    groups = leakage.chromosome_groups(records)
    if options.test_chromosomes and first:
        wanted = {leakage.chromosome_of(name) for name in options.test_chromosomes}
        unknown = sorted(wanted - set(groups))
        if unknown:  # a list shared by many RBPs: a chromosome may hold none of this one's sites
            log.warning(
                "--test-chromosomes %s: no sequence lies there (chromosomes present: %s)",
                ",".join(unknown),
                ", ".join(sorted(set(groups))),
            )
        held = [i for i, g in enumerate(groups) if g in wanted]
        if len(held) == len(records):
            raise InputError(
                f"--test-chromosomes {','.join(sorted(wanted))} hold all {len(records)} sequences; both sides need "
                f"sequences (chromosomes present: {', '.join(sorted(set(groups)))})."
            )
        chosen = set(held)
        return held, [i for i in range(len(records)) if i not in chosen]
    if len(set(groups)) < 2:
        raise InputError(f"--split chromosome needs sequences on at least 2 chromosomes for {option}.")
    return sampling.split_whole_groups([r.label for r in records], groups, size, seed)


def group_split(
    records: list[SequenceRecord],
    options: PrepareOptions,
    kind: str,
    size: float | int,
    option: str,
    seed: int,
    locus_of: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """(held-out, rest): whole groups (loci, near-duplicate clusters, or single records for ``random``), each class
    to its target share."""
    from collections import Counter

    labels = [r.label for r in records]
    targets = sampling.class_targets(Counter(labels), size, option)
    if kind == "similarity":
        groups = leakage.similarity_groups(records, options.similarity_k, options.similarity_threshold, seed)
    elif kind == "locus":
        strict = options.split == "locus"
        groups = list(locus_of) if locus_of is not None else leakage.locus_groups(records, strict=strict)
    else:
        groups = list(range(len(records)))
    return sampling.split_groups(labels, groups, targets, seed)


def make_splits(records: list[SequenceRecord], options: PrepareOptions) -> tuple[dict[str, list[SequenceRecord]], str]:
    """(train / val / test / nontrain (= every kept sequence not in train, sampled out ones included), the split
    kind used)."""
    chosen, leftover = sampling.sample_per_class([r.label for r in records], options.max_per_class, options.seed)
    pool = [records[i] for i in chosen]
    kind, locus_of = leakage.resolve_split(pool, options.split)
    test_idx, rest_idx = held_out(
        pool, options, kind, sampling.parse_size(options.test_size, "--test-size"), "--test-size", 0, locus_of
    )
    if kind == "locus":
        log.info("split by locus: each chain of overlapping windows on one side (--split %s)", options.split)
    rest = [pool[i] for i in rest_idx]
    val: list[SequenceRecord] = []
    if options.val_fraction > 0:
        # the rest is chained again, not given the pool's group numbers: the seeded draw orders groups by their
        # number, so fresh numbers keep the validation split made before the test split reused resolve_split's
        val_idx, train_idx = held_out(rest, options, kind, float(options.val_fraction), "--val-fraction", 1)
        val, rest = [rest[i] for i in val_idx], [rest[i] for i in train_idx]
    test = [pool[i] for i in test_idx]
    in_train = {id(r) for r in rest}
    nontrain = [r for r in records if id(r) not in in_train]
    splits = {"train": rest, "test": test}
    if options.val_fraction > 0:
        splits["val"] = val
    splits["nontrain"] = nontrain
    splits["_unsampled"] = [records[i] for i in leftover]
    return splits, kind


def load_regions(gtf: Path):
    """(RegionIndex, summary) of the GTF's chosen transcripts; read before the data so a bad GTF fails fast."""
    from bertrbp.io.gtf import read_gtf
    from bertrbp.prepare.gtf import pick_transcripts
    from bertrbp.prepare.regions import RegionIndex

    transcripts = read_gtf(gtf)
    chosen = pick_transcripts(transcripts)
    return RegionIndex(chosen), {"gtf": str(gtf), "transcripts_read": len(transcripts), "genes": len(chosen)}


def annotate(records: list[SequenceRecord], regions, k: int) -> tuple[list, dict, list]:
    """(rows of (id, nucleotide matrix), summary, rows of (id, token boundary-type matrix)) for records with
    coordinates."""
    from bertrbp.prepare.boundaries import boundary_tokens

    index, summary = regions
    rows = [(r.id, index.label(r.coords)) for r in records if r.coords is not None]
    boundaries = [(r.id, boundary_tokens(index, r.coords, k)) for r in records if r.coords is not None]
    if not rows:
        raise InputError(
            "--gtf needs genomic coordinates, and no kept sequence has any. Use inputs with coordinates "
            "(BED, RBP-31 or RBP-24 headers) or leave out --gtf."
        )
    return (
        rows,
        {**summary, "annotated": len(rows), "without_coordinates": len(records) - len(rows), "k": k},
        boundaries,
    )


# what <prefix>. is followed by in the names of the files run_prepare writes (a test holds the two together)
OUTPUT_SUFFIXES = (
    *(f"{split}.fa" for split in ("train", "val", "test", "nontrain")),
    "sites.bed",
    "sequence_regions.tsv",
    "token_regions.tsv",
    "nucleotide_regions.tsv",
    "manifest.json",
)


def refuse_overwriting_inputs(options: PrepareOptions, prefix: str) -> None:
    """Refuse an input file that has the name of one of the outputs in --output-dir (a second run on the first
    run's test split with the same prefix would overwrite it)."""
    given = [*options.inputs, *options.positives, *options.negatives, *options.bed]
    given += [p for p in (options.genome, options.chain, options.target_genome, options.gtf) if p is not None]
    folder = Path(options.output_dir).resolve()
    for path in given:
        path = Path(path)
        name = path.name[len(prefix) + 1 :] if path.name.startswith(f"{prefix}.") else None
        if path.is_file() and path.resolve().parent == folder and name in OUTPUT_SUFFIXES:
            raise InputError(
                f"{path}: this input has the name of one of the outputs in --output-dir (--prefix {prefix!r}), so "
                "writing the outputs would overwrite it. Give another --prefix or --output-dir."
            )


def run_prepare(options: PrepareOptions) -> dict:
    """Run everything and write the outputs; returns the manifest."""
    validate(options)
    prefix = options.prefix or default_prefix(options)
    if "/" in prefix or not prefix.strip():
        raise InputError(f"--prefix {prefix!r} must be a plain file-name prefix without '/'.")
    refuse_overwriting_inputs(options, prefix)
    regions = load_regions(options.gtf) if options.gtf is not None else None
    drops = DropLog()
    records, files, n_read = read_and_clean(options, drops)
    splits, kind = make_splits(records, options)
    unsampled = splits.pop("_unsampled")
    log.info("splits: %s", {name: len(recs) for name, recs in splits.items()})
    overlap = leakage.overlap_report(
        {n: s for n, s in splits.items()}, options.similarity_k, options.similarity_threshold, options.seed
    )
    overlap["split"] = kind
    overlap["split_requested"] = options.split
    if kind == "chromosome":
        test = splits["test"]
        overlap["test_chromosomes"] = leakage.spelled_as_given(
            {leakage.chromosome_of(r.coords.chrom) for r in test}, test
        )
    extra: dict = {
        "not_sampled": len(unsampled),
        "coordinates": sum(r.coords is not None for r in records),
        "renamed_ids": [{"from": old, "to": new} for old, new in drops.renamed],
    }
    annotation = None
    if options.gtf is not None:
        everything = splits["train"] + splits["nontrain"]
        annotation = annotate(everything, regions, options.k)
        extra["annotation"] = annotation[1]
    out = options.output_dir
    names = {split: f"{prefix}.{split}.fa" for split in splits}
    outputs = dict(names)
    if extra["coordinates"]:
        outputs["sites"] = f"{prefix}.sites.bed"
    if annotation is not None:
        outputs.update(
            sequence_regions=f"{prefix}.sequence_regions.tsv",
            token_regions=f"{prefix}.token_regions.tsv",
            nucleotide_regions=f"{prefix}.nucleotide_regions.tsv",
        )
    opts = {
        key: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
        for key, v in asdict(options).items()
    }
    opts["prefix"] = prefix
    manifest = build_manifest(
        opts, input_entries(files), n_read, drops.as_dict(), splits, overlap, {**extra, "outputs": outputs}
    )
    write_outputs(out, prefix, splits, names, annotation, options.k, manifest)
    return manifest


def write_outputs(out: Path, prefix: str, splits: dict, names: dict, annotation, k: int, manifest: dict) -> None:
    """Every output under a temporary name first; all renamed only when all are written."""
    from bertrbp.prepare.boundaries import BOUNDARY_TYPES
    from bertrbp.prepare.regions import REGIONS, token_labels

    with contextlib.ExitStack() as stack:

        def open_out(name: str):
            return stack.enter_context(atomic_open(out / name, "w", encoding="utf-8"))

        for split, name in names.items():
            writers.write_fasta(open_out(name), splits[split])
        if manifest["coordinates"]:
            writers.write_bed(open_out(f"{prefix}.sites.bed"), splits["train"] + splits["nontrain"])
        if annotation is not None:
            rows = annotation[0]
            writers.write_sequence_labels(open_out(f"{prefix}.sequence_regions.tsv"), REGIONS, rows)
            writers.write_string_labels(open_out(f"{prefix}.nucleotide_regions.tsv"), REGIONS, rows)
            token_rows = []
            for (record_id, matrix), (_, boundaries) in zip(rows, annotation[2]):
                carries, _ = token_labels(matrix, k)
                token_rows.append((record_id, np.column_stack([carries, boundaries])))
            columns = [*REGIONS, "boundary", *(f"boundary_{name}" for name in BOUNDARY_TYPES)]
            writers.write_string_labels(open_out(f"{prefix}.token_regions.tsv"), columns, token_rows)
        json.dump(manifest, open_out(f"{prefix}.manifest.json"), indent=2, default=str)
