"""Price features: each forecast uses only the prices published before its origin (13:00 Danish
time on the day before each Danish day), by the series' own price area."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.forecasting.features import (
    NUMERIC,
    PRICE_FEATURES,
    build_features,
    feature_columns,
)
from energy_assets.domain.prices import PRICE_COLUMNS, PRICE_DKK, PRICE_EUR, published_at
from energy_assets.domain.schema import AREA, TIME, hours
from energy_assets.domain.sources.simulator import SimulatorSource

START = pd.Timestamp("2023-02-01", tz="UTC")
DAY = pd.Timestamp("2023-03-01", tz="UTC")  # winter time: Danish midnight is 23:00 UTC


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return SimulatorSource(seed=1).fetch(START, DAY + pd.Timedelta(days=2))


def prices_of(areas: tuple[str, ...]) -> pd.DataFrame:
    """Each hour's price is its hour count since START, per area (DK2 1000 higher)."""
    grid = hours(START - pd.Timedelta(days=10), DAY + pd.Timedelta(days=3))
    parts = [
        pd.DataFrame(
            {
                TIME: grid,
                AREA: area,
                PRICE_EUR: np.arange(len(grid), dtype="float64") + 1000.0 * i,
                PRICE_DKK: np.nan,
            }
        )
        for i, area in enumerate(areas)
    ]
    return pd.concat(parts, ignore_index=True)[PRICE_COLUMNS]


def test_the_price_of_a_danish_day_is_public_at_13_on_the_day_before() -> None:
    at = published_at(
        pd.DatetimeIndex(
            [
                pd.Timestamp("2023-03-01 22:00", tz="UTC"),  # 23:00 Danish, 1 March
                pd.Timestamp("2023-03-01 23:00", tz="UTC"),  # 00:00 Danish, 2 March
                pd.Timestamp("2023-07-01 21:00", tz="UTC"),  # summer: 23:00 Danish, 1 July
                pd.Timestamp("2023-07-01 22:00", tz="UTC"),  # 00:00 Danish, 2 July
            ]
        )
    )
    assert list(at) == [
        pd.Timestamp("2023-02-28 12:00", tz="UTC"),
        pd.Timestamp("2023-03-01 12:00", tz="UTC"),
        pd.Timestamp("2023-06-30 11:00", tz="UTC"),
        pd.Timestamp("2023-07-01 11:00", tz="UTC"),
    ]


def test_a_forecast_sees_only_the_prices_published_before_its_origin(
    history: pd.DataFrame,
) -> None:
    prices = prices_of(("DK1", "DK2"))
    features = build_features(history, [DAY], prices)
    dk1 = features[features[AREA] == "DK1"].drop_duplicates(TIME).set_index(TIME)
    price = prices[prices[AREA] == "DK1"].set_index(TIME)[PRICE_EUR]
    # 00:00 .. 22:00 UTC belong to Danish 1 March, auctioned on 28 February: known.
    known = dk1.index[dk1.index < DAY + pd.Timedelta(hours=23)]
    assert len(known) == 23
    assert (dk1.loc[known, "p_hour"] == price.loc[known]).all()
    # 23:00 UTC is Danish 2 March, auctioned at 13:00 on 1 March, after the 00:00 origin.
    assert np.isnan(dk1.loc[DAY + pd.Timedelta(hours=23), "p_hour"])
    day_mean = price.loc[known].mean()
    assert dk1["p_vs_day"].iloc[0] == pytest.approx(price.loc[DAY] - day_mean)
    assert (dk1.loc[known, "p_vs_lag24"] == 24.0).all()  # each hour's price is its hour count
    week = price.loc[DAY - pd.Timedelta(hours=168) : DAY - pd.Timedelta(hours=1)]
    assert dk1["p_day_vs_week"].iloc[0] == pytest.approx(day_mean - week.mean())


def test_the_features_do_not_change_when_later_prices_arrive(history: pd.DataFrame) -> None:
    prices = prices_of(("DK1", "DK2"))
    published_by_origin = prices[published_at(pd.DatetimeIndex(prices[TIME])) <= DAY]
    every = build_features(history, [DAY], prices)
    only_then = build_features(history, [DAY], published_by_origin)
    pd.testing.assert_frame_equal(every, only_then)


def test_each_series_gets_its_own_areas_prices_and_none_without_them(
    history: pd.DataFrame,
) -> None:
    features = build_features(history, [DAY], prices_of(("DK1",)))
    at_midnight = features[features[TIME] == DAY]
    assert at_midnight.loc[at_midnight[AREA] == "DK1", "p_hour"].notna().all()
    assert at_midnight.loc[at_midnight[AREA] == "DK2", PRICE_FEATURES].isna().all().all()


def test_prices_of_an_area_without_series_are_an_error(history: pd.DataFrame) -> None:
    dk1_only = history[history[AREA] == "DK1"]
    with pytest.raises(ValueError, match=r"prices of areas \['DK2'\] match no series"):
        build_features(dk1_only, [DAY], prices_of(("DK1", "DK2")))


def test_without_prices_the_features_are_as_before(history: pd.DataFrame) -> None:
    plain = build_features(history, [DAY])
    assert not set(PRICE_FEATURES) & set(plain.columns)
    assert feature_columns(plain)[-len(NUMERIC) :] == NUMERIC
    with_prices = build_features(history, [DAY], prices_of(("DK1", "DK2")))
    pd.testing.assert_frame_equal(with_prices.drop(columns=PRICE_FEATURES), plain)
    assert feature_columns(with_prices)[-len(PRICE_FEATURES) :] == PRICE_FEATURES
