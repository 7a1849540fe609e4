"""Features for direct day-ahead forecasts.

A forecast made at an origin (an hour start; 00:00 UTC for the daily forecast of a UTC day)
covers the 24 hours that follow it. Every feature reads only hours before the origin: lags of
24 h and more of the target hour, statistics of the hours before the origin, and the same hour
a year (52 weeks) before. Values are divided by each series' mean over the 168 hours before the
origin (`scale`), so one global model serves series whose levels differ by three orders of
magnitude; the model predicts the ratio.

A series is identified by the key columns of the history (`energy_assets.domain.schema`); its
label and key columns are the categorical features, whatever the dataset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import (
    LOCAL_TZ,
    is_christmas_lull,
    is_holiday,
    utc_days,
)
from energy_assets.domain.forecasting.grid import HOUR, HourlyGrid, columns_at, to_grid
from energy_assets.domain.prices import PRICE_EUR, published_at
from energy_assets.domain.schema import AREA, SERIES, TIME, VALUE, key_values, series_keys
from energy_assets.domain.series import SeriesSet

DAY = pd.Timedelta(days=1)
HORIZON = 24
LAGS = (24, 48, 72, 168, 336)
YEAR_HOURS = 364 * 24  # 52 weeks: the same weekday a year before
# The longest reach back from the last hour of a horizon: a year, and the week before it.
LOOKBACK = pd.Timedelta(hours=YEAR_HOURS + 168 + HORIZON)
LOOKBACK_DAYS = math.ceil(LOOKBACK / DAY)  # whole days of raw data before a forecast day

ORIGIN = "origin"
LEAD = "lead_days"  # with more than one lead: days from the origin's day to the row's, from 1
SCALE = "scale"
TARGET = "target_ratio"
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
    "ly_same_hour",
    "ly_level",
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
    "week_of_year",
    "day_of_year",
    "year_sin",
    "year_cos",
]
# Day-ahead prices of the series' price area (EUR/MWh), where prices are given: the target
# hour's price, its difference from the target day's mean price and from the same hour the day
# before, and the day's mean against the trailing week's. Differences, not ratios: prices can be
# zero or negative. (A difference from the trailing week's mean added nothing on the Aalborg
# 2023 backtest; the one from the day before took its WAPE from 3.77% to 3.70%.)
PRICE_KNOWN = "p_hour"  # the feature whose presence means the row's hour had a price
PRICE_FEATURES = [PRICE_KNOWN, "p_vs_day", "p_vs_lag24", "p_day_vs_week"]
# Beyond lead 1, what is known of the days between the newest known day and the row's day:
# how the level a year before moved over that gap, and how the prices did (the mean of the gap's
# published prices against the week before the origin).
GAP_FEATURES = ["season_gap", "p_gap_vs_week", "p_vs_lag168"]
PRICE_LOOKBACK_DAYS = 8  # the trailing week before the origin, and the day before that week
# Known once a year of history exists.
YEAR_FEATURES = ["ly_same_hour", "ly_level"]
# Places in the year: a model learns from them only with more than a year of history.
SEASON_FEATURES = ["week_of_year", "day_of_year", "year_sin", "year_cos"]
# The features' values come from consumption; the rest are the calendar and the horizon.
VALUE_FEATURES = [f for f in NUMERIC if f.startswith(("r_", "ly_", "a_")) or f == "log_scale"]


def categorical_features(frame: pd.DataFrame) -> list[str]:
    """The series label and each key column: the identity of a row's series."""
    return [SERIES, *series_keys(frame)]


def feature_columns(frame: pd.DataFrame) -> list[str]:
    optional = [c for c in (*PRICE_FEATURES, *GAP_FEATURES) if c in frame.columns]
    return [*categorical_features(frame), *NUMERIC, *optional]


def learnable_features(train: pd.DataFrame) -> list[str]:
    """The features a model can learn from these rows: not one that is never known in them,
    nor a place in the year before a whole year is covered (it would only tell the training
    days apart)."""
    span = train[ORIGIN].max() - train[ORIGIN].min() if len(train) else pd.Timedelta(0)
    covers_a_year = span >= pd.Timedelta(days=365)
    return [
        c
        for c in feature_columns(train)
        if train[c].notna().any() and (covers_a_year or c not in SEASON_FEATURES)
    ]


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
    history: pd.DataFrame,
    days: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    prices: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of the daily forecasts of the given UTC days (origin 00:00 of each day); with
    `prices` (canonical hourly prices, energy_assets/domain/prices.py), the price features."""
    return build_origin_features(history, daily_origins(days), prices)


def raw_days_for(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The UTC days of raw data that the features of the days in [start, end) read."""
    return utc_days(start - pd.Timedelta(days=LOOKBACK_DAYS), end)


