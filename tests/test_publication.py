"""Publication discovered, not assumed: the ingest schedule asks the source for its newest hour,
fetches up to it, and raises a freshness alert where the source is later than the configured
delay expects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.domain.sources import EnergiDataServiceSource
from energy_assets.names import INGEST_SCHEDULE
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import storage_from_settings
from tests.http_replay import Fault, ReplayDataset, ReplayServer

LAST = dt.date(2024, 11, 10)  # the newest day of the export taken on 2024-11-19


def records(last: dt.date, quarters: bool = False) -> list[dict[str, Any]]:
    """ConsumptionIndustry records of one series for the ten days up to `last`."""
    step = pd.Timedelta(minutes=15 if quarters else 60)
    stamps = pd.date_range(
        pd.Timestamp(last - dt.timedelta(days=9)),
        pd.Timestamp(last + dt.timedelta(days=1)),
        freq=step,
        inclusive="left",
    )
    field = "TimeUTC" if quarters else "HourUTC"
    return [
        {
            field: t.strftime("%Y-%m-%dT%H:%M:%S"),
            "MunicipalityNo": "851",
            "Branche": "Privat",
            "ConsumptionkWh": 1000.0 + i,
        }
        for i, t in enumerate(stamps)
    ]


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer([ReplayDataset("ConsumptionIndustry", records(LAST))]) as replay:
        yield replay


def settings_for(tmp_path: Path, url: str, delay: int) -> Settings:
    return load_settings(
        source="energidataservice",
        api_base_url=url,
        api_backoff_seconds=0.01,
        api_max_retries=1,
        prices="none",
        start_date=dt.date(2024, 10, 1),
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        publication_delay_days=delay,
        refetch_days=2,
    )


def tick(settings: Settings, at: dt.datetime) -> list[dg.RunRequest]:
    defs = build_definitions(settings)
    with dg.build_schedule_context(
        scheduled_execution_time=at,
        repository_def=defs.get_repository_def(),
        resources=dict(defs.resources),
    ) as context:
        result = defs.resolve_schedule_def(INGEST_SCHEDULE).evaluate_tick(context)
        return list(result.run_requests or [])


def test_the_newest_hour_is_one_record_sorted_by_time_descending(server: ReplayServer) -> None:
    source = EnergiDataServiceSource(server.url, backoff_seconds=0.01)
    assert source.newest_hour() == pd.Timestamp(LAST, tz="UTC") + pd.Timedelta(hours=23)
    [asked] = server.requests
    assert asked.query["sort"] == "HourUTC DESC" and asked.query["limit"] == "1"


def test_a_quarter_hour_dataset_names_the_hour_of_its_newest_quarter() -> None:
    dataset = ReplayDataset("ConsumptionIndustry", records(LAST, quarters=True), "TimeUTC")
    with ReplayServer([dataset]) as server:
        source = EnergiDataServiceSource(server.url, backoff_seconds=0.01)
        assert source.newest_hour() == pd.Timestamp(LAST, tz="UTC") + pd.Timedelta(hours=23)
        # The hourly sort was refused (400), the quarter-hour one answered.
        assert [r.query["sort"] for r in server.requests] == ["HourUTC DESC", "TimeUTC DESC"]


def test_the_tick_fetches_up_to_the_newest_published_day_on_time(
    server: ReplayServer, tmp_path: Path
) -> None:
    # 2024-11-19: nine days after the newest day, as the export found; a delay of 8 expects it.
    settings = settings_for(tmp_path, server.url, delay=8)
    requests = tick(settings, dt.datetime(2024, 11, 19, 6, tzinfo=dt.UTC))
    assert [r.partition_key for r in requests] == ["2024-11-10", "2024-11-09", "2024-11-08"]
    assert AlertLog(storage_from_settings(settings)).read() == []


def test_a_source_later_than_usual_is_fetched_as_far_as_it_goes_and_raises_an_alert(
    server: ReplayServer, tmp_path: Path
) -> None:
    # Expected three days later than the source has got to.
    settings = settings_for(tmp_path, server.url, delay=5)
    at = dt.datetime(2024, 11, 19, 6, tzinfo=dt.UTC)
    requests = tick(settings, at)
    assert requests[0].partition_key == "2024-11-10"  # not 11-13, which it has not published
    log = AlertLog(storage_from_settings(settings))
    [alert] = log.read()
    assert alert.source == "freshness" and alert.level.value == "WARN"
    assert alert.message.startswith("newest actuals 2024-11-10 are 9 days old, usually 6")
    assert log.pending() == [alert]  # the outbox sensor delivers it
    tick(settings, at + dt.timedelta(hours=1))
    assert len(log.read()) == 1  # one alert per day, not per tick


def test_an_unreachable_source_falls_back_to_the_expected_day(tmp_path: Path) -> None:
    with ReplayServer([ReplayDataset("ConsumptionIndustry", records(LAST))]) as server:
        server.inject(*[Fault.http_status(503)] * 4)
        settings = settings_for(tmp_path, server.url, delay=8)
        requests = tick(settings, dt.datetime(2024, 11, 19, 6, tzinfo=dt.UTC))
    assert requests[0].partition_key == "2024-11-10"
    assert AlertLog(storage_from_settings(settings)).read() == []
