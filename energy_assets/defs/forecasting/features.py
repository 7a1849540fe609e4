"""`consumption_features`: day-ahead features per series and hour, and the same features rebuilt
from storage for any window (a study's or a model's training window)."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import day_keys, utc_days
from energy_assets.domain.forecasting.features import (
    LOOKBACK_DAYS,
    ORIGIN,
    PRICE_KNOWN,
    PRICE_LOOKBACK_DAYS,
    TARGET,
    YEAR_FEATURES,
    UnmatchedPriceAreas,
    build_features,
    feature_columns,
    price_days_for,
    raw_days_for,
)
from energy_assets.domain.prices import empty_prices
from energy_assets.domain.schema import TIME, VALUE
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage
from resources.parquet_io_manager import ALLOW_MISSING

# Set on a day's features and predictions: True where no row had the price of its hour.
WITHOUT_PRICES = "made_without_prices"


def _price_deps(settings: Settings) -> list[dg.AssetDep]:
    """The prices of the day and the week before it. Read from storage, not loaded as an input:
    a day whose prices are missing is still forecast, without them."""
    if not settings.uses_prices:
        return []
    window = dg.TimeWindowPartitionMapping(start_offset=-PRICE_LOOKBACK_DAYS, end_offset=0)
    return [dg.AssetDep(names.PRICES, partition_mapping=window)]


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
        deps=_price_deps(settings),
        group_name="forecasting",
        kinds={"pandas", "parquet"},
        description="Day-ahead features per series and hour, from the data before 00:00 UTC of "
        "the day (and the day-ahead prices published by then, where the deployment has them).",
    )
    def consumption_features(
        context: dg.AssetExecutionContext, raw: pd.DataFrame, asset_storage: AssetStorage
    ) -> dg.Output:
        start, end = run_window(context)
        prices = prices_from_storage(asset_storage, settings, start, end)
        # The target is left out: it is not known at forecast time, and monitoring scores the
        # forecasts against the raw actuals.
        frame = with_prices(raw, utc_days(start, end), prices).drop(columns=[VALUE, TARGET])
        recent = [c for c in feature_columns(frame) if c not in YEAR_FEATURES]
        year_ago = frame[YEAR_FEATURES].notna().all(axis=1)
        meta: dict[str, Any] = {
            "rows": len(frame),
            "complete_rows_share": float(frame[recent].notna().all(axis=1).mean()),
            "rows_with_year_ago_share": float(year_ago.mean()),
        }
        if prices is not None:
            meta["rows_with_price_share"] = float(frame[PRICE_KNOWN].notna().mean())
            for day, rows in frame.groupby(frame[ORIGIN]):
                without = not rows[PRICE_KNOWN].notna().any()
                if without:
                    context.log.warning(f"{day.date()}: no prices stored; forecast without them")
                context.add_asset_metadata({WITHOUT_PRICES: without}, partition_key=str(day.date()))
        return dg.Output(frame, metadata=meta)

    return consumption_features


def prices_from_storage(
    asset_storage: AssetStorage, settings: Settings, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame | None:
    """The stored prices the features of [start, end) read (none stored: an empty frame), or
    None where the deployment forecasts without prices."""
    return prices_of_days(asset_storage, settings, price_days_for(start, end))


def prices_of_days(
    asset_storage: AssetStorage, settings: Settings, days: pd.DatetimeIndex
) -> pd.DataFrame | None:
    """The stored prices of the given UTC days (none stored: an empty frame), or None where the
    deployment forecasts without prices."""
    if not settings.uses_prices:
        return None
    key = dg.AssetKey(names.PRICES)
    stored = set(asset_storage.stored_partitions(key))
    keys = [k for k in day_keys(days) if k in stored]
    return asset_storage.read_window(key, keys) if keys else empty_prices()


def features_from_storage(
    asset_storage: AssetStorage,
    settings: Settings,
    start: pd.Timestamp,
    end: pd.Timestamp,
    purpose: str,
) -> pd.DataFrame:
    """Features, with their target, of the days in [start, end), from the stored raw days (and
    prices) they read; `purpose` names the window in the error when no raw day is stored."""
    stored = set(asset_storage.stored_partitions(dg.AssetKey(names.RAW)))
    keys = [k for k in day_keys(raw_days_for(start, end)) if k in stored]
    if not keys:
        raise dg.Failure(f"{purpose}: no raw data stored for {start.date()} .. {end.date()}")
    raw = asset_storage.read_window(dg.AssetKey(names.RAW), keys)
    prices = prices_from_storage(asset_storage, settings, start, end)
    return with_prices(raw, utc_days(start, end), prices)


def with_prices(
    raw: pd.DataFrame, days: pd.DatetimeIndex, prices: pd.DataFrame | None
) -> pd.DataFrame:
    """`build_features`, with prices of an area no series lies in refused by setting name."""
    try:
        return build_features(raw, days, prices)
    except UnmatchedPriceAreas as exc:
        raise dg.Failure(
            f"{names.PRICES}: {exc}; set ENERGY_PRICE_AREAS to the areas of the series"
        ) from None
