"""What every command-line tool shares: error reporting, version option, logging set-up."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import typer

from bertrbp import __version__
from bertrbp.errors import (
    STOP_SIGNALS,
    InputError,
    Interrupted,
    MemberKilled,
    clear_signal,
    pending_signal,
    quiet_about_interrupted,
    raise_interrupted,
)

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
DeviceOption = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda, cuda:N, mps.")
Bf16Option = typer.Option(
    "auto", "--bf16", help="bf16 autocast: auto (on for CUDA and for CPUs with native bf16, AMX/AVX512-BF16), yes, no."
)
MAX_THREADS = 1024  # torch overflows on 2**31 and would start any number below it; no CPU task needs more
ThreadsOption = typer.Option(0, "--threads", min=0, max=MAX_THREADS, help="CPU threads (0 = all CPUs of the task).")
FormatOption = typer.Option("auto", "--format", help="Input format: auto, fasta, tsv or kmer-tsv.")


def seed_option(help_text: str = "Random seed.") -> typer.models.OptionInfo:
    """``--seed`` (default 42), within the range numpy's and torch's seeding take."""
    return typer.Option(42, "--seed", min=0, max=2**32 - 1, help=help_text)


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


# Parameters that name outputs, checked before any work (a folder in the way, no write access): every tool uses
# these names for its outputs (docs/architecture.md, "Outputs").
OUTPUT_FILE_PARAMS = ("output",)
# per command (its function name): options that name further output files (elsewhere the same names are inputs,
# e.g. attention-stats reads the --token-labels that fold writes)
COMMAND_OUTPUT_FILES = {"fold": ("token_labels", "bpp")}
OUTPUT_DIR_PARAMS = ("output_dir", "plots_dir", "vocab_dir")
OUTPUT_PREFIX_PARAMS = ("output_prefix",)

# Exit statuses (documented in the README): 2 bad input or unwritable output, 4 disk full, 128 + signal number.
EXIT_INPUT = 2
EXIT_NO_SPACE = 4


def check_outputs(params: dict, command: str | None = None) -> None:
    """Refuse unwritable outputs before the work starts, not after hours of it, and an output that is one of the
    run's input files (it would be overwritten) or another of its outputs."""
    from bertrbp.io.atomic import check_output_dir, check_output_file

    file_params = OUTPUT_FILE_PARAMS + COMMAND_OUTPUT_FILES.get(command or "", ())
    outputs = {name: value for name, value in params.items() if name in file_params and value is not None}
    check_not_inputs(outputs, params)
    for name, value in params.items():
        if value is None:
            continue
        if name in file_params:
            check_output_file(value)
        elif name in OUTPUT_DIR_PARAMS:
            check_output_dir(value, f"--{_flag(name)} folder")
        elif name in OUTPUT_PREFIX_PARAMS:
            prefix = Path(value)
            check_output_dir(prefix.parent if str(prefix.parent) else Path("."), "folder of --output-prefix")


