"""`consumption_features`: day-ahead features per series and hour, and the same features rebuilt
from storage for any window (a study's or a model's training window)."""

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import day_keys, utc_days
from energy_assets.domain.forecasting.features import (
    LOOKBACK_DAYS,
    TARGET,
    YEAR_FEATURES,
    build_features,
    feature_columns,
    raw_days_for,
)
from energy_assets.domain.schema import TIME, VALUE
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage
from resources.parquet_io_manager import ALLOW_MISSING


def build_consumption_features(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.FEATURES,
        **daily_table(partitions.days, TIME),
        ins={
            # Day D's features read the days before D only: a forecast for D can be made as
            # soon as D-1 is published, before any of D's own data exists.
            "raw": dg.AssetIn(
                names.RAW,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-LOOKBACK_DAYS, end_offset=-1
                ),
                # A day its contract refused is missing history, not a reason to stop.
                metadata={ALLOW_MISSING: True},
            )
        },
        group_name="forecasting",
        kinds={"pandas", "parquet"},
        description="Day-ahead features per series and hour, from the data before 00:00 UTC of "
        "the day.",
    )
    def consumption_features(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> dg.Output:
        start, end = run_window(context)
        # The target is left out: it is not known at forecast time, and monitoring scores the
        # forecasts against the raw actuals.
        frame = build_features(raw, utc_days(start, end)).drop(columns=[VALUE, TARGET])
        recent = [c for c in feature_columns(frame) if c not in YEAR_FEATURES]
        year_ago = frame[YEAR_FEATURES].notna().all(axis=1)
        meta = {
            "rows": len(frame),
            "complete_rows_share": float(frame[recent].notna().all(axis=1).mean()),
            "rows_with_year_ago_share": float(year_ago.mean()),
        }
        return dg.Output(frame, metadata=meta)

    return consumption_features


def features_from_storage(
    asset_storage: AssetStorage, start: pd.Timestamp, end: pd.Timestamp, purpose: str
) -> pd.DataFrame:
    """Features, with their target, of the days in [start, end), from the stored raw days they
    read; `purpose` names the window in the error when none of those days is stored."""
    stored = set(asset_storage.stored_partitions(dg.AssetKey(names.RAW)))
    keys = [k for k in day_keys(raw_days_for(start, end)) if k in stored]
    if not keys:
        raise dg.Failure(f"{purpose}: no raw data stored for {start.date()} .. {end.date()}")
    raw = asset_storage.read_window(dg.AssetKey(names.RAW), keys)
    return build_features(raw, utc_days(start, end))
