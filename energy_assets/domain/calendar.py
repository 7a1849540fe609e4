"""Calendar facts: Danish local time and public holidays, UTC days, the newest published day."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

LOCAL_TZ = "Europe/Copenhagen"


@lru_cache(maxsize=64)
def danish_holidays(year: int) -> frozenset[dt.date]:
    """Public holidays, plus Christmas Eve and New Year's Eve, which behave like them for load."""
    days = set(holidays.Denmark(years=year))
    days |= {dt.date(year, 12, 24), dt.date(year, 12, 31)}
    return frozenset(days)


def is_holiday(dates: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    values = pd.Index(dates)
    years = sorted({d.year for d in values})
    known = frozenset().union(*(danish_holidays(y) for y in years)) if years else frozenset()
    return np.fromiter((d in known for d in values), dtype=bool, count=len(values))


def is_christmas_lull(dates: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """22 December to 2 January, when offices and industry run low."""
    values = pd.Index(dates)
    month_day = np.fromiter(
        (d.month * 100 + d.day for d in values), dtype="int64", count=len(values)
    )
    return (month_day >= 1222) | (month_day <= 102)


def utc_days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """00:00 UTC of every day in [start, end)."""
    return pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")


def day_keys(days: pd.DatetimeIndex) -> list[str]:
    """Daily partition keys (YYYY-MM-DD) of the given days."""
    return [d.strftime("%Y-%m-%d") for d in days]


def published_day(now: dt.datetime, publication_delay_days: int) -> dt.date:
    """The newest day a source has published at `now`: it ended `delay` days ago."""
    return now.astimezone(dt.UTC).date() - dt.timedelta(days=1 + publication_delay_days)
