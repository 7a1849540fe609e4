"""Training of a weekly model: judged on the last days before its week by a model of the days
before those (with a week of validation days: the previous week's served model), then refitted
on every day before the week."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.baselines import seasonal_naive
from energy_assets.domain.forecasting.features import DAY, ORIGIN, build_features
from energy_assets.domain.forecasting.gate import validation_metrics
from energy_assets.domain.forecasting.leads import (
    FurtherPlan,
    plan_further_leads,
    train_further_leads,
    with_further_leads,
)
from energy_assets.domain.forecasting.model import (
    P10,
    P90,
    PREDICTION,
    ForecastModel,
    TrainingParams,
    band_widening,
    continue_fit,
    day_sample,
    fit,
    predict,
    split_params,
)
from energy_assets.domain.forecasting.request_form import days_of, history_windows, price_window
from energy_assets.domain.schema import SERIES, TIME, VALUE, row_keys, series_keys

# Columns of `WeeklyModel.validation_frame` besides the row keys, the series label and the
# actual (VALUE): the checked model's forecasts (PREDICTION, and P10/P90 of its quantile models
# as they came, before any calibration), the served band on the same rows (calibrated on them),
# and each seasonal-naive baseline (named as in `baselines.BASELINES`).
SERVED_P10, SERVED_P90 = "served_p10_kwh", "served_p90_kwh"


@dataclass(frozen=True)
class WeeklyModel:
    model: ForecastModel  # trained on every day before the week
    plan: WeekPlan
    validation: dict[str, dict[str, float]]  # the model and both baselines on the validation days
    forecasts_finite_non_negative: bool  # of the refitted model on the validation days
    features: pd.DataFrame = field(repr=False)  # what the served model trained on
    # The validation days' feature rows, and per (series, hour) the actual, the checked model's
    # forecasts, the served band and the baselines: what the validation metrics were computed on.
    validation_features: pd.DataFrame = field(repr=False)
    validation_frame: pd.DataFrame = field(repr=False)
    # lead -> the further leads' model and both naives at that lead on the validation days
    lead_validation: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    # The served point model with quantile models of its own, where asked for: the checked
    # model of the next week (see reusable_checked).
    checkable: ForecastModel | None = field(default=None, repr=False)

    @property
    def train_start(self) -> pd.Timestamp:
        return self.plan.train_start

    @property
    def valid_start(self) -> pd.Timestamp:
        return self.plan.valid_start

    def reusable(self) -> WeeklyModel | None:
        """What the next week may reuse of this one (see reusable_checked), without the
        frames: None where there is nothing to reuse."""
        if self.checkable is None:
            return None
        empty = self.features.iloc[:0]
        return replace(
            self,
            features=empty,
            validation_features=empty,
            validation_frame=self.validation_frame.iloc[:0],
        )


@dataclass(frozen=True)
class WeekPlan:
    """What a week's training reads and fits on, worked out before any data is read: the row
    samples of its models (days with their weight factors) and so the raw days it needs."""

    week_start: pd.Timestamp
    train_start: pd.Timestamp  # of the served model; the checked model's starts a week earlier
    valid_start: pd.Timestamp
    checked_days: pd.Series  # the checked model's sample: day -> weight factor
    final_days: pd.Series  # the served model's
    further: FurtherPlan | None  # the further leads' model's, with a horizon beyond 1 day

    @property
    def valid_days(self) -> pd.DatetimeIndex:
        return utc_days(self.valid_start, self.week_start)

    def _day_ahead_days(self) -> pd.DatetimeIndex:
        """The days of the day-ahead models' features: both samples and the validation days."""
        days = pd.DatetimeIndex(self.final_days.index).union(self.valid_days)
        return days.union(pd.DatetimeIndex(self.checked_days.index))

    def raw_days(self) -> pd.DatetimeIndex:
        """The UTC days of consumption the week's training reads: each sampled day, its
        features' history, and the validation days' baselines. The checked model's sample is
        read even where that model is reused, so a week reads the same days in any run."""
        spans = [
            span
            for day in self._day_ahead_days()
            for span in ((day, day + DAY), *history_windows(day, 1))
        ]
        if self.further is not None:
            spans += self.further.spans()
        return days_of(spans)

    def price_days(self) -> pd.DatetimeIndex:
        """The UTC days of day-ahead prices the week's features read, before the week."""
        spans = [price_window(day, 1) for day in self._day_ahead_days()]
        if self.further is not None:
            spans += [price_window(o, self.further.horizon) for o in self.further.all_origins()]
        return days_of([(start, min(end, self.week_start)) for start, end in spans])


