"""The partition definitions, built once from the settings and passed to every definition that
needs them, and the UTC time window a run covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets.settings import Settings
from resources.parquet_io_manager import PARTITION_COLUMN


def first_model_week(settings: Settings) -> dt.date:
    """The first Monday with a week of training data and the validation days before it (two
    weeks after the start with the default seven validation days)."""
    first = settings.start_date + dt.timedelta(days=settings.validation_days + 7)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7)


@dataclass(frozen=True)
class Partitions:
    days: dg.DailyPartitionsDefinition  # raw data and features: every UTC day from the start
    # Models: Monday to Monday, UTC, and the week in progress: its model trains only on days
    # before the week, so it can serve the week's first day.
    weeks: dg.WeeklyPartitionsDefinition
    served_days: dg.DailyPartitionsDefinition  # predictions, monitoring, drift: from the first week
    # Day-ahead prices: every UTC day from the start through tomorrow, auctioned today.
    price_days: dg.DailyPartitionsDefinition

    @classmethod
    def from_settings(cls, settings: Settings) -> Partitions:
        first_week = first_model_week(settings).isoformat()
        return cls(
            days=dg.DailyPartitionsDefinition(
                start_date=settings.start_date.isoformat(), timezone="UTC"
            ),
            weeks=dg.WeeklyPartitionsDefinition(
                start_date=first_week, day_offset=1, timezone="UTC", end_offset=1
            ),
            served_days=dg.DailyPartitionsDefinition(start_date=first_week, timezone="UTC"),
            price_days=dg.DailyPartitionsDefinition(
                start_date=settings.start_date.isoformat(), timezone="UTC", end_offset=2
            ),
        )

    def week_of(self, day: pd.Timestamp) -> str:
        """The key of the model week that serves `day`."""
        return self.weeks.get_partition_key_for_timestamp(day.timestamp())


def run_window(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC [start, end) the run covers: one partition or a single-run range."""
    tw = context.partition_time_window
    return pd.Timestamp(tw.start).tz_convert("UTC"), pd.Timestamp(tw.end).tz_convert("UTC")


def daily_table(partitions_def: dg.DailyPartitionsDefinition, time_column: str) -> dict[str, Any]:
    """How every daily table asset is stored and backfilled: one parquet file per day, split by
    `time_column`, and a backfill of any length as one vectorised run."""
    return {
        "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "io_manager_key": "parquet_io_manager",
        "metadata": {PARTITION_COLUMN: time_column},
    }
