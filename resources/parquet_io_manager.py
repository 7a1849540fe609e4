"""Parquet IO manager: loads and stores outputs through the asset storage resource
(asset_storage.py), one file per partition, `<asset key>/<partition key>.parquet`.

A single-run backfill hands it one DataFrame covering many partitions; it splits the frame by
each partition's time window and writes one file per partition. Inputs mapped to a window of
upstream partitions are read and concatenated into one DataFrame.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from resources.asset_storage import AssetStorage, asset_prefix

# Output metadata key naming the column that places a row in a time-window partition.
PARTITION_COLUMN = "partition_time_column"
DEFAULT_PARTITION_COLUMN = "datetime_utc"


class PartitionSplitError(ValueError):
    pass


# Output metadata key: "json" stores a plain dict record instead of a parquet table.
STORAGE_FORMAT = "storage_format"
# Output metadata key: True stages each partition under `_staged/<run id>/`; its audit (the
# asset's blocking check) publishes it under the asset's own key, or discards it.
WRITE_AUDIT_PUBLISH = "write_audit_publish"
# Input metadata key: True reads a window of partitions without the ones not stored (history
# with a day its contract refused), rather than failing on the first missing one.
ALLOW_MISSING = "allow_missing_partitions"


def split_by_partition(
    frame: pd.DataFrame,
    partition_keys: list[str],
    partitions_def: dg.PartitionsDefinition,
    column: str,
) -> dict[str, pd.DataFrame]:
    """Rows of `frame` per partition key, by the time window each key covers."""
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        raise PartitionSplitError(
            f"cannot split one output over partitions of {type(partitions_def).__name__}"
        )
    if column not in frame.columns:
        raise PartitionSplitError(f"cannot split by partition: no column {column!r}")
    times = frame[column]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)
    # One pass over the rows whatever the number of partitions (a mask per partition made a
    # three-year backfill's split cost seconds): each row's window by binary search over the
    # windows' starts, then the rows grouped by window, keeping their order within each.
    windows = [partitions_def.time_window_for_partition_key(k) for k in partition_keys]
    starts = np.array([_ns(w.start) for w in windows], dtype=np.int64)
    ends = np.array([_ns(w.end) for w in windows], dtype=np.int64)
    by_start = np.argsort(starts, kind="stable")
    # Nanoseconds since the epoch, UTC; NaT is the smallest int64, so outside every window.
    instants = times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    slot = np.searchsorted(starts[by_start], instants, side="right") - 1
    inside = (slot >= 0) & (instants < ends[by_start][slot.clip(min=0)])
    if not inside.all():
        stray = times[~inside]
        raise PartitionSplitError(
            f"{int((~inside).sum())} rows fall outside partitions "
            f"{partition_keys[0]}..{partition_keys[-1]} "
            f"(by {column}: {stray.min()} .. {stray.max()})"
        )
    window_of_row = by_start[slot]
    order = np.argsort(window_of_row, kind="stable")
    bounds = np.searchsorted(window_of_row[order], np.arange(len(partition_keys) + 1))
    grouped = frame.take(order)
    return {
        key: grouped.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True)
        for i, key in enumerate(partition_keys)
    }


def _ns(instant: Any) -> int:
    """An instant as nanoseconds since the epoch, UTC."""
    return int(pd.Timestamp(instant).as_unit("ns").value)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as parquet (and records as JSON) in the asset storage."""

    asset_storage: AssetStorage

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:  # assets that write their own files return nothing
            return
        stored = self.asset_storage
        metadata = context.definition_metadata or {}
        if isinstance(obj, dict) and metadata.get(STORAGE_FORMAT) == "json":
            self._write_record(context, obj)
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: ParquetIOManager stores DataFrames, "
                f"got {type(obj).__name__} (dict records need metadata {STORAGE_FORMAT}='json')"
            )
        if not context.has_asset_partitions:
            uri = stored.write_frame(context.asset_key, None, obj)
            context.add_output_metadata({"uri": uri})
            return
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            parts = {keys[0]: obj}
        else:
            column = str(metadata.get(PARTITION_COLUMN, DEFAULT_PARTITION_COLUMN))
            # Split everything first, so that a bad frame writes nothing at all.
            parts = split_by_partition(obj, keys, context.asset_partitions_def, column)
        if metadata.get(WRITE_AUDIT_PUBLISH):
            for key, part in parts.items():
                stored.stage(context.asset_key, context.run_id, key, part)
            context.add_output_metadata({"staged": len(parts)})
            return
        uris = [stored.write_frame(context.asset_key, key, part) for key, part in parts.items()]
        # Output metadata lands on every partition of the run: one file for one partition,
        # else the folder that holds them all.
        where = uris[0] if len(uris) == 1 else stored.storage.uri(asset_prefix(context.asset_key))
        context.add_output_metadata({"partitions_written": len(parts), "uri": where})

    def _write_record(self, context: dg.OutputContext, record: dict[str, Any]) -> None:
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        if len(keys) == 1:
            uri = self.asset_storage.write_record(context.asset_key, keys[0], record)
            context.add_output_metadata({"uri": uri})
            return
        # A run of several partitions returns one record per partition, keyed by partition.
        if set(record) != set(keys):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: a run of {len(keys)} partitions must "
                f"return a record per partition keyed by partition, got keys {sorted(record)[:5]}"
            )
        for key in record:
            self.asset_storage.write_record(context.asset_key, key, record[key])
        where = self.asset_storage.storage.uri(asset_prefix(context.asset_key))
        context.add_output_metadata({"partitions_written": len(keys), "uri": where})

    def load_input(self, context: dg.InputContext) -> Any:
        stored, asset_key = self.asset_storage, context.asset_key
        upstream = context.upstream_output
        if (
            upstream is not None
            and (upstream.definition_metadata or {}).get(STORAGE_FORMAT) == "json"
        ):
            if not context.has_asset_partitions:
                return stored.read_record(asset_key, None)
            # Records of partitioned assets arrive keyed by partition, one or many.
            return {k: stored.read_record(asset_key, k) for k in context.asset_partition_keys}
        if not context.has_asset_partitions:
            return stored.read_frame(asset_key, None)
        keys = list(context.asset_partition_keys)
        if len(keys) > 1 and (context.definition_metadata or {}).get(ALLOW_MISSING):
            present = set(stored.stored_partitions(asset_key))
            missing = [k for k in keys if k not in present]
            if missing:
                context.log.warning(
                    f"{asset_key.to_user_string()}: {len(missing)} of {len(keys)} partitions are "
                    f"not stored and read as missing history (first {missing[0]})"
                )
            keys = [k for k in keys if k in present] or keys  # none stored: fail below, by name
        frames = [stored.read_frame(asset_key, k) for k in keys]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)
