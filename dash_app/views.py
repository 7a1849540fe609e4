"""What each page and endpoint shows, computed from the store. Plain functions, so the Dash
callbacks and the JSON endpoints share them and tests call them directly."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain import quality
from energy_assets.domain.calendar import published_day
from energy_assets.domain.forecasting.model import MODEL_URI, PRICE_KNOWN_COLUMN
from energy_assets.domain.monitoring.accuracy import day_summaries
from energy_assets.domain.schema import (
    AREA,
    AREAS,
    KEY_COLUMNS,
    SERIES,
    TIME,
    key_label,
    series_labels,
)
from energy_assets.domain.series import SeriesSet

HISTORY_DAYS = 7
# /api/predictions takes a few short parameters (the key columns and the date); anything much
# longer is not a request of this API.
MAX_QUERY_PARAMS = 8
MAX_QUERY_VALUE_CHARS = 64


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class BadRequest(ValueError):
    """A query parameter is missing or invalid; the message names it."""


@dataclass
class ForecastView:
    actuals: pd.DataFrame
    forecast: pd.DataFrame
    model_uri: str
    problems: list[str] = field(default_factory=list)  # shown in the banner
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)  # of the series' area


def parse_day(value: Any, name: str = "date") -> dt.date:
    """A calendar day written exactly as YYYY-MM-DD; anything else (trailing text, a time, a
    day that does not exist, other digits) is refused naming the parameter."""
    if value is None or str(value) == "":
        raise BadRequest(f"{name} is required (YYYY-MM-DD)")
    text = str(value)
    if not _DAY.fullmatch(text):
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} {text!r} is not a day of the calendar") from None


def parse_week(value: Any, name: str = "week") -> dt.date:
    """A model week: the Monday it starts on, as YYYY-MM-DD."""
    day = parse_day(value, name)
    if day.weekday() != 0:
        raise BadRequest(f"{name} must be the Monday a model week starts on, got {day} ({day:%A})")
    return day


def stored_series(store: DashboardStore) -> SeriesSet | None:
    """The series of the newest stored forecast day, or None when no forecast is stored."""
    days = store.partitions(names.PREDICTIONS)
    if not days:
        return None

    def load() -> SeriesSet | None:
        frame = store.frame(names.PREDICTIONS, days[-1])
        return SeriesSet.of(frame) if frame is not None else None

    # Every forecast callback and API request asks; worked out once per newest day.
    return store.cached(("series", days[-1]), load)


def parse_series(args: Mapping[str, Any], series: SeriesSet) -> dict[str, Any]:
    """The key values of one series from request parameters named by its key columns; each
    bad or missing value is named."""
    chosen: dict[str, Any] = {}
    for key in series.keys:
        column, raw = KEY_COLUMNS[key], args.get(key)
        if raw is None or str(raw) == "":
            raise BadRequest(f"{key} is required ({column.what}, e.g. {column.example})")
        if key == AREA and raw not in AREAS:
            raise BadRequest(f"area must be one of {', '.join(AREAS)}, got {raw!r}")
        try:
            value = int(str(raw)) if column.dtype == "int64" else str(raw)
        except ValueError:
            raise BadRequest(
                f"{key} must be a {column.what} such as {column.example}, got {raw!r}"
            ) from None
        if value not in set(series.column(key)):
            raise BadRequest(f"{key} {value} is not a {column.what} of this dataset")
        chosen[key] = value
    return chosen


def series_args(area: str | None, rest: Any, series: SeriesSet) -> dict[str, Any]:
    """Request-style parameters from the forecast page's selectors: the area, and the other
    key values joined by '/' (for DE35 the consumer type alone)."""
    others = [k for k in series.keys if k != AREA]
    parts = str(rest).split("/") if rest is not None else []
    return {AREA: area, **dict(zip(others, parts, strict=False))}


def series_title(chosen: Mapping[str, Any]) -> str:
    return " · ".join(key_label(k, v) for k, v in chosen.items())


def _series(frame: pd.DataFrame, chosen: Mapping[str, Any]) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    for key, value in chosen.items():
        mask &= frame[key] == value
    return frame[mask].sort_values(TIME)


def contract_failures(store: DashboardStore, day: dt.date) -> list[str]:
    """The pipeline's data-contract rules that the stored actuals of `day` break (none when the
    day is not stored), computed once per cache period rather than on every callback."""

    def load() -> list[str]:
        actuals = store.frame(names.RAW, day.isoformat())
        if actuals is None:
            return []
        start = pd.Timestamp(day, tz="UTC")
        outcomes = quality.check_day(actuals, start, start + pd.Timedelta(days=1))
        return [f"{rule}: {o.description}" for rule, o in outcomes.items() if not o.passed]

    return store.cached(("contract", day.isoformat()), load)


def forecast_view(store: DashboardStore, chosen: Mapping[str, Any], day: dt.date) -> ForecastView:
    """The day's forecast of one series, the actuals of the week before and of the day."""
    key = day.isoformat()
    problems = []
    forecast = store.frame(names.PREDICTIONS, key)
    if forecast is None:
        problems.append(f"No forecast is stored for {key}.")
        forecast = pd.DataFrame()
    history_keys = [(day - dt.timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS, -1, -1)]
    actuals = store.frames(names.RAW, history_keys)
    if failed := contract_failures(store, day):
        problems.append(f"The actuals of {key} fail the data contract: " + "; ".join(failed))
    series_forecast = _series(forecast, chosen)
    if forecast is not None and not forecast.empty and series_forecast.empty:
        label = "/".join(str(v) for v in chosen.values())
        problems.append(f"The forecast of {key} has no rows for {label}.")
    if (
        PRICE_KNOWN_COLUMN in series_forecast.columns
        and not series_forecast[PRICE_KNOWN_COLUMN].any()
    ):
        problems.append(
            f"The forecast of {key} was made without day-ahead prices: none were stored for "
            "the day when it was made."
        )
    uris = ", ".join(sorted(series_forecast[MODEL_URI].unique())) if len(series_forecast) else ""
    # The prices of the series' area over the same days, where the deployment stores prices.
    prices = store.frames(names.PRICES, history_keys)
    if not prices.empty and AREA in chosen:
        prices = prices[prices[AREA] == chosen[AREA]].sort_values(TIME)
    return ForecastView(_series(actuals, chosen), series_forecast, uris, problems, prices)


