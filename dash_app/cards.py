"""The row of status cards at the top of every page: what an operator checks first.

Each card has a stable id, a value, a short caption and a state that sets its colour:
`ok` green, `warn` amber, `bad` red, `none` grey (nothing stored to judge).

- `card-mape`: the newest monitored day's pooled MAPE of the alert lead's forecasts against the
  warn and alert thresholds (green up to warn, amber up to alert, red above or when the day
  could not be scored).
- `card-freshness`: the newest stored day of actuals, how many days old it is, and how it
  compares with the newest day the source has published (the health page's rule: at most a day
  behind is fresh). The forecasts shown run from that day through tomorrow.
- `card-version`: the model version the newest stored issue of forecasts names, and its model
  week.
- `card-alert`: the level and day of the last alert raised (red for ALERT or FAILURE, amber
  for WARN, green for none or OK).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html

from dash_app import views
from dash_app.store import DashboardStore
from energy_assets.domain.monitoring.alerts import Level, classify

logger = logging.getLogger(__name__)

COLOURS = {"ok": "success", "warn": "warning", "bad": "danger", "none": "secondary"}
LEVEL_STATES = {
    Level.OK.value: "ok",
    Level.WARN.value: "warn",
    Level.ALERT.value: "bad",
    Level.FAILURE.value: "bad",
}


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    value: str
    caption: str
    state: str  # ok, warn, bad or none

    @property
    def colour(self) -> str:
        return COLOURS[self.state]


def percent(fraction: float | None, digits: int = 1) -> str:
    """A fraction as people read it: 0.2278 -> '22.8 %'."""
    if fraction is None or not math.isfinite(fraction):
        return "n/a"
    return f"{fraction * 100:,.{digits}f} %"


def kwh(value: float | None) -> str:
    """Energy as people read it: 1234.4 -> '1,234 kWh'."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f} kWh"


def version_label(uri: str) -> str:
    """`models:/<name>/<version>` -> 'v<version>'; anything else as it is."""
    name, _, version = uri.rpartition("/")
    return f"v{version}" if name.startswith("models:/") and version else uri


def days(count: int) -> str:
    return f"{count:,} day{'s' if count != 1 else ''}"


def mape_card(store: DashboardStore) -> Card:
    settings = store.settings
    warn, alert = settings.mape_warn, settings.mape_alert
    thresholds = f"warn > {percent(warn)}, alert > {percent(alert)}"
    newest = views.newest_accuracy(store)
    if newest is None:
        return Card(
            "card-mape", "Pooled MAPE", "no data", f"nothing scored yet · {thresholds}", "none"
        )
    day, mape = newest
    level = classify(mape, warn, alert)
    return Card(
        "card-mape",
        "Pooled MAPE",
        percent(mape),
        f"{day} · {days(settings.alert_lead)} ahead · {thresholds}",
        LEVEL_STATES[level.value],
    )


def freshness_card(store: DashboardStore, now: dt.datetime | None = None) -> Card:
    now = now or dt.datetime.now(dt.UTC)
    newest, expected, fresh = views.data_freshness(store, now)
    if newest is None:
        return Card("card-freshness", "Newest actuals", "no data", f"expected {expected}", "bad")
    day = dt.date.fromisoformat(newest)
    age = (now.astimezone(dt.UTC).date() - day).days
    behind = (expected - day).days
    lag = "up to date" if behind <= 0 else f"{days(behind)} behind"
    return Card(
        "card-freshness",
        "Newest actuals",
        newest,
        f"{days(age)} old · expected {expected} · {lag}",
        "ok" if fresh else "bad",
    )


def version_card(store: DashboardStore) -> Card:
    serving = views.serving_model(store)
    if serving is None:
        return Card("card-version", "Serving model", "none", "no forecast is stored", "bad")
    if not serving.uris:
        return Card(
            "card-version", "Serving model", "unknown", f"forecast {serving.day} names none", "bad"
        )
    names = sorted({uri.rpartition("/")[0].removeprefix("models:/") for uri in serving.uris})
    return Card(
        "card-version",
        "Serving model",
        ", ".join(version_label(uri) for uri in serving.uris),
        f"model {', '.join(names)} · week of {serving.week} · issue of {serving.day}",
        "ok",
    )


def alert_card(store: DashboardStore) -> Card:
    alerts = store.alerts()
    if alerts.empty:
        return Card("card-alert", "Last alert", "none", "no alert has been raised", "ok")
    last = alerts.iloc[-1]
    level, day = str(last["level"]), str(last["day"])[:10]
    return Card("card-alert", "Last alert", level, f"{day} · {last['message']}", _level(level))


def _level(level: str) -> str:
    return LEVEL_STATES.get(level, "warn")


CARDS: tuple[tuple[str, str, Callable[[DashboardStore], Card]], ...] = (
    ("card-mape", "Pooled MAPE", mape_card),
    ("card-freshness", "Newest actuals", freshness_card),
    ("card-version", "Serving model", version_card),
    ("card-alert", "Last alert", alert_card),
)


def status_cards(store: DashboardStore) -> list[Card]:
    """Every card; one whose data cannot be read says so (the server log has why)."""
    cards = []
    for card_id, title, make in CARDS:
        try:
            cards.append(make(store))
        except Exception:
            logger.exception("the %s card could not be worked out", card_id)
            cards.append(Card(card_id, title, "unavailable", "storage could not be read", "bad"))
    return cards


def render(cards: list[Card]) -> dbc.Row:
    """The cards as one row: four across on a laptop, two by two on a phone."""
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.Div(card.title, className="small fw-semibold text-uppercase"),
                            html.Div(card.value, className="card-value fs-4 fw-bold text-break"),
                            html.Div(card.caption, className="card-caption small text-break"),
                        ],
                        className="p-2 p-md-3",
                    ),
                    id=card.id,
                    className=f"h-100 text-bg-{card.colour} status-{card.state}",
                ),
                xs=6,
                lg=3,
            )
            for card in cards
        ],
        className="g-2",
        id="status-row",
    )
