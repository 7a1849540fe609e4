"""The alerts outbox: record every failed run of this code location as an alert, then deliver
every alert not yet delivered (accuracy alerts too) to the webhook.

Failed runs are read from the instance's run storage rather than from a run-status sensor's
events: a run-status sensor moves past a tick that failed, losing that failure, while the run
records stay. The cursor advances only once each failure is in the log, and delivery is retried
by every tick until the webhook takes it, so an outage delays alerts and never loses them.
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from energy_assets import names
from energy_assets.domain.monitoring.alerts import Alert, Level
from energy_assets.storage.alert_log import AlertLog
from resources.asset_storage import AssetStorage
from resources.notifier import NotificationError, Notifier

FIRST_LOOKBACK = dt.timedelta(days=1)  # how far back a sensor with no cursor looks for failures
OVERLAP = dt.timedelta(seconds=1)  # re-read runs at the cursor's edge; the log drops repeats
BATCH = 200


def run_failure_alert(run: dg.DagsterRun, message: str, failed_at: dt.datetime) -> Alert:
    partition = run.tags.get("dagster/partition") or run.tags.get(
        "dagster/asset_partition_range_start"
    )
    return Alert(
        level=Level.FAILURE,
        day=failed_at.astimezone(dt.UTC).date().isoformat(),
        source="run",
        subject=run.run_id[:8],
        message=f"run {run.run_id[:8]} of {run.job_name} failed"
        + (f" (partition {partition})" if partition else "")
        + f": {message}",
        details={"run_id": run.run_id, "job": run.job_name, "partition": partition},
    )


def _failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's failure message, with the error of the first step that failed."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    message = (events[-1].message if events else "") or "no message"
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.step_failure_data if event else None
        if data is not None and data.error is not None:
            error = data.error
            while error.cause is not None:  # the user code's error, not Dagster's wrapper
                error = error.cause
            text = error.message.strip().splitlines()[-1][:300]
            return f"{message} {event.step_key if event else ''}: {text}"
    return message


def record_failed_runs(
    context: dg.SensorEvaluationContext, log: AlertLog, after: dt.datetime
) -> dt.datetime:
    """Log an alert for each failed run of this location updated after `after`; the update
    time of the last one logged, which is where the next tick starts."""
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=after),
        limit=BATCH,
        order_by="update_timestamp",
        ascending=True,
    )
    newest = after
    for record in records:
        run = record.dagster_run
        if context.repository_def is None or context.repository_def.has_job(run.job_name):
            message = _failure_message(context.instance, run.run_id)
            alert = run_failure_alert(run, message, record.update_timestamp)
            if log.append(alert):
                context.log.warning(f"run {run.run_id[:8]} failed: logged for delivery")
        newest = max(newest, record.update_timestamp)
    return newest


@dg.sensor(
    name=names.ALERT_OUTBOX_SENSOR,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run of this code location as an alert, then delivers every "
    "undelivered alert to the webhook; a webhook outage fails the tick and the next tick retries.",
)
def alert_outbox_sensor(
    context: dg.SensorEvaluationContext,
    notifier: Notifier,
    asset_storage: AssetStorage,
) -> dg.SensorResult:
    log = AlertLog(asset_storage.storage)
    state = json.loads(context.cursor) if context.cursor else {}
    if "runs_updated_after" in state:
        after = dt.datetime.fromisoformat(state["runs_updated_after"]) - OVERLAP
    else:
        after = dt.datetime.now(dt.UTC) - FIRST_LOOKBACK
    newest = record_failed_runs(context, log, after)
    cursor = json.dumps({"runs_updated_after": newest.isoformat()})
    # Should delivery fail the tick, its cursor is not kept: the next tick reads these runs
    # again, and the log drops the repeats.
    delivery = notifier.deliver_pending(log)
    for key in delivery.sent:
        context.log.info(f"delivered {key}")
    if delivery.error:
        raise NotificationError(f"{delivery.waiting} alerts wait for delivery: {delivery.error}")
    # It requests no runs, so each tick shows as skipped; the reason says what it delivered.
    done = f"delivered {len(delivery.sent)} alerts" if delivery.sent else "no alert waiting"
    return dg.SensorResult(cursor=cursor, skip_reason=done)
