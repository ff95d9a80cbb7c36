"""SIGTERM ends a command with exit 143 and its MLflow runs FAILED, wherever it arrives.

The signal is delivered for real (``os.kill`` of this process, the command line's handler
installed), at chosen points: a profile hook counts the Python calls SQLAlchemy makes during one
tracking call and sends SIGTERM at the k-th, for k spread over the whole call. Before the fix,
a SIGTERM raised inside SQLAlchemy there could leave a SQLite read open (the exception's
traceback keeps the cursor alive), so marking the run FAILED waited 20 s on the lock and failed
with "database is locked" (exit 1, run left RUNNING); at other points it broke a commit
(exit 1) or was swallowed in a weakref callback (the command carried on). Against the previous
tracking code, 160 points found 13 "database is locked" (each after the 20 s timeout, the run
left RUNNING); the 80 used here fall about 50 calls apart, inside those windows.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from healthscore import tracking
from healthscore.interrupt import deferred, terminate_on, uninterrupted
from healthscore.tracking import TrackingConfig

POINTS = 80  # delivery points spread over one tracking call


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """The command line's SIGTERM handler while the block runs."""
    before, hook = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    terminate_on(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
        sys.unraisablehook = hook


def calls_into(package: str, action: Callable[[], object], at: int | None = None) -> int:
    """Run ``action`` counting the Python calls into ``package``; with ``at``, send this
    process SIGTERM on the at-th. Returns the count."""
    seen = 0

    def hook(frame, event, _arg) -> None:
        nonlocal seen
        if event == "call" and package in frame.f_code.co_filename:
            seen += 1
            if seen == at:
                os.kill(os.getpid(), signal.SIGTERM)

    sys.setprofile(hook)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen


def test_a_sigterm_inside_a_deferred_block_is_raised_when_it_ends() -> None:
    done = []
    with sigterm_exits():
        with pytest.raises(SystemExit) as stopped:
            with deferred():
                with deferred():  # nested: held until the outermost block ends
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.01)  # the handler has run by now, and held the signal
                    done.append("inner")
                done.append("outer")
        assert stopped.value.code == 128 + signal.SIGTERM
        assert done == ["inner", "outer"]
        with pytest.raises(SystemExit) as stopped:  # outside: at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
            done.append("after")
        assert stopped.value.code == 143 and done == ["inner", "outer"]
        # a held signal is raised once, not again by the next block
        with deferred():
            done.append("next")
        assert done[-1] == "next"


def test_a_sigterm_handled_inside_a_weakref_callback_is_not_lost() -> None:
    """The garbage collector runs weakref callbacks between any two lines; an exception
    raised in one is printed and ignored, so a SIGTERM handled there was lost and the command
    carried on to exit 0 (seen with SQLAlchemy's registry callbacks in ``train``)."""
    import weakref

    class Thing:
        pass

    def callback(_ref: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100_000):  # the handler runs here, inside the callback
            pass

    done = []
    with sigterm_exits():
        thing = Thing()
        ref = weakref.ref(thing, callback)
        with pytest.raises(SystemExit) as stopped:
            del thing  # the callback runs: the handler's exit is ignored there
            done.append("after the callback")
            time.sleep(2)  # the signal, sent again, lands here
            done.append("carried on")
        assert ref() is None
        assert stopped.value.code == 143 and done == ["after the callback"]


def test_a_deferred_call_in_another_thread_does_not_hold_the_signal() -> None:
    entered, release = threading.Event(), threading.Event()

    @uninterrupted
    def waiting() -> None:
        entered.set()
        release.wait(5)

    worker = threading.Thread(target=waiting)
    with sigterm_exits():
        worker.start()
        entered.wait(5)
        try:
            with pytest.raises(SystemExit):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
        finally:
            release.set()
            worker.join()


def test_sigterm_anywhere_in_a_tracking_call_exits_143_and_fails_the_run(tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.configure(TrackingConfig(), tmp_path / "artifacts")
    client = MlflowClient(uri)
    params = {f"param_{i}": i for i in range(20)}

    def one_run(at: int | None = None) -> int:
        with tracking.start_run(f"interrupted-{at}", {tracking.TAG_KIND: "test"}):
            return calls_into("sqlalchemy", lambda: tracking.log_params(params), at)

    one_run()  # the first call caches compiled statements: count on the second
    total = one_run()
    assert total > POINTS  # the call goes through SQLAlchemy (a SQLite store)
    outcomes = {}
    with sigterm_exits():
        for at in sorted({1 + i * (total - 1) // (POINTS - 1) for i in range(POINTS)}):
            started = time.perf_counter()
            try:
                one_run(at)
                outcome = "carried on"
            except SystemExit as stopped:
                outcome = stopped.code
            except Exception as exc:  # noqa: BLE001 - what the test looks for
                outcome = f"{type(exc).__name__}: {str(exc)[:80]}"
            seconds = time.perf_counter() - started
            left_active = mlflow.active_run() is not None
            while mlflow.active_run() is not None:  # the next point starts clean
                mlflow.end_run("KILLED")
            runs = client.search_runs([client.get_experiment_by_name("healthscore")
                                       .experiment_id], f"attributes.run_name = 'interrupted-{at}'")
            status = runs[0].info.status if runs else "no run"
            outcomes[at] = (outcome, "left active" if left_active else status, seconds < 10)
    assert {at: o for at, o in outcomes.items() if o != (143, "FAILED", True)} == {}
