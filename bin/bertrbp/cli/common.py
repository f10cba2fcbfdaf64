"""What every command-line tool shares: error reporting, version option, logging set-up."""

from __future__ import annotations

import logging
import sys
from typing import Optional

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


# Options shared by the torch tools. The Nextflow modules and Galaxy wrappers pass these flags to every tool, so
# names, defaults and meaning are defined once here.
DeviceOption = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda, cuda:N.")
Bf16Option = typer.Option("auto", "--bf16", help="bf16 autocast: auto (on for CUDA), yes, no.")
ThreadsOption = typer.Option(0, "--threads", min=0, help="CPU threads (0 = all CPUs of the task).")
FormatOption = typer.Option("auto", "--format", help="Input format: auto, fasta, tsv or kmer-tsv.")


def batch_size_option(default: int, help_text: str = "Sequences per forward pass.") -> typer.models.OptionInfo:
    """``--batch-size`` (at least 1); the default and what one item is differ per tool."""
    return typer.Option(default, "--batch-size", min=1, help=help_text)


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
