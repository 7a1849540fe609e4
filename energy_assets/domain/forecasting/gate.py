"""The promotion gate's rules: a weekly model serves only if it beats both seasonal-naive
baselines on its validation days and forecasts finite, non-negative values."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import BASELINES, seasonal_naive
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.schema import VALUE, row_keys, series_keys

JUDGED_METRICS = ("wape", "mape_median")


def validation_metrics(
    features: pd.DataFrame, forecast: np.ndarray, history: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """The model and both seasonal-naive baselines on the same rows."""
    keys = row_keys(series_keys(features))
    frame = features[[*keys, VALUE]].assign(model=forecast)
    frame = frame.merge(seasonal_naive(history, list(features[ORIGIN].unique())), on=keys)
    return {m: metrics.summary(frame, VALUE, m) for m in ("model", *BASELINES)}


def gate_verdict(
    validation: Mapping[str, Mapping[str, float]], forecasts_finite_non_negative: bool
) -> tuple[bool, list[str]]:
    """Whether the model may serve, and every rule it breaks. A tie is not a win, and a baseline
    that could not be computed is nothing the model has been shown to beat."""
    problems = []
    for baseline in BASELINES:
        for key in JUDGED_METRICS:
            model, other = validation["model"][key], validation[baseline][key]
            if not (np.isfinite(model) and model < other):
                problems.append(f"{key} {model:.4f} does not beat {baseline} {other:.4f}")
    if not forecasts_finite_non_negative:
        problems.append("forecasts are not all finite and non-negative")
    return not problems, problems
