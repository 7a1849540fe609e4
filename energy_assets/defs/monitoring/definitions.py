"""Monitoring: accuracy and drift of the served days, the sensor that alerts and retunes, and
the outbox that delivers alerts."""

from __future__ import annotations

import dagster as dg

from energy_assets.defs.loading import current
from energy_assets.defs.monitoring.accuracy import build_forecast_monitoring
from energy_assets.defs.monitoring.drift import build_drift_report_job, build_feature_drift
from sensors.alert_outbox import alert_outbox_sensor
from sensors.mape_alert import build_mape_alert_sensor


@dg.definitions
def defs() -> dg.Definitions:
    settings, partitions = current()
    return dg.Definitions(
        assets=[
            build_forecast_monitoring(settings, partitions),
            build_feature_drift(settings, partitions),
        ],
        jobs=[build_drift_report_job(settings, partitions)],
        # Alerts are written to the log first; the outbox delivers them and the run failures.
        sensors=[build_mape_alert_sensor(settings, partitions.weeks), alert_outbox_sensor],
    )
