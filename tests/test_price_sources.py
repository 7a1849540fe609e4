"""Day-ahead price sources: the API across the move to 15-minute products (and a dataset that
moves in place), the export file, the simulator's synthetic prices; the contract on days whose
last hours are not yet auctioned, and the days the prices schedule asks for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_assets.defs.forecasting.features import with_prices
from energy_assets.domain.prices import PRICE_COLUMNS, PRICE_EUR, check_prices, price_problems
from energy_assets.domain.schema import AREA, TIME
from energy_assets.domain.sources import SourceError, price_source_from_settings
from energy_assets.domain.sources.eds_api import EnergiDataServiceClient
from energy_assets.domain.sources.prices import (
    EnergiDataServicePrices,
    PriceFileSource,
    SimulatedPrices,
)
from energy_assets.domain.sources.simulator import SimulatorSource
from energy_assets.settings import PriceSourceKind, load_settings
from sensors.prices_schedule import price_days_due
from tests.http_replay import Fault, ReplayDataset, ReplayServer

SWITCH = pd.Timestamp("2025-09-30 22:00", tz="UTC")  # 2025-10-01 00:00 Danish time


def truth(start: str, end: str) -> pd.DataFrame:
    """Known hourly prices of both areas: hour h of the span costs h - 30 (DK1) or h - 20 (DK2),
    some negative."""
    stamps = pd.date_range(start, end, freq="h", tz="UTC", inclusive="left")
    rows = [
        {TIME: t, AREA: area, PRICE_EUR: float(i - 30 + 10 * a)}
        for i, t in enumerate(stamps)
        for a, area in enumerate(("DK1", "DK2"))
    ]
    frame = pd.DataFrame(rows).assign(price_dkk_mwh=np.nan)
    return frame.astype({AREA: "string"})[PRICE_COLUMNS]


def elspot(prices: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "HourUTC": r[TIME].strftime("%Y-%m-%dT%H:%M:%S"),
            "HourDK": r[TIME].tz_convert("Europe/Copenhagen").strftime("%Y-%m-%dT%H:%M:%S"),
            "PriceArea": r[AREA],
            "SpotPriceDKK": r[PRICE_EUR] * 7.46,
            "SpotPriceEUR": r[PRICE_EUR],
        }
        for _, r in prices.iterrows()
    ]


def quarters(prices: pd.DataFrame, eur: str = "DayAheadPriceEUR") -> list[dict[str, Any]]:
    """Four quarters per hour whose mean is the hour's price."""
    return [
        {
            "TimeUTC": (r[TIME] + pd.Timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%S"),
            "PriceArea": r[AREA],
            eur: r[PRICE_EUR] + (q - 1.5),
        }
        for _, r in prices.iterrows()
        for q in range(4)
    ]


def source(server: ReplayServer, areas: tuple[str, ...] = ("DK1", "DK2")) -> Any:
    client = EnergiDataServiceClient(server.url, timeout_seconds=5.0, backoff_seconds=0.01)
    return EnergiDataServicePrices(client, areas)


def test_each_day_comes_from_the_dataset_that_publishes_it_as_hourly_prices() -> None:
    real = truth("2025-09-29", "2025-10-03")
    datasets = [
        ReplayDataset("Elspotprices", elspot(real[real[TIME] < SWITCH])),
        ReplayDataset("DayAheadPrices", quarters(real[real[TIME] >= SWITCH]), "TimeUTC"),
    ]
    with ReplayServer(datasets) as server:
        got = source(server).fetch(
            pd.Timestamp("2025-09-29", tz="UTC"), pd.Timestamp("2025-10-03", tz="UTC")
        )
        asked = [
            (r.path, r.query["start"], r.query["end"], r.query["sort"]) for r in server.requests
        ]
        sent_filter = set(server.sent("filter"))
    assert asked == [
        (
            "/dataset/Elspotprices",
            "2025-09-29T00:00",
            "2025-09-30T22:00",
            "HourUTC ASC,PriceArea ASC",
        ),
        (
            "/dataset/DayAheadPrices",
            "2025-09-30T22:00",
            "2025-10-03T00:00",
            "TimeUTC ASC,PriceArea ASC",
        ),
    ]
    assert sent_filter == {'{"PriceArea":["DK1","DK2"]}'}
    assert list(got.columns) == PRICE_COLUMNS and len(got) == 4 * 24 * 2
    np.testing.assert_allclose(got[PRICE_EUR], real[PRICE_EUR], atol=1e-12)
    # DKK where the records carry it (Elspotprices), none where they do not.
    assert got.loc[got[TIME] < SWITCH, "price_dkk_mwh"].notna().all()
    assert got.loc[got[TIME] >= SWITCH, "price_dkk_mwh"].isna().all()
    assert check_prices(
        got, got[TIME].min(), got[TIME].max() + pd.Timedelta(hours=1), ["DK1", "DK2"]
    )


@pytest.mark.parametrize("lenient", [False, True], ids=["refused-400", "answered-200"])
def test_a_price_dataset_that_moves_to_quarter_hours_in_place_is_recognised(lenient: bool) -> None:
    # Elspotprices keeps its name and price field but publishes 15-minute TimeUTC records; the
    # server either refuses the hourly sort field (400) or ignores it (200, no HourUTC).
    real = truth("2025-09-20", "2025-09-21")
    moved = ReplayDataset("Elspotprices", quarters(real, eur="SpotPriceEUR"), "TimeUTC")
    with ReplayServer([moved]) as server:
        server.ignore_unknown_fields = lenient
        got = source(server).fetch(
            pd.Timestamp("2025-09-20", tz="UTC"), pd.Timestamp("2025-09-21", tz="UTC")
        )
        forms = [r.query.get("sort", "").split(" ")[0] for r in server.requests]
    assert forms == ["HourUTC", "TimeUTC"]
    np.testing.assert_allclose(got[PRICE_EUR], real[PRICE_EUR], atol=1e-12)


def test_an_hour_missing_a_quarter_has_no_price_and_the_contract_names_it() -> None:
    real = truth("2025-10-05", "2025-10-06")
    records = quarters(real)
    del records[7 * 8 + 2]  # DK1's 07:00 hour loses a quarter (two areas per hour, four quarters)
    with ReplayServer([ReplayDataset("DayAheadPrices", records, "TimeUTC")]) as server:
        day = pd.Timestamp("2025-10-05", tz="UTC")
        got = source(server).fetch(day, day + pd.Timedelta(days=1))
    assert len(got) == 47
    lacking = got[(got[AREA] == "DK1") & (got[TIME].dt.hour == 7)]
    assert lacking.empty  # never a mean of three quarters
    problems = price_problems(got, day, day + pd.Timedelta(days=1), ["DK1", "DK2"])
    assert problems == ["DK1: 1 of 24 hours have no price, first 2025-10-05 07:00:00+00:00"]


def test_server_faults_are_retried_and_then_fail_loudly_naming_the_dataset() -> None:
    real = truth("2025-10-05", "2025-10-06")
    with ReplayServer([ReplayDataset("DayAheadPrices", quarters(real), "TimeUTC")]) as server:
        day = pd.Timestamp("2025-10-05", tz="UTC")
        server.inject(Fault.http_status(503), Fault.close())
        assert len(source(server).fetch(day, day + pd.Timedelta(days=1))) == 48
        server.inject(*[Fault.http_status(503)] * 10)
        with pytest.raises(SourceError, match=r"dataset/DayAheadPrices .*gave up after 5 retries"):
            source(server).fetch(day, day + pd.Timedelta(days=1))


def test_the_file_source_reads_an_export_or_a_canonical_parquet(tmp_path: Path) -> None:
    real = truth("2023-03-01", "2023-03-03")
    path = tmp_path / "prices.parquet"
    real.to_parquet(path)
    day = pd.Timestamp("2023-03-02", tz="UTC")
    got = PriceFileSource(path, ("DK1",)).fetch(day, day + pd.Timedelta(days=1))
    assert len(got) == 24 and set(got[AREA]) == {"DK1"}
    assert got[TIME].min() == day
    with pytest.raises(SourceError, match=r"ENERGY_PRICES_FILE: .*missing.csv does not exist"):
        PriceFileSource(tmp_path / "missing.csv").fetch(day, day + pd.Timedelta(days=1))


def test_simulated_prices_are_synthetic_follow_demand_and_any_day_alone_equals_the_range() -> None:
    prices = SimulatedPrices(seed=7)
    assert prices.synthetic and "SYNTHETIC" in prices.describe()
    start, end = pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="UTC")
    year = prices.fetch(start, end)
    assert len(year) == 8760 * 2 and check_prices(year, start, end, ["DK1", "DK2"]) is not None
    assert price_problems(year, start, end, ["DK1", "DK2"]) == []
    negative = int((year[PRICE_EUR] < 0).sum())
    assert 0 < negative < 0.1 * len(year)  # now and then, as real prices are
    load = SimulatorSource(seed=7).fetch(start, end).groupby([TIME, AREA], observed=True)
    demand = load["consumption_kwh"].sum().rename("load").reset_index()
    joined = year.merge(demand, on=[TIME, AREA])
    for _, area in joined.groupby(AREA):
        assert np.corrcoef(area[PRICE_EUR], area["load"])[0, 1] > 0.5
    day = pd.Timestamp("2023-05-07", tz="UTC")
    alone = prices.fetch(day, day + pd.Timedelta(days=1))
    inside = year[(year[TIME] >= day) & (year[TIME] < day + pd.Timedelta(days=1))]
    pd.testing.assert_frame_equal(alone, inside.reset_index(drop=True))


