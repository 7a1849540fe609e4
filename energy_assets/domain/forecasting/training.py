"""Training of a weekly model: judged on the last days before its week by a model of the days
before those, then refitted on every day before the week."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.baselines import seasonal_naive
from energy_assets.domain.forecasting.features import ORIGIN, build_features
from energy_assets.domain.forecasting.gate import validation_metrics
from energy_assets.domain.forecasting.leads import train_further_leads, with_further_leads
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
from energy_assets.domain.schema import SERIES, TIME, VALUE, row_keys, series_keys

# Columns of `WeeklyModel.validation_frame` besides the row keys, the series label and the
# actual (VALUE): the checked model's forecasts (PREDICTION, and P10/P90 of its quantile models
# as they came, before any calibration), the served band on the same rows (calibrated on them),
# and each seasonal-naive baseline (named as in `baselines.BASELINES`).
SERVED_P10, SERVED_P90 = "served_p10_kwh", "served_p90_kwh"


@dataclass(frozen=True)
class WeeklyModel:
    model: ForecastModel  # trained on every day before the week
    train_start: pd.Timestamp
    valid_start: pd.Timestamp
    validation: dict[str, dict[str, float]]  # the model and both baselines on the validation days
    forecasts_finite_non_negative: bool  # of the refitted model on the validation days
    features: pd.DataFrame = field(repr=False)  # what the served model trained on
    # The validation days' feature rows, and per (series, hour) the actual, the checked model's
    # forecasts, the served band and the baselines: what the validation metrics were computed on.
    validation_features: pd.DataFrame = field(repr=False)
    validation_frame: pd.DataFrame = field(repr=False)
    # lead -> the further leads' model and both naives at that lead on the validation days
    lead_validation: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)


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
    """The model of the week starting at `week_start`, trained on the `training_weeks` before
    it (fewer where the raw data begins later); `raw` also holds the year before those weeks,
    which the features look back on. With `prices`, the features include the prices. With a
    `horizon` beyond 1 day, a second model forecasts leads 2 .. horizon (see leads.py). With
    `warm_rounds` the served model is the checked one boosted that many rounds more on its
    sample and the validation days, not a refit (bench/warm_start.py: not yet as accurate)."""
    # The first day of data has no day before it to build features from.
    first_possible = raw[TIME].min().ceil("D") + pd.Timedelta(days=1)
    train_start = max(week_start - pd.Timedelta(weeks=training_weeks), first_possible)
    valid_start = week_start - pd.Timedelta(days=validation_days)
    settings = split_params(params)
    # Features are built only for the days the row budget lets the two models train on.
    rows_per_day = 24 * max(1, len(raw.drop_duplicates(series_keys(raw))))
    checked_days = _plan(utc_days(train_start, valid_start), rows_per_day, settings)
    final_days = _plan(utc_days(train_start, week_start), rows_per_day, settings)
    if warm_rounds:
        final_days = pd.concat([checked_days, pd.Series(1.0, utc_days(valid_start, week_start))])
    valid_days = utc_days(valid_start, week_start)
    days = pd.DatetimeIndex(checked_days.index.union(final_days.index).union(valid_days))
    features = build_features(raw, days, prices)
    train = features[features[ORIGIN].isin(checked_days.index)]
    valid = features[features[ORIGIN] >= valid_start]

    checked = fit(train, params, day_factors=checked_days)
    checked_forecast = predict(checked, valid)
    validation = validation_metrics(valid, checked_forecast[PREDICTION].to_numpy(), raw)
    trained_on = features[features[ORIGIN].isin(final_days.index)]
    model = _served(checked, trained_on, valid, params, final_days, warm_rounds)
    lead_validation: dict[int, dict[str, dict[str, float]]] = {}
    if horizon > 1:
        further = train_further_leads(
            raw, prices, utc_days(train_start, valid_start), valid_days, horizon, params, settings
        )
        model = with_further_leads(model, further)
        lead_validation = further.validation
    served = predict(model, valid)
    bands = served[[PREDICTION, P10, P90]].to_numpy()
    return WeeklyModel(
        model=model,
        train_start=train_start,
        valid_start=valid_start,
        validation=validation,
        forecasts_finite_non_negative=bool(np.isfinite(bands).all() and (bands >= 0).all()),
        features=trained_on,
        validation_features=valid,
        validation_frame=_validation_frame(valid, checked_forecast, served, raw),
        lead_validation=lead_validation,
    )


def _served(
    checked: ForecastModel,
    trained_on: pd.DataFrame,
    valid: pd.DataFrame,
    params: Mapping[str, Any],
    final_days: pd.Series,
    warm_rounds: int | None,
) -> ForecastModel:
    """The served model refits the point forecast with the validation days (or boosts the
    checked one further) and keeps the checked model's quantile models, calibrated on the
    validation days they never saw: split-conformal prediction as such, and two fewer models
    to train."""
    if warm_rounds:
        model = continue_fit(checked, trained_on, params, warm_rounds, final_days)
    else:
        model = fit(trained_on, params, quantiles=(), day_factors=final_days)
    model.quantiles = checked.quantiles
    model.band_widening = band_widening(checked, valid)
    return model


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
