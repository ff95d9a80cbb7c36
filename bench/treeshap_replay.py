"""Experiment: LightGBM's TreeSHAP contributions reproduced bit for bit, cheaper.

Usage: python bench/treeshap_replay.py [--accounts 100000 --months 24] [--rows N]
Needs a world that ``bench/score.py --end-to-end`` scored (its registered model and the date's
cached features under ``bench/out/world-AxM-s7-work``).

Why it can be exact: LightGBM's ``pred_contrib`` adds, tree after tree, increments
``w * (one - zero) * leaf_value`` into each row's output; within a tree they depend on the row
only through the decision taken at every internal node (TreeSHAP visits both children of every
node, reading the row only in ``Decision``). Rows sharing a tree's decision pattern get the same
increments in the same order. So each tree is evaluated once per distinct pattern (the same
arithmetic as LightGBM's tree.cpp, in the same order), and each row replays its patterns'
increments in tree order: the same additions in the same order give the same bits. Prints
LightGBM's time, the pattern count, the replay's time and whether every output bit matches.
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

K_ZERO = 1e-35  # LightGBM's kZeroThreshold: a smaller value is a zero (left out of the row)


def parse_trees(booster, iterations: int) -> list[dict]:
    """Per tree: internal nodes by index (feature, threshold, kind, default left, missing type,
    children, count) and leaves (value, count), from the booster's JSON dump (17 digits)."""
    trees = []
    for info in booster.dump_model()["tree_info"][:iterations]:
        nodes: dict[int, tuple] = {}
        leaves: dict[int, tuple] = {}

        def walk(node, nodes=nodes, leaves=leaves):
            if "leaf_index" in node:
                leaves[node["leaf_index"]] = (node.get("leaf_value", 0.0),
                                              node.get("leaf_count", 0))
                return ~node["leaf_index"]
            left, right = walk(node["left_child"]), walk(node["right_child"])
            nodes[node["split_index"]] = (node["split_feature"], node["threshold"],
                                          node["decision_type"], node["default_left"],
                                          node["missing_type"], left, right,
                                          node["internal_count"])
            return node["split_index"]

        walk(info["tree_structure"])
        trees.append({"nodes": [nodes[k] for k in range(len(nodes))],
                      "leaves": [leaves[k] for k in range(len(leaves))]})
    return trees


def goes_left(node: tuple, x: np.ndarray) -> np.ndarray:
    """Per row, whether LightGBM's Decision sends it left at ``node``."""
    feature, threshold, kind, default_left, missing, *_ = node
    v = x[:, feature]
    if kind == "==":  # categorical: NaN or a negative code goes right
        cats = np.array([int(c) for c in str(threshold).split("||")])
        nan = np.isnan(v)
        code = np.where(nan, -1, v).astype(np.int64)
        return ~nan & (code >= 0) & np.isin(code, cats)
    if missing != "NaN":
        v = np.where(np.isnan(v), 0.0, v)
    special = ((missing == "Zero") & (np.abs(v) <= K_ZERO)) | ((missing == "NaN") & np.isnan(v))
    return np.where(special, bool(default_left), v <= float(threshold))


@nb.njit
def _extend(pf, pz, po, pw, base, d, zf, of, fi):
    pf[base + d] = fi
    pz[base + d] = zf
    po[base + d] = of
    pw[base + d] = 1.0 if d == 0 else 0.0
    for i in range(d - 1, -1, -1):
        pw[base + i + 1] += of * pw[base + i] * (i + 1) / float(d + 1)
        pw[base + i] = zf * pw[base + i] * (d - i) / float(d + 1)


@nb.njit
def _unwind(pf, pz, po, pw, base, d, p):
    of = po[base + p]
    zf = pz[base + p]
    nxt = pw[base + d]
    for i in range(d - 1, -1, -1):
        if of != 0:
            tmp = pw[base + i]
            pw[base + i] = nxt * (d + 1) / float((i + 1) * of)
            nxt = tmp - pw[base + i] * zf * (d - i) / float(d + 1)
        else:
            pw[base + i] = (pw[base + i] * (d + 1)) / float(zf * (d - i))
    for i in range(p, d):
        pf[base + i] = pf[base + i + 1]
        pz[base + i] = pz[base + i + 1]
        po[base + i] = po[base + i + 1]


@nb.njit
def _unwound_sum(pz, po, pw, base, d, p):
    of = po[base + p]
    zf = pz[base + p]
    nxt = pw[base + d]
    total = 0.0
    for i in range(d - 1, -1, -1):
        if of != 0:
            tmp = nxt * (d + 1) / float((i + 1) * of)
            total += tmp
            nxt = pw[base + i] - tmp * zf * ((d - i) / float(d + 1))
        else:
            total += (pw[base + i] / zf) / ((d - i) / float(d + 1))
    return total


