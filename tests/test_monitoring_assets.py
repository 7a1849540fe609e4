"""`forecast_monitoring` and `feature_drift` materialized through Dagster, and the MAPE alert
sensor over the real slice."""

import gzip
import json
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.defs.partitions import Partitions
from energy_assets.domain.forecasting.model import DEFAULT_PARAMS
from energy_assets.domain.monitoring.alerts import Level
from energy_assets.domain.sources import source_from_settings
from energy_assets.names import DRIFT_REPORT_JOB, MAPE_ALERT_SENSOR
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import LocalStorage
from sensors.mape_alert import retune_request
from tests.asset_keys import (
    DRIFT_KEY,
    FEATURES_KEY,
    MODEL_KEY,
    MONITORING_KEY,
    PARAMS_KEY,
    PREDICTIONS_KEY,
    RAW,
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


# --- the real slice ------------------------------------------------------------------------------

# The backtest's parameters, pinned through a one-point search space.
PINNED = {k: {"kind": "categorical", "choices": [v]} for k, v in DEFAULT_PARAMS.items()}
WEEKS = ["2023-01-09", "2023-01-16", "2023-01-23"]
MONITORED = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-01-09", "2023-01-23")]


@pytest.mark.realdata
def test_real_slice_monitoring_drift_and_alerts(de35_csv: Path, tmp_path: Path) -> None:
    """Raw from 2022-12-21, models of the weeks of 2023-01-09, -16 and -23 (each trained on all
    earlier data), predictions, monitoring and drift of every day 2023-01-09 .. 01-23, then
    the alert sensor with thresholds between the best and worst day."""
    settings = load_settings(
        source="file",
        file=de35_csv,
        start_date="2022-12-21",
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    run(defs, instance, [RAW], partition="2022-12-21")  # partial day: stored, fails its contract
    ingest = run(defs, instance, [RAW, FEATURES_KEY], first="2022-12-22", last="2023-01-23")
    assert ingest.success, failure_text(ingest)
    study = {"n_trials": 1, "end_date": "2023-01-08", "search_space": PINNED}
    assert run(defs, instance, [PARAMS_KEY], config=study).success
    for week in WEEKS:
        model = run(defs, instance, [MODEL_KEY], partition=week)
        assert model.success, failure_text(model)
    days = {"first": MONITORED[0], "last": MONITORED[-1]}
    for key in (PREDICTIONS_KEY, MONITORING_KEY, DRIFT_KEY):
        result = run(defs, instance, [key], **days)
        assert result.success, failure_text(result)
        assert sorted(materializations(result, key)) == MONITORED

    # Monitoring: every day, every series, figures equal to a plain recomputation.
    storage = settings.storage_dir
    summaries = {
        r.asset_materialization.partition: {
            k: v.value for k, v in r.asset_materialization.metadata.items()
        }
        for r in instance.fetch_materializations(MONITORING_KEY, limit=100).records
    }
    expected_mape = {}
    for day in MONITORED:
        series = pd.read_parquet(storage / "forecast_monitoring" / f"{day}.parquet")
        assert len(series) == 76 and (series["count"] == 24).all()
        both = pd.read_parquet(storage / "predictions" / f"{day}.parquet").merge(
            pd.read_parquet(storage / "raw_consumption" / f"{day}.parquet"),
            on=["datetime_utc", "area", "consumer_type"],
        )
        y, f = both["consumption_kwh"], both["prediction_kwh"]
        ape = ((f - y).abs() / y)[y != 0]
        expected_mape[day] = float(ape.mean())
        summary = summaries[day]
        assert summary["mape"] == pytest.approx(expected_mape[day])
        assert summary["wape"] == pytest.approx((f - y).abs().sum() / y.abs().sum())
        assert summary["model_uri"] == both["model_uri"].iloc[0]
        assert summary["series_scored"] == 76
    assert 0.03 < np.median(list(expected_mape.values())) < 0.10

    # Drift: a summary per day in metadata and parquet; the compressed Evidently report only
    # for the days that drifted, and for any other day by the operator's job.
    quiet = []
    for record in instance.fetch_materializations(DRIFT_KEY, limit=100).records:
        meta = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        day = record.asset_materialization.partition
        assert meta["columns_checked"] == 21 and 0 <= meta["drift_share"] <= 1
        path = storage / "feature_drift" / f"{day}.parquet"
        frame = pd.read_parquet(path)
        assert sorted(frame.loc[frame["drifted"], "column"]) == sorted(
            c for c in str(meta["drifted_columns"]).split(", ") if c
        )
        assert (frame["distance"] >= 0).all() and (frame["threshold"] >= 0.1).all()
        report = storage / "feature_drift" / f"{day}.html.gz"
        assert report.exists() == bool(meta["dataset_drift"]), day
        assert set(frame["report"]) == ({report.as_uri()} if report.exists() else {""})
        if meta["dataset_drift"]:
            assert meta["report"] == report.as_uri()
        else:
            assert "report" not in meta
            quiet.append(day)
            assert path.stat().st_size <= 20_000
    for week in WEEKS:  # each model version stored the reference drift compares with
        version = json.loads((storage / "forecast_model" / f"{week}.json").read_text())
        assert (storage / "drift_reference" / week / f"{version['model_version']}.parquet").exists()
    assert quiet, "some day of the slice does not drift"
    job = defs.resolve_job_def(DRIFT_REPORT_JOB)
    assert job.execute_in_process(instance=instance, partition_key=quiet[0]).success
    html = gzip.decompress((storage / "feature_drift" / f"{quiet[0]}.html.gz").read_bytes())
    assert len(html) > 100_000 and b"r_lag24" in html and b"<html" in html

    # Alerts: thresholds between the best and the worst day.
    ordered = sorted(expected_mape.values())
    warn = (ordered[4] + ordered[5]) / 2
    alert = (ordered[-3] + ordered[-2]) / 2
    expected = {
        day: (Level.ALERT if m > alert else Level.WARN)
        for day, m in expected_mape.items()
        if m > warn
    }
    alerting = load_settings(**{**settings.model_dump(), "mape_warn": warn, "mape_alert": alert})
    sensor_defs = build_definitions(alerting)
    with dg.build_sensor_context(
        instance=instance, definitions=sensor_defs, resources=dict(sensor_defs.resources)
    ) as context:
        result = sensor_defs.resolve_sensor_def(MAPE_ALERT_SENSOR).evaluate_tick(context)
    logged = {a.day: a.level for a in AlertLog(LocalStorage(storage)).read()}
    assert logged == expected
    assert sum(level is Level.ALERT for level in expected.values()) == 2
    # One retune per model week that an ALERT day is served by.
    weeks = Partitions.from_settings(settings).weeks
    assert sorted(r.run_key for r in result.run_requests) == sorted(
        {
            retune_request(day, weeks).run_key
            for day, level in expected.items()
            if level is Level.ALERT
        }
    )
    record = json.loads((storage / "forecast_model" / f"{WEEKS[-1]}.json").read_text())
    assert record["params"]["num_boost_round"] == DEFAULT_PARAMS["num_boost_round"]
