"""bertrbp-fold's output bytes are pinned: speed work on the tool must not change a single character.

Two pins:
- golden files in tests/data/fold_golden/, written by the tool at commit 43dd696 (before the speed work, ViennaRNA
  2.8.0, linearpartition-unofficial 0.3: the versions containers/fold pins) from synthetic records that cover
  DNA, lower case, N, a record too short to pair, and records above the 300-nt rescaling bound;
- on real sites from ../shared/data, the tool against a reference computed here the straightforward way (bare
  ViennaRNA calls, numpy's unpaired sums, a per-token loop), so the pin holds for any engine version.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from bertrbp.fold.elements import ELEMENTS, element_string
from conftest import run_tool

GOLDEN = Path(__file__).parent / "data" / "fold_golden"
GOLDEN_VERSIONS = {"RNA": "2.8.0", "linearpartition-unofficial": "0.3"}


def _engine_versions() -> dict[str, str]:
    from importlib.metadata import version

    import RNA

    return {"RNA": RNA.__version__, "linearpartition-unofficial": version("linearpartition-unofficial")}


def _fold_all_outputs(tmp_path: Path, fasta: Path, engine: str, threads: int) -> dict[str, bytes]:
    paths = {name: tmp_path / f"{engine}.{threads}.{name}.tsv" for name in ("structures", "tokens", "unpaired")}
    run_tool(
        "fold",
        fasta,
        "-o",
        paths["structures"],
        "--token-labels",
        paths["tokens"],
        "--bpp",
        paths["unpaired"],
        "--energy",
        "--k",
        "3",
        "--engine",
        engine,
        "--threads",
        str(threads),
    )
    return {name: path.read_bytes() for name, path in paths.items()}


@pytest.mark.parametrize("engine, threads", [("vienna", 1), ("vienna", 2), ("linearpartition", 2)])
def test_outputs_match_the_golden_files_byte_for_byte(tmp_path: Path, engine: str, threads: int) -> None:
    if _engine_versions() != GOLDEN_VERSIONS:
        pytest.skip(f"golden files were made with {GOLDEN_VERSIONS}, installed: {_engine_versions()}")
    outputs = _fold_all_outputs(tmp_path, GOLDEN / "input.fa", engine, threads)
    for name, content in outputs.items():
        assert content == (GOLDEN / f"{engine}.{name}.tsv").read_bytes(), f"{engine} {name} differs from golden"


def _reference_row(record_id: str, seq: str, k: int) -> tuple[str, str, str]:
    """The three output lines for one record, computed without bertrbp's folding code."""
    import RNA

    rna = seq.strip().upper().replace("T", "U")
    compound = RNA.fold_compound(rna)
    if len(rna) > 300:
        compound.exp_params_rescale(compound.mfe()[1])
    energy = compound.pf()[1]
    structure = compound.MEA(3.0)[0]
    probs = np.asarray(compound.bpp(), dtype=float)[1:, 1:]
    unpaired = np.clip(1.0 - probs.sum(axis=0) - probs.sum(axis=1), 0.0, 1.0)
    elements = element_string(structure)
    tokens = [
        "".join("1" if letter in elements[t : t + k] else "0" for t in range(len(rna) - k + 1)) for letter in ELEMENTS
    ]
    return (
        f"{record_id}\t{rna}\t{structure}\t{elements}\t{energy:.4f}\n",
        "\t".join([record_id, *tokens]) + "\n",
        f"{record_id}\t" + ",".join(f"{p:.4f}" for p in unpaired) + "\n",
    )


def _real_records(shared_data: Path) -> list[tuple[str, str]]:
    rng = random.Random(3)
    records = []
    with gzip.open(shared_data / "eclip" / "AATF_K562.tsv.gz", "rt") as handle:
        lines = [line.split("\t")[0] for line in handle]
    records += [(f"eclip{i}", seq) for i, seq in enumerate(rng.sample(lines, 30))]
    # GraphProt sites: lower-case flanks around an upper-case viewpoint, 38-375 nt.
    with gzip.open(shared_data / "rbp24" / "PARCLIP_PUM2.ls.positives.fa.gz", "rt") as handle:
        text = handle.read()
    fasta = [block.split("\n", 1) for block in text.split(">")[1:]]
    sites = [("".join(body.split())) for _, body in fasta]
    records += [(f"rbp24_{i}", seq) for i, seq in enumerate(rng.sample(sites, 12))]
    return records


def test_real_sites_match_a_straightforward_reference(tmp_path: Path, shared_data: Path) -> None:
    records = _real_records(shared_data)
    assert any(any(c.islower() for c in seq) for _, seq in records) and any("T" in seq for _, seq in records)
    fasta = tmp_path / "real.fa"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    outputs = _fold_all_outputs(tmp_path, fasta, "vienna", 2)
    expected = [_reference_row(name, seq, 3) for name, seq in records]
    header = "id\tsequence\tstructure\telements\tensemble_free_energy\n"
    assert outputs["structures"].decode() == header + "".join(row[0] for row in expected)
    assert outputs["tokens"].decode() == "id\tF\tT\tI\tH\tM\tS\n" + "".join(row[1] for row in expected)
    assert outputs["unpaired"].decode() == "id\tunpaired\n" + "".join(row[2] for row in expected)
