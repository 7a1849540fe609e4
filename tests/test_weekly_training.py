"""A week's training plan: the raw days it reads are all its models need, and the week before's
served model is this week's checked model, fitted once instead of twice."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, predict
from energy_assets.domain.forecasting.request_form import days_of, rows_of_days
from energy_assets.domain.forecasting.training import (
    WeeklyModel,
    WeekPlan,
    plan_week,
    reusable_checked,
    train_week,
)
from energy_assets.domain.schema import CONSUMER_TYPE, TIME
from energy_assets.domain.sources.prices import SimulatedPrices
from energy_assets.domain.sources.simulator import SimulatorSource

FIRST = pd.Timestamp("2021-06-01", tz="UTC")
W1, W2 = pd.Timestamp("2023-03-06", tz="UTC"), pd.Timestamp("2023-03-13", tz="UTC")
# A row budget of a few weeks over 20 months of history: the samples leave days unread.
PARAMS = {"num_boost_round": 25, "num_leaves": 8, "max_training_rows": 2_500}
HORIZON = 4
N_SERIES = 3


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = SimulatorSource(seed=5).fetch(FIRST, W2)
    return frame[frame[CONSUMER_TYPE].isin([111, 441, 999])].reset_index(drop=True)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return SimulatedPrices(seed=5).fetch(FIRST, W2)


def plan(week: pd.Timestamp, n_series: int = N_SERIES) -> WeekPlan:
    return plan_week(
        FIRST,
        week,
        n_series,
        training_weeks=60,
        validation_days=7,
        params=PARAMS,
        horizon=HORIZON,
    )


def train(
    history: pd.DataFrame, prices: pd.DataFrame, week_plan: WeekPlan, **kwargs: object
) -> WeeklyModel:
    before = week_plan.week_start
    return train_week(
        history[history[TIME] < before],
        week_plan,
        PARAMS,
        prices[prices[TIME] < before],
        **kwargs,  # type: ignore[arg-type]
    )


def forecasts(trained: WeeklyModel) -> pd.DataFrame:
    out = predict(trained.model, trained.validation_features)[[PREDICTION, P10, P90]]
    return out.reset_index(drop=True)


@pytest.fixture(scope="module")
def alone(history: pd.DataFrame, prices: pd.DataFrame) -> WeeklyModel:
    """W2's models as a run of that week alone trains them (its checked model fitted)."""
    return train(history, prices, plan(W2))


def test_a_week_reads_only_the_days_its_samples_need_and_trains_the_same_from_them(
    history: pd.DataFrame, prices: pd.DataFrame, alone: WeeklyModel
) -> None:
    week_plan = plan(W2)
    days = week_plan.raw_days()
    stored = pd.DatetimeIndex(history[TIME].dt.floor("D").unique())
    read = stored[stored.isin(days)]
    # At this row budget whole months of the history are never read (92 of 650 days here);
    # the validation days and the served model's sample always are.
    assert len(stored) - len(read) >= 60
    assert week_plan.valid_days.isin(read).all()
    assert pd.DatetimeIndex(week_plan.final_days.index).isin(read).all()
    price_days = week_plan.price_days()
    assert price_days.max() < W2  # nothing from the week itself
    sparse = train_week(
        rows_of_days(history, days),
        week_plan,
        PARAMS,
        rows_of_days(prices, price_days),
    )
    assert sparse.validation == alone.validation
    assert sparse.lead_validation == alone.lead_validation
    pd.testing.assert_frame_equal(forecasts(sparse), forecasts(alone))


def test_the_week_befores_served_model_is_this_weeks_checked_model(
    history: pd.DataFrame, prices: pd.DataFrame, alone: WeeklyModel
) -> None:
    first = train(history, prices, plan(W1), keep_checkable=True)
    assert first.checkable is not None and first.checkable.quantiles
    # The served model keeps the checked model's calibrated band, not its own quantile models.
    assert first.model.quantiles is not first.checkable.quantiles
    pd.testing.assert_series_equal(first.plan.final_days, plan(W2).checked_days)
    checked = reusable_checked(first, plan(W2))
    assert checked is first.checkable
    reused = train(history, prices, plan(W2), checked=checked)
    # The same verdict, band and forecasts as the week trained alone.
    assert reused.validation == alone.validation
    assert reused.model.band_widening == alone.model.band_widening
    pd.testing.assert_frame_equal(forecasts(reused), forecasts(alone))
    pd.testing.assert_frame_equal(reused.validation_frame, alone.validation_frame)


def test_a_checked_model_is_reused_only_when_trained_on_the_same_sample(
    history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    first = train(history, prices, plan(W1), keep_checkable=True)
    # Another series count gives another row budget per day, so another sample.
    assert reusable_checked(first, plan(W2, n_series=N_SERIES + 1)) is None
    # Two weeks on: the checked model's window is not the week before's.
    assert reusable_checked(first, plan(W2 + pd.Timedelta(weeks=1))) is None
    assert reusable_checked(dataclasses.replace(first, checkable=None), plan(W2)) is None
    assert reusable_checked(None, plan(W2)) is None


def test_days_of_spans_and_rows_of_days() -> None:
    t = pd.Timestamp
    spans = [
        (t("2023-01-01 23:00", tz="UTC"), t("2023-01-02 01:00", tz="UTC")),
        (t("2023-01-05", tz="UTC"), t("2023-01-06", tz="UTC")),  # ends at midnight
        (t("2023-01-09", tz="UTC"), t("2023-01-09", tz="UTC")),  # empty
    ]
    assert list(days_of(spans).strftime("%m-%d")) == ["01-01", "01-02", "01-05"]
    assert days_of([]).empty
    hours = pd.date_range("2023-01-01", periods=24 * 6, freq="h", tz="UTC")
    frame = pd.DataFrame({TIME: hours, "v": np.arange(len(hours))})
    kept = rows_of_days(frame, days_of(spans))
    assert kept[TIME].dt.strftime("%m-%d").unique().tolist() == ["01-01", "01-02", "01-05"]
    assert len(kept) == 72
