"""Forecasts at every lead: the features of lead L read only the data up to the end of the newest
known day and the prices published when the forecast is issued; lead 1 is the day-ahead forecast
as before; the baselines and the backtest score each lead."""

from __future__ import annotations

import dataclasses

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
    history_grid,
)
from energy_assets.domain.forecasting.leads import (
    issue_features,
    issued_after,
    lead_features,
    rotating_leads,
)
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, predict
from energy_assets.domain.forecasting.training import WeeklyModel, train_weekly_model
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


@pytest.fixture(scope="module")
def weekly(history: pd.DataFrame, prices: pd.DataFrame) -> WeeklyModel:
    """A week's model reaching 5 days, trained on the simulated history before 2023-03-13."""
    return train_weekly_model(
        history[history[TIME] < WEEK],
        WEEK,
        training_weeks=8,
        validation_days=7,
        params={"num_boost_round": 60},
        prices=prices,
        horizon=5,
    )


WEEK = pd.Timestamp("2023-03-13", tz="UTC")


def test_a_weekly_model_forecasts_every_lead_each_with_the_band_of_its_lead(
    weekly: WeeklyModel, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    model = weekly.model
    assert model.further is not None and model.horizon == 5
    assert sorted(model.lead_bands) == [2, 3, 4, 5]
    assert sorted(weekly.lead_validation) == [2, 3, 4, 5]
    for scores in weekly.lead_validation.values():
        assert set(scores) == {"model", "naive_last_day", "naive_last_week"}
        assert np.isfinite(scores["model"]["wape"])
    # The further leads' forecasts of an issue: every day, finite, inside their band.
    further = issue_features(history, pd.DatetimeIndex([WEEK]), prices, 5)
    forecast = predict(model, further)
    assert sorted(forecast[LEAD].unique()) == [2, 3, 4, 5]
    assert list(forecast[TIME]) == list(further[TIME])  # the input's order
    values = forecast[[P10, PREDICTION, P90]].to_numpy()
    assert np.isfinite(values).all()
    assert (values[:, 0] <= values[:, 1]).all() and (values[:, 1] <= values[:, 2]).all()
    # Its point forecast is the further leads' model's, not the day-ahead model's.
    day_ahead = predict(model, further.drop(columns=LEAD))
    assert not np.allclose(day_ahead[PREDICTION], forecast[PREDICTION])


def test_a_day_ahead_model_refuses_further_leads_by_name(
    weekly: WeeklyModel, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    day_ahead_only = dataclasses.replace(weekly.model, further=None, lead_bands={})
    further = issue_features(history, pd.DatetimeIndex([WEEK]), prices, 3)
    with pytest.raises(ValueError, match="forecasts the day ahead only; retrain its week"):
        predict(day_ahead_only, further)
    beyond = issue_features(history, pd.DatetimeIndex([WEEK]), prices, 6)
    with pytest.raises(ValueError, match="forecasts leads up to 5, not 6"):
        predict(weekly.model, beyond)


def test_an_issue_is_dated_by_its_farthest_day() -> None:
    origin = pd.Timestamp("2023-03-13", tz="UTC")
    assert origin + issued_after(1) == origin  # the day ahead: at its origin
    # Leads to 14: at noon UTC on the day before the 14th day, after its auction.
    assert origin + issued_after(14) == pd.Timestamp("2023-03-25 12:00", tz="UTC")
    assert list(rotating_leads(pd.date_range(origin, periods=4, tz="UTC"), 3)) in (
        [2, 3, 2, 3],
        [3, 2, 3, 2],
    )


def test_features_read_from_one_shared_grid_are_those_of_their_own(
    history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    """Training builds the history's grid once for every lead; each lead's features are the
    ones it would build alone (up to the rounding of sums over a longer span)."""
    origins = pd.DatetimeIndex(["2023-02-06", "2023-02-20", "2023-03-01"], tz="UTC")
    leads = np.array([2, 5, 5])
    grid = history_grid(history, origins.union(ORIGINS), 10)
    shared = lead_features(history, origins, leads, prices, 10, grid)
    alone = lead_features(history, origins, leads, prices, 10)
    pd.testing.assert_frame_equal(shared, alone, rtol=1e-9)
    naive = seasonal_naive(history, list(ORIGINS), lead=3, grid=grid)
    pd.testing.assert_frame_equal(naive, seasonal_naive(history, list(ORIGINS), lead=3))
