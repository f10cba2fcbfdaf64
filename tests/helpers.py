"""Import helpers for tests: ``from helpers import run_tool``."""

from conftest import REPO, BIN, SHARED_DATA, run_tool  # noqa: F401