def daily_accuracy(store: DashboardStore) -> pd.DataFrame:
    """One row per monitored day: pooled MAPE, WAPE, median and worst series MAPE."""
    days = tuple(store.partitions(names.MONITORING))

    def load() -> pd.DataFrame:
        series = store.all_frames(names.MONITORING)
        if series.empty:
            return pd.DataFrame(columns=["day", "mape", "wape", "mape_median", "mape_worst"])
        rows = [{**s, "day": pd.Timestamp(s["day"])} for s in day_summaries(series).values()]
        return pd.DataFrame(rows)

    # Summarised once per set of stored days, not on every page load.
    return store.cached(("daily_accuracy", days), load)


def newest_accuracy(store: DashboardStore) -> tuple[str, float] | None:
    """The newest monitored day and its pooled MAPE, from that day's file alone: the status
    cards show it on every page, which must not read every stored day."""
    days = store.partitions(names.MONITORING)
    frame = store.frame(names.MONITORING, days[-1]) if days else None
    if frame is None or frame.empty:
        return None
    [(day, summary)] = day_summaries(frame).items()
    return day, float(summary["mape"])


def series_accuracy(store: DashboardStore, area: str | None = None) -> pd.DataFrame:
    """Per-series scores of every monitored day, optionally of one area, with a `series` label."""
    series = store.all_frames(names.MONITORING)
    if series.empty:
        return pd.DataFrame(columns=["day", SERIES, AREA, "mape", "wape", "bias"])
    if area in AREAS:
        series = series[series[AREA] == area]
    return series.assign(**{SERIES: series_labels(series)})


