"""Which way is healthy, per feature: declared where the domain is sure, learned elsewhere.

A *learned* direction is the sign of a robust rank association between the feature and
retention on the training rows only: Somers' D = 2 x AUC - 1 of the feature against "stayed"
(+1: every retained account has a higher value than every churner; 0: no association). It
ignores scale and outliers (a rank statistic) and skips missing values. Its z-score uses the
Mann-Whitney variance under no association, so "beyond noise" means the same thing on 2 000
rows and on 2 000 000.

A *declared* direction (registry or ``features.directions``) earns a monotone constraint only
when the training rows do not contradict it beyond noise; a contradicted one is reported with
both signs, gets no declared constraint and is treated as learned. With the default
``monotone: directed`` a learned direction beyond noise (|z| >= 2) is a constraint too, so no
feature's driver points run against its direction table.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from healthscore.features.engine import rank_auc
from healthscore.features.registry import direction_sign

if TYPE_CHECKING:  # annotations only: training does not import serving at run time
    from healthscore.model.artifact import FeatureMeta

log = logging.getLogger(__name__)
LEARNED_Z = 2.0  # a learned direction counts (scorecard) when |z| reaches this
CONTRADICTION_Z = 3.0  # declared but contradicted: z of the other sign beyond this
MAX_ROWS = 200_000  # Somers' D on 200k sampled rows is within ~0.003 of the full one
SIGN_WORDS = {1: "higher is healthier (+)", -1: "lower is healthier (-)", 0: "no direction (0)"}


@dataclass(frozen=True)
class DirectionFinding:
    """One feature's direction: what was declared, what the training rows say, what is used.

    ``strength`` is Somers' D with retention (+: higher is healthier), ``z`` its z-score;
    ``sign`` is the direction the models use (scorecard orientation), ``monotone`` the
    LightGBM constraint sign on "higher is healthier" (0 = unconstrained).
    """

    feature: str
    declared: str
    source: str  # registry | config | learned
    strength: float
    z: float
    sign: int
    monotone: int
    contradicted: bool

    @property
    def direction(self) -> str:
        """The direction in use, in words."""
        return {1: "higher_is_healthier", -1: "lower_is_healthier", 0: "none"}[self.sign]


def rank_association(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Somers' D of each column of ``x`` with retention (``y`` = 1 churned) and its z-score.

    Missing values are left out column by column; a column without both classes among its
    present values gets D = 0, z = 0.
    """
    x = np.asarray(x, dtype=float)
    retained = 1 - np.asarray(y, dtype=int)
    strength = np.zeros(x.shape[1])
    z = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        present = ~np.isnan(x[:, j])
        r = retained[present]
        n_pos, n_neg = int(r.sum()), int(len(r) - r.sum())
        if n_pos == 0 or n_neg == 0:
            continue
        auc = rank_auc(x[present, j][:, None], r)[0]
        se = np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg))
        strength[j] = 2 * auc - 1
        z[j] = (auc - 0.5) / se
    return strength, z


def find_directions(metas: list[FeatureMeta], rows: pd.DataFrame, y: np.ndarray,
                    monotone: bool | str = True, seed: int = 0) -> list[DirectionFinding]:
    """Resolve every feature's direction on the training ``rows`` (never later ones).

    ``monotone``: True / "declared": declared, uncontradicted directions become LightGBM
    constraints; "directed": those and every learned direction beyond noise; "always": every
    declared direction, contradicted or not (the former default, kept to measure what it
    cost); False / "off": none. Categorical features get no direction.
    """
    mode = {True: "declared", False: "off"}.get(monotone, monotone)
    numeric = [m for m in metas if not m.categorical]
    y = np.asarray(y, dtype=int)
    if len(rows) > MAX_ROWS:
        take = np.sort(np.random.default_rng(seed).choice(len(rows), MAX_ROWS, replace=False))
        rows, y = rows.iloc[take], y[take]
    values = np.column_stack([pd.to_numeric(rows[m.name], errors="coerce").to_numpy(float)
                              for m in numeric]) if numeric else np.empty((len(rows), 0))
    strength, z = rank_association(values, y)
    found = {m.name: _finding(m, float(d), float(s), mode)
             for m, d, s in zip(numeric, strength, z, strict=True)}
    return [found.get(m.name) or DirectionFinding(m.name, m.direction, "categorical", 0.0,
                                                  0.0, 0, 0, False) for m in metas]


def _finding(meta: FeatureMeta, strength: float, z: float, mode: str) -> DirectionFinding:
    declared = direction_sign(meta.direction)
    learned = int(np.sign(z)) if abs(z) >= LEARNED_Z else 0
    source = getattr(meta, "direction_source", "registry") if declared else "learned"
    contradicted = bool(declared and declared * z <= -CONTRADICTION_Z)
    if declared and (not contradicted or mode == "always"):
        return DirectionFinding(meta.name, meta.direction, source, strength, z, declared,
                                declared if mode != "off" else 0, contradicted)
    if contradicted:
        log.warning(
            "feature %r is declared %s (%s) but the training rows say %s (Somers' D %+.3f, "
            "z %+.1f): no monotone constraint; its direction is learned", meta.name,
            SIGN_WORDS[declared], source, SIGN_WORDS[learned], strength, z)
    return DirectionFinding(meta.name, meta.direction, source, strength, z, learned,
                            learned if mode == "directed" else 0, contradicted)


def contradiction_notes(findings: list[DirectionFinding]) -> list[str]:
    """One sentence per declared direction the training rows contradict."""
    return [
        f"Feature {f.feature!r} is declared {SIGN_WORDS[direction_sign(f.declared)]} "
        f"({f.source}) but the training rows say {SIGN_WORDS[f.sign]} (Somers' D "
        f"{f.strength:+.3f}, z {f.z:+.1f}): it gets no monotone constraint and its direction "
        "is learned." for f in findings if f.contradicted and not f.monotone
    ]


def directions_table(findings: list[DirectionFinding]) -> pd.DataFrame:
    """One row per feature: declared direction, source, strength, z, direction used,
    constraint and whether the data contradicts the declaration."""
    frame = pd.DataFrame([asdict(f) | {"direction": f.direction} for f in findings],
                         columns=[*DirectionFinding.__dataclass_fields__, "direction"])
    frame["strength"] = frame["strength"].round(4)
    frame["z"] = frame["z"].round(2)
    return frame[["feature", "declared", "source", "direction", "strength", "z", "monotone",
                  "contradicted"]]
