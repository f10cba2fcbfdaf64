"""What every command-line tool shares: error reporting, version option, logging set-up."""

from __future__ import annotations

import logging
import sys
from typing import Callable, Optional

import typer

from bertrbp import __version__
from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")


def make_app(help_text: str) -> typer.Typer:
    """A single-command typer app with our conventions (no shell-completion noise, rich help off)."""
    return typer.Typer(
        add_completion=False,
        help=help_text,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"bert-rbp {__version__}")
        raise typer.Exit()


VersionOption = typer.Option(
    None, "--version", callback=version_callback, is_eager=True, help="Print the version and exit."
)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def run(app: typer.Typer, argv: Optional[list[str]] = None) -> None:
    """Run a tool: InputError becomes 'error: …' on stderr and exit status 2, without a traceback."""
    try:
        code = app(args=argv, standalone_mode=False)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code:  # typer.Exit(n) inside a command arrives as a return value here
        sys.exit(code)


def entry(app: typer.Typer) -> Callable[[], None]:
    """A console-script entry point for ``app``."""
    return lambda: run(app)
