"""Notify, the same way as accuracy alerts, when a run of this code location fails."""

import datetime as dt

import dagster as dg

from energy_assets import names
from energy_assets.domain.monitoring.alerts import Alert, Level
from energy_assets.storage.alert_log import AlertLog
from resources.notifier import Notifier
from resources.parquet_io_manager import ParquetIOManager


def run_failure_alert(run: dg.DagsterRun, message: str) -> Alert:
    partition = run.tags.get("dagster/partition") or run.tags.get(
        "dagster/asset_partition_range_start"
    )
    return Alert(
        level=Level.FAILURE,
        day=dt.datetime.now(dt.UTC).date().isoformat(),
        source="run",
        subject=run.run_id[:8],
        message=f"run {run.run_id[:8]} of {run.job_name} failed"
        + (f" (partition {partition})" if partition else "")
        + f": {message}",
        details={"run_id": run.run_id, "job": run.job_name, "partition": partition},
    )


@dg.run_failure_sensor(
    name=names.RUN_FAILURE_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Sends every failed run of this code location to the webhook and alerts log.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext,
    notifier: Notifier,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> None:
    message = context.failure_event.message or "no message"
    notifier.notify(
        run_failure_alert(context.dagster_run, message), AlertLog(parquet_io_manager.storage)
    )
