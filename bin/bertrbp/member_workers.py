"""Train an ensemble's members side by side, each in a worker process of its own.

Why processes: the members are independent runs. A second torch thread made a CNN member of the best CPU recipe
about 1.35x faster, while two members on two cores keep both cores busy with no thread to synchronise (the best
recipe's slowest RBP-31 experiment: 736 s against 905 s, docs/benchmarks.md, "Ensemble members at once"). Why
spawn, not fork: a forked child would inherit torch's thread pool and the tool's signal handlers.

Stopping: a worker unwinds on SIGTERM, SIGINT or SIGHUP as the tool itself does (its staging folders are removed)
and gets SIGTERM when its parent dies; the parent stops every worker when it stops. Signals are held while a
worker is started and registered, and while workers are stopped, so none is missed or left running. A worker
killed by a signal (the out-of-memory killer's 9) ends the tool with 128 + that signal, so a scheduler's retry of
an out-of-memory kill still applies; a worker stopped alone (SIGTERM to it only) is named in the tool's error line.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from pathlib import Path

from bertrbp.errors import (
    STOP_SIGNALS,
    InputError,
    Interrupted,
    MemberKilled,
    quiet_about_interrupted,
    raise_interrupted,
)
from bertrbp.io.atomic import remove_staging

log = logging.getLogger("bertrbp")
STOP_GRACE_SECONDS = 60  # a stopped worker's time to remove its staging folders before it is killed


@dataclass(frozen=True)
class JobPlan:
    """How many members train at once, and the torch threads of each (0: every CPU, as --threads 0 means)."""

    jobs: int
    threads_per_member: int


def plan_jobs(requested: int, threads: int, cpus: int, members: int, on_cpu: bool) -> JobPlan:
    """--jobs and --threads read as one CPU budget of ``threads`` CPUs (0: the ``cpus`` this process may use).

    --jobs 0 (auto) trains as many members at once as the budget has CPUs on a CPU device, one at a time on a
    GPU (members would queue for it). The budget is shared out, at least one thread per member, so --threads 1
    keeps the one-member-at-a-time run it always was."""
    if requested < 0:
        raise InputError(f"--jobs must be 0 (auto) or more, not {requested}.")
    budget = threads or cpus
    jobs = (min(members, budget) if on_cpu else 1) if requested == 0 else min(requested, members)
    jobs = max(1, jobs)
    return JobPlan(jobs, threads if jobs == 1 else max(1, budget // jobs))


def train_members(names: Sequence[str], options: Sequence, jobs: int, folds: dict | None = None) -> list:
    """``finetune(options[i])`` for every member, at most ``jobs`` at once; the results in the members' order.
    Each structure-aware member's worker installs ``folds`` (``bertrbp.structure_prefold``, pickled once for all
    of them) first, so it does not fold those sequences again; one member at a time, the caller has them installed.

    The first member to fail stops the others and its error is raised here, as the one-at-a-time run would raise
    it (an InputError stays an InputError)."""
    from bertrbp.finetune import finetune

    if jobs <= 1:
        results = []
        for index, (name, member_options) in enumerate(zip(names, options), start=1):
            log.info("ensemble member %d/%d: %s", index, len(names), name)
            results.append(finetune(member_options))
        return results
    context = multiprocessing.get_context("spawn")
    # started here, not by the first worker's start: starting it unblocks SIGINT and SIGTERM in the calling thread
    resource_tracker.ensure_running()
    folds_pickled = pickle.dumps(folds) if folds else None
    waiting = list(enumerate(zip(names, options)))
    running: dict[Connection, Worker] = {}
    results: list = [None] * len(names)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                index, (name, member_options) = waiting.pop(0)
                with signals_held():  # a signal now would leave a started worker that _stop does not know
                    member_folds = folds_pickled if folds_pickled and member_options.structure != "none" else None
                    receive, worker = start_worker(context, index, name, member_options, folds=member_folds)
                    running[receive] = worker
                log.info(
                    "ensemble member %d/%d: %s (worker %d, %d at once)",
                    index + 1,
                    len(names),
                    name,
                    worker.process.pid,
                    jobs,
                )
            for receive in wait(list(running)):
                worker = running.pop(receive)
                results[worker.index] = _outcome(receive, worker)
    except BaseException:
        with signals_held():  # a second signal must not cut the stopping short
            _stop(list(running.values()))
        raise
    return results


@dataclass(frozen=True)
class Worker:
    """A started member: what the parent needs to collect its result, stop it, or clean up after it."""

    index: int
    name: str
    process: multiprocessing.process.BaseProcess
    output_dir: Path  # the member's folder: where a killed worker's staging names are cleaned up


def start_worker(context, index: int, name: str, options, target=None, folds=None) -> tuple[Connection, Worker]:
    """Start one member's worker (``target``, default ``_work``); call it with the stop signals held: the child
    starts with them held too, until its handlers are in place."""
    receive, send = context.Pipe(duplex=False)
    args = (name, options, send, log.getEffectiveLevel(), os.getpid(), folds)
    process = context.Process(target=target or _work, args=args, name=f"bertrbp-{name}")
    process.start()
    send.close()  # only the worker writes; its end closing is how a dead worker shows
    return receive, Worker(index, name, process, Path(options.output_dir))


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM, SIGINT and SIGHUP (they are delivered when the block ends)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _outcome(receive: Connection, worker: Worker):
    """The member's FinetuneResult, or its failure raised here."""
    name, process = worker.name, worker.process
    try:
        status, value = receive.recv()
    except EOFError:  # the worker died without a word: killed
        status, value = "died", None
    except Exception as exc:  # noqa: BLE001 - a result that does not unpickle; say which member sent it
        raise RuntimeError(f"ensemble member {name}: its result could not be read back ({exc})") from exc
    finally:
        receive.close()
        process.join()
    if status == "died":
        remove_staging(worker.output_dir)
        raise _died(name, process.exitcode)
    if status == "ok":
        return value
    if status == "interrupted":  # the worker alone was stopped (a stop of the tool is raised in the tool first)
        raise MemberKilled(
            f"ensemble member {name} was stopped by {signal.Signals(value).name}; partial outputs were removed.", value
        )
    raise value


