"""Join the summary's inputs by name into one row per RBP and model, find each RBP's k-mer floor, judge each model.

Names: evaluate's metrics name their rows (``RBP`` or ``RBP.tag``); ``--predictions`` and ``--training`` inputs
attach to the row of the same name. An input named only by its file name must match a metrics row when metrics
were given (so that ``predictions.tsv`` or ``finetune/`` is not silently shown as a model of an RBP called
'predictions'); ``NAME=PATH`` may add a row of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.report.inputs import (
    PREDICTION_SUFFIXES,
    TRAINING_SUFFIXES,
    NamedPath,
    parse_named,
    read_test_scores,
    read_training,
)
from bertrbp.report.metrics import METRIC_COLUMNS, MetricsRow, check_name, gather, sort_rows, split_name
from bertrbp.report.verdict import judge

FLOOR_KIND = "kmer"  # model_kind that H3's `--model kmer` writes; the default --floor-model tag too


def _named(specs: Sequence[str], suffixes: tuple[str, ...], option: str) -> list[NamedPath]:
    named = [parse_named(spec, suffixes, option) for spec in specs]
    seen: dict[str, Path] = {}
    for item in named:
        check_name(item.name, f"{option} {item.path}", f"{option} RBP.tag=PATH")
        if item.name in seen:
            raise InputError(
                f"{option} {item.path}: the name {item.name!r} was already given by {seen[item.name]}; give each "
                f"RBP/model once (name them explicitly: {option} RBP.tag=PATH)."
            )
        seen[item.name] = item.path
    return named


def _row_for(rows: dict[str, MetricsRow], item: NamedPath, option: str, had_metrics: bool) -> MetricsRow:
    if item.name in rows:
        return rows[item.name]
    if had_metrics and not item.explicit:
        known = ", ".join(sorted(rows)[:5]) + (", ..." if len(rows) > 5 else "")
        raise InputError(
            f"{option} {item.path}: its name {item.name!r} (taken from the file name) matches no metrics file "
            f"(names: {known}); name it explicitly, e.g. {option} {next(iter(sorted(rows)), 'RBP')}={item.path}."
        )
    rbp, model = split_name(item.name)
    row = MetricsRow(
        name=item.name, rbp=rbp, model=model, values={k: None for k in METRIC_COLUMNS}, source=str(item.path)
    )
    rows[item.name] = row
    return row


def _kind(row: MetricsRow) -> str:
    """model_kind from finetune (e.g. 'kmer', 'bert', 'cnn'), else the card's model source, else ''."""
    training = row.training
    if training is None:
        return ""
    if training.model_kind:
        return training.model_kind
    card = training.card or {}
    source = str(card.get("model_source") or "")
    return Path(source).name if "/" in source else source


def _floor_of(rows: list[MetricsRow], floor_model: str) -> MetricsRow | None:
    tagged = [r for r in rows if r.model == floor_model]
    kind = [r for r in rows if r.kind == FLOOR_KIND]
    return (tagged or kind or [None])[0]


def _refuse_same_model(rows: list[MetricsRow]) -> None:
    """Refuse two names for one RBP and model ('A' and 'A.main' or 'A.'), and a name with no RBP ('.kmer').

    Why: such names passed the check for repeated names, and the report showed two different runs as the same
    model of the RBP (two 'main' rows, one picked for the curves and the headline) with exit 0.
    """
    seen: dict[tuple[str, str], MetricsRow] = {}
    for row in rows:
        if not row.rbp:
            raise InputError(f"{row.source}: the name {row.name!r} has no RBP before the dot; name it RBP or RBP.tag.")
        earlier = seen.setdefault((row.rbp, row.model), row)
        if earlier is not row:
            raise InputError(
                f"{row.source}: the name {row.name!r} is the same RBP and model ({row.rbp}, {row.model}) as "
                f"{earlier.name!r} from {earlier.source}; give each RBP/model once (RBP is the main model, RBP.tag "
                "another)."
            )


def collect(
    metrics: Sequence[Path],
    predictions: Sequence[str] = (),
    training: Sequence[str] = (),
    floor_model: str = FLOOR_KIND,
) -> list[MetricsRow]:
    """Every input read and joined; rows sorted by RBP then model, each with its floor and verdict."""
    if not metrics and not predictions and not training:
        raise InputError("nothing to summarise: give bertrbp-evaluate metrics JSON files, --predictions or --training.")
    by_name = {row.name: row for row in gather(metrics, allow_empty=True)}
    had_metrics = bool(by_name)
    for item in _named(predictions, PREDICTION_SUFFIXES, "--predictions"):
        row = _row_for(by_name, item, "--predictions", had_metrics)
        row.scores = read_test_scores(item.path, known=row.values)
        row.values = {k: row.scores.metrics.get(k) for k in METRIC_COLUMNS}
    for item in _named(training, TRAINING_SUFFIXES, "--training"):
        row = _row_for(by_name, item, "--training", had_metrics)
        row.training = read_training(item.path)
    rows = sort_rows(list(by_name.values()))
    _refuse_same_model(rows)
    for row in rows:
        row.kind = _kind(row)
    for rbp in dict.fromkeys(r.rbp for r in rows):
        group = [r for r in rows if r.rbp == rbp]
        floor = _floor_of(group, floor_model)
        for row in group:
            row.is_floor = row is floor
            row.floor_auroc = floor.auroc if floor is not None else None
            row.verdict = judge(row.values, row.training, row.scores, row.floor_auroc, row.is_floor)
    return rows
