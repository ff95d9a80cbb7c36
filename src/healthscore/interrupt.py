"""SIGTERM (a scheduler's timeout) unwinds the command like an error, except inside a call that
must not be cut in the middle.

The command line installs :func:`terminate_on` for SIGTERM: the signal raises
``SystemExit(128 + signum)`` where the program is, so MLflow runs end FAILED, temporary files
are removed and the exit code is 143. A call into the tracking store runs inside
:func:`deferred`: a SIGTERM that arrives there is held until the call returns and raised then.
Raised in the middle of a database write, it would leave that connection's transaction open
(SQLite keeps the file locked), and the clean-up that marks the run FAILED would wait on the
lock, time out and end the command with "database is locked" (exit 1) and the run RUNNING.

A signal whose handler runs inside a weakref callback or a ``__del__`` (the garbage collector
runs them between any two lines) would be lost: Python prints "Exception ignored" and carries
on. The hook installed with the handler sees that exception and sends the signal again from a
helper thread, so it lands in the program's own code a moment later.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger(__name__)

_state = {"depth": 0, "pending": 0}  # the main thread's deferred calls and a held signal
RESEND_AFTER = 0.05  # seconds: a swallowed signal is sent again once this hook has returned


class Terminated(SystemExit):
    """The exit a terminating signal raises: ``SystemExit(128 + signum)``."""

    @property
    def signum(self) -> int:
        """The signal that raised it."""
        return int(self.code) - 128


def _raise_exit(signum: int, _frame: object = None) -> None:
    """The handler: exit at once, or hold the signal while a deferred call runs."""
    if _state["depth"]:
        _state["pending"] = signum
        return
    raise Terminated(128 + signum)


def _resend_if_swallowed(unraisable: object, chained: Callable[[object], None]) -> None:
    """``sys.unraisablehook``: a :class:`Terminated` raised where Python can only ignore it (a
    weakref callback, ``__del__``) is sent again, from a helper thread a moment later so that it is
    handled in the main thread's own code and not inside this hook; anything else goes on to
    ``chained``."""
    exc = getattr(unraisable, "exc_value", None)
    if not isinstance(exc, Terminated):
        chained(unraisable)
        return
    logger.debug("signal %d arrived in %r, where it is ignored: sending it again",
                 exc.signum, getattr(unraisable, "object", None))
    resend = threading.Timer(RESEND_AFTER, os.kill, (os.getpid(), exc.signum))
    resend.daemon = True
    with contextlib.suppress(RuntimeError):  # at interpreter shutdown no thread starts
        resend.start()


def terminate_on(signum: int = signal.SIGTERM) -> None:
    """Make ``signum`` end the program with ``SystemExit(128 + signum)`` (call from the main
    thread, as the command line does at start), even when it arrives in a weakref callback."""
    signal.signal(signum, _raise_exit)
    chained = sys.unraisablehook
    if getattr(chained, "func", None) is not _resend_if_swallowed:
        sys.unraisablehook = functools.partial(_resend_if_swallowed, chained=chained)


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
            raise Terminated(128 + signum)


def uninterrupted(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``function`` inside :func:`deferred`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with deferred():
            return function(*args, **kwargs)

    return wrapper
