"""Forecasts beyond the day ahead. Consumption is published days late, so each daily issue
forecasts every day from the one after the newest published day (lead 1, its origin) through
tomorrow (lead `horizon`), all from the same newest known day.

An issue is dated as the pipeline issues it: at 12:00 UTC on the day before its farthest day,
after that day's auction; every feature reads the consumption before the origin and the prices
published by then. Pure pandas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import LEAD_BASELINES, seasonal_naive
from energy_assets.domain.forecasting.features import (
    HORIZON,
    LEAD,
    ORIGIN,
    SCALE,
    build_origin_features,
    history_grid,
)
from energy_assets.domain.forecasting.grid import HourlyGrid
from energy_assets.domain.forecasting.model import (
    ForecastModel,
    TrainingParams,
    day_sample,
    design,
    fit,
    lead_band,
)
from energy_assets.domain.forecasting.request_form import history_windows
from energy_assets.domain.schema import TIME, VALUE, row_keys, series_keys

ISSUED_AT = "issued_at"  # when the issue that made a forecast was made (see issued_after)


def issued_after(horizon: int) -> pd.Timedelta:
    """How long after its origin an issue reaching `horizon` days is made: at 12:00 UTC on the
    day before its farthest day (after that day's auction); at the origin for the day ahead."""
    return max(pd.Timedelta(0), pd.Timedelta(days=horizon - 1) - pd.Timedelta(hours=12))


def further_leads(horizon: int) -> list[int]:
    return list(range(2, horizon + 1))


def rotating_leads(origins: pd.DatetimeIndex, horizon: int) -> np.ndarray:
    """One further lead per origin, in turn by the origin's day number: a training sample of
    origins covers every lead evenly at the row cost of one lead."""
    days = (origins.tz_convert("UTC").tz_localize(None) - pd.Timestamp(0)).days.to_numpy()
    return 2 + days % (horizon - 1)


def lead_features(
    history: pd.DataFrame,
    origins: pd.DatetimeIndex,
    leads: np.ndarray,
    prices: pd.DataFrame | None,
    horizon: int,
    grid: HourlyGrid | None = None,
) -> pd.DataFrame:
    """Features of the further lead `leads[i]` from `origins[i]`, each as an issue reaching
    `horizon` days makes it (ordered by lead, then origin); `grid` as in build_origin_features."""
    after = issued_after(horizon)
    grid = grid if grid is not None else history_grid(history, origins, horizon)
    parts = [
        build_origin_features(history, origins[leads == lead], prices, [int(lead)], after, grid)
        for lead in np.unique(leads)
    ]
    return pd.concat(parts, ignore_index=True)


def issue_features(
    history: pd.DataFrame,
    origins: pd.DatetimeIndex,
    prices: pd.DataFrame | None,
    horizon: int,
) -> pd.DataFrame:
    """Features of every further lead (2 .. horizon) of each origin's issue."""
    return build_origin_features(
        history, origins, prices, further_leads(horizon), issued_after(horizon)
    )


@dataclass(frozen=True)
class FurtherLeads:
    model: ForecastModel  # the further leads' point model, with no band of its own
    bands: dict[int, tuple[float, float]]  # lead -> log-error P10/P90 on the held-out days
    # lead -> model and both naives at that lead (metrics.summary) on the held-out days
    validation: dict[int, dict[str, dict[str, float]]]


@dataclass(frozen=True)
class FurtherPlan:
    """The further leads' model's sample (one rotating lead per sampled origin, each origin's
    weight factor) and its check: every held-out day at every further lead."""

    horizon: int
    factors: pd.Series  # sampled origin -> weight factor
    leads: np.ndarray  # the lead of each sampled origin
    held_out: pd.DatetimeIndex

    def check(self) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """The origins and leads of the check rows: each held-out day from L - 1 days before."""
        lead = np.repeat(further_leads(self.horizon), len(self.held_out))
        days = self.held_out.tz_convert("UTC").tz_localize(None).to_numpy()
        target = pd.DatetimeIndex(np.tile(days, self.horizon - 1)).tz_localize("UTC")
        return target - pd.to_timedelta(lead - 1, "D"), lead

    def all_origins(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.factors.index).union(self.check()[0])

    def spans(self) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """The spans of consumption the model's features, targets and baselines read."""
        check, check_leads = self.check()
        origins = [*self.factors.index, *check]
        leads = [*self.leads, *check_leads]
        out = []
        for origin, lead in zip(origins, leads, strict=True):
            target = origin + pd.Timedelta(days=int(lead) - 1)
            out += [(target, target + pd.Timedelta(days=1)), *history_windows(origin, self.horizon)]
        return out


def plan_further_leads(
    origins: pd.DatetimeIndex,
    held_out: pd.DatetimeIndex,
    horizon: int,
    n_series: int,
    settings: TrainingParams,
) -> FurtherPlan:
    """One rotating lead per origin of `origins`, sampled within the row budget as the
    day-ahead model's days are; only rows known before the first held-out day."""
    leads = rotating_leads(origins, horizon)
    # An origin's row at lead L is known once its day has passed, before the held-out days.
    known = origins + pd.to_timedelta(leads, unit="D") <= held_out[0]
    origins, leads = origins[known], leads[known]
    rows_per_origin = HORIZON * max(1, n_series)
    newest = origins[-1] + pd.Timedelta(hours=HORIZON - 1)
    factors = day_sample(origins, np.full(len(origins), rows_per_origin), newest, settings)
    chosen = pd.Series(leads, index=origins).loc[factors.index].to_numpy()
    return FurtherPlan(horizon, factors, chosen, held_out)


def train_further_leads(
    raw: pd.DataFrame,
    prices: pd.DataFrame | None,
    plan: FurtherPlan,
    params: Mapping[str, Any],
) -> FurtherLeads:
    """The further leads' model of a week, trained as `plan` samples it, then judged and given
    its band on the held-out days at every lead."""
    horizon, sampled = plan.horizon, pd.DatetimeIndex(plan.factors.index)
    check_origins, lead = plan.check()
    # One grid of the history for every lead's features and baselines.
    grid = history_grid(raw, sampled.union(check_origins), horizon)
    train = lead_features(raw, sampled, plan.leads, prices, horizon, grid)
    model = fit(train, params, quantiles=(), day_factors=plan.factors, sample_by=ORIGIN)
    check = lead_features(raw, check_origins, lead, prices, horizon, grid)
    log_point = model.log_ratio(design(check, model.point.feature_name()))
    bands = lead_band(model, check, log_point)
    return FurtherLeads(model, bands, _validation(check, log_point, raw, plan.held_out, grid))


def _validation(
    check: pd.DataFrame,
    log_point: np.ndarray,
    raw: pd.DataFrame,
    days: pd.DatetimeIndex,
    grid: HourlyGrid,
) -> dict[int, dict[str, dict[str, float]]]:
    """The model (its log point forecasts of the `check` rows) and both naives per lead."""
    keys = row_keys(series_keys(check))
    point = np.exp(log_point) * check[SCALE].to_numpy(dtype="float64")
    forecast = check[[*keys, LEAD, VALUE]].assign(model=point)
    out: dict[int, dict[str, dict[str, float]]] = {}
    for lead in sorted(forecast[LEAD].unique()):
        rows = forecast[forecast[LEAD] == lead]
        naive = seasonal_naive(raw, list(days), lead=int(lead), grid=grid)
        scored = rows.merge(naive, on=keys)
        out[int(lead)] = {
            "model": metrics.summary(scored, VALUE, "model"),
            **{name: metrics.summary(scored, VALUE, col) for name, col in LEAD_BASELINES.items()},
        }
    return out


def with_further_leads(model: ForecastModel, further: FurtherLeads) -> ForecastModel:
    """The day-ahead model that also forecasts the further leads."""
    model.further = further.model
    model.lead_bands = dict(further.bands)
    return model


def issue_frame(forecasts: pd.DataFrame, origin_of: pd.Series, horizon: int) -> pd.DataFrame:
    """Forecasts of one or more issues with the columns that date them: `origin`, `lead_days`
    and `issued_at` (`origin_of` gives each row's origin)."""
    origin = pd.DatetimeIndex(origin_of)
    out = forecasts.copy()
    out[ORIGIN] = origin
    # Rows without a lead are the day-ahead model's.
    out[LEAD] = out[LEAD].fillna(1).astype("int64") if LEAD in out.columns else 1
    out[ISSUED_AT] = origin + issued_after(horizon)
    first = [ORIGIN, LEAD, ISSUED_AT, TIME]
    return out[[*first, *(c for c in out.columns if c not in first)]]
