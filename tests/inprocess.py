"""Run a tool's typer app inside the test process: the same code path as the CLI, without the import cost."""

from __future__ import annotations

import importlib


def run_cli(module: str, *args) -> int:
    """Run ``bertrbp.cli.<module>`` with ``args``; returns the exit status (0 when it returns normally)."""
    from bertrbp.cli.common import run

    app = importlib.import_module(f"bertrbp.cli.{module}").app
    try:
        run(app, [str(a) for a in args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
