"""The day-ahead prices schedule: fetches each day's prices as soon as the auction has published
them (tomorrow's, after about 13:00 Danish time), and again every recent day not yet whole."""

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.domain.prices import auctioned_hours
from energy_assets.settings import Settings, SettingsError
from energy_assets.storage.objects import ObjectNotFound
from resources.asset_storage import AssetStorage, partition_object_key


def price_days_due(
    now: dt.datetime, settings: Settings, stored_rows: dict[dt.date, int]
) -> list[dt.date]:
    """The days, newest first, whose prices a tick at `now` fetches: from the newest day with
    any hour auctioned back `refetch_days` (none before the start), each one that holds fewer
    rows than its hours auctioned by now times the areas."""
    at = pd.Timestamp(now).tz_convert("UTC")
    newest = at.date() + dt.timedelta(days=1)
    first = max(settings.start_date, newest - dt.timedelta(days=settings.refetch_days + 1))
    due = []
    for offset in range((newest - first).days + 1):
        day = newest - dt.timedelta(days=offset)
        start = pd.Timestamp(day, tz="UTC")
        expected = len(auctioned_hours(start, start + pd.Timedelta(days=1), at))
        if expected and stored_rows.get(day, 0) < expected * len(settings.price_areas):
            due.append(day)
    return due


def build_prices_schedule(settings: Settings, prices_job: Any) -> dg.ScheduleDefinition:
    """The schedule; a cron expression Dagster refuses stops the location naming the variable."""
    try:
        return _prices_schedule(settings, prices_job)
    except dg.DagsterInvalidDefinitionError as exc:
        raise SettingsError(f"ENERGY_PRICES_CRON: {exc}") from None


def _prices_schedule(settings: Settings, prices_job: Any) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=names.PRICES_SCHEDULE,
        job=prices_job,
        cron_schedule=settings.prices_cron.strip(),
        execution_timezone="Europe/Copenhagen",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Fetches the day-ahead prices of every day the auction has published and "
        f"that is not yet stored whole: tomorrow's once out (about 13:00 Danish time), and the "
        f"{settings.refetch_days} days before again while they are incomplete.",
    )
    def day_ahead_prices_schedule(
        context: dg.ScheduleEvaluationContext,
        asset_storage: AssetStorage,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time
        key = dg.AssetKey(names.PRICES)
        newest = tick.astimezone(dt.UTC).date() + dt.timedelta(days=1)
        rows = {}
        for offset in range(settings.refetch_days + 2):
            day = newest - dt.timedelta(days=offset)
            try:
                frame = asset_storage.storage.read_parquet(partition_object_key(key, str(day)))
            except ObjectNotFound:
                continue
            rows[day] = len(frame)
        days = price_days_due(tick, settings, rows)
        if not days:
            return dg.SkipReason(f"every auctioned day up to {newest} is stored whole")
        return [
            dg.RunRequest(run_key=f"prices-{day}-{tick:%Y%m%dT%H%M}", partition_key=str(day))
            for day in days
        ]

    return day_ahead_prices_schedule