@nb.njit
def _shap(hot, sf, lc, rc, icount, lcount, lval, pf, pz, po, pw, node, d, parent, pzf, pof,
          pfi, out_f, out_v, n_out):
    """LightGBM's Tree::TreeSHAP, recording the increments instead of adding them."""
    base = parent + d
    for i in range(d):
        pf[base + i] = pf[parent + i]
        pz[base + i] = pz[parent + i]
        po[base + i] = po[parent + i]
        pw[base + i] = pw[parent + i]
    _extend(pf, pz, po, pw, base, d, pzf, pof, pfi)
    if node < 0:
        for i in range(1, d + 1):
            w = _unwound_sum(pz, po, pw, base, d, i)
            out_f[n_out] = pf[base + i]
            out_v[n_out] = w * (po[base + i] - pz[base + i]) * lval[~node]
            n_out += 1
        return n_out
    h = hot[node]
    c = rc[node] if h == lc[node] else lc[node]
    w = float(icount[node])
    hz = (float(icount[h]) if h >= 0 else float(lcount[~h])) / w
    cz = (float(icount[c]) if c >= 0 else float(lcount[~c])) / w
    iz = 1.0
    io = 1.0
    p = 0
    while p <= d:
        if pf[base + p] == sf[node]:
            break
        p += 1
    if p != d + 1:
        iz = pz[base + p]
        io = po[base + p]
        _unwind(pf, pz, po, pw, base, d, p)
        d -= 1
    n_out = _shap(hot, sf, lc, rc, icount, lcount, lval, pf, pz, po, pw, h, d + 1, base,
                  hz * iz, io, sf[node], out_f, out_v, n_out)
    return _shap(hot, sf, lc, rc, icount, lcount, lval, pf, pz, po, pw, c, d + 1, base,
                 cz * iz, 0.0, sf[node], out_f, out_v, n_out)


@nb.njit
def _tree_increments(patterns, sf, lc, rc, icount, lcount, lval, per_pattern):
    """Increments of one tree for each decision pattern (bit k: node k goes left)."""
    n_nodes = len(sf)
    size = (n_nodes + 3) * (n_nodes + 4) // 2
    pf = np.full(size, -1, dtype=np.int64)
    pz = np.zeros(size)
    po = np.zeros(size)
    pw = np.zeros(size)
    hot = np.empty(n_nodes, dtype=np.int64)
    lengths = np.zeros(len(patterns), dtype=np.int64)
    out_f = np.empty(len(patterns) * per_pattern, dtype=np.int64)
    out_v = np.empty(len(patterns) * per_pattern)
    for q in range(len(patterns)):
        for k in range(n_nodes):
            hot[k] = lc[k] if (patterns[q] >> k) & 1 else rc[k]
        start = q * per_pattern
        lengths[q] = _shap(hot, sf, lc, rc, icount, lcount, lval, pf, pz, po, pw, 0, 0, 0,
                           1.0, 1.0, -1, out_f, out_v, start) - start
    return lengths, out_f, out_v


@nb.njit(parallel=True)
def _replay(codes, first, starts, lengths, inc_f, inc_v, expected, out):
    n_rows, n_trees = codes.shape
    base_column = out.shape[1] - 1
    for r in nb.prange(n_rows):
        for t in range(n_trees):
            out[r, base_column] += expected[t]
            g = first[t] + codes[r, t]
            s = starts[g]
            for k in range(lengths[g]):
                out[r, inc_f[s + k]] += inc_v[s + k]


def contributions(booster, iterations: int, x: np.ndarray) -> tuple[np.ndarray, int]:
    """(pred_contrib's output for the dense rows ``x``, distinct patterns over all trees)."""
    x = np.where(np.abs(x) <= K_ZERO, 0.0, x)
    trees = parse_trees(booster, iterations)
    codes = np.zeros((len(x), len(trees)), dtype=np.int64)
    first, starts, lengths, inc_f, inc_v, expected = [], [], [], [], [], []
    offset = 0
    for t, tree in enumerate(trees):
        nodes, leaves = tree["nodes"], tree["leaves"]
        first.append(len(lengths))
        if not nodes:  # a single leaf: its value, no increments
            expected.append(leaves[0][0])
            starts.append(offset)
            lengths.append(0)
            continue
        total = float(nodes[0][7])
        value = 0.0
        for leaf_value, count in leaves:
            value += (count / total) * leaf_value
        expected.append(value)
        if len(nodes) > 62:
            raise ValueError("a tree of more than 63 leaves: its pattern does not fit 64 bits")
        bits = np.zeros(len(x), dtype=np.int64)
        for k, node in enumerate(nodes):
            bits |= goes_left(node, x).astype(np.int64) << k
        patterns, codes[:, t] = np.unique(bits, return_inverse=True)
        per = len(leaves) * (len(nodes) + 1)
        got, out_f, out_v = _tree_increments(
            patterns, *(np.array([n[i] for n in nodes], dtype=np.int64) for i in (0, 5, 6, 7)),
            np.array([c for _, c in leaves], dtype=np.int64),
            np.array([v for v, _ in leaves], dtype=np.float64), per)
        for q, n in enumerate(got):
            starts.append(offset)
            lengths.append(int(n))
            inc_f.append(out_f[q * per:q * per + n])
            inc_v.append(out_v[q * per:q * per + n])
            offset += int(n)
    out = np.zeros((len(x), x.shape[1] + 1))
    _replay(codes, np.array(first), np.array(starts), np.array(lengths),
            np.concatenate(inc_f), np.concatenate(inc_v), np.array(expected), out)
    return out, len(lengths)


def dense_rows(prepared: pd.DataFrame) -> np.ndarray:
    """The float matrix LightGBM predicts on: categorical codes (-1 as NaN), numbers."""
    columns = []
    for name in prepared.columns:
        column = prepared[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            columns.append(np.where(codes < 0, np.nan, codes).astype(float))
        else:
            columns.append(column.to_numpy(float))
    return np.column_stack(columns)


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
    x = dense_rows(prepared)
    contributions(booster, iterations, x[:50])  # compile first (not cached: _shap recurses)
    started, cpu = time.perf_counter(), time.process_time()
    replayed, patterns = contributions(booster, iterations, x)
    print(f"replay: {patterns:,} distinct tree decision patterns (of "
          f"{len(x) * iterations:,} row-trees): {time.perf_counter() - started:.1f}s "
          f"(CPU {time.process_time() - cpu:.1f}s, numba threads {nb.get_num_threads()}); "
          f"bit-identical: {np.array_equal(replayed.view(np.int64), reference.view(np.int64))}"
          f" (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
