"""The daily pipeline: a schedule fetches the newest published day; automation does the rest."""

from typing import Any

import dagster as dg

from energy_assets import names
from energy_assets.domain.calendar import published_day
from energy_assets.settings import Settings


def build_ingest_schedule(settings: Settings, ingest_job: Any) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=names.INGEST_SCHEDULE,
        job=ingest_job,
        cron_schedule=settings.ingest_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Fetches the newest published day ({settings.publication_delay_days} days of "
        "publication delay); features, predictions, monitoring and drift follow by automation.",
    )
    def daily_ingest_schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        day = published_day(context.scheduled_execution_time, settings.publication_delay_days)
        if day < settings.start_date:
            return dg.SkipReason(f"{day} is before ENERGY_START_DATE {settings.start_date}")
        return dg.RunRequest(run_key=f"ingest-{day}", partition_key=day.isoformat())

    return daily_ingest_schedule
