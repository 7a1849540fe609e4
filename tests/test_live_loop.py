"""The live loop on data published today: the daily schedule's tick fetches a new
`ConsumptionIndustry` day from a local fake Energi Data Service, automation carries it through
features and predictions, and the dashboard serves the new forecast.

The fake API serves bodies built from the real Aalborg rows, once in the hourly `HourUTC` form
and once in the 15-minute `TimeUTC` form (each real hour split into four quarters that sum to
it), under the same dataset name: the source must recognise either.
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
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

from energy_assets.definitions import build_definitions
from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.forecasting.model import DEFAULT_PARAMS, PREDICTION
from energy_assets.domain.schema import TIME, VALUE
from energy_assets.names import INGEST_JOB, INGEST_SCHEDULE
from energy_assets.settings import Settings, load_settings
from tests.asset_keys import (
    DRIFT_KEY,
    FEATURES_KEY,
    MODEL_KEY,
    MONITORING_KEY,
    PARAMS_KEY,
    PREDICTIONS_KEY,
    RAW,
)
from tests.http_replay import ReplayDataset, ReplayServer
from tests.test_model_assets import evaluations, failure_text, run

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

DATASET = "ConsumptionIndustry"
NEW_DAY = dt.date(2023, 3, 15)  # a Wednesday: published 15 days later
FIRST_DAY = NEW_DAY - dt.timedelta(days=100)
MODEL_WEEK = "2023-03-13"
PINNED = {k: {"kind": "categorical", "choices": [v]} for k, v in DEFAULT_PARAMS.items()}


def industry_rows(path: Path, last: dt.date = NEW_DAY) -> pd.DataFrame:
    """The CSV rows as the API would have them (numbers, ISO times), published up to `last`."""
    rows = pd.read_csv(path, sep=";", decimal=",", dtype={"MunicipalityNo": str})
    utc = pd.to_datetime(rows["HourUTC"])
    keep = (utc >= pd.Timestamp(FIRST_DAY)) & (utc < pd.Timestamp(last + dt.timedelta(days=1)))
    return rows[keep].reset_index(drop=True)


def hourly_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "HourUTC": pd.Timestamp(r.HourUTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "HourDK": pd.Timestamp(r.HourDK).strftime("%Y-%m-%dT%H:%M:%S"),
            "MunicipalityNo": r.MunicipalityNo,
            "Branche": r.Branche,
            "ConsumptionkWh": float(r.ConsumptionkWh),
        }
        for r in rows.itertuples()
    ]


def quarter_records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Each real hour as four 15-minute records that sum to it (the last takes the rounding)."""
    out = []
    for r in rows.itertuples():
        quarter = round(float(r.ConsumptionkWh) / 4, 6)
        parts = [quarter, quarter, quarter, float(r.ConsumptionkWh) - 3 * quarter]
        for i, value in enumerate(parts):
            step = pd.Timedelta(minutes=15 * i)
            out.append(
                {
                    "TimeUTC": (pd.Timestamp(r.HourUTC) + step).strftime("%Y-%m-%dT%H:%M:%S"),
                    "TimeDK": (pd.Timestamp(r.HourDK) + step).strftime("%Y-%m-%dT%H:%M:%S"),
                    "MunicipalityNo": r.MunicipalityNo,
                    "Branche": r.Branche,
                    "ConsumptionkWh": value,
                }
            )
    return out


@pytest.fixture(params=["HourUTC", "TimeUTC"])
def api(request: pytest.FixtureRequest, industry_csv: Path) -> Iterator[tuple[ReplayServer, str]]:
    rows = industry_rows(industry_csv)
    form = request.param
    records = hourly_records(rows) if form == "HourUTC" else quarter_records(rows)
    with ReplayServer([ReplayDataset(DATASET, records, time_field=form)]) as server:
        yield server, form


def settings_for(tmp_path: Path, url: str) -> Settings:
    # Only the base URL (the fake API) and a small workspace: the dataset is the default.
    return load_settings(
        source="energidataservice",
        api_base_url=url,
        api_backoff_seconds=0.01,
        start_date=FIRST_DAY,
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        training_weeks=12,
        publication_delay_days=15,
    )