def check_query(pairs: Iterable[tuple[str, Any]]) -> None:
    """Refuse a query with more or longer parameters than /api/predictions ever takes (each
    (name, value) pair, repeated names included), or with a name given twice."""
    pairs = list(pairs)
    if len(pairs) > MAX_QUERY_PARAMS:
        raise BadRequest(f"at most {MAX_QUERY_PARAMS} query parameters are accepted")
    seen: set[str] = set()
    for name, value in pairs:
        if len(str(name)) > MAX_QUERY_VALUE_CHARS or len(str(value)) > MAX_QUERY_VALUE_CHARS:
            raise BadRequest(
                f"query parameter names and values are at most {MAX_QUERY_VALUE_CHARS} characters"
            )
        if name in seen:
            raise BadRequest(f"query parameter {name} is given more than once")
        seen.add(name)


def predictions_payload(store: DashboardStore, args: dict[str, Any]) -> dict[str, Any] | None:
    """`/api/predictions` body, None when nothing is stored for the day and series."""
    check_query(args.items())
    day = parse_day(args.get("date"))
    series = stored_series(store)
    if series is None:
        return None
    if unknown := sorted(set(args) - {"date", *series.keys}):
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r}: the parameters are date and "
            + ", ".join(series.keys)
        )
    chosen = parse_series(args, series)
    frame = store.frame(names.PREDICTIONS, day.isoformat())
    rows = _series(frame, chosen) if frame is not None else pd.DataFrame()
    if rows.empty:
        return None
    values = ["prediction_kwh", "p10_kwh", "p90_kwh"]
    lacking = [c for c in values if c not in rows.columns]
    # Missing numbers are JSON null: a bare NaN is not JSON.
    numeric = rows.reindex(columns=values).astype("float64")
    numbers = numeric.astype(object).mask(numeric.isna(), None)
    payload = {
        **chosen,
        "date": day.isoformat(),
        MODEL_URI: ", ".join(sorted(rows[MODEL_URI].dropna().unique()))
        if MODEL_URI in rows.columns
        else None,
        "rows": [
            {"datetime_utc": t.isoformat(), **dict(zip(values, row, strict=True))}
            for t, row in zip(rows["datetime_utc"], numbers.itertuples(index=False), strict=True)
        ],
    }
    if PRICE_KNOWN_COLUMN in rows.columns:
        # Stored by deployments with prices: a day none of whose hours knew its price.
        payload["made_without_prices"] = not bool(rows[PRICE_KNOWN_COLUMN].any())
    if lacking:
        payload["warnings"] = [f"the stored predictions of {day} lack {', '.join(lacking)}"]
    return payload


def data_freshness(
    store: DashboardStore, now: dt.datetime | None = None
) -> tuple[str | None, dt.date, bool]:
    """The newest stored day of actuals (None when none is), the newest day the source has
    published by `now`, and whether the stored data is fresh: at most a day behind it."""
    expected = published_day(now or dt.datetime.now(dt.UTC), store.settings.publication_delay_days)
    raw = store.partitions(names.RAW)
    newest = raw[-1] if raw else None
    return newest, expected, is_fresh(newest, expected)


def is_fresh(newest: str | None, expected: dt.date) -> bool:
    """Stored data is fresh when its newest day is at most a day behind the expected one."""
    return newest is not None and dt.date.fromisoformat(newest) >= expected - dt.timedelta(days=1)


@dataclass(frozen=True)
class Serving:
    day: str  # the newest forecast day
    week: str  # the Monday (UTC) of its model week, the weekly model's partition key
    uris: list[str]  # the model URIs its predictions name, `models:/<name>/<version>`


def serving_model(store: DashboardStore) -> Serving | None:
    """The model versions the newest stored predictions came from, or None when no forecast is
    stored."""
    days = store.partitions(names.PREDICTIONS)
    if not days:
        return None
    frame = store.frame(names.PREDICTIONS, days[-1])
    uris: list[str] = []
    if frame is not None and MODEL_URI in frame.columns:
        uris = sorted({u for text in frame[MODEL_URI].dropna() for u in str(text).split(", ")})
    day = dt.date.fromisoformat(days[-1])
    week = day - dt.timedelta(days=day.weekday())
    return Serving(days[-1], week.isoformat(), uris)
