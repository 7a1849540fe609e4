"""The live loop reaching tomorrow: a local fake Energi Data Service publishes consumption up to
day P (the publication delay behind today) and day-ahead prices through tomorrow; one tick of the
daily schedule asks the API for its newest hour, discovers P and fetches it, and automation
forecasts every day from P + 1 through tomorrow in one issue. When P + 1's actuals are published,
monitoring scores P + 1 at every lead it was forecast.

The real Aalborg consumption and DK1 prices of late 2023 are served whole weeks later (weekdays
kept), so that P lies the delay behind the real today: the dashboard's "tomorrow" is the real one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.domain.forecasting.features import LEAD, ORIGIN
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION
from energy_assets.domain.prices import read_price_file
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings, load_settings
from tests.asset_keys import (
    FEATURES_KEY,
    MODEL_KEY,
    MONITORING_KEY,
    PARAMS_KEY,
    PREDICTIONS_KEY,
    PRICES_KEY,
    RAW,
)
from tests.http_replay import ReplayDataset, ReplayServer
from tests.test_live_loop import PINNED, automate, automation_cursor, ingest_day, schedule_tick
from tests.test_live_prices import quarter_records, shifted_records
from tests.test_model_assets import failure_text, run

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

DELAY = 3  # days: P is published DELAY days after it ends; the issue reaches P + DELAY + 2
HORIZON = DELAY + 2
TODAY = dt.datetime.now(dt.UTC).date()
P = TODAY - dt.timedelta(days=1 + DELAY)
TOMORROW = TODAY + dt.timedelta(days=1)
# Whole weeks that carry a day of mid-November 2023 (real data) onto P.
SHIFT = pd.Timedelta(weeks=(P - dt.date(2023, 11, 15)).days // 7)
FIRST_DAY = P - dt.timedelta(days=100)
# The first issue the operator's backfill makes: issues from P - HORIZON + 2 forecast P + 1.
FIRST_ISSUE = P - dt.timedelta(days=HORIZON - 2)


def shifted_rows(path: Path, last: dt.date) -> list[dict[str, Any]]:
    """The real consumption, moved by SHIFT, as the API publishes it up to `last`."""
    return shifted_records(path, SHIFT, FIRST_DAY, last + dt.timedelta(days=1))


def shifted_prices(path: Path) -> pd.DataFrame:
    """The real DK1 prices, moved by SHIFT, from the week before FIRST_DAY through tomorrow."""
    prices = read_price_file(path)
    prices[TIME] = prices[TIME] + SHIFT
    inside = (prices[TIME] >= pd.Timestamp(FIRST_DAY, tz="UTC") - pd.Timedelta(days=9)) & (
        prices[TIME] < pd.Timestamp(TOMORROW + dt.timedelta(days=1), tz="UTC")
    )
    return prices[inside].reset_index(drop=True)


@pytest.fixture
def api(industry_csv: Path) -> Iterator[ReplayServer]:
    prices = shifted_prices(industry_csv.with_name("elspotprices_dk1_2021_2023.csv.gz"))
    datasets = [
        ReplayDataset("ConsumptionIndustry", shifted_rows(industry_csv, P)),
        # Days from 2025-10-01 on are auctioned as 15-minute products.
        ReplayDataset("DayAheadPrices", quarter_records(prices), time_field="TimeUTC"),
    ]
    with ReplayServer(datasets) as server:
        yield server


def settings_for(tmp_path: Path, url: str) -> Settings:
    return load_settings(
        source="energidataservice",
        api_base_url=url,
        api_backoff_seconds=0.01,
        price_areas="DK1",
        start_date=FIRST_DAY,
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        training_weeks=8,
        publication_delay_days=DELAY,
    )


def model_weeks(first: dt.date, last: dt.date) -> list[str]:
    """The Monday of each model week that serves a day of [first, last]."""
    monday = first - dt.timedelta(days=first.weekday())
    return [
        (monday + dt.timedelta(weeks=i)).isoformat() for i in range((last - monday).days // 7 + 1)
    ]


def stored(settings: Settings, asset: str, day: dt.date) -> pd.DataFrame:
    return pd.read_parquet(settings.storage_dir / asset / f"{day}.parquet")


def test_one_tick_discovers_the_newest_day_and_forecasts_through_tomorrow(
    api: ReplayServer, tmp_path: Path, industry_csv: Path
) -> None:
    settings = settings_for(tmp_path, api.url)
    assert settings.horizon_days == HORIZON
    defs, instance = build_definitions(settings), dg.DagsterInstance.ephemeral()

    # The operator's first backfill: consumption up to P - 1, prices through tomorrow, the
    # models of the weeks in reach and the issues made before P was published.
    before = (P - dt.timedelta(days=1)).isoformat()
    history = run(defs, instance, [RAW, FEATURES_KEY], first=FIRST_DAY.isoformat(), last=before)
    assert history.success, failure_text(history)
    prices = run(defs, instance, [PRICES_KEY], first=FIRST_DAY.isoformat(), last=str(TOMORROW))
    assert prices.success, failure_text(prices)
    study = {"n_trials": 1, "end_date": str(FIRST_ISSUE), "search_space": PINNED}
    assert run(defs, instance, [PARAMS_KEY], config=study).success
    for week in model_weeks(FIRST_ISSUE, P + dt.timedelta(days=2)):
        model = run(defs, instance, [MODEL_KEY], partition=week)
        assert model.success, failure_text(model)
    # Issue P is made from P - 1, before P is published.
    issues = run(
        defs, instance, [FEATURES_KEY, PREDICTIONS_KEY], first=str(FIRST_ISSUE), last=str(P)
    )
    assert issues.success, failure_text(issues)

    # One tick today asks the API for its newest hour, and fetches P.
    tick_at = dt.datetime.combine(TODAY, dt.time(6), dt.UTC)
    cursor = automation_cursor(defs, instance, tick_at - dt.timedelta(minutes=1))
    asked_before = len(api.requests)
    requests = schedule_tick(defs, tick_at)
    newest_first = [r for r in api.requests[asked_before:] if r.query.get("limit") == "1"]
    assert newest_first and newest_first[0].query["sort"].endswith("DESC")
    assert requests[0].partition_key == P.isoformat()
    for request in requests:
        fetched = ingest_day(defs, instance, request.partition_key)
        assert fetched.success, failure_text(fetched)

    # Automation forecasts P + 1 .. tomorrow in the issue of P + 1 and scores P at every lead.
    done = automate(defs, instance, tick_at + dt.timedelta(hours=1), cursor)
    issue_day = P + dt.timedelta(days=1)
    assert f"predictions {issue_day}" in done
    issue = stored(settings, "predictions", issue_day)
    days = sorted(issue[TIME].dt.date.unique())
    assert days[0] == issue_day and days[-1] == TOMORROW and len(days) == HORIZON
    assert (issue[ORIGIN] == pd.Timestamp(issue_day, tz="UTC")).all()
    assert sorted(issue[LEAD].unique()) == list(range(1, HORIZON + 1))
    # Issued at noon UTC today, after tomorrow's auction: tomorrow's hours know their prices,
    # but for the last UTC hour or two, which belong to the Danish day after.
    assert (issue[ISSUED_AT] == pd.Timestamp(TODAY, tz="UTC") + pd.Timedelta(hours=12)).all()
    tomorrow_rows = issue[issue[TIME].dt.date == TOMORROW]
    danish_day = tomorrow_rows[TIME].dt.tz_convert("Europe/Copenhagen").dt.date
    assert len(tomorrow_rows) == 24
    assert (tomorrow_rows["price_known"] == (danish_day <= TOMORROW)).all()
    assert (tomorrow_rows[P10] <= tomorrow_rows[PREDICTION]).all()
    assert (tomorrow_rows[PREDICTION] <= tomorrow_rows[P90]).all()

    # MLflow's own loader of the issue's version, given the stored history and prices, makes
    # the same issue: the registered model is the forecaster the pipeline ran.
    import mlflow

    from energy_assets.storage.model_requests import issue_request

    [uri] = issue["model_uri"].unique()
    frame, params = issue_request(settings, uri.rsplit("/", 1)[-1], issue_day)
    served = mlflow.pyfunc.load_model(uri).predict(frame, params=params)
    assert len(served) == len(issue) and served["price_known"].sum() == issue["price_known"].sum()
    for column in (PREDICTION, P10, P90):
        np.testing.assert_allclose(served[column], issue[column], rtol=1e-6, err_msg=column)

    # The dashboard's API answers tomorrow's newest forecast with its lead and issue time.
    from dash_app.app import create_app
    from tests.dashboards import dashboard_settings

    client = create_app(dashboard_settings(settings)).server.test_client()
    series = "area=DK1&municipality=851&branch=Privat"
    body = client.get(f"/api/predictions?{series}&date={TOMORROW}").get_json()
    assert body["lead_days"] == HORIZON, body
    assert pd.Timestamp(body["issued_at"]) == pd.Timestamp(TODAY, tz="UTC") + pd.Timedelta(hours=12)
    assert [r["prediction_kwh"] for r in body["rows"]] == pytest.approx(
        tomorrow_rows[PREDICTION].tolist()
    )

    shows_tomorrow_in_a_browser(settings, tomorrow_rows[PREDICTION].tolist())

    # P + 1 is published the next day: the next tick fetches it, and monitoring scores it at
    # every lead it was forecast (issues P + 2 - HORIZON .. P + 1).
    api.add_dataset(ReplayDataset("ConsumptionIndustry", shifted_rows(industry_csv, issue_day)))
    next_tick = tick_at + dt.timedelta(days=1)
    cursor = automation_cursor(defs, instance, next_tick - dt.timedelta(minutes=1))
    requests = schedule_tick(defs, next_tick)
    assert requests[0].partition_key == issue_day.isoformat()
    fetched = ingest_day(defs, instance, issue_day.isoformat())
    assert fetched.success, failure_text(fetched)
    done = automate(defs, instance, next_tick + dt.timedelta(hours=1), cursor)
    assert f"forecast_monitoring {issue_day}" in done
    scores = stored(settings, "forecast_monitoring", issue_day)
    assert sorted(scores[LEAD]) == list(range(1, HORIZON + 1))
    assert (scores["count"] == 24).all() and scores["wape"].notna().all()
    [event] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=MONITORING_KEY, asset_partitions=[str(issue_day)]),
        limit=1,
    ).records
    metadata = event.asset_materialization.metadata
    by_lead = metadata["leads"].value
    assert sorted(by_lead, key=int) == [str(lead) for lead in range(1, HORIZON + 1)]
    # The top level is the alert lead's (1): the figures the MAPE sensor judges.
    assert metadata["lead_days"].value == 1
    assert metadata["wape"].value == pytest.approx(by_lead["1"]["wape"])
    lead_one = scores[scores[LEAD] == 1].iloc[0]
    assert by_lead["1"]["wape"] == pytest.approx(lead_one["wape"])


def shows_tomorrow_in_a_browser(settings: Settings, expected: list[float]) -> None:
    """The Forecast page, in real headless Chromium, opens on tomorrow and draws tomorrow's
    forecast as the issue stored it, the newest actuals' card naming P."""
    from dash_app.app import create_app
    from dash_app.screenshots import CHROMEDRIVER, CHROMIUM, chromium, serve, wait_for, wait_idle
    from tests.dashboards import dashboard_settings
    from tests.test_dashboard_browser import card, plot_y

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make browser` installs them")
    from selenium.webdriver.common.by import By

    with serve(create_app(dashboard_settings(settings))) as url, chromium() as driver:
        driver.get(url + "/")
        wait_for(driver, "#forecast-graph .js-plotly-plot .main-svg")
        wait_idle(driver)
        picker = driver.find_element(By.ID, "forecast-date")
        if picker.tag_name != "input":
            picker = picker.find_element(By.TAG_NAME, "input")
        assert picker.get_attribute("value") == str(TOMORROW)
        shown = plot_y(driver, "forecast-graph", 2)
        assert len(shown) == (TOMORROW - P).days * 24 + 24  # P through tomorrow
        assert shown[-24:] == pytest.approx(expected)
        actuals = card(driver, "card-freshness")
        assert actuals["value"] == str(P)
        assert actuals["caption"].startswith(f"{(TODAY - P).days} days old")
