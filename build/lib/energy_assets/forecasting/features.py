"""Features for direct day-ahead forecasts.

A forecast made at an origin (an hour start; 00:00 UTC for the daily forecast of a UTC day)
covers the 24 hours that follow it. Every feature reads only hours before the origin: lags of
24 h and more of the target hour, and statistics of the hours before the origin. Values are
divided by each series' mean over the 168 hours before the origin (`scale`), so one global model
serves series whose levels differ by three orders of magnitude; the model predicts the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_assets.calendar import LOCAL_TZ, is_christmas_lull, is_holiday
from energy_assets.forecasting.grid import HOUR, to_grid
from energy_assets.schema import AREA, AREAS, CONSUMER_TYPE, SERIES, TIME, VALUE

DAY = pd.Timedelta(days=1)
HORIZON = 24
LOOKBACK = pd.Timedelta(hours=336 + HORIZON)  # the longest lag from the last hour of a horizon
LAGS = (24, 48, 72, 168, 336)

ORIGIN = "origin"
SCALE = "scale"
TARGET = "target_ratio"
CATEGORICAL = ["series_id", "area_id", "consumer_type"]
NUMERIC = [
    *(f"r_lag{k}" for k in LAGS),
    "r_same_hour_mean7",
    "r_same_hour_min7",
    "r_same_hour_max7",
    "r_mean_24h",
    "r_mean_48h",
    "r_max_24h",
    "r_min_24h",
    "r_last_1h",
    "r_last_6h",
    "r_lag24_of_24h",
    "r_lag168_of_24h",
    "a_lag24",
    "a_lag168",
    "a_mean_24h",
    "a_last_6h",
    "log_scale",
    "horizon",
    "hour_local",
    "dow_local",
    "is_holiday",
    "is_rest_day",
    "rest_lag24",
    "rest_lag168",
    "christmas",
]
FEATURES = CATEGORICAL + NUMERIC
OUTPUT_COLUMNS = [ORIGIN, TIME, AREA, *[f for f in FEATURES if f != AREA], SCALE, VALUE, TARGET]


def _ratio(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, values / scale, np.nan)


class _Trailing:
    """Means over [origin - k, origin) of each row of a (rows x hours) matrix, NaN-aware."""

    def __init__(self, values: np.ndarray) -> None:
        known = np.isfinite(values)
        zeros = np.zeros((values.shape[0], 1))
        self.sums = np.hstack([zeros, np.cumsum(np.where(known, values, 0.0), axis=1)])
        self.counts = np.hstack([zeros, np.cumsum(known, axis=1)])

    def mean(self, origin_pos: np.ndarray, hours: int, end_offset: int = 0) -> np.ndarray:
        hi = np.clip(origin_pos - end_offset, 0, self.sums.shape[1] - 1)
        lo = np.clip(origin_pos - end_offset - hours, 0, self.sums.shape[1] - 1)
        count = self.counts[:, hi] - self.counts[:, lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, (self.sums[:, hi] - self.sums[:, lo]) / count, np.nan)


def _rest_days(local_dates: pd.Index) -> np.ndarray:
    weekday = np.fromiter((d.weekday() for d in local_dates), dtype="int64", count=len(local_dates))
    return (weekday >= 5) | is_holiday(local_dates)


def daily_origins(days: Sequence[pd.Timestamp] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """00:00 UTC of each day, sorted and unique."""
    return pd.DatetimeIndex(sorted({pd.Timestamp(d).tz_convert("UTC").floor("D") for d in days}))


def build_features(
    history: pd.DataFrame, days: Sequence[pd.Timestamp] | pd.DatetimeIndex
) -> pd.DataFrame:
    """Features of the daily forecasts of the given UTC days (origin 00:00 of each day)."""
    return build_origin_features(history, daily_origins(days))


def build_origin_features(history: pd.DataFrame, origins: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per (origin, hour of its horizon, series): features, `scale` and the target.

    `history` is canonical long data. Rows are ordered by origin, then canonical order.
    """
    if len(origins) == 0:
        raise ValueError("no origins to build features for")
    origins = pd.DatetimeIndex(origins).tz_convert("UTC")
    n_series, n_origins = len(SERIES), len(origins)
    grid = to_grid(history, origins.min() - LOOKBACK, origins.max() + HORIZON * HOUR, SERIES)

    opos = grid.index_of(origins)  # (O,)
    horizon = np.tile(np.arange(HORIZON), n_origins)  # (N,)
    origin_of_row = np.repeat(np.arange(n_origins), HORIZON)  # (N,)
    pos = opos[origin_of_row] + horizon
    times = origins[origin_of_row] + pd.to_timedelta(horizon, unit="h")

    # Statistics of the hours before each origin: (S, O), then per row.
    trailing = _Trailing(grid.values)
    mean_24h = trailing.mean(opos, 24)
    mean_48h = trailing.mean(opos, 48)
    scale_o = trailing.mean(opos, 168)
    scale_o = np.where(np.isfinite(scale_o), scale_o, mean_24h)
    last_24 = np.stack([grid.at(opos - k) for k in range(1, 25)])  # (24, S, O)
    with np.errstate(invalid="ignore"):
        max_24h = np.max(np.where(np.isnan(last_24), -np.inf, last_24), axis=0)
        min_24h = np.min(np.where(np.isnan(last_24), np.inf, last_24), axis=0)
    per_origin = {
        "mean_24h": mean_24h,
        "mean_48h": mean_48h,
        "max_24h": np.where(np.isfinite(max_24h), max_24h, np.nan),
        "min_24h": np.where(np.isfinite(min_24h), min_24h, np.nan),
        "last_1h": last_24[0],
        "last_6h": trailing.mean(opos, 6),
        "mean_week_ago": trailing.mean(opos, 24, end_offset=144),
    }
    scale = scale_o[:, origin_of_row]
    o = {k: v[:, origin_of_row] for k, v in per_origin.items()}

    lags = {k: grid.at(pos - k) for k in LAGS}
    same_hour = np.stack([grid.at(pos - 24 * k) for k in range(1, 8)])
    with np.errstate(invalid="ignore"):
        sh_min = np.min(np.where(np.isnan(same_hour), np.inf, same_hour), axis=0)
        sh_max = np.max(np.where(np.isnan(same_hour), -np.inf, same_hour), axis=0)
    sh_count = np.isfinite(same_hour).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sh_mean = np.where(sh_count > 0, np.nansum(same_hour, axis=0) / sh_count, np.nan)
    target = grid.at(pos)

    # Area totals carry shocks common to every series of an area (a cold spell, a holiday).
    area_of = np.array([AREAS.index(a) for a, _ in SERIES])
    totals = np.stack([grid.values[area_of == i].sum(axis=0) for i in range(len(AREAS))])
    area_trailing = _Trailing(totals)
    area_scale = area_trailing.mean(opos, 168)[:, origin_of_row]

    def area_at(positions: np.ndarray) -> np.ndarray:
        inside = (positions >= 0) & (positions < grid.n_hours)
        out = np.full((len(AREAS), len(positions)), np.nan)
        out[:, inside] = totals[:, positions[inside]]
        return out

    def area(values: np.ndarray) -> np.ndarray:
        return _ratio(values, area_scale)[area_of]

    columns: dict[str, np.ndarray] = {
        **{f"r_lag{k}": _ratio(v, scale) for k, v in lags.items()},
        "r_same_hour_mean7": _ratio(sh_mean, scale),
        "r_same_hour_min7": _ratio(np.where(np.isfinite(sh_min), sh_min, np.nan), scale),
        "r_same_hour_max7": _ratio(np.where(np.isfinite(sh_max), sh_max, np.nan), scale),
        "r_mean_24h": _ratio(o["mean_24h"], scale),
        "r_mean_48h": _ratio(o["mean_48h"], scale),
        "r_max_24h": _ratio(o["max_24h"], scale),
        "r_min_24h": _ratio(o["min_24h"], scale),
        "r_last_1h": _ratio(o["last_1h"], scale),
        "r_last_6h": _ratio(o["last_6h"], scale),
        "r_lag24_of_24h": _ratio(lags[24], o["mean_24h"]),
        "r_lag168_of_24h": _ratio(lags[168], o["mean_week_ago"]),
        "a_lag24": area(area_at(pos - 24)),
        "a_lag168": area(area_at(pos - 168)),
        "a_mean_24h": area(area_trailing.mean(opos, 24)[:, origin_of_row]),
        "a_last_6h": area(area_trailing.mean(opos, 6)[:, origin_of_row]),
        "log_scale": np.log10(np.where(scale > 0, scale, np.nan)),
        SCALE: scale,
        VALUE: target,
        TARGET: _ratio(target, scale),
    }

    local = times.tz_convert(LOCAL_TZ)
    local_dates = pd.Index(local.date)
    calendar = {
        "horizon": horizon,
        "hour_local": local.hour.to_numpy(),
        "dow_local": local.dayofweek.to_numpy(),
        "is_holiday": is_holiday(local_dates),
        "is_rest_day": _rest_days(local_dates),
        "rest_lag24": _rest_days(pd.Index((times - 24 * HOUR).tz_convert(LOCAL_TZ).date)),
        "rest_lag168": _rest_days(pd.Index((times - 168 * HOUR).tz_convert(LOCAL_TZ).date)),
        "christmas": is_christmas_lull(local_dates),
    }

    # (S, N) -> rows ordered by origin, hour, then series (canonical order within an origin).
    n_rows = len(times)
    frame = pd.DataFrame({name: values.T.ravel() for name, values in columns.items()})
    frame[ORIGIN] = np.repeat(origins[origin_of_row], n_series)
    frame[TIME] = np.repeat(times, n_series)
    frame[AREA] = pd.array(np.tile([a for a, _ in SERIES], n_rows), dtype="string")
    frame[CONSUMER_TYPE] = np.tile([c for _, c in SERIES], n_rows).astype("int64")
    frame["series_id"] = np.tile(np.arange(n_series), n_rows)
    frame["area_id"] = np.tile(area_of, n_rows)
    for name, values in calendar.items():
        frame[name] = np.repeat(values.astype("int64"), n_series)
    return frame[OUTPUT_COLUMNS]
