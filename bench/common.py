"""Helpers shared by the benchmark scripts (run them as `python bench/<name>.py`)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).parent


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def ensure_world(accounts: int, months: int, seed: int = 7, business: str = "saas",
                 difficulty: str = "realistic") -> Path:
    """A synthetic world under bench/out/, generated once in a separate process so that
    its memory does not count towards the caller's peak RSS."""
    shape = "" if (business, difficulty) == ("saas", "realistic") else f"-{business}-{difficulty}"
    out = BENCH_DIR / "out" / f"world-{accounts}x{months}-s{seed}{shape}"
    if not (out / "world.json").exists():
        subprocess.run([sys.executable, str(BENCH_DIR / "synth.py"), "--accounts", str(accounts),
                        "--months", str(months), "--seed", str(seed), "--out", str(out),
                        "--business", business, "--difficulty", difficulty],
                       check=True, stdout=subprocess.DEVNULL)
    return out


def world_features(accounts: int, months: int, seed: int = 7):
    """(config, feature frame, feature metadata) of the synthetic world ``accounts`` x
    ``months`` under bench/out/ (features cached beside it)."""
    from healthscore.pipeline.compose import build_features, matrix_inputs, open_data
    from healthscore.pipeline.config import Config

    world = ensure_world(accounts, months, seed)
    config = Config.model_validate({"workdir": str(world.parent / f"{world.name}-work"),
                                    "seed": seed, "data": {"dir": str(world)}})
    frame, metas = matrix_inputs(build_features(config, open_data(config)))
    return config, frame, metas



def run_cli(args: list[str], config: Path) -> tuple[float, float, str]:
    """Run ``healthscore -c CONFIG ARGS...`` in a child process; return (wall seconds, that
    child's own peak RSS in MB, its stdout). A failing command raises with its stderr."""
    seconds, peak, out, _ = run_cli_usage(args, config)
    return seconds, peak, out


def run_cli_usage(args: list[str], config: Path) -> tuple[float, float, str, float]:
    """:func:`run_cli`, and the child's CPU seconds (user + system): on a shared machine the
    wall time moves with the load, its CPU time much less."""
    import os
    import tempfile
    import time

    command = [str(Path(sys.executable).with_name("healthscore")), "-c", str(config), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # reaped here: its rusage is its own
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise RuntimeError(f"{' '.join(command)} exited {child.returncode}:\n"
                               f"{err.read()[-3000:]}")
        peak = usage.ru_maxrss
        return (seconds, peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024,
                out.read(), usage.ru_utime + usage.ru_stime)
