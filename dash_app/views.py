"""What each page and endpoint shows, computed from the store. Plain functions, so the Dash
callbacks and the JSON endpoints share them and tests call them directly."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dash_app import issues
from dash_app.issues import MAX_LEAD, rows_of, stored_keys
from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain import quality
from energy_assets.domain.calendar import published_day
from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.forecasting.model import MODEL_URI, PRICE_KNOWN_COLUMN
from energy_assets.domain.monitoring.accuracy import DAY, day_summaries
from energy_assets.domain.schema import (
    AREA,
    AREAS,
    KEY_COLUMNS,
    SERIES,
    TIME,
    VALUE,
    key_label,
    series_labels,
)
from energy_assets.domain.series import SeriesSet

HISTORY_DAYS = 7
# /api/predictions takes a few short parameters (the key columns, the date and the lead);
# anything much longer is not a request of this API.
MAX_QUERY_PARAMS = 8
MAX_QUERY_VALUE_CHARS = 64


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LEAD = re.compile(r"[1-9][0-9]?")


class BadRequest(ValueError):
    """A query parameter is missing or invalid; the message names it."""


class NotStored(LookupError):
    """Nothing is stored for a valid request; the message says what is missing."""


@dataclass
class ForecastView:
    actuals: pd.DataFrame
    forecast: pd.DataFrame  # the newest forecast of each day from `first` through the day asked
    model_uri: str
    first: dt.date
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


def parse_lead(value: Any) -> int:
    """A lead in whole days, 1 to MAX_LEAD, written without a sign or leading zero."""
    text = str(value)
    if not _LEAD.fullmatch(text) or int(text) > MAX_LEAD:
        raise BadRequest(f"lead must be a whole number of days from 1 to {MAX_LEAD}, got {text!r}")
    return int(text)


def parse_week(value: Any, name: str = "week") -> dt.date:
    """A model week: the Monday it starts on, as YYYY-MM-DD."""
    day = parse_day(value, name)
    if day.weekday() != 0:
        raise BadRequest(f"{name} must be the Monday a model week starts on, got {day} ({day:%A})")
    return day


def stored_series(store: DashboardStore) -> SeriesSet | None:
    """The series of the newest stored issue, or None when no forecast is stored."""
    days = store.partitions(names.PREDICTIONS)
    if not days:
        return None

    def load() -> SeriesSet | None:
        frame = store.frame(names.PREDICTIONS, days[-1])
        return SeriesSet.of(frame) if frame is not None else None

    # Every forecast callback and API request asks; worked out once per newest issue.
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


def _label(chosen: Mapping[str, Any]) -> str:
    return "/".join(str(v) for v in chosen.values())


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


def newest_actuals(store: DashboardStore) -> str | None:
    """The newest stored day of actuals that holds any (a stored day without data is passed
    over), or None."""
    for key in reversed(store.partitions(names.RAW)):
        frame = store.frame(names.RAW, key)
        if frame is not None and VALUE in frame.columns and frame[VALUE].notna().any():
            return key
    return None


def forecast_view(store: DashboardStore, chosen: Mapping[str, Any], day: dt.date) -> ForecastView:
    """The newest forecast of one series for every day from the newest actuals' day through
    `day` (`day` alone when its actuals are stored), the actuals of the week before and of
    those days, and the area's prices over the same days."""
    key = day.isoformat()
    newest = newest_actuals(store)
    first = min(day, dt.date.fromisoformat(newest)) if newest else day
    found = issues.newest(store, chosen, first, day)
    forecast = found.rows
    problems = []
    if forecast.empty or day not in set(issues.day_of(forecast)):
        problems.append(
            f"The forecast of {key} has no rows for {_label(chosen)}."
            if day in found.held
            else f"No forecast is stored for {key}."
        )
    for stored in stored_keys(store, names.RAW, first, day):
        if failed := contract_failures(store, dt.date.fromisoformat(stored)):
            problems.append(f"The actuals of {stored} fail the data contract: " + "; ".join(failed))
    if PRICE_KNOWN_COLUMN in forecast.columns:
        # Only issues that recorded it say whether a day knew its prices.
        flagged = forecast.dropna(subset=[PRICE_KNOWN_COLUMN])
        priced = flagged[PRICE_KNOWN_COLUMN].astype(bool).groupby(issues.day_of(flagged)).any()
        problems += [
            f"The forecast of {d} was made without day-ahead prices: none were stored for the "
            "day when it was made."
            for d in priced.index[~priced]
        ]
    uris = ", ".join(sorted(forecast[MODEL_URI].unique())) if len(forecast) else ""
    before = issues.days_before(first, HISTORY_DAYS)
    actuals = store.frames(names.RAW, stored_keys(store, names.RAW, before, day))
    # The prices of the series' area over the same days, where the deployment stores prices.
    prices = store.frames(names.PRICES, stored_keys(store, names.PRICES, before, day))
    if not prices.empty and AREA in chosen:
        prices = prices[prices[AREA] == chosen[AREA]].sort_values(TIME)
    return ForecastView(rows_of(actuals, chosen), forecast, uris, first, problems, prices)


