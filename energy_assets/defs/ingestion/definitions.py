"""Ingestion: raw consumption with its data contract, the ingest job and its daily schedule."""

from __future__ import annotations

import dagster as dg

from energy_assets import names
from energy_assets.defs.ingestion.raw import build_data_contract, build_raw_consumption
from energy_assets.defs.loading import current
from sensors.ingest_schedule import build_ingest_schedule


@dg.definitions
def defs() -> dg.Definitions:
    settings, partitions = current()
    ingest_job = dg.define_asset_job(
        names.INGEST_JOB,
        selection=dg.AssetSelection.assets(names.RAW),
        partitions_def=partitions.days,
        description="Fetch, store and check raw consumption.",
    )
    return dg.Definitions(
        assets=[build_raw_consumption(settings, partitions)],
        asset_checks=[build_data_contract(settings, partitions)],
        jobs=[ingest_job],
        schedules=[build_ingest_schedule(settings, ingest_job)],
    )
