"""The portfolio's numbers: band summary, accounts to act on first, decliners, owners, the
week's actions and the flat CRM export, each from the score frame of one ``as_of`` date (one
row per account, as batch scoring writes it, optionally joined with trend columns). Pandas in,
pandas out; the page (:mod:`.page`) and figures (:mod:`.figures`) show them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from healthscore.errors import DataValidationError, ParameterError, Violation

log = logging.getLogger(__name__)

# columns of the score frame used here
ACCOUNT_ID = "account_id"
NAME = "name"  # optional: the account's name (accounts.name)
OWNER = "owner"  # optional: who looks after the account (accounts.owner)
AS_OF = "as_of"
SEGMENT = "segment"
ARR = "arr"
HEALTH = "health"
BAND = "band"
PROBABILITY = "churn_probability"
HARD_STOPS = "hard_stops"
OVERRIDE = "override"
DOMINANT = "dominant_risk_dimension"
PLAYBOOK = "playbook"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
RUN_ID = "run_id"
# optional trend columns
CHANGE_30D = "health_change_30d"
CHANGE_90D = "health_change_90d"
MOMENTUM = "momentum"
PREVIOUS_BAND = "previous_band"
ALERTS = "alerts"
ALERT_REASONS = "alert_reasons"
# derived here
EXPECTED_LOSS = "expected_arr_loss"
RISK_REASON = re.compile(r"risk_(\d+)_reason")
# optional model columns the CRM export carries when the scores have them: the expansion
# readiness score with its reasons (a model with training.expansion), every horizon's churn
# probability and the expected months (a survival model; model/artifact.py horizon_columns)
EXPANSION = "expansion_score"
EXPANSION_REASONS = "top_expansion_reasons"
EXPANSION_REASON = re.compile(r"expansion_(\d+)_reason")
HORIZON_COLUMN = re.compile(r"churn_within_(\d+)d")
EXPECTED_MONTHS = "expected_months_24"
CRM_COLUMNS = (ACCOUNT_ID, NAME, OWNER, AS_OF, HEALTH, BAND, PROBABILITY, MOMENTUM, CHANGE_30D,
               "top_risk_reasons", DOMINANT, PLAYBOOK, ALERTS, HARD_STOPS, OVERRIDE,
               MODEL_VERSION)


def band_summary(scores: pd.DataFrame, band_order: Sequence[str]) -> pd.DataFrame:
    """Per band: accounts, share of accounts, ARR, share of ARR, mean health and expected ARR
    loss (sum of ``arr * churn_probability``).

    Bands come in ``band_order`` (lowest health first), each listed even when empty; a band
    found in ``scores`` but not in ``band_order`` is appended after them (with a warning) so
    the rows always add up to the portfolio. Missing ARR counts as 0.
    """
    order = check_band_order(band_order)
    require_columns(scores, (BAND, HEALTH, ARR, PROBABILITY), "band_summary")
    extra = sorted(set(scores[BAND].dropna().astype(str)) - set(order))
    if extra:
        log.warning("bands %s are not in band_order %s; listed last", extra, order)
    arr = pd.to_numeric(scores[ARR], errors="coerce").fillna(0.0)
    frame = pd.DataFrame({
        BAND: scores[BAND].astype(str).to_numpy(),
        ARR: arr.to_numpy(float),
        HEALTH: pd.to_numeric(scores[HEALTH], errors="coerce").to_numpy(float),
        EXPECTED_LOSS: (arr * pd.to_numeric(scores[PROBABILITY], errors="coerce")).to_numpy(
            float),
    })
    grouped = frame.groupby(BAND, sort=False)
    out = pd.DataFrame({
        "accounts": grouped.size(),
        ARR: grouped[ARR].sum(),
        "mean_health": grouped[HEALTH].mean(),
        EXPECTED_LOSS: grouped[EXPECTED_LOSS].sum(),
    }).reindex(order + extra)
    out["accounts"] = out["accounts"].fillna(0).astype(int)
    out[[ARR, EXPECTED_LOSS]] = out[[ARR, EXPECTED_LOSS]].fillna(0.0)
    total_accounts, total_arr = int(out["accounts"].sum()), float(out[ARR].sum())
    out["share"] = out["accounts"] / total_accounts if total_accounts else 0.0
    out["arr_share"] = out[ARR] / total_arr if total_arr else 0.0
    out = out.rename_axis(BAND).reset_index()
    return out[[BAND, "accounts", "share", ARR, "arr_share", "mean_health", EXPECTED_LOSS]]


def top_at_risk(scores: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` accounts with the largest expected ARR loss (``arr * churn_probability``),
    with health, band, risk drivers (reason and points), dominant risk dimension, playbook,
    hard stops and override. Ties go to the lower health, then the account id."""
    check_n(n)
    require_columns(scores, (ACCOUNT_ID, ARR, HEALTH, BAND, PROBABILITY), "top_at_risk")
    ranked = scores.assign(**{EXPECTED_LOSS: expected_loss(scores)})
    ranked = ranked.sort_values([EXPECTED_LOSS, HEALTH, ACCOUNT_ID],
                                ascending=[False, True, True], kind="stable",
                                na_position="last").head(n)
    drivers = [c for k in risk_ranks(scores) for c in (f"risk_{k}_reason", f"risk_{k}_points")
               if c in scores]
    columns = [ACCOUNT_ID, NAME, OWNER, SEGMENT, ARR, HEALTH, BAND, PROBABILITY, EXPECTED_LOSS,
               *drivers, DOMINANT, PLAYBOOK, HARD_STOPS, OVERRIDE]
    out = ranked[[c for c in columns if c in ranked]].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return fill_text(out)


