"""Read the metrics JSON files written by bertrbp-evaluate into one table (one row per RBP and model).

The row also carries what the optional inputs add (report.collect): the finetune run, the test predictions, the
k-mer floor of its RBP and the verdict; the TSV gains their columns after the original ones, so readers of the
old columns keep working.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bertrbp.errors import InputError

if TYPE_CHECKING:
    from bertrbp.report.inputs import TestScores, TrainingRun
    from bertrbp.report.verdict import Verdict

SCORE_COLUMNS = ("auroc", "auprc", "accuracy", "f1", "mcc")
COUNT_COLUMNS = ("n", "n_positive")
OTHER_COLUMNS = ("threshold",)
METRIC_COLUMNS = SCORE_COLUMNS + COUNT_COLUMNS + OTHER_COLUMNS
MAIN_MODEL = "main"  # the run's --model (pretrained or not); variants such as "baseline" follow a dot in the name
EXTRA_COLUMNS = (
    "kind",
    "verdict",
    "kmer_floor_auroc",
    "auroc_over_floor",
    "val_auroc",
    "kept_epoch",
    "verdict_reasons",
)


@dataclass
class MetricsRow:
    """One evaluated model: its dataset (RBP), which model (the main one or a named variant such as the baseline) and its metrics."""

    name: str
    rbp: str
    model: str
    values: dict[str, float | None] = field(default_factory=dict)
    source: str = ""
    training: TrainingRun | None = None
    scores: TestScores | None = None
    kind: str = ""
    is_floor: bool = False
    floor_auroc: float | None = None
    verdict: Verdict | None = None

    @property
    def auroc(self) -> float | None:
        return self.values.get("auroc")

    @property
    def margin(self) -> float | None:
        """Test AUROC minus the k-mer floor of the same RBP (None for the floor itself or without one)."""
        if self.is_floor or self.floor_auroc is None or self.auroc is None:
            return None
        return self.auroc - self.floor_auroc


def split_name(name: str) -> tuple[str, str]:
    """'RBFOX2_HepG2' -> (RBFOX2_HepG2, main); 'RBFOX2_HepG2.baseline' -> (RBFOX2_HepG2, baseline).

    The pipeline names the baseline's files '<id>.baseline' and samplesheet ids cannot contain dots.
    """
    rbp, _, variant = name.partition(".")
    return rbp, variant or MAIN_MODEL


# what bertrbp-evaluate can write for each metric; JSON null or NaN means unknown
_RANGES = {key: (0.0, 1.0) for key in ("auroc", "auprc", "accuracy", "f1", "threshold")} | {"mcc": (-1.0, 1.0)}


def check_name(name: str, where: str, how: str) -> None:
    """Refuse a model name with a tab, line break or other control character: written as it is into a cell of the
    summary table, it split the row or the line and the table was wrong with exit 0."""
    if not name.isprintable():
        raise InputError(
            f"{where}: the name {name!r} holds a tab, line break or other control character, which would break the "
            f"summary table; give a plain name ({how})."
        )


def _number(value: object, key: str, path: Path) -> float | None:
    """A metric as a float (None when unknown), refused when evaluate could not have written it.

    Why: an infinite count stopped the table with a traceback, and an AUROC of 3 or an infinite one (1e400 in the
    JSON) was judged 'learned' with exit 0.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{path}: metric {key!r} is {value!r}, not a number; is this a bertrbp-evaluate metrics file?")
    number = float(value)
    if math.isnan(number):
        return None
    low, high = _RANGES.get(key, (0.0, math.inf))
    whole = key not in COUNT_COLUMNS or number.is_integer()
    if not (math.isfinite(number) and low <= number <= high and whole):
        what = "a whole number of 0 or more" if key in COUNT_COLUMNS else f"a number in [{low:g}, {high:g}]"
        raise InputError(
            f"{path}: metric {key!r} is {value!r}, not {what}; give the metrics JSON written by bertrbp-evaluate."
        )
    return number


def read_metrics(path: Path) -> MetricsRow:
    """One metrics JSON -> a row; the name is the file's 'name' field, else its file name without '.metrics.json'."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; give the metrics JSON files written by bertrbp-evaluate.") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); give bertrbp-evaluate's metrics file."
        ) from None
    except UnicodeDecodeError as exc:  # a binary file: one error line, not a traceback
        raise InputError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8); give bertrbp-evaluate's metrics file."
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of metrics, found {type(data).__name__}.")
    if "auroc" not in data:
        raise InputError(f"{path}: no 'auroc' metric; give the metrics JSON written by bertrbp-evaluate.")
    stem = Path(path).name
    for suffix in (".json", ".metrics"):
        stem = stem.removesuffix(suffix)
    name = str(data.get("name") or stem)
    check_name(name, str(path), "bertrbp-evaluate --name")
    rbp, model = split_name(name)
    values = {key: _number(data.get(key), key, Path(path)) for key in METRIC_COLUMNS}
    if values["n"] is not None and values["n_positive"] is not None and values["n_positive"] > values["n"]:
        raise InputError(
            f"{path}: n_positive {values['n_positive']:g} is more than n {values['n']:g}; give the metrics JSON "
            "written by bertrbp-evaluate."
        )
    return MetricsRow(name=name, rbp=rbp, model=model, values=values, source=str(path))


def sort_rows(rows: list[MetricsRow]) -> list[MetricsRow]:
    """By RBP, then the main model, then the others by name."""
    return sorted(rows, key=lambda r: (r.rbp, r.model != MAIN_MODEL, r.model))


def gather(paths: Iterable[Path], allow_empty: bool = False) -> list[MetricsRow]:
    """Read every file, refuse duplicate names, and sort by RBP then model (main model first)."""
    rows: list[MetricsRow] = []
    seen: dict[str, str] = {}
    for path in paths:
        row = read_metrics(path)
        if row.name in seen:
            raise InputError(
                f"{path}: the name {row.name!r} was already read from {seen[row.name]}; "
                "give each RBP/model's metrics once (bertrbp-evaluate --name sets the name)."
            )
        seen[row.name] = row.source
        rows.append(row)
    if not rows and not allow_empty:
        raise InputError("no metrics files given; pass one or more bertrbp-evaluate metrics JSON files.")
    return sort_rows(rows)


def _number_cell(value: float | None, integer: bool = False) -> str:
    if value is None:
        return ""
    return str(int(value)) if integer else f"{value:.6g}"


def _extra_cells(row: MetricsRow) -> list[str]:
    verdict = row.verdict
    training = row.training
    reasons = "; ".join(verdict.reasons) if verdict else ""
    return [
        row.kind,
        verdict.level if verdict else "",
        _number_cell(row.floor_auroc),
        _number_cell(row.margin),
        _number_cell(training.value("val_auroc") if training else None),
        _number_cell(training.kept_epoch if training else None, integer=True),
        " ".join(reasons.split()),  # no tabs or newlines inside a cell
    ]


def to_tsv(rows: list[MetricsRow]) -> str:
    """The summary table: name, rbp, model, every metric (empty cell when unknown), then the verdict columns."""
    header = ("name", "rbp", "model") + METRIC_COLUMNS + EXTRA_COLUMNS
    lines = ["\t".join(header)]
    for row in rows:
        cells = [row.name, row.rbp, row.model]
        cells += [_number_cell(row.values.get(key), key in COUNT_COLUMNS) for key in METRIC_COLUMNS]
        cells += _extra_cells(row)
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"
