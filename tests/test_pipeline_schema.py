"""The parameter schema is valid JSON Schema, matches nextflow.config, and the test profile's parameters and the
demo samplesheet validate against their schemas (what nf-schema checks at the start of a run)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

from test_pipeline_render import REPO, params_of, profile_params

SCHEMA = json.loads((REPO / "nextflow_schema.json").read_text())
INPUT_SCHEMA = json.loads((REPO / "assets" / "schema_input.json").read_text())


def _properties() -> dict:
    return {k: v for group in SCHEMA["$defs"].values() for k, v in group["properties"].items()}


def _samplesheet_rows(path: Path) -> list[dict]:
    """Rows as nf-schema sees them: empty cells dropped."""
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(handle)]


def test_schemas_are_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator.check_schema(INPUT_SCHEMA)
    assert [ref["$ref"].split("/")[-1] for ref in SCHEMA["allOf"]] == list(SCHEMA["$defs"])


def test_every_parameter_is_described_with_type_default_and_help():
    config = params_of(REPO / "nextflow.config")
    props = _properties()
    assert set(config) == set(
        props
    ), f"only in config: {set(config) - set(props)}; only in schema: {set(props) - set(config)}"
    for name, spec in props.items():
        assert spec.get("type") and spec.get("description") and spec.get("help_text"), name
        if config[name] is None:  # file inputs given per run have no default (nf-core convention)
            assert "default" not in spec, name
            continue
        assert "default" in spec, name
        assert spec["default"] == config[name], f"{name}: schema default {spec['default']!r} != config {config[name]!r}"


def test_test_profile_parameters_validate():
    values = {k: v for k, v in profile_params().items() if v is not None}
    jsonschema.Draft202012Validator(SCHEMA).validate(values)
    bad = dict(values, fold_engine="mfold")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(bad)


def test_demo_samplesheet_validates_and_points_at_the_demo_data():
    sheet = Path(profile_params()["input"])
    rows = _samplesheet_rows(sheet)
    jsonschema.Draft202012Validator(INPUT_SCHEMA).validate(rows)
    assert {r["id"] for r in rows} == {"HNRNPK_K562", "UCHL5_K562"}
    for row in rows:
        path = Path(row["input"])
        assert not path.is_absolute()
        resolved = (sheet.parent / path).resolve()  # the pipeline reads relative paths from the sheet's folder
        assert resolved.is_file() and resolved.parent == (REPO / "assets" / "demo").resolve()


@pytest.mark.parametrize(
    "row",
    [
        {"id": "RBFOX2.HepG2", "input": "a.tsv"},  # dots would clash with the '<id>.baseline' naming
        {"id": "-RBFOX2", "input": "a.tsv"},  # '-RBFOX2.train.fa' reads as options
        {"id": "X"},  # no input and no positives/negatives
        {"id": "X", "positives": "p.fa"},  # positives without negatives
        {"id": "X", "input": "a.tsv", "format": "bam"},
        {"id": "X", "input": "a.tsv", "chain": "hg19ToHg38.over.chain.gz"},  # chain without genome
    ],
)
def test_samplesheet_schema_refuses_bad_rows(row):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(INPUT_SCHEMA).validate([row])


def test_samplesheet_schema_accepts_positive_negative_pairs():
    jsonschema.Draft202012Validator(INPUT_SCHEMA).validate(
        [{"id": "TIAL1", "positives": "pos.fa.gz", "negatives": "neg.fa.gz", "format": "fasta", "gtf": "g.gtf.gz"}]
    )


def _validate(values: dict) -> None:
    defaults = {k: v for k, v in params_of(REPO / "nextflow.config").items() if v is not None}
    jsonschema.Draft202012Validator(SCHEMA).validate({**defaults, **values})


def test_each_mode_requires_its_own_inputs():
    _validate({"input": "samplesheet.csv"})  # train is the default mode
    with pytest.raises(jsonschema.ValidationError):
        _validate({})  # train without a samplesheet
    _validate({"mode": "scan", "models": "m", "sequences": "t.fa"})
    _validate({"mode": "scan", "models": "m", "regions": "r.bed", "genome": "g.fa"})
    for bad in (
        {"models": "m"},
        {"models": "m", "regions": "r.bed"},
        {"sequences": "t.fa"},
        {"models": "m", "sequences": "t.fa", "regions": "r.bed", "genome": "g.fa"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            _validate({"mode": "scan", **bad})
    _validate({"mode": "variants", "models": "m", "vcf": "v.vcf", "genome": "g.fa", "gtf": "a.gtf"})
    for bad in (
        {"models": "m", "vcf": "v.vcf"},
        {"vcf": "v.vcf", "genome": "g.fa"},
        {"models": "m", "vcf": "v.vcf", "genome": "g.fa", "gtf": "a.gtf", "strand_bed": "s.bed"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            _validate({"mode": "variants", **bad})
    with pytest.raises(jsonschema.ValidationError):
        _validate({"mode": "predict", "input": "samplesheet.csv"})
