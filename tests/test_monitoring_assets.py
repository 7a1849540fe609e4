"""`forecast_monitoring` materialized through Dagster on stored forecasts: the same files
whichever way the days are backfilled, and a clear failure where actuals are missing. (On the
real slice, with drift and the alert sensor: tests/test_real_slice_pipeline.py.)"""

from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.domain.sources import source_from_settings
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.objects import LocalStorage
from tests.asset_keys import (
    MONITORING_KEY,
)
from tests.test_model_assets import failure_text, materializations, run

DAYS = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-02-01", "2023-02-06")]


def seeded_storage(base: Path) -> Settings:
    """Simulator actuals and noisy forecasts for DAYS, written straight to storage."""
    settings = load_settings(storage_dir=base / "storage", state_dir=base / "state",
                             start_date="2023-01-01")  # fmt: skip
    actuals = source_from_settings(settings).fetch(
        pd.Timestamp(DAYS[0], tz="UTC"), pd.Timestamp(DAYS[-1], tz="UTC") + pd.Timedelta(days=1)
    )
    noise = np.random.default_rng(3).lognormal(0.0, 0.05, len(actuals))
    forecasts = actuals.drop(columns="consumption_kwh").assign(
        prediction_kwh=actuals["consumption_kwh"].to_numpy() * noise, model_uri="models:/m/1"
    )
    storage = LocalStorage(settings.storage_dir)
    for name, frame in (("raw_consumption", actuals), ("predictions", forecasts)):
        for day, part in frame.groupby(frame["datetime_utc"].dt.floor("D")):
            storage.write_parquet(f"{name}/{day.date()}.parquet", part)
    return settings


def test_monitoring_backfills_give_the_same_days_in_one_run_or_many_in_any_order(
    tmp_path: Path,
) -> None:
    together, apart = seeded_storage(tmp_path / "a"), seeded_storage(tmp_path / "b")
    one_run = run(build_definitions(together), dg.DagsterInstance.ephemeral(), [MONITORING_KEY],
                  first=DAYS[0], last=DAYS[-1])  # fmt: skip
    assert one_run.success, failure_text(one_run)
    defs, instance = build_definitions(apart), dg.DagsterInstance.ephemeral()
    metadata: dict[str, dict[str, Any]] = {}
    for day in [DAYS[3], DAYS[5], DAYS[0], DAYS[4], DAYS[2], DAYS[1]]:
        single = run(defs, instance, [MONITORING_KEY], partition=day)
        assert single.success, failure_text(single)
        metadata.update(materializations(single, MONITORING_KEY))

    assert materializations(one_run, MONITORING_KEY).keys() == set(DAYS)
    for day in DAYS:
        a = pd.read_parquet(together.storage_dir / "forecast_monitoring" / f"{day}.parquet")
        b = pd.read_parquet(apart.storage_dir / "forecast_monitoring" / f"{day}.parquet")
        pd.testing.assert_frame_equal(a, b)
        assert len(a) == 76 and (a["count"] == 24).all()
        assert set(a["day"].dt.strftime("%Y-%m-%d")) == {day}
        summary = materializations(one_run, MONITORING_KEY)[day]
        storage_facts = {"uri", "partitions_written"}  # where and how many files the run wrote
        assert {k: v for k, v in summary.items() if k not in storage_facts} == {
            k: v for k, v in metadata[day].items() if k not in storage_facts
        }
        assert summary["mape"] == pytest.approx(0.04, abs=0.01)  # lognormal sigma 0.05
        assert summary["model_uri"] == "models:/m/1"
        assert summary["mape_worst"] >= summary["mape_median"]


def test_monitoring_names_a_day_whose_actuals_are_missing(tmp_path: Path) -> None:
    settings = seeded_storage(tmp_path)
    (settings.storage_dir / "raw_consumption" / f"{DAYS[2]}.parquet").unlink()
    result = run(build_definitions(settings), dg.DagsterInstance.ephemeral(), [MONITORING_KEY],
                 first=DAYS[0], last=DAYS[-1])  # fmt: skip
    assert not result.success
    assert f"raw_consumption/{DAYS[2]}.parquet does not exist" in failure_text(result)
    assert not (settings.storage_dir / "forecast_monitoring").exists()  # nothing half-written
