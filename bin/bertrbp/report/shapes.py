"""The types the summary relies on in a finetune run's metrics.json and model_card.json, checked when read.

Why: the report formats these fields (``{loss:.4f}``), compares epochs and reads nested objects; a hand-edited or
foreign file with text where a number belongs, or a list where an object belongs, was a traceback in the middle
of the report instead of one error line naming the field.
"""

from __future__ import annotations

from typing import Any

from bertrbp.errors import InputError

NUMBER, INTEGER, TEXT, OBJECT, LIST = "a number", "an integer", "text", "an object", "a list"

# a nested dict is an object with those fields; [shape] is a list whose objects have that shape; any field may be
# absent or null (older runs lack some), so only a present value of the wrong type is refused
METRICS_SHAPE: dict = {
    "kept_epoch": INTEGER,
    "epochs": [{"epoch": INTEGER}],
    "collapse": {
        "val_loss": NUMBER,
        "class_prior_entropy": NUMBER,
        "prediction_std": NUMBER,
        "reasons": LIST,
    },
    "calibration": {
        "crossfit_loss": NUMBER,
        "crossfit_val_loss": NUMBER,
        "fit_prior_entropy": NUMBER,
        "class_prior_entropy": NUMBER,
        "calibrated_val_loss": NUMBER,
        "fitted_on": TEXT,
    },
    "early_stopping": OBJECT,
    "validation": OBJECT,
}
CARD_SHAPE: dict = {
    "data": {"counts": {"train": OBJECT, "validation": OBJECT}, "train_files": LIST},
    "load_report": OBJECT,
    "hyperparameters": OBJECT,
    "software": OBJECT,
    "metrics": OBJECT,
}


def _has_type(value: Any, kind: str) -> bool:
    if kind in (NUMBER, INTEGER) and isinstance(value, bool):
        return False
    expected = {NUMBER: (int, float), INTEGER: int, TEXT: str, OBJECT: dict, LIST: list}[kind]
    return isinstance(value, expected)


def _type_name(value: Any) -> str:
    return {bool: "true/false", str: "text", list: "a list", dict: "an object"}.get(type(value), "a number")


def check_shape(document: dict, shape: dict, where: str, what: str, prefix: str = "") -> None:
    """Refuse the first field of ``document`` whose type ``shape`` does not allow, naming it (``a.b[2].c``)."""
    for key, kind in shape.items():
        value = document.get(key)
        if value is None:
            continue
        name = f"{prefix}{key}"
        expected = OBJECT if isinstance(kind, dict) else LIST if isinstance(kind, list) else kind
        if not _has_type(value, expected):
            raise InputError(f"{where}: field '{name}' is {_type_name(value)}, not {expected}; give {what}.")
        if isinstance(kind, dict):
            check_shape(value, kind, where, what, f"{name}.")
        elif isinstance(kind, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    check_shape(item, kind[0], where, what, f"{name}[{index}].")
