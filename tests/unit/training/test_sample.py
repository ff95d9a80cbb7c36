"""The matrix partitioned by snapshot date, read back as the same frame; the row cap
(``training.max_rows``): exact, stratified, deterministic by seed, the same rows whether the
table is sampled in memory or read in two passes; the matrix's label columns read as labels,
not inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthscore.io import write_partitioned_parquet
from healthscore.training.feature_table import prepare_feature_table, read_table
from healthscore.training.sample import cap_rows, read_capped, stratum_quotas

STRATA = ("snapshot_date", "label_observed", "label_churn")


def matrix_like(accounts: int = 500, dates: int = 6, seed: int = 0) -> pd.DataFrame:
    """A frame shaped like the feature matrix: sorted by date then account, labels observed
    for all but the newest date, about 8 % churn, a nullable whole number and a text column."""
    rng = np.random.default_rng(seed)
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=30 * k) for k in range(dates)]
    n = accounts * dates
    observed = np.repeat([d != days[-1] for d in days], accounts)
    churn_days = pd.array(rng.integers(1, 90, n), dtype="Int32")
    churn_days[rng.random(n) < 0.5] = pd.NA
    return pd.DataFrame({
        "account_id": np.tile(np.arange(accounts), dates),
        "snapshot_date": np.repeat(np.array(days, dtype=object), accounts),
        "segment": rng.choice(["smb", "enterprise"], n),
        "label_churn": rng.random(n) < 0.08,
        "label_expansion": rng.random(n) < 0.1,
        "label_observed": observed,
        "label_churn_days": churn_days,
        "events_30d": rng.normal(10, 3, n),
        "seats_used": rng.integers(0, 40, n).astype(float),
    })


def test_a_partitioned_matrix_reads_back_as_the_same_frame(tmp_path) -> None:
    frame = matrix_like()
    folder = write_partitioned_parquet(frame, tmp_path / "features", "snapshot_date")
    assert sorted(p.name for p in folder.iterdir()) == [
        f"snapshot_date={d.isoformat()}" for d in sorted(set(frame["snapshot_date"]))]
    back = read_table(folder)
    assert list(back.columns[:2]) == ["snapshot_date", "account_id"]  # partition column first
    pd.testing.assert_frame_equal(back[frame.columns], frame)


def test_a_frame_under_the_cap_is_read_whole(tmp_path) -> None:
    frame = matrix_like(accounts=100)
    folder = write_partitioned_parquet(frame, tmp_path / "features", "snapshot_date")
    back, sample = read_capped(folder, len(frame), seed=7, strata=STRATA)
    assert sample is None
    pd.testing.assert_frame_equal(back[frame.columns], frame)
    same, sample = cap_rows(frame, None, seed=7, strata=STRATA)
    assert same is frame and sample is None


def test_the_cap_keeps_exactly_max_rows_with_every_stratum_at_its_share() -> None:
    frame = matrix_like()
    capped, sample = cap_rows(frame, 1000, seed=7, strata=STRATA)
    assert len(capped) == 1000 and sample.rows == 1000 and sample.total == 3000
    assert sample.strata == STRATA
    full = frame.groupby(list(STRATA)).size()
    kept = capped.groupby(list(STRATA)).size().reindex(full.index, fill_value=0)
    assert (abs(kept - full * 1000 / 3000) < 1).all()  # proportional, rounded by remainder
    assert capped["label_churn"].sum() == pytest.approx(frame["label_churn"].sum() / 3, abs=7)
    assert not capped.duplicated(["account_id", "snapshot_date"]).any()
    order = capped[["snapshot_date", "account_id"]].apply(tuple, axis=1).tolist()
    assert order == sorted(order)  # the table's own order
    assert "sampled 1,000 of 3,000 rows" in sample.describe()
    assert "seed 7" in sample.describe()


def test_the_cap_is_deterministic_by_seed() -> None:
    frame = matrix_like()
    first, _ = cap_rows(frame, 1000, seed=7, strata=STRATA)
    again, _ = cap_rows(frame.copy(), 1000, seed=7, strata=STRATA)
    other, _ = cap_rows(frame, 1000, seed=8, strata=STRATA)
    pd.testing.assert_frame_equal(first, again)
    assert not first["account_id"].equals(other["account_id"])


def test_reading_a_large_table_in_two_passes_keeps_the_same_rows_as_sampling_it(tmp_path,
                                                                                ) -> None:
    frame = matrix_like()
    folder = write_partitioned_parquet(frame, tmp_path / "features", "snapshot_date")
    read, read_sample = read_capped(folder, 1000, seed=7, strata=STRATA)
    sampled, sample = cap_rows(frame, 1000, seed=7, strata=STRATA)
    assert read_sample == sample
    pd.testing.assert_frame_equal(read[frame.columns], sampled)
    file = tmp_path / "features.parquet"
    frame.to_parquet(file, index=False)
    from_file, _ = read_capped(file, 1000, seed=7, strata=STRATA)
    pd.testing.assert_frame_equal(from_file, sampled)


def test_quotas_add_up_to_the_cap_by_largest_remainder() -> None:
    quotas = stratum_quotas({("a",): 5, ("b",): 3, ("c",): 2}, 5)
    assert quotas == {("a",): 3, ("b",): 1, ("c",): 1}  # exact 2.5, 1.5, 1.0: 'a' rounds up
    assert sum(stratum_quotas({(k,): k + 1 for k in range(17)}, 50).values()) == 50


def test_the_matrix_label_columns_are_labels_not_inputs() -> None:
    frame = matrix_like(accounts=200)
    table = prepare_feature_table(frame, "account_id", "label_churn", "snapshot_date")
    inputs = {m.name for m in table.metas}
    assert inputs == {"events_30d", "seats_used"}
    newest = table.frame["snapshot_date"] == max(frame["snapshot_date"])
    assert not table.frame.loc[newest, "label_observed"].any()  # horizon not over: unlabelled
    assert table.frame.loc[~newest, "label_observed"].all()
    reasons = {n.column: n.reason for n in table.notes}
    assert "outcome" in reasons["label_expansion"] and "outcome" in reasons["label_churn_days"]
