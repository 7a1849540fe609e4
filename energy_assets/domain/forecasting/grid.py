"""Canonical long frames as a dense (series x hour) matrix, for vectorised lags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_assets.domain.schema import TIME, VALUE
from energy_assets.domain.series import SeriesSet

HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class HourlyGrid:
    """values[s, i] is series s at hour start + i; NaN where unknown."""

    start: pd.Timestamp
    series: SeriesSet
    values: np.ndarray

    @property
    def n_hours(self) -> int:
        return int(self.values.shape[1])

    def index_of(self, times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
        """Hour positions of UTC times (may fall outside the grid)."""
        stamps = pd.DatetimeIndex(times)
        return ((stamps - self.start) // HOUR).to_numpy(dtype="int64")

    def at(self, positions: np.ndarray) -> np.ndarray:
        """values[:, positions] with NaN outside the grid; shape (series, len(positions))."""
        return columns_at(self.values, positions)


def columns_at(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values[:, positions] of a (rows x hours) matrix, NaN where a position is outside it."""
    inside = (positions >= 0) & (positions < values.shape[1])
    out = np.full((values.shape[0], len(positions)), np.nan)
    out[:, inside] = values[:, positions[inside]]
    return out


def to_grid(
    history: pd.DataFrame,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    series: SeriesSet | None = None,
) -> HourlyGrid:
    """Dense matrix of `history` over [start, end) (default: its own span), one row per series
    of `series` (default: the series `history` holds)."""
    series = series if series is not None else SeriesSet.of(history)
    times = history[TIME]
    start = pd.Timestamp(start if start is not None else times.min()).floor("h")
    end = pd.Timestamp(end if end is not None else times.max() + HOUR)
    n_hours = max(int((end - start) // HOUR), 0)
    values = np.full((len(series), n_hours), np.nan)
    if len(history) and n_hours:
        # Only the rows inside the window are placed: matching a row to its series is the
        # costly part, and a window is often a small part of a long history.
        cols = ((times - start) // HOUR).to_numpy(dtype="int64")
        inside = np.flatnonzero((cols >= 0) & (cols < n_hours))
        rows = series.positions(history.iloc[inside])
        keep = rows >= 0
        cells = history[VALUE].to_numpy(dtype="float64")[inside]
        values[rows[keep], cols[inside][keep]] = cells[keep]
    return HourlyGrid(start=start, series=series, values=values)
