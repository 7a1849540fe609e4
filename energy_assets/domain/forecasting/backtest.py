"""Rolling-origin day-ahead backtest: for each day, train on everything before it, forecast it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import BASELINES, seasonal_naive
from energy_assets.domain.forecasting.features import HORIZON, ORIGIN, build_features
from energy_assets.domain.forecasting.model import PREDICTION, fit, predict
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, KEYS, TIME, VALUE

MODEL = "model"


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame  # keys, actual, model and baseline forecasts, per hour
    summary: dict[str, dict[str, float]]  # method -> wape, bias, mape_median, mape_mean
    per_series: pd.DataFrame  # one row per series and method

    def to_json_dict(self) -> dict[str, Any]:
        rows = self.per_series.to_dict(orient="records")
        return {**self.summary, "per_series": rows}


def backtest(
    history: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    params: Mapping[str, Any] | None = None,
) -> BacktestResult:
    """Origins at 00:00 UTC of each day from `start` to `end` inclusive."""
    origins = pd.date_range(start.floor("D"), end.floor("D"), freq="D", tz="UTC")
    # Features at an origin depend only on data before it, so one build serves every fit.
    first = (history[TIME].min() + pd.Timedelta(hours=24)).ceil("D")
    train = build_features(history, pd.date_range(first, origins[-1], freq="D", tz="UTC"))
    test = build_features(history, list(origins))
    parts = []
    for origin in origins:
        # Only horizons whose hours all lie before the forecast origin are known.
        known = train[ORIGIN] <= origin - pd.Timedelta(hours=HORIZON)
        model = fit(train[known], params, quantiles=())
        parts.append(predict(model, test[test[ORIGIN] == origin]))
    forecasts = pd.concat(parts, ignore_index=True).rename(columns={PREDICTION: MODEL})
    forecasts = forecasts.merge(test[[*KEYS, VALUE]], on=KEYS).merge(
        seasonal_naive(history, list(origins)), on=KEYS
    )
    methods = [MODEL, *BASELINES]
    summary = {m: metrics.summary(forecasts, VALUE, m) for m in methods}
    per_series = pd.concat(
        [metrics.per_series(forecasts, VALUE, m).assign(method=m) for m in methods],
        ignore_index=True,
    )
    return BacktestResult(
        forecasts=forecasts.sort_values([TIME, AREA, CONSUMER_TYPE]).reset_index(drop=True),
        summary=summary,
        per_series=per_series,
    )
