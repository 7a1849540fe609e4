"""The health panel and the public `/api/health`, answered at once from facts read in the
background.

Some facts take seconds to read on a cold worker: the registry's champion (importing MLflow and
opening its store) and, on GCS, storage listings. A load balancer's or Kubernetes' probe gives
an answer one to five seconds, so no request reads them: each worker reads them on background
threads from start-up (gunicorn's `post_worker_init`, or the first ask) and again every few
seconds, and the answer is made from the newest readings. Until a fact has been read it is
"not yet known" (`ok` is None); a reading older than `STALE_AFTER_SECONDS` counts against the
fact, so a reader stuck on a hung service cannot keep an old "ok" alive. The champion has its own
reader: a slow or unreachable registry never delays the storage facts.

Status: "starting" until the storage facts are read; "down" when storage cannot be reached or
no forecast is stored; else "ok" when every fact is known and fine, "degraded" otherwise.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dash_app import views
from dash_app.store import DashboardStore, Reading, Watched
from energy_assets import names
from energy_assets.domain import tracking
from energy_assets.domain.calendar import published_day

PING_SECONDS = 5.0  # a storage check that has not answered by then counts as unreachable
STORAGE_EVERY_SECONDS = 15.0  # as long as the store's cache keeps a listing
CHAMPION_EVERY_SECONDS = 30.0
# A reading this old means its reader is stuck (a hung request): it no longer vouches for a fact.
STALE_AFTER_SECONDS = 180.0
NOT_KNOWN = "not yet known"

logger = logging.getLogger(__name__)


@dataclass
class Fact:
    name: str
    ok: bool | None  # None: not read yet
    value: str  # shown on the health page, to signed-in users
    public: str | None = None  # what the public /api/health may tell: nothing internal


@dataclass(frozen=True)
class StorageFacts:
    reachable: bool
    where: str  # the storage's address, or why it cannot be reached (never the error text)
    newest_raw: str | None = None
    newest_prediction: str | None = None
    last_alert: dict[str, str] | None = None  # level, day, message


@dataclass(frozen=True)
class Champion:
    uri: str | None  # models:/<name>/<version>, or None when no version is champion
    registry_reachable: bool


def read_storage_facts(store: DashboardStore) -> StorageFacts:
    """Reachability, the newest stored day of actuals, the newest issue of forecasts and the
    last alert.
    Errors go to the server log, one line each: probes ask every few seconds."""
    try:
        store.storage.ping(timeout_seconds=PING_SECONDS)
    except Exception as exc:
        logger.warning("storage %s unreachable: %s", store.storage.base_uri, exc)
        return StorageFacts(
            False, f"{store.storage.base_uri} cannot be reached (the server log has why)"
        )
    newest_raw = views.newest_actuals(store)
    predicted = store.partitions(names.PREDICTIONS)
    alerts = store.alerts()
    last = None
    if not alerts.empty:
        row = alerts.iloc[-1]
        last = {k: str(row[k]) for k in ("level", "day", "message")}
    return StorageFacts(
        True,
        store.storage.base_uri,
        newest_raw,
        predicted[-1] if predicted else None,
        last,
    )


def read_champion(store: DashboardStore) -> Champion:
    settings = store.settings
    try:
        return Champion(
            tracking.champion_uri(settings.registered_model, settings.tracking_uri), True
        )
    except Exception as exc:  # an unreachable tracking server is a red fact, not a crash
        logger.warning("the MLflow registry could not be read: %s", exc)
        return Champion(None, False)


STORAGE_FACTS, CHAMPION = "storage facts", "champion"
FIRST_PAGE = "first page"  # dash_app.warmup.first_page, registered by create_app


def storage_watch(store: DashboardStore) -> Watched[StorageFacts]:
    return store.watched(STORAGE_FACTS, lambda: read_storage_facts(store), STORAGE_EVERY_SECONDS)


def champion_watch(store: DashboardStore) -> Watched[Champion]:
    """Its first read (seconds of CPU with a local MLflow store) waits for the cheap ones."""
    return store.watched(
        CHAMPION,
        lambda: read_champion(store),
        CHAMPION_EVERY_SECONDS,
        after=(STORAGE_FACTS, FIRST_PAGE),
    )


def watch(store: DashboardStore) -> None:
    """Register the health readers with the store, after any it has (their threads start
    with `start_watching` or at the first ask)."""
    storage_watch(store)
    champion_watch(store)


def refresh(store: DashboardStore) -> None:
    """Read every health fact now, on the caller's thread (tests; a command-line check)."""
    storage_watch(store).refresh()
    champion_watch(store).refresh()


