"""Parquet IO manager: one file per partition, `<base>/<asset key>/<partition key>.parquet`.

A single-run backfill hands it one DataFrame covering many partitions; it splits the frame by
each partition's time window and writes one file per partition. Inputs mapped to a window of
upstream partitions are read and concatenated into one DataFrame.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pandas as pd
from dagster_gcp import GCSResource
from pydantic import PrivateAttr

from energy_assets.settings import Settings
from energy_assets.storage.objects import (
    ConcurrentWrite,
    GCSStorage,
    LocalStorage,
    ObjectNotFound,
    Storage,
    object_key,
)

# Output metadata key naming the column that places a row in a time-window partition.
PARTITION_COLUMN = "partition_time_column"
DEFAULT_PARTITION_COLUMN = "datetime_utc"


class PartitionSplitError(ValueError):
    pass


def asset_prefix(asset_key: dg.AssetKey) -> str:
    return "/".join(asset_key.path)


# Output metadata key: "json" stores a plain dict record instead of a parquet table.
STORAGE_FORMAT = "storage_format"
# Output metadata key: True stages each partition under `_staged/<run id>/`; its audit (the
# asset's blocking check) publishes it under the asset's own key, or discards it.
WRITE_AUDIT_PUBLISH = "write_audit_publish"
STAGED = "_staged"
# Input metadata key: True reads a window of partitions without the ones not stored (history
# with a day its contract refused), rather than failing on the first missing one.
ALLOW_MISSING = "allow_missing_partitions"


def partition_object_key(
    asset_key: dg.AssetKey, partition_key: str | None, suffix: str = "parquet"
) -> str:
    return object_key(asset_prefix(asset_key), partition_key, suffix)


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
    parts: dict[str, pd.DataFrame] = {}
    assigned = pd.Series(False, index=frame.index)
    for key in partition_keys:
        window = partitions_def.time_window_for_partition_key(key)
        mask = (times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))
        parts[key] = frame[mask].reset_index(drop=True)
        assigned |= mask
    if not assigned.all():
        stray = times[~assigned]
        raise PartitionSplitError(
            f"{int((~assigned).sum())} rows fall outside partitions "
            f"{partition_keys[0]}..{partition_keys[-1]} "
            f"(by {column}: {stray.min()} .. {stray.max()})"
        )
    return parts


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as parquet under a local folder, or a GCS bucket when one is set."""

    base_dir: str = "storage"
    gcs_bucket: str | None = None
    gcs_prefix: str = ""
    # No class-level default: a resource instance on the class is a data descriptor whose
    # __get__ would recurse on `self.gcs`. The default is supplied in __init__.
    gcs: GCSResource

    _storage: Storage | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # Dagster's resource metaclass drops the default of a nested-resource field (`gcs`),
        # which would make it required; supply it here so a local-only manager needs no GCS.
        data.setdefault("gcs", GCSResource())
        super().__init__(**data)

    @classmethod
    def from_settings(cls, settings: Settings) -> ParquetIOManager:
        return cls(
            base_dir=str(settings.storage_dir),
            gcs_bucket=settings.gcs_bucket,
            gcs_prefix=settings.gcs_prefix,
            gcs=GCSResource(project=settings.gcs_project),
        )

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            if self.gcs_bucket:
                self._storage = GCSStorage(self.gcs.get_client(), self.gcs_bucket, self.gcs_prefix)
            else:
                self._storage = LocalStorage(self.base_dir)
        return self._storage

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:  # assets that write their own files return nothing
            return
        declared = (context.definition_metadata or {}).get(STORAGE_FORMAT)
        if isinstance(obj, dict) and declared == "json":
            self._write_record(context, obj)
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: ParquetIOManager stores DataFrames, "
                f"got {type(obj).__name__} (dict records need metadata {STORAGE_FORMAT}='json')"
            )
        if not context.has_asset_partitions:
            key = partition_object_key(context.asset_key, None)
            self.storage.write_parquet(key, obj)
            context.add_output_metadata({"uri": self.storage.uri(key)})
            return
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            parts = {keys[0]: obj}
        else:
            column = str(
                (context.definition_metadata or {}).get(PARTITION_COLUMN, DEFAULT_PARTITION_COLUMN)
            )
            # Split everything first, so that a bad frame writes nothing at all.
            parts = split_by_partition(obj, keys, context.asset_partitions_def, column)
        staged = bool((context.definition_metadata or {}).get(WRITE_AUDIT_PUBLISH))
        for key, part in parts.items():
            if staged:
                self.stage(context.asset_key, context.run_id, key, part)
            else:
                self.storage.write_parquet(partition_object_key(context.asset_key, key), part)
        if staged:
            context.add_output_metadata({"staged": len(parts)})
            return
        # Output metadata lands on every partition of the run: one file for one partition,
        # else the folder that holds them all.
        where = (
            self.storage.uri(partition_object_key(context.asset_key, keys[0]))
            if len(parts) == 1
            else self.storage.uri(asset_prefix(context.asset_key))
        )
        context.add_output_metadata({"partitions_written": len(parts), "uri": where})

    def _write_record(self, context: dg.OutputContext, record: dict[str, Any]) -> None:
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        if len(keys) > 1:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: a record covers one partition, "
                f"not {len(keys)}"
            )
        key = partition_object_key(context.asset_key, keys[0], "json")
        data = json.dumps(record, indent=2, sort_keys=True, default=str).encode()
        self.storage.write_bytes(key, data, "application/json")
        context.add_output_metadata({"uri": self.storage.uri(key)})

    def read_record(self, asset_key: dg.AssetKey, partition_key: str | None) -> dict[str, Any]:
        """A JSON record asset's partition."""
        key = partition_object_key(asset_key, partition_key, "json")
        try:
            return dict(json.loads(self.storage.read_bytes(key)))
        except ObjectNotFound as exc:
            raise ObjectNotFound(
                f"{asset_key.to_user_string()}: {exc}; materialize that partition first"
            ) from None

    def load_input(self, context: dg.InputContext) -> Any:
        asset_key = context.asset_key
        upstream = context.upstream_output
        if (
            upstream is not None
            and (upstream.definition_metadata or {}).get(STORAGE_FORMAT) == "json"
        ):
            if not context.has_asset_partitions:
                return self.read_record(asset_key, None)
            # Records of partitioned assets arrive keyed by partition, one or many.
            return {k: self.read_record(asset_key, k) for k in context.asset_partition_keys}
        if not context.has_asset_partitions:
            return self._read(partition_object_key(asset_key, None), asset_key)
        keys = list(context.asset_partition_keys)
        if len(keys) > 1 and (context.definition_metadata or {}).get(ALLOW_MISSING):
            stored = set(self.stored_partitions(asset_key))
            missing = [k for k in keys if k not in stored]
            if missing:
                context.log.warning(
                    f"{asset_key.to_user_string()}: {len(missing)} of {len(keys)} partitions are "
                    f"not stored and read as missing history (first {missing[0]})"
                )
            keys = [k for k in keys if k in stored] or keys  # none stored: fail below, by name
        frames = [self._read(partition_object_key(asset_key, k), asset_key) for k in keys]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, ignore_index=True)

    @staticmethod
    def staged_key(
        asset_key: dg.AssetKey, run_id: str, partition_key: str, suffix: str = "parquet"
    ) -> str:
        return object_key(f"{STAGED}/{run_id}/{asset_prefix(asset_key)}", partition_key, suffix)

    def stage(
        self, asset_key: dg.AssetKey, run_id: str, partition_key: str, frame: pd.DataFrame
    ) -> None:
        """Stage a partition, noting the version of the published one it is to replace."""
        base = self.storage.version(partition_object_key(asset_key, partition_key)) or ""
        self.storage.write_bytes(
            self.staged_key(asset_key, run_id, partition_key, "base"), base.encode(), "text/plain"
        )
        self.storage.write_parquet(self.staged_key(asset_key, run_id, partition_key), frame)

    def read_staged(
        self, asset_key: dg.AssetKey, run_id: str, partition_key: str
    ) -> pd.DataFrame | None:
        """The partition as the run staged it; None when the run staged nothing for it."""
        try:
            return self.storage.read_parquet(self.staged_key(asset_key, run_id, partition_key))
        except ObjectNotFound:
            return None

    def publish(self, asset_key: dg.AssetKey, run_id: str, partition_key: str) -> str:
        """Make the staged partition the asset's; its URI. Raises `ConcurrentWrite` (and
        discards the stage) when another run published the partition after this one staged
        it: the later fetch does not silently replace a version it never saw."""
        target = partition_object_key(asset_key, partition_key)
        base_key = self.staged_key(asset_key, run_id, partition_key, "base")
        base = self.storage.read_bytes(base_key).decode()
        try:
            self.storage.move(
                self.staged_key(asset_key, run_id, partition_key), target, if_version=base
            )
        except ConcurrentWrite:
            self.discard(asset_key, run_id, partition_key)
            raise
        self.storage.delete(base_key)
        return self.storage.uri(target)

    def discard(self, asset_key: dg.AssetKey, run_id: str, partition_key: str) -> None:
        """Drop a staged partition that failed its audit; the published one stays as it was."""
        self.storage.delete(self.staged_key(asset_key, run_id, partition_key))
        self.storage.delete(self.staged_key(asset_key, run_id, partition_key, "base"))

    def stored_partitions(self, asset_key: dg.AssetKey) -> list[str]:
        """Partition keys of a parquet asset that have a file in storage, sorted."""
        prefix = asset_prefix(asset_key)
        return sorted(
            key[len(prefix) + 1 :].removesuffix(".parquet")
            for key in self.storage.list_keys(prefix)
            if key.endswith(".parquet")
        )

    def read_window(self, asset_key: dg.AssetKey, partition_keys: list[str]) -> pd.DataFrame:
        """The given partitions of a parquet asset as one frame, for assets that pick their
        own window."""
        frames = [self._read(partition_object_key(asset_key, k), asset_key) for k in partition_keys]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _read(self, key: str, asset_key: dg.AssetKey) -> pd.DataFrame:
        try:
            return self.storage.read_parquet(key)
        except ObjectNotFound as exc:
            raise ObjectNotFound(
                f"{asset_key.to_user_string()}: {exc}; materialize that partition first"
            ) from None
