"""The live loop with day-ahead prices: a local fake Energi Data Service serves consumption and
prices, the prices of the days before 2025-10-01 as hourly `Elspotprices` records and those from
it as 15-minute `DayAheadPrices` records; one tick of each schedule and automation store both
days' prices and forecast with them, and a day whose prices the fake withholds is still
forecast, flagged as made without prices.

The real Aalborg consumption and DK1 prices of 2023 are served 104 weeks later (weekdays kept),
so that their days straddle the market's move to 15-minute products.
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
from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.forecasting.model import PRICE_KNOWN_COLUMN
from energy_assets.domain.prices import PRICE_EUR, published_at, read_price_file
from energy_assets.domain.schema import TIME
from energy_assets.names import INGEST_JOB, INGEST_SCHEDULE, PRICES_JOB, PRICES_SCHEDULE
from energy_assets.settings import Settings, load_settings
from tests.asset_keys import FEATURES_KEY, MODEL_KEY, PARAMS_KEY, PREDICTIONS_KEY, PRICES_KEY, RAW
from tests.http_replay import ReplayDataset, ReplayServer
from tests.test_live_loop import PINNED, automate, automation_cursor
from tests.test_model_assets import evaluations, failure_text, run

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SHIFT = pd.Timedelta(weeks=104)
HOURLY_DAY = dt.date(2025, 9, 30)  # the last day of Elspotprices
QUARTER_DAY = dt.date(2025, 10, 1)  # the first day of DayAheadPrices
WITHHELD = dt.date(2025, 10, 2)  # the fake has no prices for it
HISTORY_END = dt.date(2025, 9, 28)
FIRST_DAY = HISTORY_END - dt.timedelta(days=100)
MODEL_WEEK = "2025-09-29"
# 13:30 Danish time on 2025-10-03: consumption is published up to 10-01 (one day late).
TICK = dt.datetime(2025, 10, 3, 11, 30, tzinfo=dt.UTC)
SWITCH = pd.Timestamp("2025-09-30 22:00", tz="UTC")  # 2025-10-01 00:00 Danish time


def shifted_records(
    path: Path, shift: pd.Timedelta, first: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """The real consumption moved by `shift`, as the API publishes the days [first, end)."""
    rows = pd.read_csv(path, sep=";", decimal=",", dtype={"MunicipalityNo": str})
    utc = pd.to_datetime(rows["HourUTC"]).dt.tz_localize("UTC") + shift
    keep = (utc >= pd.Timestamp(first, tz="UTC")) & (utc < pd.Timestamp(end, tz="UTC"))
    rows, utc = rows[keep], utc[keep]
    return [
        {
            "HourUTC": at.strftime("%Y-%m-%dT%H:%M:%S"),
            "HourDK": at.tz_convert("Europe/Copenhagen").strftime("%Y-%m-%dT%H:%M:%S"),
            "MunicipalityNo": r.MunicipalityNo,
            "Branche": r.Branche,
            "ConsumptionkWh": float(r.ConsumptionkWh),
        }
        for at, r in zip(utc, rows.itertuples(), strict=True)
    ]


def shifted_consumption(path: Path) -> list[dict[str, Any]]:
    # Published up to 10-01, one day late at the tick.
    return shifted_records(path, SHIFT, FIRST_DAY, dt.date(2025, 10, 2))


def shifted_prices(path: Path) -> pd.DataFrame:
    prices = read_price_file(path)
    prices[TIME] = prices[TIME] + SHIFT
    inside = (prices[TIME] >= pd.Timestamp(FIRST_DAY, tz="UTC") - pd.Timedelta(days=9)) & (
        prices[TIME] < pd.Timestamp("2025-10-06", tz="UTC")
    )
    return prices[inside].reset_index(drop=True)


def elspot_records(prices: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "HourUTC": r.datetime_utc.strftime("%Y-%m-%dT%H:%M:%S"),
            "HourDK": r.datetime_utc.tz_convert("Europe/Copenhagen").strftime("%Y-%m-%dT%H:%M:%S"),
            "PriceArea": r.area,
            "SpotPriceDKK": r.price_dkk_mwh,
            "SpotPriceEUR": r.price_eur_mwh,
        }
        for r in prices.itertuples()
    ]


def quarter_records(prices: pd.DataFrame) -> list[dict[str, Any]]:
    """Each hour as four 15-minute prices around it whose mean is the hour's price; without
    `TimeDK` and the DKK price, which the recorded clients never showed."""
    out = []
    for r in prices.itertuples():
        for q, offset in enumerate((-1.5, -0.5, 0.5, 1.5)):
            out.append(
                {
                    "TimeUTC": (r.datetime_utc + pd.Timedelta(minutes=15 * q)).strftime(
                        "%Y-%m-%dT%H:%M:%S"
                    ),
                    "PriceArea": r.area,
                    "DayAheadPriceEUR": r.price_eur_mwh + offset,
                }
            )
    return out


@pytest.fixture
def api(industry_csv: Path) -> Iterator[tuple[ReplayServer, pd.DataFrame]]:
    prices = shifted_prices(industry_csv.with_name("elspotprices_dk1_2021_2023.csv.gz"))
    before = prices[prices[TIME] < SWITCH]
    withheld = prices[TIME].dt.date == WITHHELD
    after = prices[(prices[TIME] >= SWITCH) & ~withheld]
    datasets = [
        ReplayDataset("ConsumptionIndustry", shifted_consumption(industry_csv)),
        ReplayDataset("Elspotprices", elspot_records(before)),
        ReplayDataset("DayAheadPrices", quarter_records(after), time_field="TimeUTC"),
    ]
    with ReplayServer(datasets) as server:
        yield server, prices


def settings_for(tmp_path: Path, url: str) -> Settings:
    return load_settings(
        source="energidataservice",
        api_base_url=url,
        api_backoff_seconds=0.01,
        price_areas="DK1",
        start_date=FIRST_DAY,
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        training_weeks=12,
        publication_delay_days=1,
    )


def tick(defs: dg.Definitions, name: str) -> list[dg.RunRequest]:
    with dg.build_schedule_context(
        scheduled_execution_time=TICK,
        repository_def=defs.get_repository_def(),
        resources=dict(defs.resources),
    ) as context:
        return list(defs.resolve_schedule_def(name).evaluate_tick(context).run_requests or [])


def stored(settings: Settings, asset: str, day: dt.date) -> Path:
    return settings.storage_dir / asset / f"{day}.parquet"


def test_one_tick_stores_both_price_forms_and_forecasts_with_them(
    api: tuple[ReplayServer, pd.DataFrame], tmp_path: Path
) -> None:
    server, real = api
    settings = settings_for(tmp_path, server.url)
    defs, instance = build_definitions(settings), dg.DagsterInstance.ephemeral()

    # The operator's first backfill up to 09-28, a model for the week of 09-29.
    history = run(
        defs,
        instance,
        [RAW, PRICES_KEY, FEATURES_KEY],
        first=FIRST_DAY.isoformat(),
        last=HISTORY_END.isoformat(),
    )
    assert history.success, failure_text(history)
    study = {"n_trials": 1, "end_date": str(HISTORY_END), "search_space": PINNED}
    assert run(defs, instance, [PARAMS_KEY], config=study).success
    model = run(defs, instance, [MODEL_KEY], partition=MODEL_WEEK)
    assert model.success, failure_text(model)

    # One tick of each schedule: consumption up to 10-01, every price day not yet stored.
    cursor = automation_cursor(defs, instance, TICK - dt.timedelta(minutes=1))
    consumption_days = [r.partition_key for r in tick(defs, INGEST_SCHEDULE)]
    assert consumption_days == ["2025-10-01", "2025-09-30", "2025-09-29"]
    price_days = [r.partition_key for r in tick(defs, PRICES_SCHEDULE)]
    # Tomorrow's prices (10-04) are out at 13:00 Danish time: asked for today.
    assert price_days[0] == "2025-10-04" and str(HOURLY_DAY) in price_days
    for job, days in ((INGEST_JOB, consumption_days), (PRICES_JOB, price_days)):
        for day in days:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, partition_key=day, raise_on_error=False
            )
            assert result.success == (day != str(WITHHELD)), (day, failure_text(result))

    # Each day was asked of the dataset that publishes it, and stored as the real hours.
    asked = {r.path.rsplit("/", 1)[-1] for r in server.requests}
    assert asked == {"ConsumptionIndustry", "Elspotprices", "DayAheadPrices"}
    for day in (HOURLY_DAY, QUARTER_DAY):
        frame = pd.read_parquet(stored(settings, "day_ahead_prices", day))
        truth = real[real[TIME].dt.date == day]
        assert len(frame) == 24 and list(frame[TIME]) == list(truth[TIME])
        np.testing.assert_allclose(frame[PRICE_EUR], truth[PRICE_EUR], rtol=1e-12, atol=1e-9)
    # The withheld day was refused by the price contract and not stored.
    assert not stored(settings, "day_ahead_prices", WITHHELD).exists()
    refused = [
        e
        for r in instance.get_run_records()
        for e in evaluations(instance, r.dagster_run.run_id)
        if e.asset_key == PRICES_KEY and not e.passed
    ]
    assert [e.partition for e in refused] == [str(WITHHELD)]
    assert "DK1: 24 of 24 hours have no price" in str(refused[0].description)

    # Automation forecasts the days after the new consumption, with prices where stored.
    done = automate(defs, instance, TICK + dt.timedelta(hours=1), cursor)
    for day in (HOURLY_DAY, QUARTER_DAY, WITHHELD):
        assert f"predictions {day}" in done
    for day in (HOURLY_DAY, QUARTER_DAY):
        features = pd.read_parquet(stored(settings, "consumption_features", day))
        origin = pd.Timestamp(day, tz="UTC")
        hours = pd.DatetimeIndex(features[TIME])
        public = np.asarray(published_at(hours) <= origin)
        # The hours auctioned before the forecast was issued carry their real price; the last
        # hours of the UTC day, auctioned after it, none.
        truth = real.set_index(TIME)[PRICE_EUR].reindex(hours).to_numpy()
        np.testing.assert_allclose(features["p_hour"].to_numpy()[public], truth[public])
        assert features["p_hour"][~public].isna().all() and public.sum() >= 22
        issue = pd.read_parquet(stored(settings, "predictions", day))
        predicted = issue[issue[LEAD] == 1]
        assert predicted[PRICE_KNOWN_COLUMN].sum() == public.sum()
    issue = pd.read_parquet(stored(settings, "predictions", WITHHELD))
    without = issue[issue[LEAD] == 1]
    assert len(without) == 24 and not without[PRICE_KNOWN_COLUMN].any()
    assert without["prediction_kwh"].notna().all()
    # The issue's further days (10-03, 10-04) were auctioned by the time it was issued, but
    # for the last UTC hours of 10-04, which belong to the Danish day after.
    further = issue[issue[LEAD] > 1]
    auctioned = published_at(pd.DatetimeIndex(further[TIME])) <= further["issued_at"].iloc[0]
    assert (further[PRICE_KNOWN_COLUMN].to_numpy() == np.asarray(auctioned)).all()
    assert np.asarray(auctioned).sum() >= 46

    # The materializations and the dashboard's API say which forecast was made without prices.
    flags = {}
    for day in (QUARTER_DAY, WITHHELD):
        [event] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=PREDICTIONS_KEY, asset_partitions=[str(day)]), limit=1
        ).records
        metadata = event.asset_materialization.metadata
        flags[day] = metadata["made_without_prices"].value
        if day == WITHHELD:
            assert metadata["days_without_prices"].value == [str(WITHHELD)]
    assert flags == {QUARTER_DAY: False, WITHHELD: True}

    from dash_app.app import create_app
    from tests.dashboards import dashboard_settings

    client = create_app(dashboard_settings(settings)).server.test_client()
    series = "area=DK1&municipality=851&branch=Privat"
    for day, expected in ((QUARTER_DAY, False), (WITHHELD, True)):
        body = client.get(f"/api/predictions?{series}&date={day}").get_json()
        assert body["made_without_prices"] is expected, body
