"""Seasonal-naive baselines: the same hour on the newest known day, and the same hour and
weekday in the newest known week (at lead 1: the same hour yesterday and last week)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.grid import HourlyGrid, to_grid
from energy_assets.domain.schema import TIME, key_values

BASELINES = {"naive_24h": 24, "naive_168h": 168}
# The same two baselines at any lead, as the report by lead names them.
LEAD_BASELINES = {"naive_last_day": "naive_24h", "naive_last_week": "naive_168h"}


def baseline_lags(lead: int) -> dict[str, int]:
    """Hours back from a target hour to each baseline's hour at `lead` days: the newest known
    day is `lead` days before the target day, the newest known week ceil(lead / 7) weeks."""
    return {"naive_24h": 24 * lead, "naive_168h": 168 * math.ceil(lead / 7)}


def seasonal_naive(
    history: pd.DataFrame,
    days: Sequence[pd.Timestamp],
    lead: int = 1,
    grid: HourlyGrid | None = None,
) -> pd.DataFrame:
    """Each baseline's forecast for every (hour of the given UTC days, series of `history`) made
    `lead` days ahead, in canonical order (from `grid`, the history's, where one is built)."""
    lags = baseline_lags(lead)
    origins = pd.DatetimeIndex(sorted({pd.Timestamp(d).tz_convert("UTC").floor("D") for d in days}))
    start = origins[0] - pd.Timedelta(hours=max(lags.values()))
    if grid is None:
        grid = to_grid(history, start, origins[-1] + pd.Timedelta(days=1))
    hours = origins.repeat(24) + pd.to_timedelta(np.tile(np.arange(24), len(origins)), unit="h")
    pos = grid.index_of(hours)
    keys = grid.series.frame()
    frame = pd.DataFrame({TIME: np.repeat(hours, len(grid.series))})
    for key in grid.series.keys:
        frame[key] = key_values(np.tile(keys[key].to_numpy(), len(hours)), key)
    for name, lag in lags.items():
        frame[name] = grid.at(pos - lag).T.ravel()
    return frame
