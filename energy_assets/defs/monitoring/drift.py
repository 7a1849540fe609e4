"""`feature_drift`: Evidently drift of each served day's features against the training window
of the model that served it; the full HTML report is stored beside each day's parquet."""

from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.automation import recent_eager
from energy_assets.defs.forecasting.features import features_from_storage
from energy_assets.defs.metadata import metadata_values
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.forecasting.model import MODEL_URI
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.monitoring.accuracy import DAY
from energy_assets.settings import Settings
from energy_assets.storage.objects import Storage, object_key
from resources.parquet_io_manager import ParquetIOManager


def build_feature_drift(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.DRIFT,
        **daily_table(partitions.served_days, DAY),
        ins={"features": dg.AssetIn(names.FEATURES), "models": dg.AssetIn(names.MODEL)},
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
        start, end = run_window(context)
        references = _References(parquet_io_manager)
        rows = []
        for day in utc_days(start, end):
            key = day.strftime("%Y-%m-%d")
            record = ModelRecord.from_dict(models[partitions.week_of(day)])
            current = features[features[ORIGIN] == day]
            if current.empty:
                raise dg.Failure(f"feature_drift {key}: no features stored for the day")
            day_rows, summary = _measure_day(
                day, current, record, references, parquet_io_manager.storage
            )
            rows.extend(day_rows)
            context.add_asset_metadata(metadata_values(summary), partition_key=key)
        return pd.DataFrame(rows)

    return feature_drift


@dataclass(frozen=True)
class _Reference:
    features: pd.DataFrame
    thresholds: dict[str, float]
    window: str


class _References:
    """The last training weeks of each serving model, as features rebuilt from raw storage, and
    the drift thresholds calibrated on them; built once per model in a run."""

    def __init__(self, io_manager: ParquetIOManager) -> None:
        self.io_manager = io_manager
        self._by_uri: dict[str, _Reference] = {}

    def of(self, record: ModelRecord) -> _Reference:
        from energy_assets.domain.monitoring.drift import (
            DRIFT_COLUMNS,
            REFERENCE_WEEKS,
            calibrate_thresholds,
        )

        if record.model_uri not in self._by_uri:
            end = pd.Timestamp(record.train_end, tz="UTC")
            start = max(
                pd.Timestamp(record.train_start, tz="UTC"),
                end - pd.Timedelta(weeks=REFERENCE_WEEKS),
            )
            reference = features_from_storage(
                self.io_manager, start, end, f"{record.model_uri}: its training window"
            )
            self._by_uri[record.model_uri] = _Reference(
                reference,
                calibrate_thresholds(reference, DRIFT_COLUMNS),
                f"{start.date()} .. {end.date()}",
            )
        return self._by_uri[record.model_uri]


def _measure_day(
    day: pd.Timestamp,
    current: pd.DataFrame,
    record: ModelRecord,
    references: _References,
    storage: Storage,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The day's per-column rows and its summary; the HTML report is written to storage."""
    from energy_assets.domain.monitoring.drift import measure_drift

    reference = references.of(record)
    result = measure_drift(reference.features, current, thresholds=reference.thresholds)
    report_key = object_key(names.DRIFT, day.strftime("%Y-%m-%d"), "html")
    storage.write_bytes(report_key, result.html, "text/html")
    report = storage.uri(report_key)
    rows = [
        {
            DAY: day,
            "column": column,
            "distance": result.distances.get(column, float("nan")),
            "threshold": result.thresholds[column],
            "drifted": column in result.drifted,
            MODEL_URI: record.model_uri,
            "report": report,
        }
        for column in result.columns
    ]
    summary = {
        **result.summary(),
        MODEL_URI: record.model_uri,
        "reference_window": reference.window,
        "report": dg.MetadataValue.path(report),
    }
    return rows, summary
