"""`predictions`: each day's hourly forecasts with P10/P90, from the model of the day's week."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.automation import DAILY_FRESHNESS, recent_eager
from energy_assets.defs.metadata import metadata_values
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain import tracking
from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.forecasting.model import MODEL_URI, predict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings
from resources.mlflow_resource import MlflowResource


def build_predictions(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.PREDICTIONS,
        **daily_table(partitions.served_days, TIME),
        ins={"features": dg.AssetIn(names.FEATURES), "models": dg.AssetIn(names.MODEL)},
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        automation_condition=recent_eager(settings),
        freshness_policy=DAILY_FRESHNESS,
        description="Hourly forecasts with P10/P90 per series, from the model of the day's week.",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        models: dict[str, dict[str, Any]],
        mlflow_tracking: MlflowResource,
    ) -> dg.Output:
        start, end = run_window(context)
        parts, used = [], {}
        for day in utc_days(start, end):
            record = ModelRecord.from_dict(models[partitions.week_of(day)])
            parts.append(forecast_day(features, day, record, mlflow_tracking))
            used[str(day.date())] = record.model_uri
        frame = pd.concat(parts, ignore_index=True)
        uris = sorted(set(used.values()))
        return dg.Output(
            frame,
            metadata=metadata_values(
                {
                    MODEL_URI: uris[0] if len(uris) == 1 else ", ".join(uris),
                    "model_uris_by_day": used if len(used) > 1 else None,
                    "rows": len(frame),
                }
            ),
        )

    return predictions


def forecast_day(
    features: pd.DataFrame, day: pd.Timestamp, record: ModelRecord, mlflow_tracking: MlflowResource
) -> pd.DataFrame:
    """The day's forecasts from the explicit version the record names, never an alias."""
    # The gate blocks downstream steps only in its own run; its verdict, kept on the version,
    # keeps a failed model out of every later run too.
    status = tracking.gate_status(record.model_uri, mlflow_tracking.tracking_uri)
    if status != "passed":
        raise dg.Failure(
            f"{day.date()}: {record.model_uri} (week {record.week}) has promotion gate status "
            f"{status!r}; retrain that week before predicting with it"
        )
    model = tracking.load_forecast_model(record.model_uri, mlflow_tracking.tracking_uri)
    return predict(model, features[features[ORIGIN] == day]).assign(**{MODEL_URI: record.model_uri})
