"""One exception type for bad user input, so every tool can report it the same way."""

from __future__ import annotations

import signal


class InputError(Exception):
    """Bad input from the user: the message says what was wrong, where, and what to do.

    Command-line tools catch it, print ``error: <message>`` to stderr and exit with status 2,
    without a traceback and without leaving partial output files behind.
    """


class Interrupted(KeyboardInterrupt):
    """SIGTERM (batch schedulers), SIGINT or SIGHUP, raised where the tool is so its ``finally`` blocks remove
    staging files. A KeyboardInterrupt, so ``except Exception`` in library code does not swallow it."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class MemberKilled(Exception):
    """An ensemble member's worker process was killed, or stopped alone, by a signal (``bertrbp.member_workers``).
    The tool then exits 128 + that signal, as it would had it been killed itself, so a scheduler's retry of an
    out-of-memory kill (137, ``conf/base.config``) still applies."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


# The signal that interrupted this run, kept even when the exception raised for it was swallowed (a signal that
# lands in a finaliser or a callback whose exceptions are ignored): outputs check it before they are published.
_pending_signal: list[int] = []


def note_signal(signum: int) -> None:
    _pending_signal.append(signum)


def clear_signal() -> None:
    _pending_signal.clear()


def pending_signal() -> int | None:
    return _pending_signal[0] if _pending_signal else None


def raise_if_interrupted() -> None:
    """Raise Interrupted when a signal arrived, even if its first exception was swallowed somewhere."""
    if _pending_signal:
        raise Interrupted(_pending_signal[0])


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})  # a scheduler's stop, Ctrl-C, a lost terminal


def raise_interrupted(signum, frame) -> None:
    """The signal handler of every tool (and of finetune's member workers): note the signal, raise Interrupted."""
    note_signal(signum)
    raise Interrupted(signum)


def quiet_about_interrupted(hook):
    """sys.unraisablehook that stays quiet about Interrupted (noted already; the run still ends as interrupted)."""

    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            hook(unraisable)

    return quiet
