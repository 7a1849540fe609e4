"""The location-wide policy, applied once over every loaded asset: freshness of the daily
assets and declarative automation of the assets downstream of ingestion.

Each automated asset runs once all of its inputs exist, one of them was updated and every
blocking check of its inputs passed, like `AutomationCondition.eager()` but over the last days
before the publication delay rather than only the newest partition: with a delay, the days the
pipeline works on lie weeks back.
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


def recent_eager(settings: Settings, scores_issues: bool = False) -> dg.AutomationCondition:
    """`scores_issues`: the condition of monitoring, which reads every issue that forecast its
    day: it runs once any of them is stored (an issue made before the deployment began is a
    lead not scored, not a reason to wait)."""
    # The delay, the day being forecast and a week for the weekly model.
    lookback = dt.timedelta(days=settings.publication_delay_days + 9)
    eager = dg.AutomationCondition.eager().replace(
        dg.AutomationCondition.in_latest_time_window(),
        dg.AutomationCondition.in_latest_time_window(lookback),
    )
    if scores_issues:
        predictions = dg.AssetSelection.assets(names.PREDICTIONS)
        missing = dg.AutomationCondition.any_deps_missing()
        eager = eager.replace(missing, missing.ignore(predictions)) & (
            dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing())
            .allow(predictions)
            .with_label("an issue that forecast the day is stored")
        )
    # New raw data trains a week's model; new hyperparameters (a retune's study) do not
    # retrain every week in reach: the retune run trains the one week it is for.
    # Prices neither start nor hold back the features: a day is forecast once its consumption
    # history is in, with the prices stored by then (without them where they are missing).
    ignored = dg.AssetSelection.assets(*_present(settings, names.HYPERPARAMETERS, names.PRICES))
    eager = eager.ignore(ignored)  # type: ignore[attr-defined]  # eager() is an And
    # Eager alone ignores checks: a raw day that failed its data contract (or was never
    # checked) would still feed features, predictions and monitoring. Every input partition
    # must have passed, not one of them (`all_deps_blocking_checks_passed` asks for one
    # partition of each input: one good day of a fifteen-day window).
    unchecked = dg.AutomationCondition.any_checks_match(
        ~dg.AutomationCondition.check_passed(), blocking_only=True
    )
    return eager & ~dg.AutomationCondition.any_deps_match(unchecked).ignore(ignored).with_label(
        "any input partition not passed by its blocking checks"
    )


# Started by a schedule or a person, never by automation: ingestion follows the publication
# clocks, a study is a deliberate (and expensive) act.
NOT_AUTOMATED = (names.RAW, names.PRICES, names.HYPERPARAMETERS)


def _present(settings: Settings, *assets: str) -> list[str]:
    """The assets this deployment defines (prices only where it uses them)."""
    return [a for a in assets if a != names.PRICES or settings.uses_prices]


def with_location_policy(defs: dg.Definitions, settings: Settings) -> dg.Definitions:
    """The location-wide policy, applied once over every loaded asset: each daily asset is
    expected daily (DAILY_FRESHNESS), and every asset but ingestion and the study runs by
    `recent_eager`, evaluated by one automation sensor."""
    condition = recent_eager(settings)
    scoring = recent_eager(settings, scores_issues=True)

    def policy(spec: dg.AssetSpec) -> dg.AssetSpec:
        daily = isinstance(spec.partitions_def, dg.DailyPartitionsDefinition)
        name = spec.key.to_user_string()
        automated = name not in NOT_AUTOMATED
        chosen = scoring if name == names.MONITORING else condition
        return spec.replace_attributes(
            freshness_policy=DAILY_FRESHNESS if daily else spec.freshness_policy,
            automation_condition=chosen if automated else spec.automation_condition,
        )

    target = dg.AssetSelection.all() - dg.AssetSelection.assets(*_present(settings, *NOT_AUTOMATED))
    return dg.Definitions.merge(
        defs.map_asset_specs(func=policy),
        dg.Definitions(sensors=[automation_sensor(target)]),
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
