"""The input form of a served forecaster (the MLflow model's signature) and the history an issue
reads.

One frame of hourly rows: `datetime_utc` (UTC, without a zone: MLflow's datetime type is naive),
the series' key columns, `consumption_kwh` and, for a model with prices, `price_eur_mwh` (the
day-ahead price of the row's hour in its series' price area). History rows carry consumption;
rows of the days forecast carry no consumption, only the price where it is known. A known-future
input is thus a column of the rows it applies to, as the series' keys are. Pure pandas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import HORIZON, PRICE_LOOKBACK_DAYS, YEAR_HOURS
from energy_assets.domain.prices import PRICE_COLUMNS, PRICE_DKK, PRICE_EUR
from energy_assets.domain.schema import (
    AREA,
    TIME,
    VALUE,
    DataFormatError,
    row_keys,
    series_keys,
    sort_canonical,
    to_canonical,
    to_utc,
)

WHERE = "the forecast request"
# Consumption features read the two weeks before the origin (the oldest, the weekly lag of the
# newest known week) and the weeks a year before the days forecast.
RECENT_HOURS = 14 * HORIZON
YEAR_WEEK_HOURS = 168


def history_windows(origin: pd.Timestamp, reach: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The [start, end) spans of consumption an issue at `origin` reaching `reach` days reads."""
    hour = pd.Timedelta(hours=1)
    year_ago = origin - YEAR_HOURS * hour
    return [
        (year_ago - YEAR_WEEK_HOURS * hour, year_ago + reach * HORIZON * hour),
        (origin - RECENT_HOURS * hour, origin),
    ]


def price_window(origin: pd.Timestamp, reach: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The [start, end) of the prices an issue reads: the week (and day) before its origin
    through its farthest day."""
    return origin - pd.Timedelta(days=PRICE_LOOKBACK_DAYS), origin + pd.Timedelta(days=reach)


def days_of(spans: Sequence[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.DatetimeIndex:
    """The UTC days (00:00 of each) that the [start, end) `spans` touch, sorted."""
    day_ns = 86_400 * 10**9
    first: list[int] = []
    last: list[int] = []
    for start, end in spans:
        if end > start:
            first.append(pd.Timestamp(start).tz_convert("UTC").floor("D").value // day_ns)
            last.append((pd.Timestamp(end).tz_convert("UTC").value - 1) // day_ns)
    if not first:
        return pd.DatetimeIndex([], tz="UTC")
    ranges = [np.arange(a, b + 1) for a, b in zip(first, last, strict=True)]
    days = np.unique(np.concatenate(ranges))
    return pd.DatetimeIndex(days * day_ns, tz="UTC")


def rows_of_days(frame: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The rows of `frame` whose hour lies on one of the UTC `days`."""
    day_ns = 86_400 * 10**9
    hours = frame[TIME].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    wanted = days.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]").astype("int64")
    return frame[np.isin(hours.astype("int64") // day_ns, wanted // day_ns)]


def within(frame: pd.DataFrame, spans: Sequence[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.DataFrame:
    times = frame[TIME]
    keep = np.zeros(len(frame), dtype=bool)
    for start, end in spans:
        keep |= ((times >= start) & (times < end)).to_numpy()
    return frame[keep]


def request_frame(
    history: pd.DataFrame,
    prices: pd.DataFrame | None,
    origin: pd.Timestamp,
    reach: int,
) -> pd.DataFrame:
    """The rows a served forecaster needs to make the issue at `origin` reaching `reach` days:
    the consumption hours it reads and, with `prices`, each series' price over the price
    window (rows without consumption for the days forecast)."""
    keys = series_keys(history)
    rows = within(history, history_windows(origin, reach))[[TIME, *keys, VALUE]]
    if prices is not None:
        start, end = price_window(origin, reach)
        hours = pd.date_range(start, end, freq="h", inclusive="left")
        series = history[keys].drop_duplicates()
        future = series.merge(pd.DataFrame({TIME: hours[hours >= origin]}), how="cross")
        rows = pd.concat([rows, future.assign(**{VALUE: np.nan})], ignore_index=True)
        priced = prices[(prices[TIME] >= start) & (prices[TIME] < end)][[TIME, AREA, PRICE_EUR]]
        rows = rows.merge(priced, on=[TIME, AREA], how="left")
    rows = sort_canonical(rows)
    rows[TIME] = rows[TIME].dt.tz_convert("UTC").dt.tz_localize(None)
    return rows


def from_request(
    frame: pd.DataFrame, keys: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Canonical history and, where the frame has the price column, canonical prices, from a
    request frame; a clear error for anything a forecast cannot be made from."""
    missing = [c for c in (TIME, *keys) if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{WHERE}: missing columns {missing}; has {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    times = to_utc(frame[TIME], where=WHERE)
    off = times != times.dt.floor("h")
    if off.any():
        row = int(np.flatnonzero(off.to_numpy())[0])
        raise DataFormatError(f"{WHERE}: row {row}: {times.iloc[row]} is not the start of an hour")
    frame = frame.assign(**{TIME: times})
    history = _history(frame, keys)
    return history, (_prices(frame) if PRICE_EUR in frame.columns else None)


def _history(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    if VALUE not in frame.columns:
        raise DataFormatError(f"{WHERE}: no {VALUE} column: there is no history to forecast from")
    known = frame[frame[VALUE].notna()]
    if known.empty:
        raise DataFormatError(f"{WHERE}: no row has a {VALUE}: there is no history")
    history = to_canonical(known, where=WHERE, keys=keys)
    twice = history.duplicated(row_keys(keys))
    if twice.any():
        first = history[twice].iloc[0]
        raise DataFormatError(
            f"{WHERE}: {dict(first[row_keys(keys)].astype(str))} has two consumption values"
        )
    return history


def _prices(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame[PRICE_EUR].notna()]
    prices = pd.DataFrame(
        {
            TIME: rows[TIME],
            AREA: rows[AREA].astype("string"),
            PRICE_EUR: pd.to_numeric(rows[PRICE_EUR], errors="raise").astype("float64"),
        }
    ).drop_duplicates()
    clash = prices.duplicated([TIME, AREA], keep=False)
    if clash.any():
        first = prices[clash].iloc[0]
        raise DataFormatError(
            f"{WHERE}: two different {PRICE_EUR} for {first[AREA]} at {first[TIME]}"
        )
    return prices.assign(**{PRICE_DKK: np.nan})[PRICE_COLUMNS].reset_index(drop=True)


def default_origin(history: pd.DataFrame) -> pd.Timestamp:
    """00:00 UTC of the day after the history's last hour."""
    return pd.Timestamp(history[TIME].max()).floor("D") + pd.Timedelta(days=1)


def parse_origin(value: Any) -> pd.Timestamp | None:
    """The `origin` parameter: an ISO time (UTC where it names no zone), None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        origin = pd.Timestamp(value)
    except ValueError:
        raise DataFormatError(f"{WHERE}: origin {value!r} is not a time") from None
    return origin.tz_localize("UTC") if origin.tz is None else origin.tz_convert("UTC")


def request_body(frame: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of `mlflow models serve`'s /invocations for a request frame."""
    out = frame.copy()
    out[TIME] = out[TIME].dt.strftime("%Y-%m-%dT%H:%M:%S")
    split = json.loads(out.to_json(orient="split", index=False, double_precision=15))
    return {
        "dataframe_split": {"columns": split["columns"], "data": split["data"]},
        "params": params,
    }
