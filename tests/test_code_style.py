"""The code stays lint-clean and formatted (ruff, configured in pyproject.toml): a maintainer's first check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATHS = ["bin", "tests", "bench", "containers", "scripts"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *PATHS], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint_is_clean():
    result = _ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _ruff("format", "--no-cache", "--check")
    assert result.returncode == 0, "run `ruff format bin tests bench containers scripts`:\n" + result.stdout