def monitoring(store: DashboardStore) -> pd.DataFrame:
    """Every stored per-series score with the lead it scored (files from before leads: 1)."""
    days = tuple(store.partitions(names.MONITORING))

    def load() -> pd.DataFrame:
        frame = store.frames(names.MONITORING, list(days))
        if frame.empty:
            return frame
        lead = frame[LEAD] if LEAD in frame.columns else pd.Series(1, index=frame.index)
        return frame.assign(**{LEAD: lead.fillna(1).astype("int64")})

    return store.cached(("monitoring", days), load)


def _at_lead(frame: pd.DataFrame, lead: int) -> pd.DataFrame:
    if LEAD not in frame.columns:  # a file from before leads
        return frame if lead == 1 else frame.iloc[:0]
    return frame[frame[LEAD].fillna(1) == lead]


def leads_scored(store: DashboardStore) -> list[int]:
    frame = monitoring(store)
    return sorted(int(v) for v in frame[LEAD].unique()) if not frame.empty else []


def daily_accuracy(store: DashboardStore) -> pd.DataFrame:
    """One row per monitored day, of the alert lead's forecasts (those the alerts judge): pooled
    MAPE, WAPE, median and worst series MAPE."""
    days = tuple(store.partitions(names.MONITORING))
    lead = store.settings.alert_lead

    def load() -> pd.DataFrame:
        series = _at_lead(monitoring(store), lead)
        if series.empty:
            return pd.DataFrame(columns=["day", "mape", "wape", "mape_median", "mape_worst"])
        summaries = day_summaries(series, lead).values()
        return pd.DataFrame([{**s, "day": pd.Timestamp(s["day"])} for s in summaries])

    # Summarised once per set of stored days, not on every page load.
    return store.cached(("daily_accuracy", days, lead), load)


def newest_accuracy(store: DashboardStore) -> tuple[str, float] | None:
    """The newest monitored day and the pooled MAPE of its alert-lead forecasts, from that
    day's file alone: the status cards show it on every page, which must not read every
    stored day."""
    days = store.partitions(names.MONITORING)
    frame = store.frame(names.MONITORING, days[-1]) if days else None
    if frame is None:
        return None
    lead = store.settings.alert_lead
    frame = _at_lead(frame, lead)
    if frame.empty:
        return None
    [(day, summary)] = day_summaries(frame, lead).items()
    return day, float(summary["mape"])


def _of_area(frame: pd.DataFrame, area: str | None) -> pd.DataFrame:
    return frame[frame[AREA] == area] if area in AREAS and not frame.empty else frame


def series_accuracy(store: DashboardStore, area: str | None = None, lead: int = 1) -> pd.DataFrame:
    """Per-series scores of every monitored day at one lead, optionally of one area, with a
    `series` label."""
    series = _of_area(_at_lead(monitoring(store), lead), area)
    if series.empty:
        return pd.DataFrame(columns=["day", SERIES, AREA, "mape", "wape", "bias"])
    return series.assign(**{SERIES: series_labels(series)})


