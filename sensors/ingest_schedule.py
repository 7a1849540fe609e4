"""The daily pipeline: a schedule fetches the newest published day, and again every recent day
that has not yet passed its data contract; automation does the rest.

The newest published day is asked of the source where it can tell (the API's newest record, a
file's last hour); the configured publication delay is what is expected, and a source later
than that raises a freshness alert through the alerts log."""

import datetime as dt
from typing import Any

import dagster as dg

from energy_assets import names
from energy_assets.domain.calendar import published_day
from energy_assets.domain.monitoring.alerts import Alert, Level
from energy_assets.domain.sources import SourceError, source_from_settings
from energy_assets.settings import Settings, SettingsError
from energy_assets.storage.alert_log import AlertLog
from resources.asset_storage import AssetStorage, partition_object_key

FRESHNESS = "freshness"


def discover(settings: Settings, tick: dt.datetime, log: Any) -> tuple[dt.date, Alert | None]:
    """The newest day the source has published, and a freshness alert where it is older than
    the publication delay expects; the expected day where the source cannot tell."""
    expected = published_day(tick, settings.publication_delay_days)
    try:
        hour = source_from_settings(settings).newest_hour()
    except SourceError as exc:
        log.warning(f"could not ask the source for its newest hour ({exc}); expecting {expected}")
        return expected, None
    if hour is None:
        return expected, None
    # A day published in part is fetched too: its contract refuses it until it is whole.
    newest = hour.tz_convert("UTC").date()
    if newest >= expected:
        return newest, None
    today = tick.astimezone(dt.UTC).date()
    age, usual = (today - newest).days, (today - expected).days
    alert = Alert(
        Level.WARN,
        day=expected.isoformat(),
        source=FRESHNESS,
        message=f"newest actuals {newest} are {age} days old, usually {usual} "
        f"(ENERGY_PUBLICATION_DELAY_DAYS={settings.publication_delay_days}): the source "
        "publishes later than usual",
        details={"newest": newest.isoformat(), "age_days": age, "usual_days": usual},
    )
    return newest, alert


def recent_days(newest: dt.date, settings: Settings) -> list[dt.date]:
    """The newest published day and the `refetch_days` before it (none before the start),
    newest first: the days a tick fetches unless they are published already."""
    first = max(settings.start_date, newest - dt.timedelta(days=settings.refetch_days))
    return [newest - dt.timedelta(days=i) for i in range((newest - first).days + 1)]


def build_ingest_schedule(settings: Settings, ingest_job: Any) -> dg.ScheduleDefinition:
    """The schedule; a cron expression Dagster refuses stops the location naming the variable."""
    try:
        return _ingest_schedule(settings, ingest_job)
    except dg.DagsterInvalidDefinitionError as exc:
        raise SettingsError(f"ENERGY_INGEST_CRON: {exc}") from None


def _ingest_schedule(settings: Settings, ingest_job: Any) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=names.INGEST_SCHEDULE,
        job=ingest_job,
        cron_schedule=settings.ingest_cron.strip(),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Fetches the newest day the source has published (asked of it; "
        f"{settings.publication_delay_days} days of publication delay expected, a later source "
        f"raises a freshness alert) and again each of the {settings.refetch_days} days before it "
        "that has not passed its data contract; features, predictions, monitoring and drift "
        "follow by automation.",
    )
    def daily_ingest_schedule(
        context: dg.ScheduleEvaluationContext,
        asset_storage: AssetStorage,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time
        newest, late = discover(settings, tick, context.log)
        if late is not None and AlertLog(asset_storage.storage).append(late):
            context.log.warning(late.text())
        if newest < settings.start_date:
            return dg.SkipReason(f"{newest} is before ENERGY_START_DATE {settings.start_date}")
        storage = asset_storage.storage
        raw = dg.AssetKey(names.RAW)
        # Published means passed its contract: a late or partial day was never published.
        candidates = recent_days(newest, settings)
        days = [
            d for d in candidates if not storage.exists(partition_object_key(raw, d.isoformat()))
        ]
        if not days:
            return dg.SkipReason(f"every day from {candidates[-1]} to {newest} is published")
        # A run key per day and tick: each tick may fetch a day again until it is published.
        return [
            dg.RunRequest(
                run_key=f"ingest-{day}-{tick:%Y%m%dT%H%M}",
                partition_key=day.isoformat(),
                tags={"energy/refetch": "true"} if day != newest else {},
            )
            for day in days
        ]

    return daily_ingest_schedule
