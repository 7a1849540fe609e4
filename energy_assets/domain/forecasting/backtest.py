"""Rolling-origin day-ahead backtest: for each day, train on everything before it, forecast it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import BASELINES, seasonal_naive
from energy_assets.domain.forecasting.features import HORIZON, ORIGIN, build_features
from energy_assets.domain.forecasting.model import PREDICTION, fit, predict
from energy_assets.domain.schema import TIME, VALUE, row_keys, series_keys

MODEL = "model"


@dataclass
class BacktestResult:
    forecasts: pd.DataFrame  # keys, actual, model and baseline forecasts, per hour
    summary: dict[str, dict[str, float]]  # method -> wape, bias, mape_median, mape_mean
    per_series: pd.DataFrame  # one row per series and method

    def to_json_dict(self) -> dict[str, Any]:
        rows = self.per_series.to_dict(orient="records")
        return {**self.summary, "per_series": rows}


REFITS = ("daily", "weekly")


def refit_groups(origins: pd.DatetimeIndex, refit: str) -> list[pd.DatetimeIndex]:
    """The origins each model forecasts: one model a day, or one a Monday-to-Sunday week (as
    the pipeline's weekly models)."""
    if refit == "daily":
        return [origins[i : i + 1] for i in range(len(origins))]
    if refit == "weekly":
        weeks = origins - pd.to_timedelta(origins.dayofweek, unit="D")
        return [origins[weeks == week] for week in weeks.unique()]
    raise ValueError(f"refit must be one of {', '.join(REFITS)}, got {refit!r}")


def backtest(
    history: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    params: Mapping[str, Any] | None = None,
    refit: str = "daily",
    on_model: Callable[[int, int], None] | None = None,
    on_origin: Callable[[int, int], None] | None = None,
    prices: pd.DataFrame | None = None,
) -> BacktestResult:
    """Origins at 00:00 UTC of each day from `start` to `end` inclusive; each model is trained
    on everything known before the first origin it forecasts. `on_model(done, total)` is
    called after each model, `on_origin(done, total)` after each origin is forecast (with
    weekly refits, once per origin of the week when its model has forecast them). With
    `prices`, the features include the day-ahead prices published before each origin."""
    origins = pd.date_range(start.floor("D"), end.floor("D"), freq="D", tz="UTC")
    groups = refit_groups(origins, refit)
    # Features at an origin depend only on data before it, so one build serves every fit.
    first = (history[TIME].min() + pd.Timedelta(hours=24)).ceil("D")
    train = build_features(history, pd.date_range(first, origins[-1], freq="D", tz="UTC"), prices)
    test = build_features(history, list(origins), prices)
    parts = []
    forecast = 0
    for done, group in enumerate(groups, start=1):
        # Only horizons whose hours all lie before the first forecast origin are known.
        known = train[ORIGIN] <= group[0] - pd.Timedelta(hours=HORIZON)
        model = fit(train[known], params, quantiles=())
        parts.append(predict(model, test[test[ORIGIN].isin(group)]))
        if on_model:
            on_model(done, len(groups))
        for _ in group:
            forecast += 1
            if on_origin:
                on_origin(forecast, len(origins))
    return _scored(pd.concat(parts, ignore_index=True), test, history, origins)


def _scored(
    predicted: pd.DataFrame, test: pd.DataFrame, history: pd.DataFrame, origins: pd.DatetimeIndex
) -> BacktestResult:
    """The model's forecasts beside the actuals and both baselines, summarised."""
    keys = row_keys(series_keys(test))
    forecasts = predicted.rename(columns={PREDICTION: MODEL})
    forecasts = forecasts.merge(test[[*keys, VALUE]], on=keys).merge(
        seasonal_naive(history, list(origins)), on=keys
    )
    methods = [MODEL, *BASELINES]
    summary = {m: metrics.summary(forecasts, VALUE, m) for m in methods}
    per_series = pd.concat(
        [metrics.per_series(forecasts, VALUE, m).assign(method=m) for m in methods],
        ignore_index=True,
    )
    return BacktestResult(
        forecasts=forecasts.sort_values([TIME, *keys[:-1]]).reset_index(drop=True),
        summary=summary,
        per_series=per_series,
    )