def lead_accuracy(store: DashboardStore, area: str | None = None) -> pd.DataFrame:
    """Per lead, pooled over every stored monitoring day (as a day's figures are pooled over
    its series): the days scored, MAPE, WAPE, bias and the hours scored."""
    frame = _of_area(monitoring(store), area)
    columns = [LEAD, "days", "mape", "wape", "bias", "hours"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    by = frame.groupby(LEAD, sort=True)
    sums = by[["abs_error_kwh", "error_kwh", "actual_kwh", "mape_hours", "count"]].sum()
    ape = (frame["mape"].fillna(0) * frame["mape_hours"]).groupby(frame[LEAD]).sum()
    actual = sums["actual_kwh"].where(sums["actual_kwh"] > 0)
    out = pd.DataFrame(
        {
            "days": by[DAY].nunique(),
            "mape": ape / sums["mape_hours"].where(sums["mape_hours"] > 0),
            "wape": sums["abs_error_kwh"] / actual,
            "bias": sums["error_kwh"] / actual,
            "hours": sums["count"],
        }
    )
    return out.reset_index()[columns]


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


def _forecast_rows(
    store: DashboardStore, chosen: dict[str, Any], day: dt.date, lead: int | None
) -> pd.DataFrame:
    """The newest stored forecast of the day, or the one made `lead` days ahead."""
    if lead is not None:
        rows = issues.at_lead(store, chosen, day, lead)
        if rows.empty:
            origin = issues.days_before(day, lead - 1)
            raise NotStored(
                f"no predictions stored for {_label(chosen)} on {day} at lead {lead} "
                f"(from the issue of {origin})"
            )
        return rows
    rows = issues.newest(store, chosen, day, day).rows
    if rows.empty:
        raise NotStored(f"no predictions stored for {_label(chosen)} on {day}")
    return rows


def predictions_payload(store: DashboardStore, args: dict[str, Any]) -> dict[str, Any]:
    """`/api/predictions` body: the newest forecast of the day, or with `lead` the one made
    that many days ahead. Raises BadRequest or NotStored."""
    check_query(args.items())
    day = parse_day(args.get("date"))
    lead = parse_lead(args["lead"]) if "lead" in args else None
    series = stored_series(store)
    if series is None:
        raise NotStored("no predictions are stored yet")
    if unknown := sorted(set(args) - {"date", "lead", *series.keys}):
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r}: the parameters are date, lead (optional) "
            "and " + ", ".join(series.keys)
        )
    chosen = parse_series(args, series)
    rows = _forecast_rows(store, chosen, day, lead)
    values = ["prediction_kwh", "p10_kwh", "p90_kwh"]
    lacking = [c for c in values if c not in rows.columns]
    # Missing numbers are JSON null: a bare NaN is not JSON.
    numeric = rows.reindex(columns=values).astype("float64")
    numbers = numeric.astype(object).mask(numeric.isna(), None)
    payload = {
        **chosen,
        "date": day.isoformat(),
        # A day's rows come from one issue: its lead and when it was made.
        "lead_days": int(rows[LEAD].iloc[0]),
        "issued_at": issues.issued_at(rows).isoformat(),
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
    """The newest stored day of actuals (`newest_actuals`; None when none is), the newest day the
    source has published by `now`, and whether the stored data is fresh: at most a day behind
    it."""
    expected = published_day(now or dt.datetime.now(dt.UTC), store.settings.publication_delay_days)
    newest = newest_actuals(store)
    return newest, expected, is_fresh(newest, expected)


def is_fresh(newest: str | None, expected: dt.date) -> bool:
    """Stored data is fresh when its newest day is at most a day behind the expected one."""
    return newest is not None and dt.date.fromisoformat(newest) >= expected - dt.timedelta(days=1)


@dataclass(frozen=True)
class Serving:
    day: str  # the newest issue's day
    week: str  # the Monday (UTC) of its model week, the weekly model's partition key
    uris: list[str]  # the model URIs its predictions name, `models:/<name>/<version>`


def serving_model(store: DashboardStore) -> Serving | None:
    """The model versions the newest stored issue came from, or None when no forecast is
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
