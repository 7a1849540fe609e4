"""Training of a weekly model: judged on the last days before its week by a model of the days
before those, then refitted on every day before the week."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.features import FEATURES, ORIGIN, build_features
from energy_assets.domain.forecasting.gate import validation_metrics
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, ForecastModel, fit, predict
from energy_assets.domain.schema import TIME


@dataclass(frozen=True)
class WeeklyModel:
    model: ForecastModel  # trained on every day before the week
    train_start: pd.Timestamp
    valid_start: pd.Timestamp
    validation: dict[str, dict[str, float]]  # the model and both baselines on the validation days
    forecasts_finite_non_negative: bool  # of the refitted model on the validation days
    input_example: pd.DataFrame  # a few feature rows, for the model's signature


def train_weekly_model(
    raw: pd.DataFrame, week_start: pd.Timestamp, validation_days: int, params: Mapping[str, Any]
) -> WeeklyModel:
    """The model of the week starting at `week_start`, from the raw data before it."""
    # The first day has no day before it to build features from.
    train_start = raw[TIME].min().ceil("D") + pd.Timedelta(days=1)
    features = build_features(raw, utc_days(train_start, week_start))
    valid_start = week_start - pd.Timedelta(days=validation_days)
    train = features[features[ORIGIN] < valid_start]
    valid = features[features[ORIGIN] >= valid_start]

    checked = fit(train, params, quantiles=())
    validation = validation_metrics(valid, predict(checked, valid)[PREDICTION].to_numpy(), raw)
    model = fit(features, params)
    bands = predict(model, valid)[[PREDICTION, P10, P90]].to_numpy()
    return WeeklyModel(
        model=model,
        train_start=train_start,
        valid_start=valid_start,
        validation=validation,
        forecasts_finite_non_negative=bool(np.isfinite(bands).all() and (bands >= 0).all()),
        input_example=valid[FEATURES].head(5),
    )
