"""Which stored forecast of a day the dashboard shows.

`predictions/<O>.parquet` is the issue made once day O - 1 was published: the forecasts of days
O .. O + H - 1, each row with its `lead_days` (the row's day is O + lead - 1) and `issued_at`.
A day is forecast by up to H issues, each at another lead; its newest forecast is the latest
issue's (the smallest lead). Files stored before issues reached past their origin hold day O
alone, without those columns: they read as lead 1, issued at their origin."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain.forecasting.features import LEAD, ORIGIN
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.schema import TIME

MAX_LEAD = 60  # the farthest lead the settings allow (ENERGY_FORECAST_LEADS)


def rows_of(frame: pd.DataFrame, chosen: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of one series, in time order."""
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    for key, value in chosen.items():
        mask &= frame[key] == value
    return frame[mask].sort_values(TIME)


def days_before(day: dt.date, n: int) -> dt.date:
    """`n` days before `day`, or the calendar's first day (a request may name year 1)."""
    return day - dt.timedelta(days=n) if day.toordinal() > n else dt.date.min


def stored_keys(store: DashboardStore, asset: str, first: dt.date, last: dt.date) -> list[str]:
    """The stored partitions of an asset from `first` through `last` (from the listing, so that
    a long span reads no partition that is not there)."""
    keys = store.partitions(asset)
    lo = bisect.bisect_left(keys, first.isoformat())
    return keys[lo : bisect.bisect_right(keys, last.isoformat())]


def issue(store: DashboardStore, key: str) -> pd.DataFrame | None:
    """One stored issue with its `origin`, `lead_days` and `issued_at`, or None."""
    frame = store.frame(names.PREDICTIONS, key)
    if frame is None or LEAD in frame.columns:
        return frame
    origin = pd.Timestamp(key, tz="UTC")
    dated = frame.copy()
    dated[ORIGIN] = dated[ISSUED_AT] = origin
    dated[LEAD] = 1
    return dated


@dataclass(frozen=True)
class Forecasts:
    rows: pd.DataFrame  # of the series: the newest forecast of each day found, in time order
    held: frozenset[dt.date]  # the days some issue read forecast, for any series


def newest(
    store: DashboardStore, chosen: Mapping[str, Any], first: dt.date, last: dt.date
) -> Forecasts:
    """The newest stored forecast of one series for each day from `first` through `last`.

    Issues are read newest first, and only while one can still reach a day not yet found: an
    issue reaches `horizon_days` days at most, so the usual page reads one or two. Only the
    days the stored issues can reach are looked for, so a far day asks for no work."""
    keys = store.partitions(names.PREDICTIONS)
    if not keys:
        return Forecasts(pd.DataFrame(), frozenset())
    reach = dt.timedelta(days=store.settings.horizon_days - 1)
    first = max(first, dt.date.fromisoformat(keys[0]))
    last = min(last, dt.date.fromisoformat(keys[-1]) + reach)
    open_days = {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    held: set[dt.date] = set()
    parts = []
    for key in reversed(stored_keys(store, names.PREDICTIONS, first - reach, last)):
        origin = dt.date.fromisoformat(key)
        if not open_days or origin + reach < min(open_days):
            break
        frame = issue(store, key)
        if frame is None:
            continue
        wanted = [(day - origin).days + 1 for day in open_days if day >= origin]
        frame = frame[frame[LEAD].isin(wanted)]
        held |= {origin + dt.timedelta(days=int(lead) - 1) for lead in frame[LEAD].unique()}
        rows = rows_of(frame, chosen)
        open_days -= {origin + dt.timedelta(days=int(lead) - 1) for lead in rows[LEAD].unique()}
        parts.append(rows)
    found = pd.concat(parts, ignore_index=True).sort_values(TIME) if parts else pd.DataFrame()
    return Forecasts(found, frozenset(held))


def at_lead(
    store: DashboardStore, chosen: Mapping[str, Any], day: dt.date, lead: int
) -> pd.DataFrame:
    """The forecast of one series for `day` made `lead` days ahead: from the issue of
    `day - lead + 1`; empty when it is not stored."""
    frame = issue(store, days_before(day, lead - 1).isoformat())
    if frame is None:
        return pd.DataFrame()
    return rows_of(frame[frame[LEAD] == lead], chosen)


def issued_at(rows: pd.DataFrame) -> pd.Timestamp:
    """When the issue of a day's rows was made, in UTC."""
    stamp = pd.Timestamp(rows[ISSUED_AT].iloc[0])
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def day_of(rows: pd.DataFrame) -> pd.Series:
    """Each row's UTC day."""
    return rows[TIME].dt.tz_convert("UTC").dt.date