def automation_cursor(
    defs: dg.Definitions, instance: dg.DagsterInstance, at: dt.datetime
) -> AssetDaemonCursor:
    """The daemon's state before the tick: one evaluation whose requests are left alone."""
    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=at
    ).cursor


def automate(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    at: dt.datetime,
    cursor: AssetDaemonCursor,
) -> list[str]:
    """Evaluate declarative automation as the daemon would, and run what it requests, until it
    requests nothing; the asset partitions it materialized."""
    job = defs.resolve_implicit_global_asset_job_def()
    done: list[str] = []
    for _ in range(6):
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=at, cursor=cursor
        )
        cursor = result.cursor
        if not result.total_requested:
            return done
        for key in (FEATURES_KEY, MODEL_KEY, PREDICTIONS_KEY, MONITORING_KEY, DRIFT_KEY):
            for partition in sorted(result.get_requested_partitions(key)):
                outcome = job.execute_in_process(
                    instance=instance,
                    asset_selection=[key],
                    partition_key=partition,
                    raise_on_error=False,
                )
                assert outcome.success, failure_text(outcome)
                done.append(f"{key.to_user_string()} {partition}")
    raise AssertionError(f"automation still requested runs after six ticks: {done}")


def history_before_the_new_day(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """An operator's first backfill up to the day before, a pinned model for the week, and the
    forecast of the new day, made before its actuals were published."""
    before = (NEW_DAY - dt.timedelta(days=1)).isoformat()
    history = run(defs, instance, [RAW, FEATURES_KEY], first=FIRST_DAY.isoformat(), last=before)
    assert history.success, failure_text(history)
    study = {"n_trials": 1, "end_date": "2023-03-12", "search_space": PINNED}
    assert run(defs, instance, [PARAMS_KEY], config=study).success
    model = run(defs, instance, [MODEL_KEY], partition=MODEL_WEEK)
    assert model.success, failure_text(model)
    for key in (FEATURES_KEY, PREDICTIONS_KEY):
        forecast = run(defs, instance, [key], partition=NEW_DAY.isoformat())
        assert forecast.success, failure_text(forecast)


def schedule_tick(defs: dg.Definitions, at: dt.datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(INGEST_SCHEDULE)
    with dg.build_schedule_context(
        scheduled_execution_time=at,
        repository_def=defs.get_repository_def(),
        resources=dict(defs.resources),
    ) as context:
        return list(schedule.evaluate_tick(context).run_requests or [])


def ingest_day(
    defs: dg.Definitions, instance: dg.DagsterInstance, day: str
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, partition_key=day, raise_on_error=False
    )


def test_the_daily_tick_carries_a_new_day_through_to_the_dashboard(
    api: tuple[ReplayServer, str], tmp_path: Path, industry_csv: Path
) -> None:
    server, form = api
    settings = settings_for(tmp_path, server.url)
    assert settings.api_dataset == DATASET
    defs, instance = build_definitions(settings), dg.DagsterInstance.ephemeral()

    history_before_the_new_day(defs, instance)

    # The schedule's tick 15 days after the day asks for it, and the run fetches it.
    tick_at = dt.datetime.combine(NEW_DAY + dt.timedelta(days=16), dt.time(6), dt.UTC)
    cursor = automation_cursor(defs, instance, tick_at - dt.timedelta(minutes=1))
    [request] = schedule_tick(defs, tick_at)
    assert request.partition_key == NEW_DAY.isoformat()
    requests_before = len(server.requests)
    ingest = ingest_day(defs, instance, request.partition_key)
    assert ingest.success, failure_text(ingest)
    asked = server.requests[requests_before:]
    # The hourly form is asked first; a dataset in the 15-minute form rejects it once.
    forms = [r.query["sort"].split()[0] for r in asked]
    expected = ["HourUTC"] if form == "HourUTC" else ["HourUTC", "TimeUTC"]
    assert sorted(set(forms)) == expected and forms[-1] == form

    # The stored day holds the real hours of the export, summed from quarters where need be.
    stored = pd.read_parquet(settings.storage_dir / "raw_consumption" / f"{NEW_DAY}.parquet")
    real = pd.read_csv(industry_csv, sep=";", decimal=",")
    real["utc"] = pd.to_datetime(real["HourUTC"], utc=True)
    real = real[real["utc"].dt.date == NEW_DAY]
    assert len(stored) == 24 and list(stored[TIME]) == list(real["utc"])
    np.testing.assert_allclose(stored[VALUE], real["ConsumptionkWh"], rtol=1e-12)
    assert set(stored["area"]) == {"DK1"} and set(stored["municipality"]) == {851}

    # Automation (evaluated as the daemon would, at the tick) runs what the new day allows.
    done = automate(defs, instance, tick_at + dt.timedelta(hours=1), cursor)
    next_day = (NEW_DAY + dt.timedelta(days=1)).isoformat()
    assert f"consumption_features {next_day}" in done
    assert f"predictions {next_day}" in done
    assert f"forecast_monitoring {NEW_DAY}" in done

    # The dashboard shows the new forecast day, by the dataset's own keys.
    from dash_app.app import create_app
    from tests.dashboards import dashboard_settings

    client = create_app(dashboard_settings(settings)).server.test_client()
    query = f"area=DK1&municipality=851&branch=Privat&date={next_day}"
    response = client.get(f"/api/predictions?{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["rows"]) == 24 and body["model_uri"].startswith("models:/")
    issue = pd.read_parquet(settings.storage_dir / "predictions" / f"{next_day}.parquet")
    predicted = issue[issue[LEAD] == 1]  # the newest forecast of the day: its own issue's
    assert [r["prediction_kwh"] for r in body["rows"]] == pytest.approx(
        predicted[PREDICTION].tolist()
    )
    assert (
        client.get(
            f"/api/predictions?area=DK1&municipality=999&branch=Privat&date={next_day}"
        ).status_code
        == 400
    )


def test_a_partial_day_is_refused_blocks_automation_and_is_fetched_again_until_complete(
    industry_csv: Path, tmp_path: Path
) -> None:
    rows = industry_rows(industry_csv)
    utc = pd.to_datetime(rows["HourUTC"])
    late_hours = (utc.dt.date == NEW_DAY) & (utc.dt.hour >= 20)
    partial = ReplayDataset(DATASET, hourly_records(rows[~late_hours]))
    with ReplayServer([partial]) as server:
        settings = settings_for(tmp_path, server.url)
        defs, instance = build_definitions(settings), dg.DagsterInstance.ephemeral()
        history_before_the_new_day(defs, instance)
        published = settings.storage_dir / "raw_consumption" / f"{NEW_DAY}.parquet"

        # The day comes with its last four hours missing: refused, not published.
        tick_at = dt.datetime.combine(NEW_DAY + dt.timedelta(days=16), dt.time(6), dt.UTC)
        cursor = automation_cursor(defs, instance, tick_at - dt.timedelta(minutes=1))
        [request] = schedule_tick(defs, tick_at)
        refused = ingest_day(defs, instance, request.partition_key)
        assert not refused.success
        [verdict] = evaluations(instance, refused.run_id)
        assert not verdict.passed
        assert "complete_hourly_grid: 4 missing hours" in str(verdict.description)
        assert "not published, the stored day is unchanged" in str(verdict.description)
        assert not published.exists()
        # Automation runs nothing on the refused day: no features of the next day, no scores.
        assert automate(defs, instance, tick_at + dt.timedelta(hours=1), cursor) == []

        # The source completes the day and publishes the next; the next tick fetches both.
        served = industry_rows(industry_csv, NEW_DAY + dt.timedelta(days=1))
        server.add_dataset(ReplayDataset(DATASET, hourly_records(served)))
        next_tick = tick_at + dt.timedelta(days=1)
        cursor = automation_cursor(defs, instance, next_tick - dt.timedelta(minutes=1))
        requests = schedule_tick(defs, next_tick)
        next_day = (NEW_DAY + dt.timedelta(days=1)).isoformat()
        assert [r.partition_key for r in requests] == [next_day, NEW_DAY.isoformat()]
        assert requests[1].tags["energy/refetch"] == "true"
        fetched = ingest_day(defs, instance, NEW_DAY.isoformat())
        assert fetched.success, failure_text(fetched)
        assert len(pd.read_parquet(published)) == 24
        done = automate(defs, instance, next_tick + dt.timedelta(hours=1), cursor)
        assert f"consumption_features {next_day}" in done
        assert f"predictions {next_day}" in done
        assert f"forecast_monitoring {NEW_DAY}" in done
