"""LightGBM's TreeSHAP contributions (``pred_contrib``), bit for bit, from one evaluation per
tree decision pattern.

LightGBM's ``pred_contrib`` adds, tree after tree, increments ``w * (one - zero) * leaf_value``
into each row's output; within a tree they depend on the row only through the decision taken
at every internal node (TreeSHAP visits both children of every node and reads the row only in
``Decision``). Rows sharing a tree's *decision pattern* (one bit per internal node) get the same
increments in the same order. So each tree runs TreeSHAP once per distinct pattern among the
rows (the arithmetic of LightGBM's ``tree.cpp``, in its order), and each row replays its
patterns' increments tree after tree: the same additions in the same order give the same bits.
At 100k accounts a date's 79,808 rows x 348 trees have 129,030 distinct patterns (of 27.8M
row-trees).

:func:`forest_of` returns None for what it does not reproduce (a tree of more than 63 internal
nodes, linear trees, several trees per iteration): the caller then uses ``pred_contrib``.
``tests/unit/training/test_treeshap.py`` compares every output bit with ``pred_contrib``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import pandas as pd

K_ZERO = 1e-35  # LightGBM's kZeroThreshold: a smaller magnitude is a zero (left out of the row)
MAX_NODES = 63  # a decision pattern is one bit per internal node of an int64
DENSE_TABLE_NODES = 16  # up to this many internal nodes, patterns are numbered by a 2^n table
CELLS_PER_CHUNK = 1 << 25  # rows x trees of pattern numbers held at once (int32: 128 MB)
_NUMERIC, _CATEGORICAL = 0, 1
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class Forest:
    """The trees of a booster as flat arrays (tree ``t``'s internal nodes are
    ``node_start[t]:node_start[t + 1]``, its leaves ``leaf_start[t]:leaf_start[t + 1]``; a
    child ``c < 0`` is leaf ``~c``)."""

    node_start: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    kind: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray
    left: np.ndarray
    right: np.ndarray
    count: np.ndarray
    cat_start: np.ndarray  # categorical node k: its left categories are codes c with
    cat_member: np.ndarray  # cat_member[cat_start[k] + c] (c < cat_start[k + 1] - cat_start[k])
    leaf_start: np.ndarray
    leaf_value: np.ndarray
    leaf_count: np.ndarray
    expected: np.ndarray  # each tree's expected value (LightGBM's ExpectedValue)

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.expected)


def forest_of(booster, iterations: int) -> Forest | None:
    """The first ``iterations`` trees of a LightGBM booster (all for ``iterations <= 0``), or
    None when the replay cannot reproduce its ``pred_contrib`` (several trees per iteration,
    linear trees, a tree of more than :data:`MAX_NODES` internal nodes)."""
    if booster.num_model_per_iteration() != 1:
        return None
    dump = booster.dump_model()
    infos = dump["tree_info"]
    if iterations and iterations > 0:
        infos = infos[:iterations]
    nodes: list[tuple] = []
    leaves: list[tuple] = []
    node_start, leaf_start, expected = [0], [0], []
    for info in infos:
        tree_nodes: dict[int, tuple] = {}
        tree_leaves: dict[int, tuple] = {}
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" not in node:  # a leaf (a single-leaf tree's has no index)
                if "leaf_coeff" in node:  # a linear tree: not TreeSHAP's leaf values
                    return None
                tree_leaves[node.get("leaf_index", 0)] = (float(node.get("leaf_value", 0.0)),
                                                   int(node.get("leaf_count", 0)))
                continue
            children = []
            for side in ("left_child", "right_child"):
                child = node[side]
                children.append(child["split_index"] if "split_index" in child
                                else ~child["leaf_index"])
                stack.append(child)
            tree_nodes[node["split_index"]] = (
                node["split_feature"], node["threshold"], node["decision_type"],
                bool(node["default_left"]), node["missing_type"], children[0], children[1],
                int(node["internal_count"]))
        if len(tree_nodes) > MAX_NODES:
            return None
        ordered = [tree_nodes[k] for k in range(len(tree_nodes))]
        tree_leaf_list = [tree_leaves[k] for k in range(len(tree_leaves))]
        if ordered:
            total = float(ordered[0][7])
            value = 0.0
            for leaf_value, count in tree_leaf_list:  # LightGBM's Tree::ExpectedValue
                value += (count / total) * leaf_value
        else:
            value = tree_leaf_list[0][0]
        expected.append(value)
        nodes.extend(ordered)
        leaves.extend(tree_leaf_list)
        node_start.append(len(nodes))
        leaf_start.append(len(leaves))
    threshold = np.zeros(len(nodes))
    kind = np.zeros(len(nodes), dtype=np.int64)
    cat_start = [0]
    cat_member: list[np.ndarray] = []
    for k, node in enumerate(nodes):
        if node[2] == "==":
            kind[k] = _CATEGORICAL
            codes = np.array([int(c) for c in str(node[1]).split("||")], dtype=np.int64)
            member = np.zeros(int(codes.max()) + 1, dtype=np.uint8)
            member[codes] = 1
            cat_member.append(member)
            cat_start.append(cat_start[-1] + len(member))
        else:
            threshold[k] = float(node[1])
            cat_start.append(cat_start[-1])

    def column(i: int, dtype=np.int64) -> np.ndarray:
        return np.array([n[i] for n in nodes], dtype=dtype)

    return Forest(
        node_start=np.array(node_start, dtype=np.int64), feature=column(0),
        threshold=threshold, kind=kind, default_left=column(3, np.bool_),
        missing=np.array([_MISSING[n[4]] for n in nodes], dtype=np.int64),
        left=column(5), right=column(6), count=column(7),
        cat_start=np.array(cat_start, dtype=np.int64),
        cat_member=(np.concatenate(cat_member) if cat_member
                    else np.zeros(0, dtype=np.uint8)),
        leaf_start=np.array(leaf_start, dtype=np.int64),
        leaf_value=np.array([v for v, _ in leaves], dtype=np.float64),
        leaf_count=np.array([c for _, c in leaves], dtype=np.int64),
        expected=np.array(expected, dtype=np.float64))


def dense_rows(prepared: pd.DataFrame, pandas_categorical: list | None) -> np.ndarray:
    """The float matrix LightGBM predicts on (as its ``_data_from_pandas`` builds it):
    categorical columns as codes of the booster's training categories (-1 as NaN), numbers as
    float64, values of magnitude at most 1e-35 as zero; column-major."""
    columns = []
    levels = iter(pandas_categorical or [])
    for name in prepared.columns:
        column = prepared[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            trained = next(levels, None)
            if trained is not None and list(column.cat.categories) != list(trained):
                column = column.cat.set_categories(trained)
            codes = column.cat.codes.to_numpy()
            columns.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
        else:
            columns.append(column.to_numpy(np.float64))
    x = np.empty((len(prepared), len(columns)), order="F")  # the replay reads by column
    for j, values in enumerate(columns):
        x[:, j] = np.where(np.abs(values) <= K_ZERO, 0.0, values)
    return x


def contributions(forest: Forest, x: np.ndarray, num_threads: int = 0) -> np.ndarray:
    """``pred_contrib``'s output for the rows ``x`` (from :func:`dense_rows`): one column per
    feature, then the expected value; bit for bit. ``num_threads > 0`` caps the threads of the
    replay."""
    out = np.zeros((len(x), x.shape[1] + 1))
    if len(x) == 0:
        return out
    previous = nb.get_num_threads()
    if num_threads > 0:
        nb.set_num_threads(min(num_threads, nb.config.NUMBA_NUM_THREADS))
    try:
        step = max(1, CELLS_PER_CHUNK // max(forest.n_trees, 1))
        for start in range(0, len(x), step):
            # column-major and contiguous, so the kernels have one compiled signature
            _chunk(forest, np.asfortranarray(x[start:start + step]), out[start:start + step])
    finally:
        nb.set_num_threads(previous)
    return out


def _chunk(forest: Forest, x: np.ndarray, out: np.ndarray) -> None:
    f = forest
    codes = np.zeros((len(x), f.n_trees), dtype=np.int32)
    first = np.zeros(f.n_trees + 1, dtype=np.int64)  # tree t's patterns: first[t]:first[t+1]
    lengths_all, inc_f_all, inc_v_all = [], [], []
    for t in range(f.n_trees):
        a, b = f.node_start[t], f.node_start[t + 1]
        la, lb = f.leaf_start[t], f.leaf_start[t + 1]
        if b == a:  # a single leaf: no increments
            first[t + 1] = first[t] + 1
            lengths_all.append(np.zeros(1, dtype=np.int64))
            continue
        patterns = _tree_codes(x, f.feature[a:b], f.threshold[a:b], f.kind[a:b],
                               f.default_left[a:b], f.missing[a:b], f.cat_start[a:b + 1],
                               f.cat_member, codes, t)
        lengths, inc_f, inc_v = _tree_increments(
            patterns, f.feature[a:b], f.left[a:b], f.right[a:b], f.count[a:b],
            f.leaf_count[la:lb], f.leaf_value[la:lb])
        first[t + 1] = first[t] + len(patterns)
        lengths_all.append(lengths)
        inc_f_all.append(inc_f)
        inc_v_all.append(inc_v)
    lengths = np.concatenate(lengths_all)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    inc_f = np.concatenate(inc_f_all) if inc_f_all else np.zeros(0, dtype=np.int32)
    inc_v = np.concatenate(inc_v_all) if inc_v_all else np.zeros(0)
    _replay(codes, first, starts, lengths, inc_f, inc_v, f.expected, out)


@nb.njit(cache=True, nogil=True)
def _node_bits(column, bits, k, threshold, kind, default_left, missing, cat_start, cat_member):
    """Set bit ``k`` of ``bits[r]`` where LightGBM's Decision at node ``k`` sends row ``r``
    left (Tree::NumericalDecision, Tree::CategoricalDecision); branch-free per row."""
    bit = np.int64(1) << k
    if kind[k] == _CATEGORICAL:  # NaN or a negative code goes right, as does an unseen code
        size = cat_start[k + 1] - cat_start[k]
        offset = cat_start[k]
        for r in range(len(column)):
            v = column[r]
            if v == v:  # not NaN
                code = int(v)
                if 0 <= code < size and cat_member[offset + code] == 1:
                    bits[r] |= bit
        return
    t = threshold[k]
    if missing[k] == 2:  # NaN is missing: default direction; otherwise v <= threshold
        nan_left = np.int64(default_left[k])
        for r in range(len(column)):
            v = column[r]
            bits[r] |= (np.int64(v <= t) | (np.int64(v != v) & nan_left)) << k
    elif missing[k] == 1:  # NaN is zero, and zero is missing: default direction
        zero_left = np.int64(default_left[k])
        for r in range(len(column)):
            v = column[r]
            v = 0.0 if v != v else v
            zero = np.int64(-K_ZERO <= v) & np.int64(v <= K_ZERO)
            bits[r] |= ((zero & zero_left) | ((1 - zero) & np.int64(v <= t))) << k
    else:  # no missing values: NaN is zero
        nan_left = np.int64(0.0 <= t)
        for r in range(len(column)):
            v = column[r]
            bits[r] |= (np.int64(v <= t) | (np.int64(v != v) & nan_left)) << k


@nb.njit(cache=True, nogil=True)
def _tree_codes(x, feature, threshold, kind, default_left, missing, cat_start, cat_member,
                codes, t):
    """Number each row's decision pattern in tree ``t`` (into ``codes[:, t]``); return the
    distinct patterns (bit k: node k sends the row left), in order of first appearance.
    ``x`` is column-major (Fortran order)."""
    n_nodes = len(feature)
    n_rows = x.shape[0]
    bits = np.zeros(n_rows, dtype=np.int64)
    for k in range(n_nodes):
        _node_bits(x[:, feature[k]], bits, k, threshold, kind, default_left, missing,
                   cat_start, cat_member)
    patterns = np.empty(n_rows, dtype=np.int64)
    n_patterns = 0
    if n_nodes <= DENSE_TABLE_NODES:
        table = np.full(1 << n_nodes, -1, dtype=np.int32)
        for r in range(n_rows):
            q = table[bits[r]]
            if q < 0:
                q = n_patterns
                table[bits[r]] = q
                patterns[q] = bits[r]
                n_patterns += 1
            codes[r, t] = q
    else:
        order = np.argsort(bits, kind="mergesort")
        for i in range(n_rows):
            r = order[i]
            if i == 0 or bits[r] != bits[order[i - 1]]:
                patterns[n_patterns] = bits[r]
                n_patterns += 1
            codes[r, t] = n_patterns - 1
    return patterns[:n_patterns].copy()


@nb.njit(cache=True, nogil=True)
def _extend(pf, pz, po, pw, base, d, zf, of, fi):
    pf[base + d] = fi
    pz[base + d] = zf
    po[base + d] = of
    pw[base + d] = 1.0 if d == 0 else 0.0
    for i in range(d - 1, -1, -1):
        pw[base + i + 1] += of * pw[base + i] * (i + 1) / float(d + 1)
        pw[base + i] = zf * pw[base + i] * (d - i) / float(d + 1)


@nb.njit(cache=True, nogil=True)
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


@nb.njit(cache=True, nogil=True)
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


@nb.njit(cache=True, nogil=True)
def _tree_increments(patterns, feature, left, right, count, leaf_count, leaf_value):
    """Per decision pattern, the increments (feature, value) LightGBM's Tree::TreeSHAP adds,
    in its order: (lengths, features, values), pattern q's at sum(lengths[:q])."""
    n_nodes = len(feature)
    size = (n_nodes + 3) * (n_nodes + 4) // 2
    pf = np.full(size, -1, dtype=np.int64)
    pz = np.zeros(size)
    po = np.zeros(size)
    pw = np.zeros(size)
    hot = np.empty(n_nodes, dtype=np.int64)
    per_pattern = len(leaf_value) * (n_nodes + 1)
    lengths = np.zeros(len(patterns), dtype=np.int64)
    out_f = np.empty(len(patterns) * per_pattern, dtype=np.int32)
    out_v = np.empty(len(patterns) * per_pattern)
    # the recursion of Tree::TreeSHAP as a stack: (node, depth, parent, zero, one, feature)
    s_node = np.empty(n_nodes + 2, dtype=np.int64)
    s_depth = np.empty(n_nodes + 2, dtype=np.int64)
    s_parent = np.empty(n_nodes + 2, dtype=np.int64)
    s_zero = np.empty(n_nodes + 2)
    s_one = np.empty(n_nodes + 2)
    s_feature = np.empty(n_nodes + 2, dtype=np.int64)
    n_out = 0
    for q in range(len(patterns)):
        for k in range(n_nodes):
            hot[k] = left[k] if (patterns[q] >> k) & 1 else right[k]
        start = n_out
        top = 0
        s_node[0], s_depth[0], s_parent[0] = 0, 0, 0
        s_zero[0], s_one[0], s_feature[0] = 1.0, 1.0, -1
        top = 1
        while top > 0:
            top -= 1
            node, d, parent = s_node[top], s_depth[top], s_parent[top]
            base = parent + d
            for i in range(d):
                pf[base + i] = pf[parent + i]
                pz[base + i] = pz[parent + i]
                po[base + i] = po[parent + i]
                pw[base + i] = pw[parent + i]
            _extend(pf, pz, po, pw, base, d, s_zero[top], s_one[top], s_feature[top])
            if node < 0:
                for i in range(1, d + 1):
                    w = _unwound_sum(pz, po, pw, base, d, i)
                    out_f[n_out] = pf[base + i]
                    out_v[n_out] = w * (po[base + i] - pz[base + i]) * leaf_value[~node]
                    n_out += 1
                continue
            h = hot[node]
            c = right[node] if h == left[node] else left[node]
            w = float(count[node])
            hz = (float(count[h]) if h >= 0 else float(leaf_count[~h])) / w
            cz = (float(count[c]) if c >= 0 else float(leaf_count[~c])) / w
            iz = 1.0
            io = 1.0
            p = 0
            while p <= d:
                if pf[base + p] == feature[node]:
                    break
                p += 1
            if p != d + 1:
                iz = pz[base + p]
                io = po[base + p]
                _unwind(pf, pz, po, pw, base, d, p)
                d -= 1
            # the cold child after the whole hot subtree: pushed first
            s_node[top], s_depth[top], s_parent[top] = c, d + 1, base
            s_zero[top], s_one[top], s_feature[top] = cz * iz, 0.0, feature[node]
            top += 1
            s_node[top], s_depth[top], s_parent[top] = h, d + 1, base
            s_zero[top], s_one[top], s_feature[top] = hz * iz, io, feature[node]
            top += 1
        lengths[q] = n_out - start
    return lengths, out_f[:n_out].copy(), out_v[:n_out].copy()


@nb.njit(cache=True, parallel=True)
def _replay(codes, first, starts, lengths, inc_f, inc_v, expected, out):
    """Each row adds, tree after tree, the expected value and its pattern's increments."""
    n_rows, n_trees = codes.shape
    base_column = out.shape[1] - 1
    for r in nb.prange(n_rows):  # pragma: no cover - jit
        for t in range(n_trees):
            out[r, base_column] += expected[t]
            g = first[t] + codes[r, t]
            s = starts[g]
            for k in range(lengths[g]):
                out[r, inc_f[s + k]] += inc_v[s + k]
