"""What the dashboard reads: the stored assets and the alerts log, through the storage layer the
IO manager writes with. Listings and reads are cached for a few seconds, so new partitions show
up without a restart and a busy page does not re-read storage on every callback. Facts that are
slow to read (the registry's champion, storage listings for the health answer) are read by
`Watched` readers on background threads, so no request waits for them."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pandas as pd
from cachetools import TTLCache

from energy_assets import names
from energy_assets.settings import DashboardSettings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.drift_store import report_html
from energy_assets.storage.model_reports import load_report
from energy_assets.storage.objects import ObjectNotFound, Storage, object_key, storage_from_settings

T = TypeVar("T")
_MISSING = object()
logger = logging.getLogger(__name__)

# The cache holds at most this many bytes of values per process (each gunicorn worker has its
# own). A stored day of actuals is 0.15-0.25 MB in memory and an issue of forecasts (every day
# through tomorrow) a few MB, so this keeps the week of actuals and the issues behind every
# forecast view, the monitoring and drift frames of a year or more, and the summaries built
# from them. Past it the least recently used entries go first (and are read again when asked
# for); keys per day or per listing can therefore no longer grow without bound over years of
# history or requests for arbitrary days.
CACHE_BYTES = 64 * 2**20
# Listings, summaries, versions: small values, counted at a nominal size so their number is
# bounded too.
SMALL_VALUE_BYTES = 1024


def _cost(value: Any) -> int:
    """Approximate bytes of a cached value, for the cache's budget."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum()) + SMALL_VALUE_BYTES
    if isinstance(value, list | tuple):
        return SMALL_VALUE_BYTES + 64 * len(value)
    return SMALL_VALUE_BYTES


@dataclass(frozen=True)
class Reading(Generic[T]):
    value: T
    at: float  # time.time() when the read finished

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.at)


class Watched(Generic[T]):
    """A value read on a background thread of this process: at once, then every `interval`
    seconds (or only once, with `interval` None). `reading()` never waits: it gives the newest
    reading, or None while none has finished. The thread belongs to the process that started
    it; in a forked worker (gunicorn with `preload_app`) the first `start()` or `reading()`
    starts the worker's own. A reader `after` others makes its first read once theirs are done
    (or `AFTER_WAIT_SECONDS` have passed): a costly first read (opening the MLflow store) then
    does not compete with the cheap ones a first visitor waits for."""

    AFTER_WAIT_SECONDS = 10.0

    # Every reader with a thread, so a test (or a shutdown) can stop them all.
    _running: weakref.WeakSet[Watched[Any]] = weakref.WeakSet()

    def __init__(
        self,
        name: str,
        read: Callable[[], T],
        interval: float | None,
        after: tuple[Watched[Any], ...] = (),
    ) -> None:
        self.name = name
        self.interval = interval
        self.after = after
        self._read = read
        self._reading: Reading[T] | None = None
        self._read_once = threading.Event()  # a first read finished, well or not
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()
        self.started_at: float | None = None  # time.time() when this process's thread started

    def start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self.started_at = time.time()
            thread = threading.Thread(target=self._loop, name=f"watch {self.name}", daemon=True)
            thread.start()
            Watched._running.add(self)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._pid = None
        Watched._running.discard(self)

    @classmethod
    def stop_all(cls) -> None:
        for watched in list(cls._running):
            watched.stop()

    def _loop(self) -> None:
        stop = self._stop
        for earlier in self.after:
            earlier.start()
            earlier._read_once.wait(self.AFTER_WAIT_SECONDS)
        while not stop.is_set():
            self.refresh()
            if self.interval is None:
                return
            stop.wait(self.interval)

    def refresh(self) -> Reading[T] | None:
        """Read now, on the caller's thread; a read that raises keeps the previous reading (which
        then ages: see `Reading.age`)."""
        try:
            reading = Reading(self._read(), time.time())
        except Exception:
            logger.exception("reading %s failed", self.name)
            return self._reading
        finally:
            self._read_once.set()
        self._reading = reading
        return reading

    def reading(self) -> Reading[T] | None:
        self.start()
        return self._reading


# Where create_app keeps the store on the Flask app, for the server's hooks (gunicorn_config).
STORE_EXTENSION = "energy_dashboard_store"


def store_of(server: Any) -> DashboardStore:
    """The store of a Flask app that `dash_app.app.create_app` made."""
    return cast(DashboardStore, server.extensions[STORE_EXTENSION])


class DashboardStore:
    def __init__(
        self,
        storage: Storage,
        settings: DashboardSettings,
        ttl_seconds: float = 15.0,
        max_bytes: int = CACHE_BYTES,
    ) -> None:
        """`ttl_seconds` <= 0 turns the cache off (every call reads storage)."""
        self.storage = storage
        self.settings = settings
        self.ttl = ttl_seconds
        self._cache: TTLCache[tuple[Any, ...], Any] = TTLCache(
            maxsize=max_bytes, ttl=max(ttl_seconds, 0.001), getsizeof=_cost
        )
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe by themselves
        self._watched: dict[str, Watched[Any]] = {}

    @classmethod
    def from_settings(cls, settings: DashboardSettings) -> DashboardStore:
        return cls(storage_from_settings(settings), settings)

    def cached(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """The value under `key`, loaded (outside the lock: a slow read blocks no other key)
        when missing or older than the TTL. A value larger than the whole budget is not kept."""
        if self.ttl <= 0:
            return load()
        with self._lock:
            hit = self._cache.get(key, _MISSING)
        if hit is not _MISSING:
            return cast(T, hit)
        value = load()
        with self._lock, contextlib.suppress(ValueError):  # ValueError: too large to keep
            self._cache[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def watched(
        self,
        name: str,
        read: Callable[[], T],
        interval: float | None,
        after: tuple[str, ...] = (),
    ) -> Watched[T]:
        """The background reader registered under `name`, registered by the first call (`after`:
        names of readers registered before it whose first read goes first)."""
        with self._lock:
            found = self._watched.get(name)
            if found is None:
                earlier = tuple(self._watched[n] for n in after if n in self._watched)
                found = self._watched[name] = Watched(name, read, interval, earlier)
        return cast(Watched[T], found)

    def start_watching(self) -> None:
        """Start every registered reader's thread in this process (a gunicorn worker at boot)."""
        for watched in list(self._watched.values()):
            watched.start()

    def stop_watching(self) -> None:
        for watched in list(self._watched.values()):
            watched.stop()

    def partitions(self, asset: str, suffix: str = "parquet") -> list[str]:
        """Partition keys stored for an asset, sorted."""

        return self.cached(
            ("partitions", asset, suffix), lambda: self.storage.partition_keys(asset, suffix)
        )

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

    def model_report(self, week: str, version: str) -> str | None:
        """The report of a week's model version, or None when none is stored (not cached: a
        person's decision rewrites it)."""
        return load_report(self.storage, week, version)