def plan_week(
    first_day: pd.Timestamp,
    week_start: pd.Timestamp,
    n_series: int,
    *,
    training_weeks: int,
    validation_days: int,
    params: Mapping[str, Any],
    horizon: int = 1,
) -> WeekPlan:
    """The plan of the week starting at `week_start`, with raw data from `first_day` on: the
    served model trains on the `training_weeks` before the week (fewer where the data begins
    later), the checked model on the `training_weeks` before the validation days, so that with
    a week of validation days it is the previous week's served model."""
    settings = split_params(params)
    # The first day of data has no day before it to build features from.
    first_possible = first_day.ceil("D") + DAY
    span = pd.Timedelta(weeks=training_weeks)
    train_start = max(week_start - span, first_possible)
    valid_start = week_start - pd.Timedelta(days=validation_days)
    rows_per_day = 24 * max(1, n_series)
    checked_start = max(valid_start - span, first_possible)
    return WeekPlan(
        week_start=week_start,
        train_start=train_start,
        valid_start=valid_start,
        checked_days=_plan(utc_days(checked_start, valid_start), rows_per_day, settings),
        final_days=_plan(utc_days(train_start, week_start), rows_per_day, settings),
        further=plan_further_leads(
            utc_days(train_start, valid_start),
            utc_days(valid_start, week_start),
            horizon,
            n_series,
            settings,
        )
        if horizon > 1
        else None,
    )


def train_weekly_model(
    raw: pd.DataFrame,
    week_start: pd.Timestamp,
    *,
    training_weeks: int,
    validation_days: int,
    params: Mapping[str, Any],
    prices: pd.DataFrame | None = None,
    horizon: int = 1,
    warm_rounds: int | None = None,
) -> WeeklyModel:
    """The model of the week starting at `week_start` (see plan_week) from `raw`, which also
    holds the year before the training weeks that the features look back on. With `prices`,
    the features include the prices. With a `horizon` beyond 1 day, a second model forecasts
    leads 2 .. horizon (see leads.py)."""
    n_series = len(raw.drop_duplicates(series_keys(raw)))
    plan = plan_week(
        raw[TIME].min(),
        week_start,
        n_series,
        training_weeks=training_weeks,
        validation_days=validation_days,
        params=params,
        horizon=horizon,
    )
    return train_week(raw, plan, params, prices, warm_rounds=warm_rounds)


