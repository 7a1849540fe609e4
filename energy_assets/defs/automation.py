"""Declarative automation of the assets downstream of ingestion.

Each asset runs once all of its inputs exist and one of them was updated, like
`AutomationCondition.eager()`, but over the last days before the publication delay rather
than only the newest partition: with a delay, the days the pipeline works on lie weeks back.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from energy_assets import names
from energy_assets.settings import Settings

# Daily assets: a warning after one missed day, a failure after two.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=50), warn_window=dt.timedelta(hours=26)
)


def recent_eager(settings: Settings) -> dg.AutomationCondition:
    # The delay, the day being forecast and a week for the weekly model.
    lookback = dt.timedelta(days=settings.publication_delay_days + 9)
    return dg.AutomationCondition.eager().replace(
        dg.AutomationCondition.in_latest_time_window(),
        dg.AutomationCondition.in_latest_time_window(lookback),
    )


def automation_sensor(target: dg.AssetSelection) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the automation conditions of `target`; running as soon as the daemon runs."""
    return dg.AutomationConditionSensorDefinition(
        names.AUTOMATION_SENSOR,
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description="Features, models, predictions, monitoring and drift, each as soon as its "
        "inputs are in.",
    )
