"""Import helpers for tests: ``from helpers import run_tool``."""

from conftest import BIN, REPO, SHARED_DATA, run_tool  # noqa: F401
