"""What each page and endpoint shows, computed from the store. Plain functions, so the Dash
callbacks and the JSON endpoints share them and tests call them directly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain import quality, tracking
from energy_assets.domain.calendar import published_day
from energy_assets.domain.forecasting.model import MODEL_URI
from energy_assets.domain.monitoring.accuracy import day_summaries
from energy_assets.domain.schema import AREAS, CONSUMER_TYPES

HISTORY_DAYS = 7
PING_SECONDS = 5.0  # the health endpoint answers within seconds even when GCS does not


class BadRequest(ValueError):
    """A query parameter is missing or invalid; the message names it."""


@dataclass
class ForecastView:
    actuals: pd.DataFrame
    forecast: pd.DataFrame
    model_uri: str
    problems: list[str] = field(default_factory=list)  # shown in the banner


def _day(value: str | None, name: str = "date") -> dt.date:
    if not value:
        raise BadRequest(f"{name} is required (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def parse_series(area: str | None, consumer_type: str | int | None) -> tuple[str, int]:
    if area not in AREAS:
        raise BadRequest(f"area must be one of {', '.join(AREAS)}, got {area!r}")
    try:
        code = int(str(consumer_type))
    except ValueError:
        raise BadRequest(
            f"consumer_type must be a DE35 code such as 111, got {consumer_type!r}"
        ) from None
    if code not in CONSUMER_TYPES:
        raise BadRequest(f"consumer_type {code} is not a DE35 code of this dataset")
    return str(area), code


def _series(frame: pd.DataFrame, area: str, code: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame["area"] == area) & (frame["consumer_type"] == code)].sort_values(
        "datetime_utc"
    )


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


def forecast_view(store: DashboardStore, area: str, code: int, day: dt.date) -> ForecastView:
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
    series_forecast = _series(forecast, area, code)
    if forecast is not None and not forecast.empty and series_forecast.empty:
        problems.append(f"The forecast of {key} has no rows for {area}/{code}.")
    uris = ", ".join(sorted(series_forecast[MODEL_URI].unique())) if len(series_forecast) else ""
    return ForecastView(_series(actuals, area, code), series_forecast, uris, problems)


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


def series_accuracy(store: DashboardStore, area: str | None = None) -> pd.DataFrame:
    """Per-series scores of every monitored day, optionally of one area, with a `series` label."""
    series = store.all_frames(names.MONITORING)
    if series.empty:
        return pd.DataFrame(
            columns=["day", "series", "area", "consumer_type", "mape", "wape", "bias"]
        )
    if area in AREAS:
        series = series[series["area"] == area]
    return series.assign(series=series["area"] + "/" + series["consumer_type"].astype(str))


def predictions_payload(store: DashboardStore, args: dict[str, Any]) -> dict[str, Any] | None:
    """`/api/predictions` body, None when nothing is stored for the day and series."""
    area, code = parse_series(args.get("area"), args.get("consumer_type"))
    day = _day(args.get("date"))
    frame = store.frame(names.PREDICTIONS, day.isoformat())
    rows = _series(frame, area, code) if frame is not None else pd.DataFrame()
    if rows.empty:
        return None
    return {
        "area": area,
        "consumer_type": code,
        "date": day.isoformat(),
        MODEL_URI: ", ".join(sorted(rows[MODEL_URI].unique())),
        "rows": [
            {"datetime_utc": t.isoformat(), "prediction_kwh": p, "p10_kwh": lo, "p90_kwh": hi}
            for t, p, lo, hi in zip(
                rows["datetime_utc"],
                rows["prediction_kwh"],
                rows["p10_kwh"],
                rows["p90_kwh"],
                strict=True,
            )
        ],
    }


@dataclass
class Fact:
    name: str
    ok: bool
    value: str


def champion_version(store: DashboardStore) -> str | None:
    """The registered model's `champion` version, or None when there is none or MLflow is down."""

    def load() -> str | None:
        settings = store.settings
        try:
            return tracking.champion_uri(settings.registered_model, settings.tracking_uri)
        except Exception:  # an unreachable tracking server is a red fact, not a crash
            return None

    return store.cached(("champion",), load)


def health_facts(store: DashboardStore, now: dt.datetime | None = None) -> tuple[str, list[Fact]]:
    """Overall status ("ok", "degraded" or "down") and the facts of the health panel.

    Down: storage unreachable or no forecast stored. Degraded: stale data, no champion."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        store.storage.ping(timeout_seconds=PING_SECONDS)
        reachable, reach_text = True, store.storage.base_uri
    except Exception as exc:
        reachable, reach_text = False, f"{store.storage.base_uri}: {exc}"
    facts = [Fact("storage reachable", reachable, reach_text)]
    if not reachable:
        return "down", facts
    expected = published_day(now, store.settings.publication_delay_days)
    raw = store.partitions(names.RAW)
    newest_raw = raw[-1] if raw else None
    fresh = newest_raw is not None and dt.date.fromisoformat(newest_raw) >= expected - dt.timedelta(
        days=1
    )
    facts.append(
        Fact("data freshness", fresh, f"newest day {newest_raw or 'none'}, expected {expected}")
    )
    predicted = store.partitions(names.PREDICTIONS)
    facts.append(Fact("newest prediction", bool(predicted), predicted[-1] if predicted else "none"))
    champion = champion_version(store)
    facts.append(Fact("champion version", champion is not None, champion or "none registered"))
    alerts = store.alerts()
    if alerts.empty:
        facts.append(Fact("last alert", True, "none"))
    else:
        last = alerts.iloc[-1]
        calm = last["level"] not in ("ALERT", "FAILURE")
        facts.append(Fact("last alert", calm, f"{last['level']} {last['day']}: {last['message']}"))
    status = "ok" if all(f.ok for f in facts) else "degraded"
    if not predicted:
        status = "down"
    return status, facts
