"""Forecasts at every lead: the features of lead L read only the data up to the end of the newest
known day and the prices published when the forecast is issued; lead 1 is the day-ahead forecast
as before; the baselines and the backtest score each lead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.forecasting.backtest import backtest
from energy_assets.domain.forecasting.baselines import baseline_lags, seasonal_naive
from energy_assets.domain.forecasting.features import (
    LEAD,
    ORIGIN,
    PRICE_FEATURES,
    SCALE,
    TARGET,
    build_features,
    build_origin_features,
    feature_columns,
)
from energy_assets.domain.forecasting.leads import issued_after
from energy_assets.domain.prices import published_at
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, TIME, VALUE
from energy_assets.domain.sources.prices import SimulatedPrices
from energy_assets.domain.sources.simulator import SimulatorSource

ORIGINS = pd.DatetimeIndex(["2023-03-06", "2023-03-07"], tz="UTC")
LEADS = (1, 3, 7, 10)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = SimulatorSource(seed=3).fetch(
        pd.Timestamp("2022-02-01", tz="UTC"), pd.Timestamp("2023-03-20", tz="UTC")
    )
    return frame[frame[CONSUMER_TYPE].isin([111, 441, 999])].reset_index(drop=True)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return SimulatedPrices(seed=3).fetch(
        pd.Timestamp("2022-02-01", tz="UTC"), pd.Timestamp("2023-03-20", tz="UTC")
    )


def test_lead_one_alone_is_the_day_ahead_forecast_and_its_rows_are_the_same_among_leads(
    history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    alone = build_features(history, ORIGINS, prices)
    assert LEAD not in alone.columns
    among = build_origin_features(history, ORIGINS, prices, LEADS)
    assert set(among[LEAD]) == set(LEADS)
    lead_one = among[among[LEAD] == 1].drop(columns=LEAD).reset_index(drop=True)
    consumption = [c for c in alone.columns if c not in PRICE_FEATURES]
    pd.testing.assert_frame_equal(lead_one[consumption], alone[consumption])


def test_each_lead_forecasts_its_own_day(history: pd.DataFrame) -> None:
    frame = build_origin_features(history, ORIGINS, None, LEADS)
    day = (frame[TIME].dt.floor("D") - frame[ORIGIN]).dt.days + 1
    assert (day == frame[LEAD]).all()
    assert (frame["horizon"] == 24 * (frame[LEAD] - 1) + frame[TIME].dt.hour).all()
    assert len(frame) == len(ORIGINS) * len(LEADS) * 24 * 6  # six series


@pytest.mark.parametrize("lead", LEADS)
def test_no_feature_reads_data_after_the_newest_known_day(
    history: pd.DataFrame, prices: pd.DataFrame, lead: int
) -> None:
    # Everything after the origin is changed: no feature (only the target) may move.
    origin = ORIGINS[:1]
    before = build_origin_features(history, origin, prices, (lead,))
    changed = history.copy()
    after = changed[TIME] >= origin[0]
    changed.loc[after, VALUE] = changed.loc[after, VALUE] * 3.0 + 5.0
    moved = build_origin_features(changed, origin, prices, (lead,))
    features = [c for c in feature_columns(before) if c not in ("series",)]
    pd.testing.assert_frame_equal(before[[*features, SCALE]], moved[[*features, SCALE]])
    assert not np.allclose(before[TARGET], moved[TARGET])


def test_prices_are_those_published_when_the_forecast_is_issued(
    history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    after = issued_after(max(LEADS))
    assert after == pd.Timedelta(days=8, hours=12)  # 12:00 UTC the day before lead 10's day
    frame = build_origin_features(history, ORIGINS[:1], prices, LEADS, after)
    issued = ORIGINS[0] + after
    public = published_at(pd.DatetimeIndex(frame[TIME])) <= issued
    assert frame.loc[~public, "p_hour"].isna().all()
    assert frame.loc[public, "p_hour"].notna().all()
    # Lead 10's day is auctioned the day before it, at 13:00 Danish time: known bar its last hour.
    far = frame[frame[LEAD] == 10]
    assert far["p_hour"].notna().sum() == 23 * 6
    # Issued at the origin, as lead 1 alone is, the later days have no prices.
    at_origin = build_origin_features(history, ORIGINS[:1], prices, LEADS)
    assert at_origin.loc[at_origin[LEAD] > 1, "p_hour"].isna().all()


@pytest.mark.parametrize("lead", [1, 3, 7, 8, 10])
def test_the_baselines_at_a_lead_repeat_the_newest_known_day_and_week(
    history: pd.DataFrame, lead: int
) -> None:
    day = pd.Timestamp("2023-03-10", tz="UTC")
    naive = seasonal_naive(history, [day], lead=lead)
    lags = baseline_lags(lead)
    assert lags == {"naive_24h": 24 * lead, "naive_168h": 168 * (1 if lead <= 7 else 2)}
    newest_known = day - pd.Timedelta(days=lead - 1)  # the origin: nothing from it on is known
    values = history.set_index([TIME, AREA, CONSUMER_TYPE])[VALUE]
    for name, lag in lags.items():
        source = naive[TIME] - pd.Timedelta(hours=lag)
        assert (source < newest_known).all()
        expected = values.reindex(
            pd.MultiIndex.from_arrays([source, naive[AREA], naive[CONSUMER_TYPE]])
        ).to_numpy()
        np.testing.assert_array_equal(naive[name].to_numpy(), expected)


def test_the_backtest_scores_every_lead_on_the_same_days(
    history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    start, end = pd.Timestamp("2023-03-13", tz="UTC"), pd.Timestamp("2023-03-15", tz="UTC")
    params = {"num_boost_round": 30}
    result = backtest(history, start, end, params, refit="weekly", prices=prices, leads=(3, 1))
    assert sorted(result.by_lead) == [1, 3]
    for scores in result.by_lead.values():
        assert set(scores) == {"model", "naive_last_day", "naive_last_week"}
        assert all(np.isfinite(s["wape"]) for s in scores.values())
    # The top level is lead 1, scored on the asked days with the day-ahead baselines' names.
    assert set(result.summary) == {"model", "naive_24h", "naive_168h"}
    assert result.summary["model"] == result.by_lead[1]["model"]
    assert result.forecasts[TIME].dt.floor("D").nunique() == 3
    assert result.by_lead[3]["naive_last_day"] != result.by_lead[1]["naive_last_day"]
    report = result.to_json_dict()
    assert set(report["by_lead"]) == {"1", "3"}