def test_a_day_fetched_before_its_last_hours_are_auctioned_passes_with_the_hours_out() -> None:
    # 13:30 Danish time on 2025-10-03: the UTC day 10-04 is auctioned up to 21:00 UTC (its last
    # two hours are Danish 10-05, auctioned tomorrow).
    now = pd.Timestamp("2025-10-03 11:30", tz="UTC")
    day = pd.Timestamp("2025-10-04", tz="UTC")
    fetched = truth("2025-10-04", "2025-10-04 22:00")
    outcomes = check_prices(fetched, day, day + pd.Timedelta(days=1), ["DK1", "DK2"], now=now)
    assert all(o.passed for o in outcomes.values())
    assert outcomes["complete_hourly_grid"].metadata == {"expected_hours": 22}
    # The same rows a day later are two hours short.
    later = check_prices(
        fetched, day, day + pd.Timedelta(days=1), ["DK1", "DK2"], now=now + pd.Timedelta(days=1)
    )
    assert not later["complete_hourly_grid"].passed
    assert (
        "DK1: 2 of 24 hours have no price, first 2025-10-04 22:00:00+00:00"
        in later["complete_hourly_grid"].description
    )


def test_the_schedule_asks_for_tomorrow_once_auctioned_and_again_for_days_not_whole(
    tmp_path: Path,
) -> None:
    settings = load_settings(storage_dir=tmp_path, start_date=dt.date(2025, 9, 1), refetch_days=3)
    morning = dt.datetime(2025, 10, 3, 9, 0, tzinfo=dt.UTC)  # 11:00 Danish time
    afternoon = dt.datetime(2025, 10, 3, 11, 30, tzinfo=dt.UTC)  # 13:30
    whole = 24 * 2
    stored = {dt.date(2025, 9, 30): whole, dt.date(2025, 10, 1): whole, dt.date(2025, 10, 2): whole}
    # Before the auction: today's UTC day is out but for its last hours; nothing else is due.
    assert price_days_due(morning, settings, {**stored, dt.date(2025, 10, 3): 22 * 2}) == []
    assert price_days_due(morning, settings, stored) == [dt.date(2025, 10, 3)]
    # After it: tomorrow is due, today's last hours too, and a day stored short is again.
    short = {**stored, dt.date(2025, 10, 3): 22 * 2, dt.date(2025, 10, 1): 40}
    assert price_days_due(afternoon, settings, short) == [
        dt.date(2025, 10, 4),
        dt.date(2025, 10, 3),
        dt.date(2025, 10, 1),
    ]
    # Nothing before the start.
    late_start = settings.model_copy(update={"start_date": dt.date(2025, 10, 4)})
    assert price_days_due(afternoon, late_start, {}) == [dt.date(2025, 10, 4)]


