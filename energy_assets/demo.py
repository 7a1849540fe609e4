"""The demo: run the main job over a window on the configured source and print what it made."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import dagster as dg

from energy_assets.definitions import INGEST_JOB, build_definitions
from energy_assets.instance import local_instance
from energy_assets.settings import load_settings
from energy_assets.sources import source_from_settings
from resources.parquet_io_manager import partition_object_key
from resources.storage import storage_from_settings


def run_demo(start: dt.date | None = None, days: int = 90) -> bool:
    settings = load_settings()
    first = start or settings.start_date
    last = first + dt.timedelta(days=days - 1)
    defs = build_definitions(settings)
    instance = local_instance()
    source = source_from_settings(settings)
    print(f"source:   {source.describe()}")
    print(f"window:   {first} .. {last} ({days} daily partitions, one run)")
    print(f"storage:  {settings.storage_uri}")
    print(f"instance: {instance.root_directory}")

    result = defs.get_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    materialized = Counter(
        e.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
        if e.asset_key
    )
    checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = [c for c in checks if not c.passed]
    print(f"\nrun {result.run_id}: {'SUCCESS' if result.success else 'FAILED'}")
    for asset, _ in materialized.items():
        key = dg.AssetKey.from_user_string(asset)
        storage = storage_from_settings(settings)
        files = storage.list_keys("/".join(key.path))
        print(f"  {asset}: {len(files)} partition files under {storage.uri('/'.join(key.path))}/")
        example = partition_object_key(key, last.isoformat())
        if storage.exists(example):
            frame = storage.read_parquet(example)
            n_series = frame.groupby(["area", "consumer_type"]).ngroups
            print(f"    {last}: {len(frame)} rows, {n_series} series")
    print(f"  checks: {len(checks) - len(failed)} passed, {len(failed)} failed")
    for check in failed[:10]:
        print(f"    FAILED {check.check_name} [{check.partition}]: {check.description}")
    print("\nbrowse the runs: make ui  (Dagster UI at http://127.0.0.1:3000)")
    return bool(result.success)
