"""Seasonal-naive baselines: the same hour yesterday, and the same hour last week."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.grid import to_grid
from energy_assets.domain.schema import TIME, key_values

BASELINES = {"naive_24h": 24, "naive_168h": 168}


def seasonal_naive(history: pd.DataFrame, days: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Each baseline's forecast for every (hour of the given UTC days, series of `history`), in
    canonical order."""
    origins = pd.DatetimeIndex(sorted({pd.Timestamp(d).tz_convert("UTC").floor("D") for d in days}))
    start = origins[0] - pd.Timedelta(hours=max(BASELINES.values()))
    grid = to_grid(history, start, origins[-1] + pd.Timedelta(days=1))
    hours = origins.repeat(24) + pd.to_timedelta(np.tile(np.arange(24), len(origins)), unit="h")
    pos = grid.index_of(hours)
    keys = grid.series.frame()
    frame = pd.DataFrame({TIME: np.repeat(hours, len(grid.series))})
    for key in grid.series.keys:
        frame[key] = key_values(np.tile(keys[key].to_numpy(), len(hours)), key)
    for name, lag in BASELINES.items():
        frame[name] = grid.at(pos - lag).T.ravel()
    return frame
