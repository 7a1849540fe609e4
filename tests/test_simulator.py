"""The simulator: deterministic, realistic in shape, and labelled synthetic."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain import quality
from energy_assets.domain.calendar import LOCAL_TZ
from energy_assets.domain.datasets import DE35_SERIES
from energy_assets.domain.sources.simulator import SimulatorSource

UTC = "UTC"


def fetch(start: str, end: str, **kwargs: object) -> pd.DataFrame:
    return SimulatorSource(**kwargs).fetch(pd.Timestamp(start, tz=UTC), pd.Timestamp(end, tz=UTC))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    frame = fetch("2022-01-01", "2023-01-01")
    local = frame.datetime_utc.dt.tz_convert(LOCAL_TZ)
    return frame.assign(hour=local.dt.hour, weekday=local.dt.dayofweek, month=local.dt.month)


def test_every_series_every_hour_and_checks_pass() -> None:
    frame = fetch("2023-03-25", "2023-03-28")  # spans the spring DST change in Denmark
    assert len(frame) == 76 * 72
    outcomes = quality.check_days(
        frame,
        [
            (pd.Timestamp(d, tz=UTC), pd.Timestamp(d, tz=UTC) + pd.Timedelta(days=1))
            for d in ("2023-03-25", "2023-03-26", "2023-03-27")
        ],
    )
    assert all(quality.contract(o).passed for o in outcomes)


def test_deterministic_and_range_independent() -> None:
    whole = fetch("2022-12-30", "2023-01-03")
    alone = fetch("2023-01-01", "2023-01-02")
    inside = whole[whole.datetime_utc.dt.date == dt.date(2023, 1, 1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, inside)
    pd.testing.assert_frame_equal(whole, fetch("2022-12-30", "2023-01-03"))
    other_seed = fetch("2023-01-01", "2023-01-02", seed=43)
    assert not np.allclose(other_seed.consumption_kwh, alone.consumption_kwh)


def test_levels_span_orders_of_magnitude(year: pd.DataFrame) -> None:
    means = year.groupby(["area", "consumer_type"]).consumption_kwh.mean()
    assert len(means) == len(DE35_SERIES)
    assert means.max() / means.min() > 1000
    assert (year.consumption_kwh > 0).all()


def test_daily_weekly_and_yearly_cycles(year: pd.DataFrame) -> None:
    households = year[year.consumer_type == 111]
    by_hour = households.groupby("hour").consumption_kwh.mean()
    assert by_hour.loc[18] > 1.5 * by_hour.loc[3]  # evening peak over night

    services = year[year.consumer_type == 431]
    by_weekday = services.groupby("weekday").consumption_kwh.mean()
    assert by_weekday.loc[[0, 1, 2, 3, 4]].min() > 1.3 * by_weekday.loc[[5, 6]].max()

    by_month = households.groupby("month").consumption_kwh.mean()
    assert by_month.loc[1] > 1.3 * by_month.loc[7]  # heating season


def test_danish_holidays_look_like_sundays(year: pd.DataFrame) -> None:
    services = year[(year.area == "DK1") & (year.consumer_type == 431)]
    daily = services.groupby(
        services.datetime_utc.dt.tz_convert(LOCAL_TZ).dt.date
    ).consumption_kwh.sum()
    # Ascension Day 2022 was Thursday 26 May; compare with the Thursdays around it.
    ascension = daily.loc[dt.date(2022, 5, 26)]
    thursdays = daily.loc[[dt.date(2022, 5, 19), dt.date(2022, 6, 2)]]
    assert ascension < 0.8 * thursdays.min()


def test_anomalies_and_regime_change() -> None:
    plain = fetch("2023-02-01", "2023-02-15")
    spiky = fetch("2023-02-01", "2023-02-15", anomaly_rate=0.02)
    ratio = spiky.consumption_kwh / plain.consumption_kwh
    changed = (~np.isclose(ratio, 1.0, atol=1e-3)).mean()
    assert 0.01 < changed < 0.03
    assert set(np.round(ratio[~np.isclose(ratio, 1.0, atol=1e-3)], 1)) <= {0.3, 2.5}

    shifted = fetch(
        "2023-02-01",
        "2023-02-15",
        regime_change_date=dt.date(2023, 2, 10),
        regime_change_factor=1.5,
    )
    local_day = plain.datetime_utc.dt.tz_convert(LOCAL_TZ).dt.date
    after = local_day >= dt.date(2023, 2, 10)
    np.testing.assert_allclose(
        shifted.consumption_kwh[after], 1.5 * plain.consumption_kwh[after], rtol=1e-3, atol=1
    )
    np.testing.assert_array_equal(shifted.consumption_kwh[~after], plain.consumption_kwh[~after])


def test_labelled_synthetic() -> None:
    source = SimulatorSource(regime_change_date=dt.date(2023, 2, 10))
    assert source.synthetic
    assert source.describe().startswith("SYNTHETIC simulator (seed 42")
    assert "regime change" in source.describe()
