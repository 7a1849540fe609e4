"""The code location: one `Definitions` object, `defs`, merged from each domain's definitions
(`energy_assets.defs`) with the resources and the location-wide sensors."""

from __future__ import annotations

import warnings

import dagster as dg

from energy_assets import names
from energy_assets.defs.automation import automation_sensor
from energy_assets.defs.forecasting.definitions import build_forecasting_definitions
from energy_assets.defs.ingestion.definitions import build_ingestion_definitions
from energy_assets.defs.monitoring.definitions import build_monitoring_definitions
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.run_health import heartbeat_in_process_executor
from energy_assets.settings import Settings, load_settings
from resources.mlflow_resource import MlflowResource
from resources.notifier import Notifier
from resources.parquet_io_manager import ParquetIOManager
from sensors.alert_outbox import alert_outbox_sensor

# Single-run backfill policies, partitioned check specs and per-partition metadata are the
# features this design rests on; Dagster labels them beta/preview, which would repeat in every
# run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    partitions = Partitions.from_settings(settings)
    automated = dg.AssetSelection.all() - dg.AssetSelection.assets(names.RAW, names.HYPERPARAMETERS)
    return dg.Definitions.merge(
        build_ingestion_definitions(settings, partitions),
        build_forecasting_definitions(settings, partitions),
        build_monitoring_definitions(settings, partitions),
        dg.Definitions(
            sensors=[alert_outbox_sensor, automation_sensor(automated)],
            resources={
                "parquet_io_manager": ParquetIOManager.from_settings(settings),
                "mlflow_tracking": MlflowResource.from_settings(settings),
                "notifier": Notifier.from_settings(settings),
            },
            # Steps are cheap and vectorised; a process per step would cost seconds each. The
            # heartbeat lets run monitoring fail a run whose code server died under it.
            executor=heartbeat_in_process_executor,
        ),
    )


defs = build_definitions()
