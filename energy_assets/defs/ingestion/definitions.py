"""Ingestion: raw consumption and day-ahead prices, each with its data contract, job and
schedule."""

from __future__ import annotations

import dagster as dg

from energy_assets import names
from energy_assets.defs.ingestion.prices import build_day_ahead_prices, build_price_contract
from energy_assets.defs.ingestion.raw import build_data_contract, build_raw_consumption
from energy_assets.defs.loading import current
from sensors.ingest_schedule import build_ingest_schedule
from sensors.prices_schedule import build_prices_schedule


@dg.definitions
def defs() -> dg.Definitions:
    settings, partitions = current()
    ingest_job = dg.define_asset_job(
        names.INGEST_JOB,
        selection=dg.AssetSelection.assets(names.RAW),
        partitions_def=partitions.days,
        description="Fetch, store and check raw consumption.",
    )
    consumption = dg.Definitions(
        assets=[build_raw_consumption(settings, partitions)],
        asset_checks=[build_data_contract(settings, partitions)],
        jobs=[ingest_job],
        schedules=[build_ingest_schedule(settings, ingest_job)],
    )
    if not settings.uses_prices:
        return consumption
    prices_job = dg.define_asset_job(
        names.PRICES_JOB,
        selection=dg.AssetSelection.assets(names.PRICES),
        partitions_def=partitions.price_days,
        description="Fetch, store and check day-ahead prices.",
    )
    prices = dg.Definitions(
        assets=[build_day_ahead_prices(settings, partitions)],
        asset_checks=[build_price_contract(settings, partitions)],
        jobs=[prices_job],
        schedules=[build_prices_schedule(settings, prices_job)],
    )
    return dg.Definitions.merge(consumption, prices)
