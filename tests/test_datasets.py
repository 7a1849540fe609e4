"""Dataset profiles: the real ConsumptionIndustry export read as it is, 15-minute records summed
to hours, series summed to price areas, and a retired dataset that names its successor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain import quality
from energy_assets.domain.datasets import (
    CONSUMPTION_DE35_HOUR,
    CONSUMPTION_INDUSTRY,
    MUNICIPALITY_AREAS,
    QUARTER_HOURLY,
    with_areas,
)
from energy_assets.domain.forecasting.backtest import refit_groups
from energy_assets.domain.forecasting.features import build_features, feature_columns
from energy_assets.domain.schema import TIME, VALUE, canonical_columns
from energy_assets.domain.series import SeriesSet
from energy_assets.domain.sources import EnergiDataServiceSource, Selection, SourceError
from energy_assets.domain.sources.files import FileSource, read_consumption_file
from energy_assets.domain.sources.records import to_hourly_canonical
from energy_assets.settings import SettingsError, load_settings

INDUSTRY_KEYS = ["area", "municipality", "branch"]


@pytest.fixture(scope="module")
def aalborg(industry_csv: Path) -> pd.DataFrame:
    return read_consumption_file(industry_csv)


@pytest.mark.realdata
def test_the_industry_export_is_read_as_it_is(aalborg: pd.DataFrame, industry_csv: Path) -> None:
    assert list(aalborg.columns) == canonical_columns(INDUSTRY_KEYS)
    assert len(aalborg) == 26_281 and not aalborg.duplicated([TIME, *INDUSTRY_KEYS]).any()
    assert set(aalborg["area"]) == {"DK1"} and set(aalborg["branch"]) == {"Privat"}
    # Decimal commas: the first row of the export is 37842,849000 kWh at 2020-12-31 23:00 UTC.
    first = aalborg.iloc[0]
    assert first[TIME] == pd.Timestamp("2020-12-31 23:00", tz="UTC")
    assert first[VALUE] == pytest.approx(37842.849)
    # Rows are ordered by Danish time in the file; by UTC here, also across the autumn change.
    assert aalborg[TIME].is_monotonic_increasing
    assert FileSource(industry_csv).profile is CONSUMPTION_INDUSTRY


def test_municipalities_lie_in_their_price_areas() -> None:
    frame = pd.DataFrame({"municipality": ["101", "400", "410", "851", "999"]})
    assert with_areas(frame)["area"].tolist() == ["DK2", "DK2", "DK1", "DK1", pd.NA]
    assert len(MUNICIPALITY_AREAS) == 99  # 98 municipalities and Christiansø


def quarters(values: list[float], start: str = "2023-03-01") -> pd.DataFrame:
    times = pd.date_range(start, periods=len(values), freq="15min")
    return pd.DataFrame(
        {
            "TimeUTC": times.strftime("%Y-%m-%dT%H:%M:%S"),
            "TimeDK": times.strftime("%Y-%m-%dT%H:%M:%S"),
            "MunicipalityNo": "851",
            "Branche": "Privat",
            "ConsumptionkWh": values,
        }
    )


def test_quarter_hours_sum_to_hours_and_a_short_hour_is_missing_not_short() -> None:
    # Two full hours, then an hour with only three of its quarters.
    records = quarters([1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0, 5.0, 5.0, 5.0])
    frame = to_hourly_canonical(records, CONSUMPTION_INDUSTRY, QUARTER_HOURLY, where="test")
    assert frame[TIME].dt.hour.tolist() == [0, 1, 2]
    assert frame[VALUE].tolist()[:2] == [10.0, 40.0] and np.isnan(frame[VALUE].iloc[2])
    outcome = quality.check_values(frame)
    assert not outcome.passed and "1 missing or infinite" in outcome.description


def test_series_summed_to_price_areas_keep_missing_sums_missing() -> None:
    times = pd.date_range("2023-03-01", periods=2, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            TIME: times.repeat(3),
            "area": pd.array(["DK1", "DK1", "DK2"] * 2, dtype="string"),
            "municipality": [851, 751, 101] * 2,
            "branch": pd.array(["Privat"] * 6, dtype="string"),
            VALUE: [1.0, 2.0, 3.0, 4.0, np.nan, 6.0],
        }
    )
    summed = Selection(keys=("area", "branch")).apply(frame)
    assert list(summed.columns) == canonical_columns(["area", "branch"])
    assert summed[VALUE].tolist()[:2] == [3.0, 3.0] and np.isnan(summed[VALUE].iloc[2])
    only = Selection(only={"municipality": ["851"]}).apply(frame)
    assert only["municipality"].tolist() == [851, 851]


def test_a_selection_that_names_every_key_fixes_the_known_series() -> None:
    selection = Selection(only={"municipality": [851, 101], "branch": ["Privat"]})
    known = selection.known(CONSUMPTION_INDUSTRY)
    assert known is not None and known.labels() == ["DK1/851/Privat", "DK2/101/Privat"]
    assert Selection(only={"municipality": [851]}).known(CONSUMPTION_INDUSTRY) is None
    de35 = Selection(only={"area": ["DK2"]}).known(CONSUMPTION_DE35_HOUR)
    assert de35 is not None and len(de35) == 38


def test_a_new_series_fails_the_contract_by_name() -> None:
    known = SeriesSet.from_values(INDUSTRY_KEYS, [("DK1", 851, "Privat")])
    times = pd.date_range("2023-03-01", periods=24, freq="h", tz="UTC")
    day = pd.DataFrame(
        {
            TIME: times.repeat(2),
            "area": pd.array(["DK1"] * 48, dtype="string"),
            "municipality": [851, 851] * 24,
            "branch": pd.array(["Privat", "Erhverv"] * 24, dtype="string"),
            VALUE: 1.0,
        }
    )
    start = pd.Timestamp("2023-03-01", tz="UTC")
    outcomes = quality.check_day(day, start, start + pd.Timedelta(days=1), known)
    assert not outcomes["known_series"].passed
    assert "DK1/851/Erhverv" in outcomes["known_series"].description
    assert outcomes["complete_hourly_grid"].passed  # the known series is complete


def test_a_retired_dataset_asked_for_later_days_names_its_successor() -> None:
    source = EnergiDataServiceSource("http://127.0.0.1:9", dataset="ConsumptionDE35Hour")
    with pytest.raises(SourceError, match=r"retired.*2023-06-30.*successor is ConsumptionIndustry"):
        source.fetch(pd.Timestamp("2023-07-01", tz="UTC"), pd.Timestamp("2023-07-02", tz="UTC"))


def test_the_live_dataset_is_the_default_and_settings_check_the_series_options() -> None:
    settings = load_settings(source="energidataservice")
    assert settings.api_dataset == "ConsumptionIndustry"
    with pytest.raises(SettingsError, match=r"ENERGY_SERIES_LEVEL.*must keep 'area'"):
        load_settings(series_level="branch")
    with pytest.raises(SettingsError, match=r"ENERGY_SERIES_FILTER.*unknown key columns"):
        load_settings(series_filter='{"kommune": [851]}')


@pytest.mark.realdata
def test_features_carry_the_datasets_own_keys(aalborg: pd.DataFrame) -> None:
    days = pd.date_range("2023-03-01", "2023-03-02", freq="D", tz="UTC")
    features = build_features(aalborg, days)
    assert len(features) == 48
    assert feature_columns(features)[:4] == ["series", *INDUSTRY_KEYS]
    assert set(features["series"]) == {"DK1/851/Privat"}
    # A year of history behind: last year's same hour is known.
    assert features["ly_same_hour"].notna().all()


def test_weekly_refit_groups_origins_by_monday_week() -> None:
    origins = pd.date_range("2023-01-04", "2023-01-16", freq="D", tz="UTC")
    groups = refit_groups(origins, "weekly")
    assert [(g[0].date(), g[-1].date()) for g in groups] == [
        (dt.date(2023, 1, 4), dt.date(2023, 1, 8)),
        (dt.date(2023, 1, 9), dt.date(2023, 1, 15)),
        (dt.date(2023, 1, 16), dt.date(2023, 1, 16)),
    ]
    assert len(refit_groups(origins, "daily")) == 13
