"""Partition definitions: daily UTC partitions for data, weekly for models."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from energy_assets.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=settings.start_date.isoformat(), timezone="UTC")


def window(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC [start, end) the run covers: one partition or a single-run range."""
    tw = context.partition_time_window
    return pd.Timestamp(tw.start).tz_convert("UTC"), pd.Timestamp(tw.end).tz_convert("UTC")
