"""Rename benchmark tags everywhere a tag lives, all renames at once.

Why a script: when a new pretraining stage ships, the outgoing stage's rows (``pvr_pretrained_nN``) must become
``pvr_pretrained-stageK_nN`` and the candidate's rows (``pvr_pretrained-stageK+1_nN``) the shipped ones, in
every place a tag is written: the results table ``accuracy_SUITE_TAG.tsv`` (file name and ``tag`` column), the
per-experiment ``finetune_metrics/SUITE_TAG_EXPERIMENT.json``, the run folders ``bench/out/accuracy/SUITE/TAG``
and the ``tag`` column of ``spare_sites_SUITE.tsv``. Doing it by hand misses one of them.

    python bench/retag.py 'pvr_pretrained_n*=pvr_pretrained-stage4_n*' 'pvr_pretrained-stage5_n*=pvr_pretrained_n*'
    python bench/retag.py --dry-run 'pvr_pretrained_n*=pvr_pretrained-stage4_n*'

``*`` stands for the same text on both sides and is matched against the tags that exist. The renames are applied
together, so a swap or a chain (A to B while B becomes C) works; a target that exists and is not itself renamed
away is refused before anything moves, and a failure while moving undoes what moved. Run it when no benchmark is
writing to these files (a row appended meanwhile would be lost).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

from bertrbp.io.atomic import atomic_open  # noqa: E402

RESULTS = REPO / "bench" / "results"
RUNS = REPO / "bench" / "out" / "accuracy"


TAG = re.compile(r"[A-Za-z0-9._+-]+")


class RetagError(Exception):
    """A rename that cannot be done; nothing has moved when it is raised."""


@dataclass
class Plan:
    """Every move and row rewrite one call makes, computed and checked before any of them is done."""

    mapping: dict[str, str]
    moves: list[tuple[Path, Path]] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)  # tag column rewritten, at the path before the moves


def result_tags(results: Path) -> dict[str, list[tuple[str, Path]]]:
    """Tag -> [(suite, accuracy table)], read from each table's own ``suite`` and ``tag`` columns (a tag holds
    underscores, so the file name alone is ambiguous); a table whose name disagrees with them is refused."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for table in sorted(results.glob("accuracy_*.tsv")):
        rows = _rows(table, ("suite", "experiment", "tag"), required=False)
        if not rows:
            continue
        suite, tag = rows[0]["suite"], rows[0]["tag"]
        if table.name != f"accuracy_{suite}_{tag}.tsv" or any((r["suite"], r["tag"]) != (suite, tag) for r in rows):
            raise RetagError(f"{table} holds rows of another suite or tag than its name says; fix it by hand first")
        found.setdefault(tag, []).append((suite, table))
    return found


def spare_tables(results: Path) -> dict[Path, set[str]]:
    """Each spare-site table and the tags in it."""
    return {
        table: {row["tag"] for row in _rows(table, ("tag",))} for table in sorted(results.glob("spare_sites_*.tsv"))
    }


