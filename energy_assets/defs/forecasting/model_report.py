"""The report of a newly trained model version: rendered, stored beside the model's partition
and logged to the version's MLflow run, by `forecast_model` as it registers the version.

The gate's verdict in it comes from `gate_verdict` on the same recorded validation metrics the
promotion gate judges, so the report and the check cannot disagree. A champion that cannot be
loaded or forecast is a note in the report, never a failed run.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.gate import gate_verdict
from energy_assets.domain.forecasting.model import PREDICTION, predict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.forecasting.report import (
    ChampionComparison,
    ReportInput,
    describe_data,
    render_report,
)
from energy_assets.domain.forecasting.training import WeeklyModel
from energy_assets.storage.model_reports import save_report
from energy_assets.storage.objects import Storage
from resources.mlflow_resource import MlflowResource

REPORT = "report"  # the materialization metadata key of the report's location
ARTIFACT = "model_report.html"  # the report's name among the MLflow run's artifacts


def report_input(
    trained: WeeklyModel,
    record: ModelRecord,
    raw: pd.DataFrame,
    champion: ChampionComparison | None,
) -> ReportInput:
    passed, problems = gate_verdict(record.validation, record.forecasts_finite_non_negative)
    return ReportInput(
        week=record.week,
        model_name=record.model_name,
        model_version=record.model_version,
        model_uri=record.model_uri,
        mlflow_run_id=record.mlflow_run_id,
        train_start=record.train_start,
        train_end=record.train_end,
        valid_start=record.valid_start,
        data_summary=describe_data(raw, len(trained.features), len(trained.validation_frame)),
        params=record.params,
        validation=record.validation,
        frame=trained.validation_frame,
        importance=trained.model.feature_importance(),
        gate_passed=passed,
        gate_reasons=problems,
        champion=champion,
        band_widening=trained.model.band_widening,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def compare_with_champion(
    trained: WeeklyModel, record: ModelRecord, mlflow_tracking: MlflowResource
) -> ChampionComparison | None:
    """The current champion's forecasts of the validation rows; None when it is this version;
    a note instead of forecasts when there is none or it cannot forecast them."""
    try:
        uri = mlflow_tracking.champion_uri(record.model_name)
    except Exception as exc:  # the registry is unreachable: a note, not a failed run
        return ChampionComparison(None, note=f"The champion could not be looked up: {exc}")
    if uri is None:
        return ChampionComparison(None, note="There is no champion yet: nothing to compare with.")
    if uri == record.model_uri:
        return None
    try:
        champion = mlflow_tracking.load_forecaster(uri).model
        forecast = predict(champion, trained.validation_features)[PREDICTION].to_numpy()
        week = mlflow_tracking.version_week(uri)
    except Exception as exc:
        return ChampionComparison(uri, note=f"The champion {uri} could not forecast: {exc}")
    note = None
    if week is not None and pd.Timestamp(week, tz="UTC") > pd.Timestamp(
        record.valid_start, tz="UTC"
    ):
        note = (
            f"The champion is the model of week {week}: it trained on some of these validation "
            "days, so the comparison favours it."
        )
    return ChampionComparison(uri, forecast=np.asarray(forecast, dtype="float64"), note=note)


def publish_report(
    context: dg.AssetExecutionContext,
    trained: WeeklyModel,
    record: ModelRecord,
    raw: pd.DataFrame,
    storage: Storage,
    mlflow_tracking: MlflowResource,
) -> dict[str, dg.MetadataValue]:
    """Render the version's report, store it and log it to its MLflow run; the metadata that
    links it (`report`)."""
    started = time.perf_counter()
    champion = compare_with_champion(trained, record, mlflow_tracking)
    report = render_report(report_input(trained, record, raw, champion))
    location = save_report(storage, record.week, record.model_version, report)
    mlflow_tracking.log_text(record.mlflow_run_id, report, ARTIFACT)
    context.log.info(
        f"week {record.week}: report of version {record.model_version} "
        f"({len(report) / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s) at {location}"
    )
    return {REPORT: dg.MetadataValue.url(location_url(location))}


def location_url(location: str) -> str:
    """A URL of a stored object: gs:// as it is, a local path as file://."""
    return location if "://" in location else Path(location).as_uri()