def _given_paths(value) -> list[Path]:
    """The paths an option value names: one path, or each item of a list of them."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [Path(item) for item in items if isinstance(item, (str, os.PathLike)) and str(item)]


def check_not_inputs(outputs: dict, params: dict) -> None:
    """Refuse, before any work, an output file (``outputs``: option name -> path) that is also an input file of
    the run or another of its outputs: writing it would destroy the input or lose one of the outputs."""
    from bertrbp.io.atomic import refuse_overwriting_inputs

    refuse_overwriting_inputs(
        {f"--{_flag(name)}": Path(value) for name, value in outputs.items()},
        {_flag(name): _given_paths(value) for name, value in params.items() if name not in outputs},  # or positional
    )


def check_finite(params: dict) -> None:
    """Refuse nan and inf in every number option, before any work.

    Why in one place: a range such as ``min=0.0`` lets nan through (every comparison with nan is false), and inf
    passes any lower bound; --gamma inf folded with exit 0 and --weight-decay inf trained a NaN model.
    """
    import math

    for name, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"--{_flag(name)} must be a finite number, not {value}.")


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _invoke(app: typer.Typer, argv: list[str] | None):
    command = typer.main.get_command(app)
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else None
    with command.make_context(prog, list(sys.argv[1:] if argv is None else argv)) as ctx:
        check_finite(ctx.params)
        check_outputs(ctx.params, ctx.command.name)
        return command.invoke(ctx)


def _final_name(filename) -> str:
    """The output a staging name (``.NAME.RANDOM.tmp``, ``bertrbp.io.atomic``) stands for: what the user asked for."""
    from bertrbp.io.atomic import STAGING_NAME

    path = Path(filename)
    if not any(STAGING_NAME.fullmatch(part) for part in path.parts):
        return str(filename)
    # a staging folder's too (``model/`` staged as ``.model.RANDOM.tmp/``, a library writing into it)
    return str(Path(*(m.group(1) if (m := STAGING_NAME.fullmatch(part)) else part for part in path.parts)))


def _os_error_line(exc: OSError) -> tuple[str, int]:
    from bertrbp.io.atomic import is_out_of_space

    where = _final_name(exc.filename) if exc.filename else "an output file"
    if is_out_of_space(exc):
        return (
            f"no space left on the device while writing {where}. Free some space or choose another output "
            "folder; the partial output was removed."
        ), EXIT_NO_SPACE
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: permission denied ({exc.strerror}). Choose a writable output folder.", EXIT_INPUT
    return f"{where}: {exc.strerror or exc}.", EXIT_INPUT


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """The exception class ``name`` of every command-line parser typer may use: typer >= 0.2x parses with its own
    copy of click (``typer._click``, whose errors are not click's), older typer with click itself."""
    import importlib

    found = []
    for module in ("typer.exceptions", "typer._click.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_error_line(exc: Exception) -> str:
    """One line for a command-line usage error (click would print a usage box): what is wrong and where to look."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    program = ctx.command_path if ctx is not None and ctx.command_path else Path(sys.argv[0] or "the tool").name
    return f"{message}. Run '{program} --help' for the options."


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced (in-process runs) or already closed
        pass


def prefer_passive_waits() -> None:
    """Let torch's idle OpenMP threads sleep instead of spin (OMP_WAIT_POLICY=PASSIVE), unless the user chose.

    Called by run() before any tool imports torch (libgomp reads it once); here, not in bertrbp.device, so that
    torch-free tools import nothing that names torch. On cores shared with other work, torch's spinning
    threads fought the other processes: fine-tuning the demo's tiny BERT for 2 epochs at --threads 2 beside one busy
    process took 87-90 s wall and 76-77 CPU s, against 24-37 s and 24-27 CPU s with passive waits, with identical
    results. A cluster node shared with other jobs is the usual case for the pipeline.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Run a tool: one ``error: ...`` line on stderr and a documented exit status for every failure a user can
    cause or meet (bad input 2, disk full 4, SIGINT 130, SIGTERM 143), never a traceback for those."""
    prefer_passive_waits()  # before any tool imports torch
    handlers = {}
    clear_signal()
    previous_hook = sys.unraisablehook
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            handlers[signum] = signal.signal(signum, raise_interrupted)
        sys.unraisablehook = quiet_about_interrupted(previous_hook)
    try:
        code = _invoke(app, argv)
        if pending_signal() is not None:  # its exception was swallowed on the way (see errors.pending_signal)
            raise Interrupted(pending_signal())
    except InputError as exc:
        typer.echo("error: " + " ".join(str(exc).splitlines()), err=True)  # one line, whatever the message
        sys.exit(EXIT_INPUT)
    except _click_classes("Exit") as exc:
        sys.exit(exc.exit_code)
    except MemberKilled as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(128 + exc.signum)
    except Interrupted as exc:
        typer.echo(f"error: interrupted ({signal.Signals(exc.signum).name}); partial outputs were removed.", err=True)
        sys.exit(128 + exc.signum)
    except (*_click_classes("Abort"), KeyboardInterrupt):
        typer.echo("error: interrupted (SIGINT); partial outputs were removed.", err=True)
        sys.exit(128 + signal.SIGINT)
    except _click_classes("ClickException") as exc:  # usage errors: unknown option, missing argument, bad value
        typer.echo("error: " + usage_error_line(exc), err=True)
        sys.exit(EXIT_INPUT)
    except BrokenPipeError:  # `-o /dev/stdout | head`: the reader has all it wanted; as a SIGPIPE'd tool, not bad input
        _quiet_stdout()
        typer.echo("error: the output pipe was closed by its reader (broken pipe).", err=True)
        sys.exit(128 + signal.SIGPIPE)
    except OSError as exc:
        line, status = _os_error_line(exc)
        typer.echo(f"error: {line}", err=True)
        sys.exit(status)
    except MemoryError:
        typer.echo("error: out of memory. Use shorter records, a smaller --batch-size or fewer --threads.", err=True)
        sys.exit(EXIT_INPUT)
    finally:
        for signum, previous in handlers.items():
            signal.signal(signum, previous)
        sys.unraisablehook = previous_hook
        clear_signal()  # a signal noted by this run must not interrupt library calls made after it in-process
    if isinstance(code, int) and code:  # typer.Exit(n) inside a command arrives as a return value here
        sys.exit(code)
