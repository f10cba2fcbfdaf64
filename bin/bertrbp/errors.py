"""One exception type for bad user input, so every tool can report it the same way."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: the message says what was wrong, where, and what to do.

    Command-line tools catch it, print ``error: <message>`` to stderr and exit with status 2,
    without a traceback and without leaving partial output files behind.
    """