def _stale(reading: Reading[Any], now: dt.datetime) -> str | None:
    age = reading.age(now.timestamp())
    return f"not read for {age:,.0f} s" if age > STALE_AFTER_SECONDS else None


def _unread(name: str, watched: Watched[Any], now: dt.datetime) -> Fact:
    """A fact whose first reading has not finished: not known yet, or, once the reader has
    tried for longer than a reading stays valid, wrong."""
    since = watched.started_at
    waited = now.timestamp() - since if since is not None else 0.0
    if waited > STALE_AFTER_SECONDS:
        said = f"not read in {waited:,.0f} s"
        return Fact(name, False, said, said)
    return _not_known(name)


def _not_known(name: str) -> Fact:
    return Fact(name, None, NOT_KNOWN, NOT_KNOWN)


def storage_fact_list(
    reading: Reading[StorageFacts], now: dt.datetime, delay_days: int
) -> list[Fact]:
    found = reading.value
    if stale := _stale(reading, now):
        return [Fact("storage reachable", False, f"{found.where}: {stale}", stale)]
    facts = [Fact("storage reachable", found.reachable, found.where)]
    if not found.reachable:
        return facts
    expected = published_day(now, delay_days)
    fresh = views.is_fresh(found.newest_raw, expected)
    freshness = f"newest day {found.newest_raw or 'none'}, expected {expected}"
    facts.append(Fact("data freshness", fresh, freshness, freshness))
    newest = found.newest_prediction or "none"
    facts.append(Fact("newest prediction", found.newest_prediction is not None, newest, newest))
    if found.last_alert is None:
        facts.append(Fact("last alert", True, "none", "none"))
    else:
        alert = found.last_alert
        when = f"{alert['level']} {alert['day']}"
        calm = alert["level"] not in ("ALERT", "FAILURE")
        facts.append(Fact("last alert", calm, f"{when}: {alert['message']}", when))
    return facts


def champion_fact(watched: Watched[Champion], now: dt.datetime) -> Fact:
    name = "champion version"
    reading = watched.reading()
    if reading is None:
        return _unread(name, watched, now)
    if stale := _stale(reading, now):
        return Fact(name, False, stale, stale)
    uri = reading.value.uri
    if uri is not None:
        return Fact(name, True, uri, uri.rsplit("/", 1)[-1])
    said = "none registered" if reading.value.registry_reachable else "registry unreachable"
    return Fact(name, False, said, said)


def health_facts(store: DashboardStore, now: dt.datetime | None = None) -> tuple[str, list[Fact]]:
    """Overall status and the facts of the health panel, from the newest readings: never waits
    for storage or the registry. No fact carries exception text: the server log has it."""
    now = now or dt.datetime.now(dt.UTC)
    storage = storage_watch(store)
    stored = storage.reading()
    champion = champion_fact(champion_watch(store), now)
    if stored is None:
        reachable = _unread("storage reachable", storage, now)
        if reachable.ok is False:
            return "down", [reachable]
        unknown = [_not_known(n) for n in ("data freshness", "newest prediction")]
        return "starting", [reachable, *unknown, champion, _not_known("last alert")]
    facts = storage_fact_list(stored, now, store.settings.publication_delay_days)
    if not facts[0].ok:
        return "down", facts
    facts.insert(3, champion)  # the panel's order: storage, freshness, forecast, model, alerts
    if not stored.value.newest_prediction:
        return "down", facts
    return ("ok" if all(f.ok for f in facts) else "degraded"), facts


def public_health(store: DashboardStore) -> tuple[dict[str, Any], int]:
    """The public /api/health body and status code: the status, each fact's ok and its public
    value (days, a version number, an alert's level), never storage addresses or error text.
    200 unless down: a starting worker serves pages already."""
    try:
        status, facts = health_facts(store)
    except Exception:
        logger.exception("the health facts could not be worked out")
        return {"status": "down", "facts": {}}, 503
    reading = storage_watch(store).reading()
    body = {
        "status": status,
        "facts": {f.name: {"ok": f.ok, "value": f.public} for f in facts},
        "checked_at": (
            pd.Timestamp(reading.at, unit="s", tz="UTC").isoformat(timespec="seconds")
            if reading is not None
            else None
        ),
    }
    return body, 503 if status == "down" else 200
