"""The hostile-case harness shared by tests/test_hostile_cases.py and the docs/hostile_cases.md table.

A case runs one tool the way a careless or unlucky user would (or a batch scheduler that kills it) and checks the
promises of docs/architecture.md "Outputs and failures": the expected exit status, exactly one ``error:`` line
on stderr when it fails (none when it succeeds), no traceback, no file lost (everything that was in the case
folder before is there afterwards, unchanged, unless the tool names it as an output) and nothing left behind
(no staging files, no output of a failed run).

Most cases run in-process through ``cli.common.run`` (the tools' own entry point, without paying for a torch
start-up per case); the signal cases and a few others run the tool scripts as real subprocesses.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conftest import BIN

Setup = Callable[[Path], list]  # prepares the case folder, returns the tool's arguments


@dataclass
class Case:
    """One hostile case: ``setup(folder)`` builds inputs and returns the arguments."""

    name: str
    tool: str
    expected: int
    what: str  # expected behaviour, for the table
    setup: Setup
    outputs: tuple = ()  # paths (relative to the case folder) the tool may create or replace
    subprocess: bool = False
    signal_after: tuple[int, str] | None = None  # (signal, glob of a staging file to wait for) -> send it
    check: Callable[[Path, Observed], str | None] | None = None  # extra check: returns a problem or None
    patch: Callable[[], contextlib.AbstractContextManager] | None = None  # in-process only (e.g. disk full)
    env: dict = field(default_factory=dict)  # subprocess only: extra environment


@dataclass
class Observed:
    code: int | None
    stderr: str
    seconds: float
    error_lines: list = field(default_factory=list)
    traceback: bool = False
    lost: list = field(default_factory=list)
    left: list = field(default_factory=list)
    problem: str | None = None

    def failures(self, case: Case) -> list[str]:
        found = []
        if self.code != case.expected:
            found.append(f"exit {self.code}, expected {case.expected}")
        wanted_errors = 0 if case.expected == 0 else 1
        if len(self.error_lines) != wanted_errors:
            found.append(f"{len(self.error_lines)} 'error:' lines, expected {wanted_errors}")
        if self.traceback:
            found.append("traceback")
        if self.lost:
            found.append(f"lost {self.lost}")
        if self.left:
            found.append(f"left behind {self.left}")
        if self.problem:
            found.append(self.problem)
        return found


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> content hash of every file under ``folder`` (folders as 'dir')."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _under(rel: str, outputs: tuple) -> bool:
    return any(rel == o or rel.startswith(o.rstrip("/") + "/") for o in outputs)


def _run_inprocess(case: Case, args: list) -> tuple[int | None, str, bool]:
    import importlib

    from bertrbp.cli.common import run

    app = importlib.import_module(f"bertrbp.cli.{case.tool.replace('-', '_')}").app
    err = io.StringIO()
    code, crashed = 0, False
    with contextlib.redirect_stderr(err), case.patch() if case.patch else contextlib.nullcontext():
        try:
            run(app, [str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - a crash is what the harness looks for
            err.write(traceback.format_exc())
            code, crashed = None, True
    return code, err.getvalue(), crashed


def _run_subprocess(case: Case, args: list, folder: Path) -> tuple[int | None, str, str | None]:
    """(exit status, stderr, a problem seen from outside: timed out, processes left running)."""
    cmd = [sys.executable, str(BIN / f"bertrbp-{case.tool}"), *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **case.env)
    # own process group: on a timeout the tool's worker processes are killed too (orphaned workers would hold the
    # pipes open and hang the test; the harness saw exactly that before SIGTERM handling existed)
    proc = subprocess.Popen(
        cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    if case.signal_after is not None:
        signum, pattern = case.signal_after
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if list(folder.rglob(pattern)):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        if proc.poll() is None:
            proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        return None, stderr, "timed out (its processes were killed)"
    try:  # the tool is done: any process left in its group is an orphan it should have ended
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return proc.returncode, stderr, None
    os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, stderr, "left processes running"


def run_case(case: Case, folder: Path) -> Observed:
    """Set the case up in ``folder``, run it, and observe what the promises are about."""
    folder.mkdir(parents=True, exist_ok=True)
    args = case.setup(folder)
    before = snapshot(folder)
    started = time.perf_counter()
    outside = None
    if case.subprocess:
        code, stderr, outside = _run_subprocess(case, args, folder)
        crashed = False
    else:
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            code, stderr, crashed = _run_inprocess(case, args)
        finally:
            os.chdir(cwd)
    seconds = time.perf_counter() - started
    after = snapshot(folder)
    observed = Observed(code, stderr, seconds)
    observed.error_lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    observed.traceback = crashed or "Traceback (most recent call last)" in stderr
    observed.lost = sorted(
        rel for rel, digest in before.items() if not _under(rel, case.outputs) and after.get(rel) != digest
    )
    allowed = case.outputs if case.expected == 0 else ()
    observed.left = sorted(rel for rel in after if rel not in before and not _under(rel, allowed))
    if case.check is not None:
        observed.problem = case.check(folder, observed)
    if outside:
        observed.problem = outside if observed.problem is None else f"{observed.problem}; {outside}"
    return observed


def table(results: list[tuple[Case, Observed]], workdir_names: dict) -> str:
    """docs/hostile_cases.md: one row per case, expected against observed."""
    lines = [
        "# Hostile cases",
        "",
        "Generated by `tests/test_hostile_cases.py` (it rewrites this file when every case ran; do not edit by hand).",
        'Each case runs a tool as a careless or unlucky user would; the promises (docs/architecture.md, "Outputs',
        'and failures"): the expected exit status, exactly one `error:` line when it fails, no traceback, no file lost,',
        "nothing left behind. Exit statuses: 0 done, 2 bad input or unwritable output, 4 disk full, 130 SIGINT,",
        "143 SIGTERM. `sub` = run as a real subprocess of `bin/bertrbp-<tool>`, `in` = in-process through the same",
        "entry point (`cli.common.run`). Read-only output folders are a 0555 folder, or /sys/kernel when the tests",
        "run as root (root ignores permission bits). Error lines are cut at 260 characters; CASE is the case folder.",
        "",
        f"{len(results)} cases; tracebacks: {sum(o.traceback for _, o in results)}; files lost: "
        f"{sum(len(o.lost) for _, o in results)}; left behind: {sum(len(o.left) for _, o in results)}; "
        f"failing: {sum(bool(o.failures(c)) for c, o in results)}.",
        "",
        "| # | case | tool | run | expected | observed exit | observed stderr (the error line) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, (case, obs) in enumerate(results, start=1):
        line = obs.error_lines[0] if obs.error_lines else "(no error line)"
        for path, name in workdir_names.items():
            line = line.replace(path, name)
        line = line.replace("|", "\\|")
        if len(line) > 260:
            line = line[:257] + "..."
        failures = obs.failures(case)
        verdict = "ok" if not failures else "FAIL: " + "; ".join(failures)
        lines.append(
            f"| {number} | {case.name} | {case.tool} | {'sub' if case.subprocess else 'in'} | "
            f"exit {case.expected}: {case.what} | {obs.code} | `{line}` | {verdict} |"
        )
    return "\n".join(lines) + "\n"


SIGTERM, SIGINT = signal.SIGTERM, signal.SIGINT
