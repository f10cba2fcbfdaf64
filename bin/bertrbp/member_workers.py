"""Train an ensemble's members side by side, each in a worker process of its own.

Why processes: the members are independent runs, and the small models of the best CPU recipe (the CNN with its
BiLSTM, the k-mer models) gain little from a second torch thread, while two members on two cores keep both busy
(``bench/member_jobs.py`` measures it). Why spawn, not fork: a forked child would inherit torch's thread pool and
the tool's signal handlers. A worker unwinds on SIGTERM, SIGINT or SIGHUP as the tool itself does (its staging
folders are removed), and the parent stops every worker when it stops, so a batch scheduler's SIGTERM leaves no
member half-written and no orphan running.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from bertrbp.errors import InputError, Interrupted, note_signal

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


def train_members(names: Sequence[str], options: Sequence, jobs: int) -> list:
    """``finetune(options[i])`` for every member, at most ``jobs`` at once; the results in the members' order.

    The first member that fails stops the others and its error is raised here, as the one-at-a-time run would
    raise it (an InputError stays an InputError)."""
    from bertrbp.finetune import finetune

    if jobs <= 1:
        results = []
        for index, (name, member_options) in enumerate(zip(names, options), start=1):
            log.info("ensemble member %d/%d: %s", index, len(names), name)
            results.append(finetune(member_options))
        return results
    context = multiprocessing.get_context("spawn")
    waiting = list(enumerate(zip(names, options)))
    running: dict[Connection, tuple[int, str, multiprocessing.process.BaseProcess]] = {}
    results: list = [None] * len(names)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                index, (name, member_options) = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_work, args=(name, member_options, send, log.getEffectiveLevel()), name=f"bertrbp-{name}"
                )
                process.start()
                send.close()  # only the worker writes; its end closing is how a dead worker shows
                running[receive] = (index, name, process)
                log.info(
                    "ensemble member %d/%d: %s (worker %d, %d at once)", index + 1, len(names), name, process.pid, jobs
                )
            for receive in wait(list(running)):
                index, name, process = running.pop(receive)
                results[index] = _outcome(receive, name, process)
    except BaseException:
        _stop([process for _, _, process in running.values()])
        raise
    return results


def _outcome(receive: Connection, name: str, process):
    """The member's FinetuneResult, or its failure raised here."""
    try:
        status, value = receive.recv()
    except EOFError:
        process.join()
        code = process.exitcode
        died = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        raise InputError(
            f"ensemble member {name} stopped with {died} before it finished (signal 9 is most often the system's "
            "out-of-memory killer): give fewer --jobs or a smaller --batch-size."
        ) from None
    finally:
        receive.close()
    process.join()
    if status == "ok":
        return value
    if status == "interrupted":
        raise Interrupted(value)
    raise value


def _stop(processes: Sequence) -> None:
    """SIGTERM every live worker (it removes its staging folders as it unwinds), then wait; kill a laggard."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


def _raise_interrupted(signum, frame) -> None:
    note_signal(signum)  # so a staging folder whose exception was swallowed is still not published
    raise Interrupted(signum)


def _work(name: str, options, send: Connection, level: int) -> None:
    """A worker: train one member and send back ("ok", result), ("interrupted", signal) or ("error", exception)."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    logging.basicConfig(
        level=level, format=f"%(asctime)s %(levelname)s [{name}] %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    from bertrbp.finetune import finetune

    try:
        outcome = ("ok", finetune(options))
    except Interrupted as exc:
        outcome = ("interrupted", exc.signum)
    except (InputError, OSError, MemoryError) as exc:  # the errors the tool reports in one line
        outcome = ("error", exc)
    except BaseException as exc:  # a bug: its traceback here, where it happened; the parent names the member
        traceback.print_exc()
        outcome = ("error", RuntimeError(f"ensemble member {name} failed: {type(exc).__name__}: {exc}"))
    try:
        send.send(outcome)
    finally:
        send.close()
