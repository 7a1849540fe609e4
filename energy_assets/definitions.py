"""The code location: one `Definitions` object, `defs`, built from the settings."""

from __future__ import annotations

import warnings

import dagster as dg

from energy_assets.ingestion import build_ingestion
from energy_assets.model_assets import build_model_assets
from energy_assets.partitions import daily_partitions
from energy_assets.settings import Settings, load_settings
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import ParquetIOManager

INGEST_JOB = "ingest_job"

# Single-run backfill policies and partitioned check specs are the features this design rests
# on; Dagster labels them beta/preview, which would repeat in every run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    daily = daily_partitions(settings)
    raw, raw_checks = build_ingestion(settings, daily)
    model_assets, model_checks = build_model_assets(settings, daily)
    ingest_job = dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(raw),
        partitions_def=daily,
        description="Fetch, store and check raw consumption.",
    )
    return dg.Definitions(
        assets=[raw, *model_assets],
        asset_checks=[raw_checks, *model_checks],
        jobs=[ingest_job],
        resources={
            "parquet_io_manager": ParquetIOManager.from_settings(settings),
            "mlflow_tracking": MlflowResource.from_settings(settings),
        },
        # Steps are cheap and vectorised; a process per step would cost seconds each.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
