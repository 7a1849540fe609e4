"""What the dashboard reads: the stored assets and the alerts log, through the storage layer the
IO manager writes with. Listings and reads are cached for a few seconds, so new partitions show
up without a restart and a busy page does not re-read storage on every callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from energy_assets import names
from energy_assets.settings import Settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.drift_store import report_html
from energy_assets.storage.objects import ObjectNotFound, Storage, object_key, storage_from_settings

T = TypeVar("T")


class DashboardStore:
    def __init__(self, storage: Storage, settings: Settings, ttl_seconds: float = 15.0) -> None:
        self.storage = storage
        self.settings = settings
        self.ttl = ttl_seconds
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DashboardStore:
        return cls(storage_from_settings(settings), settings)

    def cached(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def partitions(self, asset: str, suffix: str = "parquet") -> list[str]:
        """Partition keys stored for an asset, sorted."""

        def load() -> list[str]:
            prefix, end = f"{asset}/", f".{suffix}"
            keys = self.storage.list_keys(asset)
            return sorted(k[len(prefix) : -len(end)] for k in keys if k.endswith(end))

        return self.cached(("partitions", asset, suffix), load)

    def frame(self, asset: str, partition: str) -> pd.DataFrame | None:
        """One stored partition, or None when it is not stored."""

        def load() -> pd.DataFrame | None:
            try:
                return self.storage.read_parquet(object_key(asset, partition))
            except ObjectNotFound:
                return None

        return self.cached(("frame", asset, partition), load)

    def frames(self, asset: str, partitions: list[str]) -> pd.DataFrame:
        parts = [f for p in partitions if (f := self.frame(asset, p)) is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def all_frames(self, asset: str) -> pd.DataFrame:
        """Every partition of an asset as one frame (cached as a whole per listing)."""
        keys = tuple(self.partitions(asset))
        return self.cached(("all", asset, keys), lambda: self.frames(asset, list(keys)))

    def alerts(self) -> pd.DataFrame:
        return self.cached(("alerts",), lambda: AlertLog(self.storage).frame())

    def drift_report(self, day: str) -> bytes | None:
        """The day's Evidently report: compressed, or as plain HTML as older runs stored it."""
        report = report_html(self.storage, day)
        if report is not None:
            return report
        try:
            return self.storage.read_bytes(object_key(names.DRIFT, day, "html"))
        except ObjectNotFound:
            return None
