"""Start-up shared by the torch tools, kept out of cli.common so CPU-only tools never reach torch."""

from __future__ import annotations

from bertrbp.cli.common import setup_logging
from bertrbp.device import set_threads


def start_torch_tool(threads: int) -> None:
    """What a torch tool does first: log to stderr and use ``threads`` CPU threads (0: all of the task's)."""
    setup_logging()
    set_threads(threads)
