"""LightGBM's TreeSHAP (pred_contrib) against its replay (healthscore.training.models.treeshap).

Usage: python bench/treeshap_replay.py [--accounts 100000 --months 24] [--rows N]
Needs a world that ``bench/score.py --end-to-end`` scored (its registered model and the date's
cached features under ``bench/out/world-AxM-s7-work``). Prints LightGBM's time, the replay's
(the first call loads or compiles its numba kernels, timed apart), the pattern count and
whether every output bit matches. The replay started here as an experiment; the model's
contributions now use it (see the module's docstring for why it is exact).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numba as nb
import numpy as np
import pandas as pd
from common import BENCH_DIR

from healthscore.training.models import treeshap


def main() -> None:
    """Time LightGBM's pred_contrib and the replay on the scored date's rows; compare bits."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rows", type=int, help="only the first N rows")
    args = parser.parse_args()
    from healthscore import tracking
    from healthscore.pipeline.compose.workspace import use_tracking
    from healthscore.pipeline.config import Config

    work = BENCH_DIR / "out" / f"world-{args.accounts}x{args.months}-s7-work"
    config = Config.model_validate(json.loads((work / "bench-score.json").read_text()))
    use_tracking(config)
    model = tracking.load_health_model(config.scoring.model).model
    frame = pd.read_parquet(next((work / "score-cache").glob("features-*.parquet")))
    if args.rows:
        frame = frame.iloc[:args.rows]
    prepared = model.prepare(frame)
    booster, iterations = model.booster_, model.best_iteration_
    started, cpu = time.perf_counter(), time.process_time()
    reference = booster.predict(prepared, pred_contrib=True, num_iteration=iterations,
                                num_threads=model.config.num_threads)
    print(f"LightGBM pred_contrib: {len(prepared):,} rows x {iterations} trees on "
          f"{model.config.num_threads} threads: {time.perf_counter() - started:.1f}s "
          f"(CPU {time.process_time() - cpu:.1f}s)")
    forest = treeshap.forest_of(booster, iterations)
    x = treeshap.dense_rows(prepared, booster.pandas_categorical)
    started, cpu = time.perf_counter(), time.process_time()
    treeshap.contributions(forest, x[:50], model.config.num_threads)
    print(f"replay kernels loaded (or compiled): {time.perf_counter() - started:.1f}s "
          f"(CPU {time.process_time() - cpu:.1f}s)")
    codes = np.zeros((len(x), forest.n_trees), dtype=np.int32)
    patterns = 0
    for t in range(forest.n_trees):
        a, b = forest.node_start[t], forest.node_start[t + 1]
        patterns += len(treeshap._tree_codes(
            x, forest.feature[a:b], forest.threshold[a:b], forest.kind[a:b],
            forest.default_left[a:b], forest.missing[a:b], forest.cat_start[a:b + 1],
            forest.cat_member, codes, t)) if b > a else 1
    started, cpu = time.perf_counter(), time.process_time()
    replayed = treeshap.contributions(forest, x, model.config.num_threads)
    print(f"replay: {patterns:,} distinct tree decision patterns (of "
          f"{len(x) * iterations:,} row-trees): {time.perf_counter() - started:.1f}s "
          f"(CPU {time.process_time() - cpu:.1f}s, numba threads {nb.get_num_threads()}); "
          f"bit-identical: {np.array_equal(replayed.view(np.int64), reference.view(np.int64))}"
          f" (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