def _died(name: str, code: int | None) -> Exception:
    if code is not None and code < 0:
        signum = -code
        why = " (most often the system's out-of-memory killer: give fewer --jobs or a smaller --batch-size)"
        return MemberKilled(
            f"ensemble member {name} was killed by {signal.Signals(signum).name}"
            f"{why if signum == signal.SIGKILL else ''}; partial outputs were removed.",
            signum,
        )
    return RuntimeError(f"ensemble member {name} ended with exit status {code} and no result.")


def _stop(workers: Sequence[Worker]) -> None:
    """SIGTERM every live worker (it removes its staging folders as it unwinds), then wait; kill a laggard and
    clean up after it."""
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()
    for worker in workers:
        worker.process.join(STOP_GRACE_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
            remove_staging(worker.output_dir)


def portable(exc: BaseException, name: str) -> BaseException:
    """``exc`` as it can cross the pipe: itself when it survives pickling (an InputError, a plain OSError), else
    its kind of error rebuilt from its message (an OSError subclass whose __init__ takes other arguments)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to round-trip means: rebuild it
        pass
    if isinstance(exc, OSError):
        return OSError(exc.errno, exc.strerror or str(exc), exc.filename)
    for kind in (InputError, MemoryError):  # a subclass of the other kinds the tool reports in one line
        if isinstance(exc, kind):
            return kind(str(exc))
    return RuntimeError(f"ensemble member {name}: {exc}")


def _die_with_parent() -> None:
    """SIGTERM this worker when the tool's process dies, even by SIGKILL (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _work(name: str, options, send: Connection, level: int, parent: int, folds: bytes | None = None) -> None:
    """A worker: train one member and send back ("ok", result), ("interrupted", signal) or ("error", exception).
    It starts with the stop signals held (the parent's mask); they are let through inside the ``try``, and held
    again once the outcome is known (a stop then must not turn a sent result into a traceback)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, raise_interrupted)
    sys.unraisablehook = quiet_about_interrupted(sys.unraisablehook)
    _die_with_parent()
    if os.getppid() != parent:  # the tool died while this worker started, before the death signal was set
        send.close()
        return
    logging.basicConfig(
        level=level, format=f"%(asctime)s %(levelname)s [{name}] %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    try:
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            from bertrbp.finetune import finetune

            if folds:
                from bertrbp.structure_input import install_folds

                install_folds(pickle.loads(folds))

            outcome = ("ok", finetune(options))
        except Interrupted as exc:
            outcome = ("interrupted", exc.signum)
        except (InputError, OSError, MemoryError) as exc:  # the errors the tool reports in one line
            outcome = ("error", portable(exc, name))
        except Exception as exc:  # a bug: its traceback here, where it happened; the parent names the member
            traceback.print_exc()
            outcome = ("error", RuntimeError(f"ensemble member {name} failed: {type(exc).__name__}: {exc}"))
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        with contextlib.suppress(BrokenPipeError):  # the parent is gone or stopped listening
            send.send(outcome)
    except Interrupted as exc:  # a second signal while reporting: report that
        with contextlib.suppress(BrokenPipeError, OSError):
            send.send(("interrupted", exc.signum))
    finally:
        send.close()
