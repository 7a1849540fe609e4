"""Training of a weekly model: judged on the last days before its week by a model of the days
before those, then refitted on every day before the week."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.features import ORIGIN, build_features
from energy_assets.domain.forecasting.gate import validation_metrics
from energy_assets.domain.forecasting.model import (
    P10,
    P90,
    PREDICTION,
    ForecastModel,
    TrainingParams,
    band_widening,
    day_sample,
    fit,
    predict,
    split_params,
)
from energy_assets.domain.schema import TIME, series_keys


@dataclass(frozen=True)
class WeeklyModel:
    model: ForecastModel  # trained on every day before the week
    train_start: pd.Timestamp
    valid_start: pd.Timestamp
    validation: dict[str, dict[str, float]]  # the model and both baselines on the validation days
    forecasts_finite_non_negative: bool  # of the refitted model on the validation days
    input_example: pd.DataFrame  # a few feature rows, for the model's signature
    features: pd.DataFrame = field(repr=False)  # what the served model trained on


def train_weekly_model(
    raw: pd.DataFrame,
    week_start: pd.Timestamp,
    *,
    training_weeks: int,
    validation_days: int,
    params: Mapping[str, Any],
) -> WeeklyModel:
    """The model of the week starting at `week_start`, trained on the `training_weeks` before
    it (fewer where the raw data begins later); `raw` also holds the year before those weeks,
    which the features look back on."""
    # The first day of data has no day before it to build features from.
    first_possible = raw[TIME].min().ceil("D") + pd.Timedelta(days=1)
    train_start = max(week_start - pd.Timedelta(weeks=training_weeks), first_possible)
    valid_start = week_start - pd.Timedelta(days=validation_days)
    settings = split_params(params)
    # Features are built only for the days the row budget lets the two models train on.
    rows_per_day = 24 * max(1, len(raw.drop_duplicates(series_keys(raw))))
    checked_days = _plan(utc_days(train_start, valid_start), rows_per_day, settings)
    final_days = _plan(utc_days(train_start, week_start), rows_per_day, settings)
    valid_days = utc_days(valid_start, week_start)
    days = pd.DatetimeIndex(checked_days.index.union(final_days.index).union(valid_days))
    features = build_features(raw, days)
    train = features[features[ORIGIN].isin(checked_days.index)]
    valid = features[features[ORIGIN] >= valid_start]

    checked = fit(train, params, day_factors=checked_days)
    validation = validation_metrics(valid, predict(checked, valid)[PREDICTION].to_numpy(), raw)
    # The served model refits the point forecast with the validation days and keeps the checked
    # model's quantile models, calibrated on the validation days they never saw: split-conformal
    # prediction as such, and two fewer models to train.
    trained_on = features[features[ORIGIN].isin(final_days.index)]
    model = fit(trained_on, params, quantiles=(), day_factors=final_days)
    model.quantiles = checked.quantiles
    model.band_widening = band_widening(checked, valid)
    bands = predict(model, valid)[[PREDICTION, P10, P90]].to_numpy()
    return WeeklyModel(
        model=model,
        train_start=train_start,
        valid_start=valid_start,
        validation=validation,
        forecasts_finite_non_negative=bool(np.isfinite(bands).all() and (bands >= 0).all()),
        input_example=valid[model.point.feature_name()].head(5),
        features=trained_on,
    )


def _plan(days: pd.DatetimeIndex, rows_per_day: int, params: TrainingParams) -> pd.Series:
    """The sample of `days` a model trains on (each day's weight factor); the newest hour is
    the last of the last day, as in the recency weights."""
    newest = days[-1] + pd.Timedelta(hours=23)
    return day_sample(days, np.full(len(days), rows_per_day), newest, params)
