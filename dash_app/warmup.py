"""The dashboard's code run once before the first request, over a few synthetic days in a
temporary folder.

The first figure a Python process draws builds plotly's validators, the first callback sets up
Dash's routes, and the first registry read imports MLflow: together about a second of CPU that
the first visitor of a worker would otherwise wait for. gunicorn runs this in the master, after
preloading the app and before opening the port (`on_starting`), so every worker is forked with
that work done. It reads and writes only its own temporary folder (synthetic data, labelled
so), starts no thread and talks to no service, so nothing is shared across the fork but memory.
"""

from __future__ import annotations

import logging
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask

from dash_app import cards, pages
from dash_app.store import DashboardStore, store_of
from energy_assets import names
from energy_assets.domain.forecasting.features import LEAD, ORIGIN
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.monitoring.accuracy import score_series
from energy_assets.domain.monitoring.alerts import Alert, Level
from energy_assets.domain.schema import AREA, KEY_COLUMNS, TIME, VALUE
from energy_assets.domain.sources.simulator import SimulatorSource
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import LocalStorage, object_key

logger = logging.getLogger(__name__)

FIRST_DAY = pd.Timestamp("2023-01-09", tz="UTC")  # any week will do: the data is synthetic
HISTORY_DAYS = 8
# Pages that read the registry or the health readers: nothing of theirs is drawn here.
SKIPPED_PAGES = {"models", "health"}


def _seed(store: DashboardStore) -> tuple[str, str, str]:
    """Eight days of SYNTHETIC actuals and one issue of forecasts (two days ahead), monitoring
    and drift; the forecast page's first area, series and day."""
    storage = store.storage
    last = FIRST_DAY + pd.Timedelta(days=HISTORY_DAYS)
    actuals = SimulatorSource(seed=0).fetch(FIRST_DAY, last + pd.Timedelta(days=2))
    issue = actuals[actuals[TIME] >= last]
    actuals = actuals[actuals[TIME] < last + pd.Timedelta(days=1)]
    for day, part in actuals.groupby(actuals[TIME].dt.strftime("%Y-%m-%d")):
        storage.write_parquet(object_key(names.RAW, str(day)), part)
    day = last.strftime("%Y-%m-%d")
    point = issue[VALUE].to_numpy() * np.random.default_rng(0).lognormal(0, 0.05, len(issue))
    forecast = issue.drop(columns=VALUE).assign(
        **{ORIGIN: last, ISSUED_AT: last + pd.Timedelta(hours=12)},
        **{LEAD: (issue[TIME] - last).dt.days + 1},
        prediction_kwh=point,
        p10_kwh=point * 0.9,
        p90_kwh=point * 1.1,
        model_uri="models:/m/1",
    )
    storage.write_parquet(object_key(names.PREDICTIONS, day), forecast)
    scored = score_series(forecast[forecast[LEAD] == 1], actuals)
    storage.write_parquet(object_key(names.MONITORING, day), scored.assign(**{LEAD: 1}))
    drift = pd.DataFrame(
        {
            "day": [pd.Timestamp(day, tz="UTC")] * 2,
            "column": ["r_lag24", "log_scale"],
            "distance": [0.05, 0.5],
            "threshold": [0.2, 0.2],
            "drifted": [False, True],
            "report": ["", ""],
        }
    )
    storage.write_parquet(object_key(names.DRIFT, day), drift)
    AlertLog(storage).append(Alert(Level.WARN, day, "mape", "warm-up (synthetic)"))
    first = forecast.iloc[0]
    others = [k for k in KEY_COLUMNS if k in forecast.columns and k != AREA]
    return str(first[AREA]), "/".join(str(first[k]) for k in others), day


def first_page(store: DashboardStore) -> None:
    """Read what the first page a visitor opens shows (the status cards and the forecasts of
    the first series through tomorrow), so that it is in the cache when they ask."""
    cards.status_cards(store)
    if not store.partitions(names.PREDICTIONS):
        return
    page = pages.forecast_page(store)
    selectors = {c.id: c for c in _components(page) if getattr(c, "id", None)}
    area, series = selectors["forecast-area"].value, selectors["forecast-type"].value
    pages.update_forecast(store, area, series, selectors["forecast-date"].date)


def _components(root: Any) -> list[Any]:
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        children = getattr(node, "children", None)
        if isinstance(children, list | tuple):
            todo.extend(children)
        elif children is not None and not isinstance(children, str | int | float):
            todo.append(children)
    return found


def warm_up(server: Flask) -> float:
    """Draw every page, the status cards and the forecast once over synthetic data, set up
    Dash's routes and import MLflow, for the dashboard `server` serves; returns the seconds it
    took."""
    started = time.perf_counter()
    settings = store_of(server).settings
    import mlflow  # noqa: F401  (the champion's reader needs it: imported once, here)

    with tempfile.TemporaryDirectory(prefix="dashboard-warm-up-") as folder:
        store = DashboardStore(LocalStorage(folder), settings, ttl_seconds=0)
        area, series, day = _seed(store)
        for name, page in pages.PAGES.items():
            if name not in SKIPPED_PAGES:
                page.render(store)
        cards.render(cards.status_cards(store))
        pages.update_series_options(store, area, series)
        pages.update_forecast(store, area, series, day)
        pages.update_accuracy(store, area, 1)
    # Dash sets up its routes on the first request; the answer (401 where sign-in is on) is
    # not what matters.
    client = server.test_client()
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        client.get(path)
    seconds = time.perf_counter() - started
    logger.info("dashboard warmed up in %.1f s", seconds)
    return seconds
