"""Classify each newly monitored day, log an alert on WARN and ALERT, and retune on ALERT.

Alerts go to the alerts log (the outbox), which `alert_outbox_sensor` delivers: a webhook
outage never holds up this sensor's retunes."""

import datetime as dt
import math

import dagster as dg

from energy_assets import names
from energy_assets.domain.monitoring.alerts import Level, classify, mape_alert
from energy_assets.settings import Settings
from energy_assets.storage.alert_log import AlertLog
from resources.asset_storage import AssetStorage

BATCH = 500  # materializations read per tick; a long backfill is worked off over several ticks


def retune_request(day: str, weeks: dg.WeeklyPartitionsDefinition) -> dg.RunRequest:
    """A new Optuna study on the data up to `day`, then the model of the week that serves next."""
    next_day = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    week = weeks.get_partition_key_for_timestamp(next_day.timestamp())
    if not weeks.has_partition_key(week):  # the next week has not begun: retrain this one
        week = weeks.get_partition_key_for_timestamp(next_day.timestamp() - 86_400)
    study = {"study_name": f"retune-{week}", "end_date": day}
    return dg.RunRequest(
        # One retune per model week, however many of its days alert: the daemon drops a
        # request whose run key already ran, across restarts.
        run_key=f"retune-{week}",
        partition_key=week,
        run_config={"ops": {names.HYPERPARAMETERS: {"config": study}}},
        tags={"energy/alert_day": day, "energy/reason": "mape_alert"},
    )


def build_mape_alert_sensor(
    settings: Settings, weeks: dg.WeeklyPartitionsDefinition
) -> dg.SensorDefinition:
    warn, alert = settings.mape_warn, settings.mape_alert

    @dg.sensor(
        name=names.MAPE_ALERT_SENSOR,
        job_name=names.RETUNE_JOB,
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Each new forecast_monitoring day: pooled MAPE of the forecasts made "
        f"{settings.alert_lead} day(s) ahead (ENERGY_ALERT_LEAD) above {warn:.0%} warns, above "
        f"{alert:.0%} alerts and requests retune_job (once per model week); alerts go to the "
        "alerts log, which alert_outbox_sensor delivers.",
    )
    def mape_alert_sensor(
        context: dg.SensorEvaluationContext,
        asset_storage: AssetStorage,
    ) -> dg.SensorResult:
        after = int(context.cursor) if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(names.MONITORING), after_storage_id=after),
            limit=BATCH,
            ascending=True,
        ).records
        if not records:
            return dg.SensorResult(skip_reason="no new forecast_monitoring materializations")
        log = AlertLog(asset_storage.storage)
        requests: list[dg.RunRequest] = []
        for record in records:
            materialization = record.asset_materialization
            day = materialization.partition if materialization else None
            if materialization is None or day is None:
                continue
            summary = {k: v.value for k, v in materialization.metadata.items()}
            summary.setdefault("day", day)
            mape = summary.get("mape")
            pooled = float(mape) if isinstance(mape, int | float) else float("nan")
            if not summary.get("hours_scored", 1) or not math.isfinite(pooled):
                # Not a bad forecast but no score: no alert, no retune for a healthy model.
                context.log.warning(f"{day}: no hour scored; no alert")
                continue
            level = classify(pooled, warn, alert)
            context.log.info(f"{day}: pooled MAPE {pooled:.1%} -> {level.value}")
            if level is Level.OK:
                continue
            # Logged once per day and level; storage failing raises, and the cursor stays put.
            if log.append(mape_alert(level, summary, warn, alert)):
                context.log.warning(f"{day}: {level.value} logged for delivery")
            if level is Level.ALERT:
                request = retune_request(day, weeks)
                if request.run_key not in {r.run_key for r in requests}:
                    requests.append(request)
        return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))

    return mape_alert_sensor