def train_week(
    raw: pd.DataFrame,
    plan: WeekPlan,
    params: Mapping[str, Any],
    prices: pd.DataFrame | None = None,
    *,
    checked: ForecastModel | None = None,
    keep_checkable: bool = False,
    warm_rounds: int | None = None,
) -> WeeklyModel:
    """The week's models as `plan` has them, from `raw` (holding at least `plan.raw_days()`).
    `checked`: the checked model where already fitted (the previous week's served model, see
    `reusable_checked`). `keep_checkable`: also fit the served model's own quantile models, so
    that it can be the next week's checked model. With `warm_rounds` the served model is the
    checked one boosted that many rounds more (bench/warm_start.py: not yet as accurate)."""
    final_days = plan.final_days
    if warm_rounds:
        final_days = pd.concat([plan.checked_days, pd.Series(1.0, plan.valid_days)])
    days = pd.DatetimeIndex(final_days.index).union(plan.valid_days)
    if checked is None:
        days = days.union(pd.DatetimeIndex(plan.checked_days.index))
    features = build_features(raw, days, prices)
    valid = features[features[ORIGIN] >= plan.valid_start]
    if checked is None:
        train = features[features[ORIGIN].isin(plan.checked_days.index)]
        checked = fit(train, params, day_factors=plan.checked_days)
    checked_forecast = predict(checked, valid)
    validation = validation_metrics(valid, checked_forecast[PREDICTION].to_numpy(), raw)
    trained_on = features[features[ORIGIN].isin(final_days.index)]
    model, checkable = _served(
        checked, trained_on, valid, params, final_days, warm_rounds, keep_checkable
    )
    lead_validation: dict[int, dict[str, dict[str, float]]] = {}
    if plan.further is not None:
        further = train_further_leads(raw, prices, plan.further, params)
        model = with_further_leads(model, further)
        lead_validation = further.validation
    served = predict(model, valid)
    bands = served[[PREDICTION, P10, P90]].to_numpy()
    return WeeklyModel(
        model=model,
        plan=plan,
        validation=validation,
        forecasts_finite_non_negative=bool(np.isfinite(bands).all() and (bands >= 0).all()),
        features=trained_on,
        validation_features=valid,
        validation_frame=_validation_frame(valid, checked_forecast, served, raw),
        lead_validation=lead_validation,
        checkable=checkable,
    )


def reusable_checked(previous: WeeklyModel | None, plan: WeekPlan) -> ForecastModel | None:
    """The previous week's served model as this week's checked model, where it was trained on
    exactly the checked model's sample (with its own quantile models): the same fit, made once."""
    if previous is None or previous.checkable is None:
        return None
    if not previous.plan.final_days.equals(plan.checked_days):
        return None
    return previous.checkable


def _served(
    checked: ForecastModel,
    trained_on: pd.DataFrame,
    valid: pd.DataFrame,
    params: Mapping[str, Any],
    final_days: pd.Series,
    warm_rounds: int | None,
    keep_checkable: bool,
) -> tuple[ForecastModel, ForecastModel | None]:
    """The served model refits the point forecast with the validation days (or boosts the
    checked one further) and keeps the checked model's quantile models, calibrated on the
    validation days they never saw: split-conformal prediction as such. With `keep_checkable`
    the refit also fits quantile models of its own: the same model, as a checked model."""
    if warm_rounds:
        fitted = continue_fit(checked, trained_on, params, warm_rounds, final_days)
    else:
        quantiles = (0.1, 0.9) if keep_checkable else ()
        fitted = fit(trained_on, params, quantiles=quantiles, day_factors=final_days)
    checkable = fitted if keep_checkable and fitted.quantiles else None
    model = ForecastModel(
        point=fitted.point,
        members=fitted.members,
        quantiles=checked.quantiles,
        band_widening=band_widening(checked, valid),
    )
    return model, checkable


def _validation_frame(
    valid: pd.DataFrame, checked: pd.DataFrame, served: pd.DataFrame, raw: pd.DataFrame
) -> pd.DataFrame:
    """Per validation row: keys, series label, actual, the checked model's forecast and band,
    the served band, and both baselines (rows in the features' order)."""
    keys = row_keys(series_keys(valid))
    frame = valid[[*keys, SERIES, VALUE]].reset_index(drop=True)
    frame[PREDICTION] = checked[PREDICTION].to_numpy()
    for column in (P10, P90):
        frame[column] = checked[column].to_numpy() if column in checked else np.nan
    frame[SERVED_P10] = served[P10].to_numpy() if P10 in served else np.nan
    frame[SERVED_P90] = served[P90].to_numpy() if P90 in served else np.nan
    return frame.merge(seasonal_naive(raw, list(valid[ORIGIN].unique())), on=keys, how="left")


def _plan(days: pd.DatetimeIndex, rows_per_day: int, params: TrainingParams) -> pd.Series:
    """The sample of `days` a model trains on (each day's weight factor); the newest hour is
    the last of the last day, as in the recency weights."""
    newest = days[-1] + pd.Timedelta(hours=23)
    return day_sample(days, np.full(len(days), rows_per_day), newest, params)
