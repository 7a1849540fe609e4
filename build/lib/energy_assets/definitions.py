"""The code location: one `Definitions` object, `defs`, built from the settings."""

from __future__ import annotations

import warnings

import dagster as dg

from energy_assets.automation import AUTOMATION_SENSOR
from energy_assets.ingestion import RAW, build_ingestion
from energy_assets.model_assets import MODEL_KEY, PARAMS_KEY, build_model_assets, model_weeks
from energy_assets.monitoring_assets import build_monitoring_assets
from energy_assets.partitions import daily_partitions
from energy_assets.settings import Settings, load_settings
from resources.mlflow_resource import MlflowResource
from resources.notifier import Notifier
from resources.parquet_io_manager import ParquetIOManager
from sensors.ingest_schedule import build_ingest_schedule
from sensors.mape_alert import build_mape_alert_sensor
from sensors.run_failure import run_failure_alert_sensor

INGEST_JOB = "ingest_job"
RETUNE_JOB = "retune_job"

# Single-run backfill policies, partitioned check specs and per-partition metadata are the
# features this design rests on; Dagster labels them beta/preview, which would repeat in every
# run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    daily = daily_partitions(settings)
    weeks = model_weeks(settings)
    raw, raw_checks = build_ingestion(settings, daily)
    model_assets, model_checks = build_model_assets(settings, daily)
    monitoring_assets = build_monitoring_assets(settings)
    ingest_job = dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(raw),
        partitions_def=daily,
        description="Fetch, store and check raw consumption.",
    )
    retune_job = dg.define_asset_job(
        RETUNE_JOB,
        selection=dg.AssetSelection.assets(PARAMS_KEY, MODEL_KEY),
        partitions_def=weeks,
        description="A new Optuna study on the newest data, then the week's model behind its "
        "promotion gate. Requested by mape_alert_sensor on ALERT.",
    )
    automated = dg.AssetSelection.all() - dg.AssetSelection.assets(RAW, PARAMS_KEY)
    return dg.Definitions(
        assets=[raw, *model_assets, *monitoring_assets],
        asset_checks=[raw_checks, *model_checks],
        jobs=[ingest_job, retune_job],
        schedules=[build_ingest_schedule(settings, ingest_job)],
        sensors=[
            build_mape_alert_sensor(settings, weeks, retune_job),
            run_failure_alert_sensor,
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=automated,
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=60,
                description="Features, models, predictions, monitoring and drift, each as soon "
                "as its inputs are in.",
            ),
        ],
        resources={
            "parquet_io_manager": ParquetIOManager.from_settings(settings),
            "mlflow_tracking": MlflowResource.from_settings(settings),
            "notifier": Notifier.from_settings(settings),
        },
        # Steps are cheap and vectorised; a process per step would cost seconds each.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