def price_days_for(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """The UTC days of prices that the features of the days in [start, end) read: the days
    themselves and the trailing week (and day) before each."""
    return utc_days(start - pd.Timedelta(days=PRICE_LOOKBACK_DAYS), end)


@dataclass(frozen=True)
class _Rows:
    """Where each forecast row sits before the series axis is added: one row per (origin, lead,
    hour of the lead's day), as positions on the hourly grid. Lead L forecasts the day that
    starts 24 (L - 1) hours after the origin: lead 1 is the day the origin opens."""

    origins: pd.DatetimeIndex
    origin_hour: np.ndarray  # (origins,) grid position of each origin
    origin_index: np.ndarray  # (rows,) the origin a row belongs to
    lead: np.ndarray  # (rows,) the row's lead, days
    horizon: np.ndarray  # (rows,) hours from the origin to the row's hour
    target_hour: np.ndarray  # (rows,) grid position of the row's hour
    times: pd.DatetimeIndex  # (rows,) UTC start of the row's hour

    @classmethod
    def layout(cls, grid: HourlyGrid, origins: pd.DatetimeIndex, leads: Sequence[int]) -> _Rows:
        origin_hour = grid.index_of(origins)
        per_origin = len(leads) * HORIZON
        lead = np.tile(np.repeat(np.asarray(leads, dtype="int64"), HORIZON), len(origins))
        horizon = HORIZON * (lead - 1) + np.tile(np.arange(HORIZON), len(origins) * len(leads))
        origin_index = np.repeat(np.arange(len(origins)), per_origin)
        return cls(
            origins=origins,
            origin_hour=origin_hour,
            origin_index=origin_index,
            lead=lead,
            horizon=horizon,
            target_hour=origin_hour[origin_index] + horizon,
            times=origins[origin_index] + pd.to_timedelta(horizon, unit="h"),
        )

    def per_row(self, per_origin: np.ndarray) -> np.ndarray:
        """Spread a (series, origins) statistic over the rows of each origin."""
        return per_origin[:, self.origin_index]

    @property
    def day_start(self) -> np.ndarray:
        """(rows,) grid position of 00:00 of the row's day."""
        return self.origin_hour[self.origin_index] + HORIZON * (self.lead - 1)

    @property
    def newest_day_back(self) -> np.ndarray:
        """(rows,) hours from the row's hour back to the same hour on the newest known day."""
        return HORIZON * self.lead

    @property
    def newest_week_back(self) -> np.ndarray:
        """(rows,) hours back to the same hour and weekday in the newest known week."""
        return 168 * -(-self.lead // 7)


def build_origin_features(
    history: pd.DataFrame,
    origins: pd.DatetimeIndex,
    prices: pd.DataFrame | None = None,
    leads: Sequence[int] = (1,),
    issued_after: pd.Timedelta = pd.Timedelta(0),
    grid: HourlyGrid | None = None,
) -> pd.DataFrame:
    """One row per (origin, lead, hour of the lead's day, series): features, `scale` and the
    target; with more than lead 1, a `lead_days` column.

    `history` is canonical long data; every consumption feature reads only hours before the
    origin (the end of the newest known day), whatever the lead. Rows are ordered by origin,
    lead, hour, then canonical order. With `prices`, the PRICE_FEATURES too, each from the
    prices published by the time the forecast is issued: `issued_after` the origin. `grid`, the
    history as a grid built once for several calls (`history_grid`), must span what they read.
    """
    if len(origins) == 0:
        raise ValueError("no origins to build features for")
    leads = sorted({int(lead) for lead in leads})
    if leads[0] < 1:
        raise ValueError(f"leads are whole days from 1 on, got {leads}")
    origins = pd.DatetimeIndex(origins).tz_convert("UTC")
    if grid is None:
        grid = history_grid(history, origins, leads[-1])
    rows = _Rows.layout(grid, origins, leads)
    columns = {**_series_columns(grid, rows), **_area_columns(grid, rows)}
    if prices is not None:
        columns.update(_price_columns(prices, grid, rows, issued_after))
    if leads != [1]:
        columns.update(_gap_columns(grid, rows, prices, issued_after))
    frame = _frame(columns, _calendar_columns(rows), rows, grid.series)
    if leads != [1]:
        frame.insert(1, LEAD, np.repeat(rows.lead, len(grid.series)))
    return frame


def history_grid(history: pd.DataFrame, origins: pd.DatetimeIndex, reach: int) -> HourlyGrid:
    """The grid of `history` that features of `origins` up to lead `reach` read."""
    return to_grid(history, origins.min() - LOOKBACK, origins.max() + reach * HORIZON * HOUR)


def _nan_max(stack: np.ndarray) -> np.ndarray:
    """Maximum over the first axis, ignoring NaN; NaN where every value is missing."""
    with np.errstate(invalid="ignore"):
        out = np.max(np.where(np.isnan(stack), -np.inf, stack), axis=0)
    return np.where(np.isfinite(out), out, np.nan)


def _nan_min(stack: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        out = np.min(np.where(np.isnan(stack), np.inf, stack), axis=0)
    return np.where(np.isfinite(out), out, np.nan)


def _before_origin(
    grid: HourlyGrid, trailing: _Trailing, origin_hour: np.ndarray
) -> dict[str, np.ndarray]:
    """(series, origins) statistics of the hours before each origin, and the series' scale:
    its mean of the last week, or of the last day where the week is unknown."""
    mean_24h = trailing.mean(origin_hour, 24)
    mean_168h = trailing.mean(origin_hour, 168)
    last_day = np.stack([grid.at(origin_hour - k) for k in range(1, 25)])  # (24, S, O)
    return {
        SCALE: np.where(np.isfinite(mean_168h), mean_168h, mean_24h),
        "mean_24h": mean_24h,
        "mean_48h": trailing.mean(origin_hour, 48),
        "max_24h": _nan_max(last_day),
        "min_24h": _nan_min(last_day),
        "last_1h": last_day[0],
        "last_6h": trailing.mean(origin_hour, 6),
    }


def _same_hour_last_week(grid: HourlyGrid, target_hour: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, minimum and maximum of the target hour on each of the seven days before."""
    same_hour = np.stack([grid.at(target_hour - 24 * k) for k in range(1, 8)])
    known = np.isfinite(same_hour).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(known > 0, np.nansum(same_hour, axis=0) / known, np.nan)
    return {"mean": mean, "min": _nan_min(same_hour), "max": _nan_max(same_hour)}


def _series_columns(grid: HourlyGrid, rows: _Rows) -> dict[str, np.ndarray]:
    """Each series' values relative to its scale: lags, recent statistics, and the target.

    Lags count back from the newest known data: `r_lag24` is the same hour on the newest known
    day, `r_lag168` the same hour and weekday in the newest known week (at lead 1, 24 and 168
    hours before the target hour)."""
    trailing = _Trailing(grid.values)
    at_origin = _before_origin(grid, trailing, rows.origin_hour)
    before = {name: rows.per_row(values) for name, values in at_origin.items()}
    scale = before[SCALE]
    newest_day = rows.target_hour - rows.newest_day_back
    newest_week = rows.target_hour - rows.newest_week_back
    lags = {
        **{k: grid.at(newest_day - (k - 24)) for k in LAGS if k < 168},
        **{k: grid.at(newest_week - (k - 168)) for k in LAGS if k >= 168},
    }
    same_hour = _same_hour_last_week(grid, newest_day + 24)
    target = grid.at(rows.target_hour)
    # The day of the weekly lag, and the week a year before the row's day.
    before["mean_week_ago"] = trailing.mean(rows.day_start - rows.newest_week_back + 24, 24)
    before["mean_year_ago"] = trailing.mean(rows.day_start - YEAR_HOURS, 168)
    recent = ("mean_24h", "mean_48h", "max_24h", "min_24h", "last_1h", "last_6h")
    return {
        **{f"r_lag{k}": _ratio(values, scale) for k, values in lags.items()},
        **{f"r_same_hour_{s}7": _ratio(same_hour[s], scale) for s in ("mean", "min", "max")},
        **{f"r_{name}": _ratio(before[name], scale) for name in recent},
        "r_lag24_of_24h": _ratio(lags[24], before["mean_24h"]),
        "r_lag168_of_24h": _ratio(lags[168], before["mean_week_ago"]),
        # The same hour 52 weeks before, against that week's level: the shape of the season.
        "ly_same_hour": _ratio(grid.at(rows.target_hour - YEAR_HOURS), before["mean_year_ago"]),
        "ly_level": _ratio(scale, before["mean_year_ago"]),
        "log_scale": np.log10(np.where(scale > 0, scale, np.nan)),
        SCALE: scale,
        VALUE: target,
        TARGET: _ratio(target, scale),
    }


def _area_columns(grid: HourlyGrid, rows: _Rows) -> dict[str, np.ndarray]:
    """Area totals relative to their own scale, given to every series of the area: they carry
    shocks common to an area (a cold spell, a holiday). A series alone in its area gets none:
    the total would only repeat its own values."""
    areas, area_of_series = np.unique(grid.series.areas(), return_inverse=True)
    totals = np.stack([grid.values[area_of_series == i].sum(axis=0) for i in range(len(areas))])
    trailing = _Trailing(totals)
    area_scale = rows.per_row(trailing.mean(rows.origin_hour, 168))
    shared = (np.bincount(area_of_series) > 1)[area_of_series]

    def relative(values: np.ndarray) -> np.ndarray:
        return np.where(shared[:, None], _ratio(values, area_scale)[area_of_series], np.nan)

    return {
        "a_lag24": relative(columns_at(totals, rows.target_hour - rows.newest_day_back)),
        "a_lag168": relative(columns_at(totals, rows.target_hour - rows.newest_week_back)),
        "a_mean_24h": relative(rows.per_row(trailing.mean(rows.origin_hour, 24))),
        "a_last_6h": relative(rows.per_row(trailing.mean(rows.origin_hour, 6))),
    }


class UnmatchedPriceAreas(ValueError):
    """Prices were given for a price area in which no series lies."""


def _price_grid(prices: pd.DataFrame, grid: HourlyGrid) -> np.ndarray:
    """(series, hours) EUR price of each series' area; NaN where its area has no price."""
    areas = np.asarray(grid.series.areas()).astype(str)
    given = set(prices[AREA].astype(str))
    unmatched = sorted(given - set(areas))
    if unmatched:
        raise UnmatchedPriceAreas(
            f"prices of areas {unmatched} match no series (the series lie in {sorted(set(areas))})"
        )
    values = np.full((len(areas), grid.n_hours), np.nan)
    for area in given:
        of_area = prices[prices[AREA].astype(str) == area]
        cols = grid.index_of(of_area[TIME])
        inside = (cols >= 0) & (cols < grid.n_hours)
        row = np.full(grid.n_hours, np.nan)
        row[cols[inside]] = of_area[PRICE_EUR].to_numpy(dtype="float64")[inside]
        values[areas == area] = row
    return values


def _price_columns(
    prices: pd.DataFrame, grid: HourlyGrid, rows: _Rows, issued_after: pd.Timedelta
) -> dict[str, np.ndarray]:
    """(series, rows) price features; NaN for a series whose area has no prices, and for an
    hour whose price was not yet published when the forecast was issued (`issued_after` its
    origin; at the origin itself, the last hours of the UTC day belong to the next Danish day,
    auctioned later)."""
    values = _price_grid(prices, grid)
    hour_times = grid.start + pd.to_timedelta(np.arange(grid.n_hours), unit="h")
    public = published_at(pd.DatetimeIndex(hour_times)).to_numpy(dtype="datetime64[ns]")
    issued = (rows.origins + issued_after).to_numpy(dtype="datetime64[ns]")[rows.origin_index]

    def known_at(positions: np.ndarray) -> np.ndarray:
        """(series, rows) prices at grid positions, NaN where not public when issued."""
        inside = (positions >= 0) & (positions < grid.n_hours)
        seen = np.zeros(len(positions), dtype=bool)
        seen[inside] = public[positions[inside]] <= issued[inside]
        return np.where(seen[None, :], columns_at(values, positions), np.nan)

    target = known_at(rows.target_hour)
    day = np.stack([known_at(rows.day_start + h) for h in range(HORIZON)])
    count = np.isfinite(day).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        day_mean = np.where(count > 0, np.nansum(day, axis=0) / count, np.nan)
    # The week before the origin: all published long before it.
    week_mean = rows.per_row(_Trailing(values).mean(rows.origin_hour, 168))
    return {
        "p_hour": target,
        "p_vs_day": target - day_mean,
        # Against the same hour on the newest known day (the day before at lead 1), whose
        # consumption the model knows: auctioned earlier still, so known when the target's is.
        "p_vs_lag24": target - columns_at(values, rows.target_hour - rows.newest_day_back),
        "p_day_vs_week": day_mean - week_mean,
    }


def _gap_columns(
    grid: HourlyGrid, rows: _Rows, prices: pd.DataFrame | None, issued_after: pd.Timedelta
) -> dict[str, np.ndarray]:
    """(series, rows) GAP_FEATURES; NaN at lead 1, which has no gap."""
    trailing = _Trailing(grid.values)
    origin = rows.origin_hour[rows.origin_index]
    gap = rows.lead > 1
    year_at_day = trailing.mean(rows.day_start - YEAR_HOURS, 168)
    year_at_origin = trailing.mean(origin - YEAR_HOURS, 168)
    out = {"season_gap": np.where(gap[None, :], _ratio(year_at_day, year_at_origin), np.nan)}
    if prices is not None:
        values = _price_grid(prices, grid)
        hour_times = grid.start + pd.to_timedelta(np.arange(grid.n_hours), unit="h")
        public = published_at(pd.DatetimeIndex(hour_times)).to_numpy(dtype="datetime64[ns]")
        issued = (rows.origins + issued_after).to_numpy(dtype="datetime64[ns]")
        gap_mean = _gap_mean(
            values, public, issued[rows.origin_index], origin, rows.day_start - origin
        )
        week_mean = rows.per_row(_Trailing(values).mean(rows.origin_hour, 168))
        out["p_gap_vs_week"] = np.where(gap[None, :], gap_mean - week_mean, np.nan)
        # The target hour's price against the hour the weekly lag comes from.
        target = np.where(
            (public[rows.target_hour] <= issued[rows.origin_index])[None, :],
            columns_at(values, rows.target_hour),
            np.nan,
        )
        out["p_vs_lag168"] = target - columns_at(values, rows.target_hour - rows.newest_week_back)
    return out


def _gap_mean(
    values: np.ndarray,
    public: np.ndarray,
    issued: np.ndarray,
    start: np.ndarray,
    hours: np.ndarray,
) -> np.ndarray:
    """(series, rows) mean of the prices published by each row's issue over its gap
    [start, start + hours); NaN where none is."""
    total = np.zeros((values.shape[0], len(start)))
    count = np.zeros((values.shape[0], len(start)))
    for offset in range(int(hours.max(initial=0))):
        position = start + offset
        inside = (offset < hours) & (position < values.shape[1])
        safe = np.where(inside, position, 0)
        seen = inside & (public[safe] <= issued)
        taken = np.where(seen[None, :], values[:, safe], np.nan)
        known = np.isfinite(taken)
        total += np.where(known, taken, 0.0)
        count += known
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _calendar_columns(rows: _Rows) -> dict[str, np.ndarray]:
    """Danish local calendar of each row's hour, and of the same hour a day and a week before."""
    local = rows.times.tz_convert(LOCAL_TZ)
    local_dates = pd.Index(local.date)

    def rest_day_before(hours: np.ndarray) -> np.ndarray:
        back = rows.times - pd.to_timedelta(hours, unit="h")
        return _rest_days(pd.Index(back.tz_convert(LOCAL_TZ).date))

    return {
        "horizon": rows.horizon,
        "hour_local": local.hour.to_numpy(),
        "dow_local": local.dayofweek.to_numpy(),
        "is_holiday": is_holiday(local_dates),
        "is_rest_day": _rest_days(local_dates),
        # The days the lags come from.
        "rest_lag24": rest_day_before(rows.newest_day_back),
        "rest_lag168": rest_day_before(rows.newest_week_back),
        "christmas": is_christmas_lull(local_dates),
        "week_of_year": local.isocalendar().week.to_numpy(),
        "day_of_year": local.dayofyear.to_numpy(),
        "year_sin": np.sin(2 * np.pi * local.dayofyear.to_numpy() / 365.25),
        "year_cos": np.cos(2 * np.pi * local.dayofyear.to_numpy() / 365.25),
    }


def _frame(
    columns: dict[str, np.ndarray],
    calendar: dict[str, np.ndarray],
    rows: _Rows,
    series: SeriesSet,
) -> pd.DataFrame:
    """(series, rows) columns and per-row calendar columns as one frame, ordered by origin,
    hour, then series (canonical order within an origin)."""
    n_series, n_rows = len(series), len(rows.times)
    frame = pd.DataFrame({name: values.T.ravel() for name, values in columns.items()})
    frame[ORIGIN] = np.repeat(rows.origins[rows.origin_index], n_series)
    frame[TIME] = np.repeat(rows.times, n_series)
    keys = series.frame()
    for key in series.keys:
        frame[key] = key_values(np.tile(keys[key].to_numpy(), n_rows), key)
    frame[SERIES] = pd.array(np.tile(series.labels(), n_rows), dtype="string")
    for name, values in calendar.items():
        kind = "float64" if values.dtype.kind == "f" else "int64"
        frame[name] = np.repeat(values.astype(kind), n_series)
    optional = [c for c in (*PRICE_FEATURES, *GAP_FEATURES) if c in frame.columns]
    return frame[[ORIGIN, TIME, *series.keys, SERIES, *NUMERIC, *optional, SCALE, VALUE, TARGET]]
