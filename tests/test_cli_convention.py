"""The command-line contract every tool shares: how usage errors look, and how a CLI module hands off to the
library (docs/architecture.md, "How a tool's CLI hands off to the library")."""

from __future__ import annotations

import pytest

from conftest import run_tool


@pytest.mark.parametrize(
    ("tool", "args", "what"),
    [
        ("evaluate", ["preds.tsv", "-o", "m.json", "--no-such-flag"], "no such option: --no-such-flag"),
        ("evaluate", ["-o", "m.json"], "missing argument"),
        ("predict", ["seqs.fa", "-o", "p.tsv", "--batch-size"], "option '--batch-size' requires an argument"),
        ("predict", ["seqs.fa", "-o", "p.tsv"], "missing option '--model'"),
    ],
)
def test_a_usage_error_is_one_error_line_and_exit_2(tmp_path, tool, args, what):
    """Unknown flags and missing arguments: one ``error:`` line naming the tool's --help, no usage box, no
    traceback (typer >= 0.2x raises its own copy of click's errors, which once escaped as a traceback, exit 1)."""
    result = run_tool(tool, *args, check=False, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and what in lines[0], lines[0]
    assert f"bertrbp-{tool} --help" in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written