def expand(patterns: list[str], tags: set[str]) -> dict[str, str]:
    """``OLD=NEW`` pairs, ``*`` matched against the known tags, as one mapping old -> new."""
    mapping: dict[str, str] = {}
    for pattern in patterns:
        old, sep, new = pattern.partition("=")
        if not sep or old.count("*") != new.count("*") or old.count("*") > 1:
            raise RetagError(f"'{pattern}' is not OLD=NEW (at most one '*', on both sides or neither)")
        if not all(TAG.fullmatch(side.replace("*", "x")) for side in (old, new)):
            raise RetagError(f"'{pattern}': a tag is letters, digits and . _ + - (and one '*' here)")
        head, star, tail = old.partition("*")
        shape = re.compile(re.escape(head) + ("(.*)" if star else "") + re.escape(tail))
        pairs = [
            (tag, new.replace("*", match.group(1)) if star else new)
            for tag in sorted(tags)
            if (match := shape.fullmatch(tag))
        ]
        if not pairs:
            raise RetagError(f"no tag matches '{old}'")
        for source, target in pairs:
            if mapping.get(source, target) != target:
                raise RetagError(f"'{source}' is given two new names")
            mapping[source] = target
    targets = list(mapping.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise RetagError(f"two tags would both become '{doubled[0]}'")
    return mapping


def plan(patterns: list[str], results: Path = RESULTS, runs: Path = RUNS) -> Plan:
    """What renaming ``patterns`` means here, refused as a whole if any target is taken."""
    by_tag = result_tags(results)
    spare = spare_tables(results)
    mapping = expand(patterns, set(by_tag).union(*spare.values()))
    known = suite_experiments(by_tag)
    result = Plan(mapping)
    for old, new in mapping.items():
        for suite, table in by_tag.get(old, []):
            result.moves.append((table, table.with_name(f"accuracy_{suite}_{new}.tsv")))
            result.tables.append(table)
            # every experiment of the suite, not only the table's: a metrics file whose row was removed by hand
            # still carries the tag
            for experiment in known[suite]:
                metrics = results / "finetune_metrics" / f"{suite}_{old}_{experiment}.json"
                if metrics.is_file():
                    _check_unambiguous(metrics.name, suite, by_tag, known[suite])
                    result.moves.append((metrics, metrics.with_name(f"{suite}_{new}_{experiment}.json")))
            if (runs / suite / old).is_dir():
                result.moves.append((runs / suite / old, runs / suite / new))
    for table, tags in spare.items():
        taken = sorted(tags & (set(mapping.values()) - mapping.keys()))
        if taken:
            raise RetagError(f"{table} has rows tagged '{taken[0]}' already; rename or remove them first")
        if tags & mapping.keys():
            result.tables.append(table)
    leaving = {source for source, _ in result.moves}
    targets = [target for _, target in result.moves]
    for target in targets:
        if (target.exists() and target not in leaving) or targets.count(target) > 1:
            raise RetagError(f"{target} exists already; rename or remove it first")
    return result


def suite_experiments(by_tag: dict[str, list[tuple[str, Path]]]) -> dict[str, list[str]]:
    """Suite -> the experiments named in any of its tables, in first-seen order."""
    known: dict[str, dict[str, None]] = {}
    for entries in by_tag.values():
        for suite, table in entries:
            known.setdefault(suite, {}).update(dict.fromkeys(r["experiment"] for r in _rows(table, ("experiment",))))
    return {suite: list(names) for suite, names in known.items()}


def _check_unambiguous(name: str, suite: str, by_tag: dict, experiments: list[str]) -> None:
    """``SUITE_TAG_EXPERIMENT.json`` must split one way only: tags and experiment names both hold underscores."""
    splits = {
        (tag, experiment)
        for tag, entries in by_tag.items()
        if any(s == suite for s, _ in entries)
        for experiment in experiments
        if name == f"{suite}_{tag}_{experiment}.json"
    }
    if len(splits) > 1:
        raise RetagError(f"finetune_metrics/{name} could belong to tags {', '.join(sorted(t for t, _ in splits))}")


def apply(result: Plan) -> None:
    """Rewrite the tag columns, then move every file through a temporary name (so swaps work); on any failure,
    undo what was done, so the tags are either all renamed or none."""
    originals = {table: table.read_bytes() for table in result.tables}
    done: list[tuple[Path, Path]] = []  # (from, to), in order
    try:
        for table in result.tables:
            _retag_column(table, result.mapping)
        parked = []
        for source, target in result.moves:
            temporary = source.with_name(f".{source.name}.{uuid.uuid4().hex[:12]}.retag")
            source.rename(temporary)
            done.append((source, temporary))
            parked.append((temporary, target))
        for temporary, target in parked:
            temporary.rename(target)
            done.append((temporary, target))
    except BaseException:
        for source, moved in reversed(done):
            moved.rename(source)
        for table, content in originals.items():
            with atomic_open(table, "wb") as handle:
                handle.write(content)
        raise


def _retag_column(table: Path, mapping: dict[str, str]) -> None:
    with open(table, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader)
        rows = list(reader)
    column = header.index("tag")
    with atomic_open(table, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            row[column] = mapping.get(row[column], row[column])
            writer.writerow(row)


def _rows(table: Path, columns: tuple[str, ...], required: bool = True) -> list[dict[str, str]]:
    """The table's rows; one without ``columns`` or with a short row is refused (``required``) or skipped."""
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RetagError(f"cannot read {table}: {error}") from None
    if not set(columns) <= set(header):
        if required:
            raise RetagError(f"{table} has no column {', '.join(c for c in columns if c not in header)}")
        return []
    if any(row.get(column) is None for row in rows for column in columns):
        raise RetagError(f"{table} has a row shorter than its header; fix it by hand first")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("renames", nargs="+", metavar="OLD=NEW")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--runs", type=Path, default=RUNS, help="the run folders (bench/out/accuracy)")
    parser.add_argument("--dry-run", action="store_true", help="print what would move, move nothing")
    args = parser.parse_args(argv)
    try:
        result = plan(args.renames, args.results, args.runs)
    except RetagError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for old, new in result.mapping.items():
        print(f"{old} -> {new}")
    for source, target in result.moves:
        print(f"  {_shown(source)} -> {target.name}")
    for table in result.tables:
        print(f"  tag column: {_shown(table)}")
    if not args.dry_run:
        try:
            apply(result)
        except OSError as error:
            print(f"error: {error}; nothing was renamed", file=sys.stderr)
            raise SystemExit(2) from None


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


if __name__ == "__main__":
    main()
