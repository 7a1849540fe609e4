"""Day-ahead prices: the two datasets, their canonical hourly form and the contract's rules, on
the real DK1 Elspotprices export and on quarter-hour records in the DayAheadPrices form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.prices import (
    DAY_AHEAD_PRICES,
    ELSPOTPRICES,
    PRICE_COLUMNS,
    PRICE_DKK,
    PRICE_EUR,
    hourly_prices,
    price_dataset_for,
    price_dataset_of,
    price_problems,
    read_price_file,
)
from energy_assets.domain.schema import AREA, TIME, DataFormatError

DAY = pd.Timestamp("2025-10-05", tz="UTC")


@pytest.fixture(scope="module")
def dk1(industry_csv: Path) -> pd.DataFrame:
    return read_price_file(industry_csv.with_name("elspotprices_dk1_2021_2023.csv.gz"))


def quarter_records(day: pd.Timestamp, areas: tuple[str, ...] = ("DK1", "DK2")) -> pd.DataFrame:
    """A day of DayAheadPrices records as the API returns them (strings), with known values:
    quarter q of hour h in area a costs 10 * h + q - 100 * a_index (so some are negative)."""
    rows = []
    for a, area in enumerate(areas):
        for q in range(96):
            at = day + pd.Timedelta(minutes=15 * q)
            eur = 10 * (q // 4) + q % 4 - 100 * a
            rows.append(
                {
                    "TimeUTC": at.strftime("%Y-%m-%dT%H:%M:%S"),
                    "TimeDK": (at + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"),
                    "PriceArea": area,
                    "DayAheadPriceEUR": str(eur),
                    "DayAheadPriceDKK": f"{eur * 7.46:.4f}".replace(".", ","),
                }
            )
    return pd.DataFrame(rows, dtype="string")


def test_the_real_export_reads_as_three_years_of_hourly_dk1_prices(dk1: pd.DataFrame) -> None:
    assert list(dk1.columns) == PRICE_COLUMNS
    assert len(dk1) == 26_281 and set(dk1[AREA]) == {"DK1"}
    assert dk1[TIME].is_monotonic_increasing and not dk1.duplicated([TIME, AREA]).any()
    first = dk1.iloc[0]
    assert first[TIME] == pd.Timestamp("2020-12-31 23:00", tz="UTC")
    assert first[PRICE_EUR] == pytest.approx(50.869999) and first[PRICE_DKK] == pytest.approx(
        378.519989
    )
    start, end = pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2023-12-31", tz="UTC")
    assert price_problems(dk1, start, end, ["DK1"]) == []


def test_negative_prices_are_real_and_kept(dk1: pd.DataFrame) -> None:
    negative = dk1[dk1[PRICE_EUR] < 0]
    assert negative.groupby(negative[TIME].dt.year).size().to_dict() == {
        2021: 87,
        2022: 38,
        2023: 281,
    }
    assert dk1[PRICE_EUR].min() == pytest.approx(-440.100006)


def test_each_day_is_taken_from_the_dataset_that_covers_it() -> None:
    assert price_dataset_for(dt.date(2025, 9, 30)) is ELSPOTPRICES
    assert price_dataset_for(dt.date(2025, 10, 1)) is DAY_AHEAD_PRICES
    assert price_dataset_for(dt.date(2021, 1, 1)) is ELSPOTPRICES


def test_quarter_hours_become_the_mean_of_their_four_quarters() -> None:
    prices = hourly_prices(quarter_records(DAY), where="test")
    assert len(prices) == 48 and list(prices.columns) == PRICE_COLUMNS
    dk2 = prices[prices[AREA] == "DK2"].set_index(TIME)[PRICE_EUR]
    assert dk2.iloc[3] == pytest.approx(10 * 3 + 1.5 - 100)  # negative, and allowed
    assert prices[PRICE_DKK].iloc[0] == pytest.approx(1.5 * 7.46, abs=1e-3)
    assert price_problems(prices, DAY, DAY + pd.Timedelta(days=1), ["DK1", "DK2"]) == []


def test_an_hour_missing_a_quarter_has_no_price_never_a_mean_of_three() -> None:
    records = quarter_records(DAY).drop(index=[4 * 7 + 2])  # DK1, 07:30
    prices = hourly_prices(records, where="test")
    dk1 = prices[prices[AREA] == "DK1"]
    assert len(dk1) == 23 and DAY + pd.Timedelta(hours=7) not in set(dk1[TIME])
    problems = price_problems(prices, DAY, DAY + pd.Timedelta(days=1), ["DK1", "DK2"])
    assert problems == ["DK1: 1 of 24 hours have no price, first 2025-10-05 07:00:00+00:00"]


def test_records_without_dkk_prices_keep_their_eur_prices() -> None:
    records = quarter_records(DAY).drop(columns=["TimeDK", "DayAheadPriceDKK"])
    prices = hourly_prices(records, where="test")
    assert prices[PRICE_DKK].isna().all() and prices[PRICE_EUR].notna().all()


def test_the_dataset_is_recognised_from_the_records_not_their_name() -> None:
    assert price_dataset_of(quarter_records(DAY).columns, where="x") is DAY_AHEAD_PRICES
    hourly = ["HourUTC", "HourDK", "PriceArea", "SpotPriceDKK", "SpotPriceEUR"]
    assert price_dataset_of(hourly, where="x") is ELSPOTPRICES
    with pytest.raises(DataFormatError, match=r"Elspotprices: not price records.*HourUTC"):
        price_dataset_of(["HourUTC", "PriceArea"], where="Elspotprices")


def test_bad_records_are_named_by_row_and_field() -> None:
    records = quarter_records(DAY)
    records.loc[5, "DayAheadPriceEUR"] = "n/a"
    with pytest.raises(DataFormatError, match=r"test: row 5: DayAheadPriceEUR is not a number"):
        hourly_prices(records, where="test")
    hourly = pd.DataFrame(
        {"HourUTC": ["2023-01-01T00:30:00"], "PriceArea": ["DK1"], "SpotPriceEUR": ["1,5"]}
    )
    with pytest.raises(DataFormatError, match="row 0: Elspotprices is hourly"):
        hourly_prices(hourly, where="test")


def test_the_contract_names_unknown_areas_duplicates_and_non_finite_prices() -> None:
    prices = hourly_prices(quarter_records(DAY), where="test")
    bad = pd.concat([prices, prices.iloc[[0]]], ignore_index=True)
    bad.loc[1, PRICE_EUR] = np.inf
    bad.loc[2, AREA] = "SE3"
    problems = price_problems(bad, DAY, DAY + pd.Timedelta(days=1), ["DK1", "DK2"])
    assert problems[0] == "unknown price areas ['SE3'] (known: ['DK1', 'DK2'])"
    assert problems[1].startswith("1 duplicate (hour, area) rows, first DK1 2025-10-05")
    assert problems[2] == "1 prices are missing or not finite"
    # Row 2 was DK1's 01:00: relabelled, DK1 lacks that hour.
    assert problems[3] == "DK1: 1 of 24 hours have no price, first 2025-10-05 01:00:00+00:00"


def test_a_canonical_parquet_reads_back_as_it_was(tmp_path: Path) -> None:
    prices = hourly_prices(quarter_records(DAY), where="test")
    path = tmp_path / "prices.parquet"
    prices.to_parquet(path)
    pd.testing.assert_frame_equal(read_price_file(path), prices, check_dtype=False)
    with pytest.raises(DataFormatError, match="does not exist"):
        read_price_file(tmp_path / "none.csv")