def test_the_price_source_follows_the_consumption_source_unless_set(tmp_path: Path) -> None:
    assert load_settings().price_source is PriceSourceKind.SIMULATOR
    api = load_settings(source="energidataservice")
    assert api.price_source is PriceSourceKind.ENERGIDATASERVICE
    file = load_settings(source="file", file=tmp_path / "c.csv")
    assert file.price_source is PriceSourceKind.NONE and price_source_from_settings(file) is None
    priced = load_settings(source="file", file=tmp_path / "c.csv", prices_file=tmp_path / "p.csv")
    assert priced.price_source is PriceSourceKind.FILE
    assert load_settings(prices="none").uses_prices is False


def test_prices_of_an_area_no_series_lies_in_are_refused_by_setting_name() -> None:
    history = SimulatorSource(seed=1).fetch(
        pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-01-20", tz="UTC")
    )
    dk1 = history[history[AREA] == "DK1"]
    prices = SimulatedPrices(seed=1).fetch(
        pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-01-20", tz="UTC")
    )
    days = pd.date_range("2023-01-18", periods=1, tz="UTC")
    with pytest.raises(dg.Failure, match=r"areas \['DK2'\] match no series.*ENERGY_PRICE_AREAS"):
        with_prices(dk1, days, prices)
    # The DK1 series alone, with DK1 prices only, are fine.
    assert with_prices(dk1, days, prices[prices[AREA] == "DK1"])["p_hour"].notna().any()
