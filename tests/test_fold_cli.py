"""bertrbp-fold end to end, as a user runs it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bertrbp.fold.elements import element_string, pair_table
from bertrbp.fold.tokens import token_labels
from helpers import run_tool

FASTA = """>first some description
GGGAAATCCGCATAGCGCGAAAGCGCTATGCGGATTTCCCAAGGCTTAGCC
>second
ggcgcaaagcgccuuuuuggggaaaaacccc
>third
ACGTNNNNACGTACGATCGATCGGGGCTAGCTAGCTAGCCCCCAGCTAGC
>fourth
AUAUAUAUAUAUAUAUAUAUAUAUAUAUAUAUAUAUAU
"""


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.parametrize("engine", ["vienna", "linearpartition"])
def test_fold_writes_structures_tokens_and_unpaired(tmp_path: Path, engine: str) -> None:
    fasta = tmp_path / "in.fa"
    fasta.write_text(FASTA)
    out, tokens, unpaired = tmp_path / "s.tsv", tmp_path / "t.tsv", tmp_path / "u.tsv"
    run_tool(
        "fold",
        fasta,
        "-o",
        out,
        "--token-labels",
        tokens,
        "--bpp",
        unpaired,
        "--energy",
        "--engine",
        engine,
        "--threads",
        "2",
        "--k",
        "4",
    )
    rows = read_tsv(out)
    assert list(rows[0]) == ["id", "sequence", "structure", "elements", "ensemble_free_energy"]
    assert [r["id"] for r in rows] == ["first", "second", "third", "fourth"]
    assert rows[1]["sequence"] == "GGCGCAAAGCGCCUUUUUGGGGAAAAACCCC"
    for row in rows:
        assert "T" not in row["sequence"]
        pair_table(row["structure"])
        assert len(row["structure"]) == len(row["sequence"])
        assert row["elements"] == element_string(row["structure"])
        assert float(row["ensemble_free_energy"]) <= 0
    assert rows[1]["structure"].count("(") >= 4  # lower-case input was folded, not left unpaired
    assert set(rows[2]["structure"][4:8]) == {"."}  # N cannot pair

    token_rows = read_tsv(tokens)
    assert list(token_rows[0]) == ["id", "F", "T", "I", "H", "M", "S"]
    for row, token_row in zip(rows, token_rows):
        assert token_row["id"] == row["id"]
        expected = token_labels(row["elements"], 4)
        assert {letter: token_row[letter] for letter in "FTIHMS"} == expected
        assert all(len(token_row[letter]) == len(row["sequence"]) - 3 for letter in "FTIHMS")

    unpaired_rows = read_tsv(unpaired)
    assert [r["id"] for r in unpaired_rows] == [r["id"] for r in rows]
    for row, unpaired_row in zip(rows, unpaired_rows):
        probs = [float(p) for p in unpaired_row["unpaired"].split(",")]
        assert len(probs) == len(row["sequence"]) and all(0 <= p <= 1 for p in probs)


def test_plain_tsv_input_without_extras(tmp_path: Path) -> None:
    tsv = tmp_path / "sites.tsv"
    tsv.write_text("GGGGAAAACCCCAAAGGGGAAAACCCC\t1\nACGUACGUACGUACGU\t0\n")
    out = tmp_path / "s.tsv"
    run_tool("fold", tsv, "-o", out, "--threads", "1")
    rows = read_tsv(out)
    assert list(rows[0]) == ["id", "sequence", "structure", "elements"]
    assert [r["id"] for r in rows] == ["sites:1", "sites:2"]


@pytest.mark.parametrize(
    "content, args, message",
    [
        (">a\nACGU\n>empty\n>c\nACGU\n", [], "empty sequence"),
        (">a\nACGU\n>b\nACXU\n", [], "letters outside"),
        (">a\nACGU\n>a\nACGU\n", [], "repeats an id"),
        (">a\nACGU\n", ["--engine", "vienna", "--mode", "eterna"], "needs --engine linearpartition"),
        (">a\nACGU\n", ["--engine", "mfold"], "--engine"),
        (">a\nACGUACGU\n>b\nAC\n", ["--token-labels", "TOKENS"], "shorter than k=3"),
    ],
)
def test_bad_input_exits_2_without_output(tmp_path: Path, content: str, args: list[str], message: str) -> None:
    fasta = tmp_path / "in.fa"
    fasta.write_text(content)
    outdir = tmp_path / "out"
    outdir.mkdir()
    args = [str(outdir / "t.tsv") if a == "TOKENS" else a for a in args]
    result = run_tool("fold", fasta, "-o", outdir / "s.tsv", "--threads", "2", *args, check=False)
    assert result.returncode == 2, result.stderr
    assert "error:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(outdir.iterdir()) == []


def test_version() -> None:
    assert run_tool("fold", "--version").stdout.startswith("bert-rbp ")


def test_an_output_pipe_closed_by_its_reader_ends_as_sigpipe_not_as_bad_input(tmp_path: Path) -> None:
    """`bertrbp-fold X -o /dev/stdout | head` ended with exit 2, the bad-input status, and 'error: an output file:
    Broken pipe.'; a reader that has what it wanted is not bad input: 141 (128 + SIGPIPE), as for any tool."""
    import random
    import signal
    import subprocess
    import sys

    from conftest import BIN

    rng = random.Random(1)
    fasta = tmp_path / "many.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice('ACGT') for _ in range(60))}\n" for i in range(3000)))
    command = [sys.executable, str(BIN / "bertrbp-fold"), str(fasta), "-o", "/dev/stdout", "--threads", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as fold:
        assert fold.stdout.read(100)  # a reader such as `head -c 100`: reads a little, then goes away
        fold.stdout.close()
        err = fold.stderr.read().decode()
        assert fold.wait(timeout=120) == 128 + signal.SIGPIPE, err
    assert err.count("error:") == 1 and "broken pipe" in err and "Traceback" not in err


def test_workers_are_capped_at_the_cpus_of_the_task(caplog) -> None:
    """--threads 64 on 2 cores started 64 folding processes, each with its own copy of the library."""
    from bertrbp.fold.run import worker_count

    assert worker_count(0, 2) == 2 and worker_count(1, 2) == 1 and worker_count(2, 2) == 2
    assert worker_count(64, 2) == 2
    assert "--threads 64: this task may use 2 CPUs" in caplog.text
