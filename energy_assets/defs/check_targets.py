"""The materializations a check evaluation of a multi-partition run judges."""

from collections.abc import Sequence

import dagster as dg

from energy_assets.defs.dagster_internals import AssetCheckEvaluationTargetMaterializationData


def run_materializations(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey, run_id: str, keys: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The materialization each partition's evaluation judges: declarative automation
    counts a check as passed only for the materialization it names."""
    instance = context.instance
    run = instance.get_run_record_by_id(run_id)
    after = run.start_time if run is not None and run.start_time is not None else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(keys), after_timestamp=after),
        limit=len(keys) + 1,
        ascending=False,
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:
        if record.run_id == run_id and record.partition_key and record.partition_key not in out:
            out[record.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=run_id, timestamp=record.timestamp
            )
    return out
