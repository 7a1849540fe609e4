"""Each data rule fails on a crafted bad day, and the fast multi-day path agrees with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain import quality
from energy_assets.domain.sources.simulator import SimulatorSource

D1 = pd.Timestamp("2023-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def good_days() -> pd.DataFrame:
    return SimulatorSource(seed=7).fetch(D1, D1 + 4 * DAY)


def one_day(frame: pd.DataFrame, i: int = 0) -> pd.DataFrame:
    start = D1 + i * DAY
    return frame[(frame.datetime_utc >= start) & (frame.datetime_utc < start + DAY)].copy()


def failed_rules(frame: pd.DataFrame, i: int = 0) -> set[str]:
    outcomes = quality.check_day(frame, D1 + i * DAY, D1 + (i + 1) * DAY)
    return {rule for rule, o in outcomes.items() if not o.passed}


def test_a_good_day_passes_every_rule(good_days: pd.DataFrame) -> None:
    assert failed_rules(one_day(good_days)) == set()


def test_schema_fails_on_a_wrong_dtype(good_days: pd.DataFrame) -> None:
    day = one_day(good_days)
    day["consumer_type"] = day["consumer_type"].astype("int32")
    outcome = quality.check_schema(day)
    assert not outcome.passed
    assert "consumer_type has dtype int32, expected int64" in outcome.description


def test_schema_fails_on_an_extra_column(good_days: pd.DataFrame) -> None:
    day = one_day(good_days).assign(extra=1)
    assert failed_rules(day) == {"schema"}


def test_unique_keys_fails_on_a_duplicated_hour(good_days: pd.DataFrame) -> None:
    day = one_day(good_days)
    day = pd.concat([day, day.iloc[[5]]], ignore_index=True)
    outcome = quality.check_unique_keys(day)
    assert not outcome.passed
    assert outcome.metadata["duplicates"] == 1
    assert outcome.metadata["examples"] == ["DK1/123 @ 2023-03-01 00:00"]


def test_grid_names_the_missing_series_and_hours(good_days: pd.DataFrame) -> None:
    day = one_day(good_days)
    gone = (day.area == "DK2") & (day.consumer_type == 215) & (day.datetime_utc.dt.hour >= 20)
    outcome = quality.check_complete_grid(day[~gone], D1, D1 + DAY)
    assert not outcome.passed
    assert outcome.metadata["missing_hours"] == 4
    assert outcome.metadata["missing_by_series"] == {"DK2/215": 4}
    assert "DK2/215 @ 2023-03-01 20:00" in outcome.description


def test_grid_fails_on_rows_outside_the_day(good_days: pd.DataFrame) -> None:
    two_days = pd.concat([one_day(good_days, 0), one_day(good_days, 1)])
    outcome = quality.check_complete_grid(two_days, D1, D1 + DAY)
    assert not outcome.passed
    assert outcome.metadata["rows_outside_window"] == 1824


def test_values_fail_on_nan_inf_and_negative(good_days: pd.DataFrame) -> None:
    day = one_day(good_days).reset_index(drop=True)
    day.loc[0, "consumption_kwh"] = np.nan
    day.loc[1, "consumption_kwh"] = np.inf
    day.loc[2, "consumption_kwh"] = -3.0
    outcome = quality.check_values(day)
    assert not outcome.passed
    assert (outcome.metadata["not_finite"], outcome.metadata["negative"]) == (2, 1)
    assert failed_rules(day) == {"finite_non_negative"}


def test_areas_fail_on_an_unknown_area(good_days: pd.DataFrame) -> None:
    day = one_day(good_days).reset_index(drop=True)
    day["area"] = day["area"].where(day.index != 0, "DK3")
    outcome = quality.check_areas(day)
    assert not outcome.passed
    assert outcome.metadata["unknown_areas"] == ["DK3"]
    # The DK3 row also leaves a hole in DK1's grid.
    assert failed_rules(day) == {"known_areas", "complete_hourly_grid"}


def test_missing_columns_fail_every_rule_without_crashing(good_days: pd.DataFrame) -> None:
    day = one_day(good_days).drop(columns=["area"])
    # Only the value rule can still judge the frame.
    assert failed_rules(day) == set(quality.RULES) - {"finite_non_negative"}


def test_contract_names_each_failing_rule() -> None:
    outcomes = {
        "schema": quality.Outcome(True, "ok"),
        "known_areas": quality.Outcome(False, "1 rows with unknown areas", {"rows": 1}),
    }
    verdict = quality.contract(outcomes)
    assert not verdict.passed
    assert verdict.description == "1 of 2 rules failed: known_areas: 1 rows with unknown areas"
    assert verdict.metadata["schema"] == "passed"
    assert verdict.metadata["known_areas.rows"] == 1
    assert quality.contract({"schema": quality.Outcome(True, "ok")}).passed


def test_multi_day_fast_path_agrees_with_the_detailed_rules(good_days: pd.DataFrame) -> None:
    frame = good_days.copy().reset_index(drop=True)
    day2 = frame.datetime_utc.between(D1 + DAY, D1 + 2 * DAY, inclusive="left")
    day3 = frame.datetime_utc.between(D1 + 2 * DAY, D1 + 3 * DAY, inclusive="left")
    frame.loc[frame.index[day2][10], "consumption_kwh"] = -1.0  # day 2: negative value
    frame = frame.drop(index=frame.index[day3][:3])  # day 3: three missing hours
    frame = pd.concat([frame, frame[day2.reindex(frame.index)].iloc[[0]]])  # day 2: duplicate
    days = [(D1 + i * DAY, D1 + (i + 1) * DAY) for i in range(4)]

    fast = quality.check_days(frame, days)

    for i, (start, end) in enumerate(days):
        sliced = frame[(frame.datetime_utc >= start) & (frame.datetime_utc < end)]
        detailed = quality.check_day(sliced, start, end)
        assert {r: o.passed for r, o in fast[i].items()} == {
            r: o.passed for r, o in detailed.items()
        }
    assert [quality.contract(o).passed for o in fast] == [True, False, False, True]
    assert not fast[1]["unique_keys"].passed and not fast[1]["finite_non_negative"].passed
    assert fast[2]["complete_hourly_grid"].metadata["missing_hours"] == 3


def test_summary_counts_missing_hours(good_days: pd.DataFrame) -> None:
    day = one_day(good_days).iloc[10:]
    summary = quality.summarize(day, D1, D1 + DAY)
    assert summary["rows"] == 1814
    assert summary["series"] == 76
    assert summary["missing_hours"] == 10
    assert 0 < summary["min_kwh"] < summary["max_kwh"]
