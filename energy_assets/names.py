"""Names of the assets, checks, jobs, sensors and schedules, each written once.

Plain strings with no Dagster import, so the dashboard, the demo, the benchmarks and the sensors
share them with the definitions. An asset's name is also its folder in storage.
"""

from __future__ import annotations

# Assets, in the order data flows through them.
RAW = "raw_consumption"
PRICES = "day_ahead_prices"
FEATURES = "consumption_features"
HYPERPARAMETERS = "model_hyperparameters"
MODEL = "forecast_model"
PREDICTIONS = "predictions"
MONITORING = "forecast_monitoring"
DRIFT = "feature_drift"
ASSETS = (RAW, PRICES, FEATURES, HYPERPARAMETERS, MODEL, PREDICTIONS, MONITORING, DRIFT)

# Blocking asset checks.
CONTRACT = "data_contract"
GATE = "promotion_gate"

# Jobs, sensors and schedules.
INGEST_JOB = "ingest_job"
RETUNE_JOB = "retune_job"
INGEST_SCHEDULE = "daily_ingest_schedule"
PRICES_JOB = "prices_job"
PRICES_SCHEDULE = "day_ahead_prices_schedule"
AUTOMATION_SENSOR = "daily_pipeline_automation"
MAPE_ALERT_SENSOR = "mape_alert_sensor"
ALERT_OUTBOX_SENSOR = "alert_outbox_sensor"
MODEL_APPROVAL_SENSOR = "model_approval_sensor"

# Storage folders of the append-only alerts log and its delivery marks (not assets).
ALERTS = "alerts"
ALERT_DELIVERIES = "alert_deliveries"
# Storage folder of each weekly model's drift reference (not an asset).
DRIFT_REFERENCES = "drift_reference"
# The job an operator launches for a day's full Evidently drift report.
DRIFT_REPORT_JOB = "drift_report_job"
