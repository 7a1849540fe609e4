"""The assets' storage as a resource: one object per partition under `<asset key>/<partition
key>`, in a local folder or a GCS bucket, with the operations that assets, checks and sensors
need beside loading and storing outputs: staging, publishing and discarding a partition
(write-audit-publish), listing stored partitions, and reading records and windows.

The IO manager (parquet_io_manager.py) stores and loads outputs through the same resource.
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

STAGED = "_staged"


def asset_prefix(asset_key: dg.AssetKey) -> str:
    return "/".join(asset_key.path)


def partition_object_key(
    asset_key: dg.AssetKey, partition_key: str | None, suffix: str = "parquet"
) -> str:
    return object_key(asset_prefix(asset_key), partition_key, suffix)


def staged_key(
    asset_key: dg.AssetKey, run_id: str, partition_key: str, suffix: str = "parquet"
) -> str:
    return object_key(f"{STAGED}/{run_id}/{asset_prefix(asset_key)}", partition_key, suffix)


class AssetStorage(dg.ConfigurableResource):
    """The stored assets, under a local folder, or a GCS bucket when one is set."""

    base_dir: str = "storage"
    gcs_bucket: str | None = None
    gcs_prefix: str = ""
    # No class-level default: a resource instance on the class is a data descriptor whose
    # __get__ would recurse on `self.gcs`. The default is supplied in __init__.
    gcs: GCSResource

    _storage: Storage | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # Dagster's resource metaclass drops the default of a nested-resource field (`gcs`),
        # which would make it required; supply it here so local storage needs no GCS.
        data.setdefault("gcs", GCSResource())
        super().__init__(**data)

    @classmethod
    def from_settings(cls, settings: Settings) -> AssetStorage:
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

    # -- reading --------------------------------------------------------------------------

    def read_frame(self, asset_key: dg.AssetKey, partition_key: str | None) -> pd.DataFrame:
        try:
            return self.storage.read_parquet(partition_object_key(asset_key, partition_key))
        except ObjectNotFound as exc:
            raise ObjectNotFound(
                f"{asset_key.to_user_string()}: {exc}; materialize that partition first"
            ) from None

    def read_window(self, asset_key: dg.AssetKey, partition_keys: list[str]) -> pd.DataFrame:
        """The given partitions of a parquet asset as one frame, for assets that pick their
        own window."""
        frames = [self.read_frame(asset_key, k) for k in partition_keys]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def read_record(self, asset_key: dg.AssetKey, partition_key: str | None) -> dict[str, Any]:
        """A JSON record asset's partition."""
        key = partition_object_key(asset_key, partition_key, "json")
        try:
            return dict(json.loads(self.storage.read_bytes(key)))
        except ObjectNotFound as exc:
            raise ObjectNotFound(
                f"{asset_key.to_user_string()}: {exc}; materialize that partition first"
            ) from None

    def stored_partitions(self, asset_key: dg.AssetKey) -> list[str]:
        """Partition keys of a parquet asset that have a file in storage, sorted."""
        return self.storage.partition_keys(asset_prefix(asset_key))

    # -- writing --------------------------------------------------------------------------

    def write_frame(
        self, asset_key: dg.AssetKey, partition_key: str | None, frame: pd.DataFrame
    ) -> str:
        key = partition_object_key(asset_key, partition_key)
        self.storage.write_parquet(key, frame)
        return self.storage.uri(key)

    def write_record(
        self, asset_key: dg.AssetKey, partition_key: str | None, record: dict[str, Any]
    ) -> str:
        key = partition_object_key(asset_key, partition_key, "json")
        data = json.dumps(record, indent=2, sort_keys=True, default=str).encode()
        self.storage.write_bytes(key, data, "application/json")
        return self.storage.uri(key)

    # -- write, audit, publish ------------------------------------------------------------

    def stage(
        self, asset_key: dg.AssetKey, run_id: str, partition_key: str, frame: pd.DataFrame
    ) -> None:
        """Stage a partition, noting the version of the published one it is to replace."""
        base = self.storage.version(partition_object_key(asset_key, partition_key)) or ""
        self.storage.write_bytes(
            staged_key(asset_key, run_id, partition_key, "base"), base.encode(), "text/plain"
        )
        self.storage.write_parquet(staged_key(asset_key, run_id, partition_key), frame)

    def read_staged(
        self, asset_key: dg.AssetKey, run_id: str, partition_key: str
    ) -> pd.DataFrame | None:
        """The partition as the run staged it; None when the run staged nothing for it."""
        try:
            return self.storage.read_parquet(staged_key(asset_key, run_id, partition_key))
        except ObjectNotFound:
            return None

    def publish(self, asset_key: dg.AssetKey, run_id: str, partition_key: str) -> str:
        """Make the staged partition the asset's; its URI. Raises `ConcurrentWrite` (and
        discards the stage) when another run published the partition after this one staged
        it: the later fetch does not silently replace a version it never saw."""
        target = partition_object_key(asset_key, partition_key)
        base_key = staged_key(asset_key, run_id, partition_key, "base")
        base = self.storage.read_bytes(base_key).decode()
        try:
            self.storage.move(staged_key(asset_key, run_id, partition_key), target, if_version=base)
        except ConcurrentWrite:
            self.discard(asset_key, run_id, partition_key)
            raise
        self.storage.delete(base_key)
        return self.storage.uri(target)

    def discard(self, asset_key: dg.AssetKey, run_id: str, partition_key: str) -> None:
        """Drop a staged partition that failed its audit; the published one stays as it was."""
        self.storage.delete(staged_key(asset_key, run_id, partition_key))
        self.storage.delete(staged_key(asset_key, run_id, partition_key, "base"))
