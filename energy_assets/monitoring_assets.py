"""Monitoring of served forecasts: per-series accuracy and feature drift, one UTC day each.

Both assets read only partition D of their inputs (and, for drift, the training window of the
model that served D), so any set of days can be backfilled in one run or in parallel runs, in
any order, with identical results.
"""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets.automation import recent_eager
from energy_assets.forecasting.features import ORIGIN, build_features
from energy_assets.ingestion import RAW
from energy_assets.metadata import metadata_values
from energy_assets.model_assets import (
    FEATURES_KEY,
    LOOKBACK_DAYS,
    MODEL_KEY,
    PREDICTIONS_KEY,
    days_of,
    model_weeks,
    prediction_days,
)
from energy_assets.monitoring.accuracy import DAY, day_summaries, score_series
from energy_assets.partitions import window
from energy_assets.settings import Settings
from resources.parquet_io_manager import PARTITION_COLUMN, ParquetIOManager, partition_object_key

MONITORING_KEY = dg.AssetKey("forecast_monitoring")
DRIFT_KEY = dg.AssetKey("feature_drift")


def build_monitoring_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    days = prediction_days(settings)
    weeks = model_weeks(settings)

    @dg.asset(
        key=MONITORING_KEY,
        partitions_def=days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={"predictions": dg.AssetIn(PREDICTIONS_KEY), "actuals": dg.AssetIn(RAW)},
        io_manager_key="parquet_io_manager",
        metadata={PARTITION_COLUMN: DAY},
        group_name="monitoring",
        kinds={"pandas", "parquet"},
        automation_condition=recent_eager(settings),
        description="Per-series MAPE, WAPE, bias and hours scored of the day's forecasts against "
        "its actuals; the day's pooled figures are in the metadata of each partition.",
    )
    def forecast_monitoring(
        context: dg.AssetExecutionContext, predictions: pd.DataFrame, actuals: pd.DataFrame
    ) -> pd.DataFrame:
        start, end = window(context)
        series = score_series(predictions, actuals)
        summaries = day_summaries(series)
        for key in context.partition_keys:
            summary = summaries.get(key)
            if summary is None:
                raise dg.Failure(f"forecast_monitoring {key}: no predictions to score")
            # Each day's own figures on its own materialization, so the UI charts them over
            # time and the alert sensor reads them, even from a single-run backfill.
            context.add_asset_metadata(metadata_values(summary), partition_key=key)
        context.log.info(f"scored {len(summaries)} days from {start.date()} to {end.date()}")
        return series

    @dg.asset(
        key=DRIFT_KEY,
        partitions_def=days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={"features": dg.AssetIn(FEATURES_KEY), "models": dg.AssetIn(MODEL_KEY)},
        io_manager_key="parquet_io_manager",
        metadata={PARTITION_COLUMN: DAY},
        group_name="monitoring",
        kinds={"evidently", "parquet"},
        automation_condition=recent_eager(settings),
        description="Evidently data drift of the day's features against the training window of "
        "the model that served the day; the full HTML report is stored beside each parquet.",
    )
    def feature_drift(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        models: dict[str, dict[str, Any]],
        parquet_io_manager: dg.ResourceParam[ParquetIOManager],
    ) -> pd.DataFrame:
        from energy_assets.monitoring.drift import (
            DRIFT_COLUMNS,
            calibrate_thresholds,
            measure_drift,
        )

        start, end = window(context)
        storage = parquet_io_manager.storage
        stored_raw = set(parquet_io_manager.stored_partitions(RAW))
        references: dict[str, tuple[pd.DataFrame, dict[str, float]]] = {}
        rows = []
        for day in days_of(start, end):
            key = day.strftime("%Y-%m-%d")
            record = models[weeks.get_partition_key_for_timestamp(day.timestamp())]
            uri = record["model_uri"]
            if uri not in references:
                reference = _training_features(parquet_io_manager, stored_raw, record)
                references[uri] = reference, calibrate_thresholds(reference, DRIFT_COLUMNS)
            reference, thresholds = references[uri]
            current = features[features[ORIGIN] == day]
            if current.empty:
                raise dg.Failure(f"feature_drift {key}: no features stored for the day")
            result = measure_drift(reference, current, thresholds=thresholds)
            report_key = partition_object_key(DRIFT_KEY, key, "html")
            storage.write_bytes(report_key, result.html, "text/html")
            for column in result.columns:
                rows.append(
                    {
                        DAY: day,
                        "column": column,
                        "distance": result.distances.get(column, float("nan")),
                        "threshold": result.thresholds[column],
                        "drifted": column in result.drifted,
                        "model_version": uri,
                        "report": storage.uri(report_key),
                    }
                )
            summary = {
                **result.summary(),
                "model_version": uri,
                "reference_window": f"{record['train_start']} .. {record['train_end']}",
                "report": dg.MetadataValue.path(storage.uri(report_key)),
            }
            context.add_asset_metadata(metadata_values(summary), partition_key=key)
        return pd.DataFrame(rows)

    return [forecast_monitoring, feature_drift]


def _training_features(
    io_manager: ParquetIOManager, stored_raw: set[str], record: dict[str, Any]
) -> pd.DataFrame:
    """The features a model was trained on, rebuilt from the raw data of its training window."""
    train_start = pd.Timestamp(record["train_start"], tz="UTC")
    train_end = pd.Timestamp(record["train_end"], tz="UTC")
    wanted = days_of(train_start - pd.Timedelta(days=LOOKBACK_DAYS), train_end)
    keys = [d.strftime("%Y-%m-%d") for d in wanted if d.strftime("%Y-%m-%d") in stored_raw]
    if not keys:
        raise dg.Failure(
            f"{record['model_uri']}: no raw data stored for its training window "
            f"{record['train_start']} .. {record['train_end']}"
        )
    raw = io_manager.read_window(RAW, keys)
    return build_features(raw, days_of(train_start, train_end))
