"""Thin typer command-line tools; each module defines ``app`` and ``main``."""
