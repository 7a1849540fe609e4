"""Declarative automation of the assets downstream of ingestion.

Each asset runs once all of its inputs exist, one of them was updated and every blocking check
of its inputs passed, like `AutomationCondition.eager()` but over the last days before the
publication delay rather than only the newest partition: with a delay, the days the pipeline
works on lie weeks back.
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


def recent_eager(
    settings: Settings, *, ignoring: dg.AssetSelection | None = None
) -> dg.AutomationCondition:
    """`ignoring`: inputs whose updates do not set the asset off."""
    # The delay, the day being forecast and a week for the weekly model.
    lookback = dt.timedelta(days=settings.publication_delay_days + 9)
    eager = dg.AutomationCondition.eager().replace(
        dg.AutomationCondition.in_latest_time_window(),
        dg.AutomationCondition.in_latest_time_window(lookback),
    )
    if ignoring is not None:
        eager = eager.ignore(ignoring)  # type: ignore[attr-defined]  # eager() is an And
    # Eager alone ignores checks: a raw day that failed its data contract (or was never
    # checked) would still feed features, predictions and monitoring. Every input partition
    # must have passed, not one of them (`all_deps_blocking_checks_passed` asks for one
    # partition of each input: one good day of a fifteen-day window).
    unchecked = dg.AutomationCondition.any_checks_match(
        ~dg.AutomationCondition.check_passed(), blocking_only=True
    )
    return eager & ~dg.AutomationCondition.any_deps_match(unchecked).with_label(
        "any input partition not passed by its blocking checks"
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