def biggest_decliners(scores: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` accounts whose health fell most over 30 days (``health_change_30d`` ascending;
    only accounts that declined). Empty, with the same columns, when the trend column is absent
    or holds no values (no score history 30 days back yet)."""
    check_n(n)
    require_columns(scores, (ACCOUNT_ID, HEALTH, BAND), "biggest_decliners")
    columns = [ACCOUNT_ID, NAME, OWNER, SEGMENT, ARR, HEALTH, BAND, PREVIOUS_BAND, CHANGE_30D,
               CHANGE_90D, MOMENTUM, "risk_1_reason", DOMINANT, PLAYBOOK]
    present = [c for c in columns if c in scores or c == CHANGE_30D]
    if CHANGE_30D not in scores:
        return pd.DataFrame(columns=["rank", *present])
    change = pd.to_numeric(scores[CHANGE_30D], errors="coerce")
    declined = scores.loc[change < 0].assign(**{CHANGE_30D: change[change < 0]})
    out = declined.sort_values([CHANGE_30D, HEALTH, ACCOUNT_ID], kind="stable").head(n)
    out = out[present].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return fill_text(out)


def expansion_candidates(scores: pd.DataFrame, band_order: Sequence[str], n: int = 20,
                         ) -> pd.DataFrame:
    """The ``n`` accounts of the healthiest band (``band_order[-1]``) most ready to expand
    (``expansion_score`` descending; ties go to the larger ARR, then the account id), with
    their expansion drivers. Empty, with the same columns, when the scores carry no expansion
    score (a model without ``training.expansion``)."""
    check_n(n)
    order = check_band_order(band_order)
    require_columns(scores, (ACCOUNT_ID, HEALTH, BAND), "expansion_candidates")
    drivers = [c for k in risk_ranks(scores, EXPANSION_REASON)
               for c in (f"expansion_{k}_reason", f"expansion_{k}_points") if c in scores]
    columns = [ACCOUNT_ID, NAME, OWNER, SEGMENT, ARR, HEALTH, BAND, EXPANSION, *drivers]
    present = [c for c in columns if c in scores or c == EXPANSION]
    if EXPANSION not in scores:
        return pd.DataFrame(columns=["rank", *present])
    readiness = pd.to_numeric(scores[EXPANSION], errors="coerce")
    healthy = scores.loc[(scores[BAND].astype(str) == order[-1]) & readiness.notna()]
    ranked = healthy.assign(**{EXPANSION: readiness[healthy.index],
                               "_arr": pd.to_numeric(healthy.get(ARR), errors="coerce")
                               if ARR in healthy else 0.0})
    ranked = ranked.sort_values([EXPANSION, "_arr", ACCOUNT_ID], ascending=[False, False, True],
                                kind="stable", na_position="last").head(n)
    out = ranked[present].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return fill_text(out)


def crm_export(scores: pd.DataFrame) -> pd.DataFrame:
    """Flat columns for a CRM import, one row per account in input order.

    ``churn_probability`` is rounded to 3 decimals, ``as_of`` is an ISO date string, the risk
    reasons are joined with ``" | "``; text columns hold ``""`` (never NaN) and have line breaks
    replaced by spaces; trend columns absent from ``scores`` come out empty.
    """
    require_columns(scores, (ACCOUNT_ID, AS_OF, HEALTH, BAND, PROBABILITY), "crm_export")
    out = pd.DataFrame(index=scores.index)
    out[ACCOUNT_ID] = scores[ACCOUNT_ID].astype(str)
    for column in (NAME, OWNER):
        out[column] = scores[column] if column in scores else ""
    out[AS_OF] = pd.to_datetime(scores[AS_OF]).dt.strftime("%Y-%m-%d")
    out[HEALTH] = pd.to_numeric(scores[HEALTH], errors="coerce").round(1)
    out[BAND] = scores[BAND]
    out[PROBABILITY] = pd.to_numeric(scores[PROBABILITY], errors="coerce").round(3)
    out[MOMENTUM] = scores[MOMENTUM] if MOMENTUM in scores else ""
    out[CHANGE_30D] = (pd.to_numeric(scores[CHANGE_30D], errors="coerce").round(1)
                       if CHANGE_30D in scores else np.nan)
    out["top_risk_reasons"] = _joined_reasons(scores)
    for column in (DOMINANT, PLAYBOOK, ALERTS, HARD_STOPS, OVERRIDE, MODEL_VERSION):
        out[column] = scores[column] if column in scores else ""
    text = [c for c in CRM_COLUMNS if c not in (HEALTH, PROBABILITY, CHANGE_30D)]
    extra = model_columns(scores)
    if EXPANSION in extra:
        out[EXPANSION] = pd.to_numeric(scores[EXPANSION], errors="coerce").round(1)
        out[EXPANSION_REASONS] = _joined_reasons(scores, EXPANSION_REASON)
        text.append(EXPANSION_REASONS)
    for column in extra:
        if column not in (EXPANSION, EXPANSION_REASONS):
            out[column] = pd.to_numeric(scores[column], errors="coerce").round(
                1 if column == EXPECTED_MONTHS else 3)
    for column in text:
        out[column] = neutralise_formulas(
            out[column].astype(object).where(out[column].notna(), "").astype(str)
            .str.replace(r"[\r\n]+", " ", regex=True))
    return out[list(CRM_COLUMNS) + extra].reset_index(drop=True)


def model_columns(scores: pd.DataFrame) -> list[str]:
    """The optional CRM columns ``scores`` supports, in export order: ``expansion_score`` and
    ``top_expansion_reasons`` when it has an expansion score, then ``churn_within_<h>d`` by
    horizon and ``expected_months_24`` when it has them."""
    out = [EXPANSION, EXPANSION_REASONS] if EXPANSION in scores else []
    out += [f"churn_within_{h}d" for h in risk_ranks(scores, HORIZON_COLUMN)]
    return out + ([EXPECTED_MONTHS] if EXPECTED_MONTHS in scores else [])


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab
    or a carriage return) get a leading apostrophe, as OWASP advises for CSV exports; a plain
    negative number such as ``-3`` stays as it is."""
    text = values.astype(str)
    risky = text.str.startswith(FORMULA_STARTS) & ~text.str.fullmatch(r"-\d+(\.\d+)?")
    return text.where(~risky, "'" + text)


def account_label(row: pd.Series) -> str:
    """``Name (id)`` when the account has a name, else its id."""
    name = str(row.get(NAME, "") or "")
    return f"{name} ({row[ACCOUNT_ID]})" if name else str(row[ACCOUNT_ID])


def owner_summary(scores: pd.DataFrame, band_order: Sequence[str]) -> pd.DataFrame:
    """Per owner (accounts without one under "(no owner)"): accounts, ARR, accounts in the two
    lowest bands, expected ARR loss and accounts with alerts; most expected loss first. Empty
    when no account has an owner."""
    if OWNER not in scores or not scores[OWNER].fillna("").astype(str).str.strip().any():
        return pd.DataFrame(columns=[OWNER, "accounts", ARR, "at_risk", EXPECTED_LOSS,
                                     "with_alerts"])
    low = list(band_order)[:2]
    frame = scores.assign(**{
        OWNER: scores[OWNER].fillna("").astype(str).str.strip().replace("", "(no owner)"),
        EXPECTED_LOSS: expected_loss(scores),
        "at_risk": scores[BAND].isin(low).astype(int),
        "with_alerts": (alert_lists(scores).map(len) > 0).astype(int) if ALERTS in scores
        else 0})
    out = frame.groupby(OWNER).agg(accounts=(ACCOUNT_ID, "size"), arr=(ARR, "sum"),
                                   at_risk=("at_risk", "sum"),
                                   expected_arr_loss=(EXPECTED_LOSS, "sum"),
                                   with_alerts=("with_alerts", "sum")).reset_index()
    return out.sort_values([EXPECTED_LOSS, OWNER], ascending=[False, True], kind="stable",
                           ).reset_index(drop=True)


RENEWAL_SOON_DAYS = 90
BIG_DROP_POINTS = 10.0


def this_week(scores: pd.DataFrame, band_order: Sequence[str], n: int = 5,
              ) -> list[tuple[str, pd.DataFrame]]:
    """What a customer-success team should do first, as (headline, accounts) pairs, each list
    largest expected ARR loss first (at most ``n`` accounts; empty actions are left out):
    save calls for low-band accounts renewing within 90 days, accounts that entered the lowest
    band, accounts that lost 10 or more health points in 30 days, expansion plays."""
    low = list(band_order)[:2]
    ranked = scores.assign(**{EXPECTED_LOSS: expected_loss(scores)}).sort_values(
        [EXPECTED_LOSS, ACCOUNT_ID], ascending=[False, True], kind="stable")
    codes = alert_lists(ranked) if ALERTS in ranked else pd.Series([[]] * len(ranked),
                                                                   index=ranked.index)
    days = pd.to_numeric(ranked.get("days_to_renewal"), errors="coerce") \
        if "days_to_renewal" in ranked else pd.Series(np.nan, index=ranked.index)
    change = pd.to_numeric(ranked[CHANGE_30D], errors="coerce") if CHANGE_30D in ranked \
        else pd.Series(np.nan, index=ranked.index)
    actions = [
        (f"Call before the renewal: {{n}} account(s) in {' or '.join(low)} renew within "
         f"{RENEWAL_SOON_DAYS} days ({{arr}} ARR)",
         ranked[ranked[BAND].isin(low) & (days <= RENEWAL_SOON_DAYS)]),
        (f"Find out what changed: {{n}} account(s) entered {band_order[0]} since the last score "
         "({arr} ARR)", ranked[codes.map(lambda c: "entered_critical" in c)]),
        (f"Check in: {{n}} account(s) lost {BIG_DROP_POINTS:g} or more health points in 30 "
         "days ({arr} ARR)", ranked[change <= -BIG_DROP_POINTS]),
        ("Talk expansion: {n} healthy account(s) show an expansion signal ({arr} ARR)",
         ranked[codes.map(lambda c: "expansion_play" in c)]),
    ]
    out = []
    for template, accounts in actions:
        if accounts.empty:
            continue
        headline = template.format(n=f"{len(accounts):,}", arr=compact_money(accounts[ARR].sum()))
        out.append((headline, accounts.head(n)))
    return out


def require_columns(scores: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Raise :class:`DataValidationError` naming every column of ``columns`` that
    ``scores`` lacks (``where``: the function that needs them)."""
    missing = [c for c in columns if c not in scores]
    if missing:
        raise DataValidationError([
            Violation("scores", c, f"required column missing (needed by {where})", 0)
            for c in missing])


def check_band_order(band_order: Sequence[str]) -> list[str]:
    """The band names as strings; :class:`ParameterError` unless a non-empty sequence of
    distinct names."""
    order = [str(b) for b in band_order]
    if not order or len(set(order)) != len(order) or isinstance(band_order, str):
        raise ParameterError("band_order", "a non-empty sequence of distinct band names, "
                             "lowest health first", band_order)
    return order


def check_n(n: int) -> None:
    """:class:`ParameterError` unless ``n`` is an int >= 0."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ParameterError("n", "an int >= 0", n)


def expected_loss(scores: pd.DataFrame) -> pd.Series:
    """Expected ARR loss per account: ``arr * churn_probability`` (NaN when either is)."""
    return (pd.to_numeric(scores[ARR], errors="coerce")
            * pd.to_numeric(scores[PROBABILITY], errors="coerce"))


def risk_ranks(scores: pd.DataFrame, pattern: re.Pattern[str] = RISK_REASON) -> list[int]:
    """The ranks ``k`` of the ``risk_{k}_reason`` columns of ``scores`` (or of the columns
    ``pattern`` matches, its group the rank), in order."""
    return sorted(int(m.group(1)) for c in scores.columns
                  for m in [pattern.fullmatch(str(c))] if m)


def _joined_reasons(scores: pd.DataFrame, pattern: re.Pattern[str] = RISK_REASON
                    ) -> list[str]:
    columns = [pattern.pattern.replace(r"(\d+)", str(k)) for k in risk_ranks(scores, pattern)]
    values = scores[columns].astype(object).to_numpy() if columns else np.empty((len(scores), 0))
    return [" | ".join(str(v) for v in row if isinstance(v, str) and v.strip())
            for row in values]


def fill_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text (non-numeric) columns with NaN replaced by ``""``."""
    frame = frame.copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), "")
    return frame


def alert_lists(scores: pd.DataFrame) -> pd.Series:
    """The alert codes of each account as a list (see :func:`split_alerts`)."""
    return scores[ALERTS].map(split_alerts)


def split_alerts(value: object) -> list[str]:
    """The codes of one ``alerts`` cell (``"a; b"``); none for a missing value."""
    if not isinstance(value, str):
        return []
    return [code.strip() for code in value.split(";") if code.strip()]


def compact_money(value: float) -> str:
    """1234567 -> "1.23M"; 21012345 -> "21.0M"; 45300 -> "45.3k"."""
    magnitude = abs(value)
    if magnitude >= 1e7:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e6:
        return f"{value / 1e6:.2f}M"
    if magnitude >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}"
