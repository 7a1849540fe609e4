"""Seasonal-naive baselines: the same hour yesterday, and the same hour last week."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.grid import to_grid
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, SERIES, TIME

BASELINES = {"naive_24h": 24, "naive_168h": 168}


def seasonal_naive(history: pd.DataFrame, days: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Each baseline's forecast for every (hour of the given UTC days, series), canonical order."""
    origins = pd.DatetimeIndex(sorted({pd.Timestamp(d).tz_convert("UTC").floor("D") for d in days}))
    start = origins[0] - pd.Timedelta(hours=max(BASELINES.values()))
    grid = to_grid(history, start, origins[-1] + pd.Timedelta(days=1), SERIES)
    hours = origins.repeat(24) + pd.to_timedelta(np.tile(np.arange(24), len(origins)), unit="h")
    pos = grid.index_of(hours)
    n_series = len(SERIES)
    frame = pd.DataFrame(
        {
            TIME: np.repeat(hours, n_series),
            AREA: pd.array(np.tile([a for a, _ in SERIES], len(hours)), dtype="string"),
            CONSUMER_TYPE: np.tile([c for _, c in SERIES], len(hours)).astype("int64"),
        }
    )
    for name, lag in BASELINES.items():
        frame[name] = grid.at(pos - lag).T.ravel()
    return frame
