"""SIGTERM (a scheduler's timeout) unwinds the command like an error, except inside a call that
must not be cut in the middle.

The command line installs :func:`terminate_on` for SIGTERM: the signal raises
``SystemExit(128 + signum)`` where the program is, so MLflow runs end FAILED, temporary files
are removed and the exit code is 143. A call into the tracking store runs inside
:func:`deferred`: a SIGTERM that arrives there is held until the call returns and raised then.
Raised in the middle of a database write, it would leave that connection's transaction open
(SQLite keeps the file locked), and the clean-up that marks the run FAILED would wait on the
lock, time out and end the command with "database is locked" (exit 1) and the run RUNNING.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_state = {"depth": 0, "pending": 0}  # the main thread's deferred calls and a held signal


def _raise_exit(signum: int, _frame: object = None) -> None:
    """The handler: exit at once, or hold the signal while a deferred call runs."""
    if _state["depth"]:
        _state["pending"] = signum
        return
    raise SystemExit(128 + signum)


def terminate_on(signum: int = signal.SIGTERM) -> None:
    """Make ``signum`` end the program with ``SystemExit(128 + signum)`` (call from the main
    thread, as the command line does at start)."""
    signal.signal(signum, _raise_exit)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a terminating signal until the block ends, then raise it (in the main thread; in
    another thread, where no signal handler runs, this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        signum = _state["pending"]
        if signum and not _state["depth"]:
            _state["pending"] = 0
            raise SystemExit(128 + signum)


def uninterrupted(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``function`` inside :func:`deferred`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with deferred():
            return function(*args, **kwargs)

    return wrapper
