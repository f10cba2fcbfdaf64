"""Ordered, bounded parallel map over worker processes, for streaming inputs of any size.

``multiprocessing.Pool.imap`` reads its whole input ahead into the task queue, so a large sequence file would be
held in memory; here at most ``window`` chunks are in flight and results come back in input order. Worker
processes also contain a native crash (a C extension taking its process down) to one clear error instead of
killing the tool.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from bertrbp.errors import InputError

if TYPE_CHECKING:  # the process pool is imported only when there are workers: a faster start for --threads 1
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def ordered_map(
    func: Callable[[T], R], items: Iterable[T], workers: int, window: int = 0, describe=repr
) -> Iterator[R]:
    """``map(func, items)`` in input order on ``workers`` processes (in this process when ``workers`` <= 1).

    ``window`` bounds the items in flight (default 4 per worker); ``describe(item)`` names an item whose worker
    died, for the error message.
    """
    if workers <= 1:
        yield from map(func, items)
        return
    from concurrent.futures import ProcessPoolExecutor

    window = window or 4 * workers
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_signals)
    pending: deque[tuple[T, Future]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(func, item)))
            if len(pending) >= window:
                yield _result(*pending.popleft(), describe)
        while pending:
            yield _result(*pending.popleft(), describe)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_signals() -> None:
    """Workers leave SIGINT/SIGTERM to the parent (which cleans up and reports once); Ctrl-C reaches the whole
    process group, so without this every worker would print its own traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _result(item: T, future: Future, describe) -> R:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise InputError(
            f"a worker process died while handling {describe(item)} (a crash in the native folding code). "
            "Check those records, or try the other --engine."
        ) from exc
