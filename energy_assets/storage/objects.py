"""Object storage for asset files: a local folder or a GCS bucket, behind one small interface.

The IO manager writes through it and the dashboard reads through it, so both agree on keys
(`<asset key>/<partition key>.parquet`) and on the base (`ENERGY_STORAGE_DIR` or
`gs://ENERGY_GCS_BUCKET/ENERGY_GCS_PREFIX`). Writes are atomic: a reader sees the old object
or the new one, never a partial file.
"""

from __future__ import annotations

import fcntl
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from google.cloud import storage as gcs

    from energy_assets.settings import CommonSettings


def object_key(asset: str, partition: str | None = None, suffix: str = "parquet") -> str:
    """Where an asset's partition lives under the storage base: `<asset>/<partition>.<suffix>`,
    or `<asset>.<suffix>` when it is not partitioned. The IO manager and the dashboard share it."""
    return f"{asset}.{suffix}" if partition is None else f"{asset}/{partition}.{suffix}"


class StorageError(RuntimeError):
    """Storage could not be read or written; the message names the object."""


class ObjectNotFound(StorageError, FileNotFoundError):
    pass


class Storage(ABC):
    """Keys are '/'-separated paths relative to the storage base."""

    @property
    @abstractmethod
    def base_uri(self) -> str: ...

    def uri(self, key: str) -> str:
        return f"{self.base_uri}/{key}"

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """Keys under `prefix/`, sorted."""

    def partition_keys(self, asset: str, suffix: str = "parquet") -> list[str]:
        """The partition keys stored for an asset (`object_key(asset, key, suffix)`), sorted."""
        prefix, end = f"{asset}/", f".{suffix}"
        return sorted(k[len(prefix) : -len(end)] for k in self.list_keys(asset) if k.endswith(end))

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def version(self, key: str) -> str | None:
        """An opaque token that changes whenever the object is replaced; None when absent."""

    @abstractmethod
    def move(self, source: str, target: str, *, if_version: str | None = None) -> None:
        """Put the object at `source` under `target`, replacing whatever was there whole; with
        `if_version`, only while `target` is still at that version ("" for absent), else raise
        `ConcurrentWrite` and leave both as they are."""

    @abstractmethod
    def ping(self, timeout_seconds: float = 120.0) -> None:
        """Raise StorageError when the storage cannot be reached."""

    def write_parquet(self, key: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        # Serialise fully before touching storage, so a bad frame leaves the old object as it was.
        frame.to_parquet(buffer, index=False, engine="pyarrow")
        self.write_bytes(key, buffer.getvalue(), "application/vnd.apache.parquet")

    def read_parquet(self, key: str) -> pd.DataFrame:
        data = self.read_bytes(key)
        try:
            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:
            raise StorageError(f"{self.uri(key)}: not a readable parquet file: {exc}") from exc


class ConcurrentWrite(StorageError):
    """Another writer replaced the object since this one read its version."""


class LocalStorage(Storage):
    def __init__(self, base: Path | str) -> None:
        self.base = Path(base).resolve()

    @property
    def base_uri(self) -> str:
        return str(self.base)

    def path(self, key: str) -> Path:
        return self.base / key

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A unique temporary name in the same folder, then an atomic rename: concurrent writers
        # and crashes never leave a partial file under the final name.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.uri(key)} does not exist") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        root = self.path(prefix)
        if not root.is_dir():
            return []
        return sorted(
            p.relative_to(self.base).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def version(self, key: str) -> str | None:
        try:
            stat = self.path(key).stat()
        except FileNotFoundError:
            return None
        # A replace gives the name a new inode, so this changes with every write.
        return f"{stat.st_ino}-{stat.st_mtime_ns}"

    def move(self, source: str, target: str, *, if_version: str | None = None) -> None:
        path = self.path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Writers of one target take turns on a lock file beside it (hidden from listings).
        with open(path.parent / f".{path.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if if_version is not None and (self.version(target) or "") != if_version:
                raise ConcurrentWrite(
                    f"{self.uri(target)} was replaced by another writer since it was read"
                )
            try:
                os.replace(self.path(source), path)  # atomic on one file system
            except FileNotFoundError:
                raise ObjectNotFound(f"{self.uri(source)} does not exist") from None

    def ping(self, timeout_seconds: float = 120.0) -> None:
        if self.base.exists() and not self.base.is_dir():
            raise StorageError(f"{self.base} is not a folder")


class GCSStorage(Storage):
    def __init__(self, client: gcs.Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket_name = bucket
        self.bucket = client.bucket(bucket)
        self.prefix = prefix.strip("/")

    @property
    def base_uri(self) -> str:
        return f"gs://{self.bucket_name}/{self.prefix}".rstrip("/")

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from google.api_core import exceptions

        try:
            yield
        except exceptions.NotFound:
            raise ObjectNotFound(f"{self.uri(key)} does not exist") from None
        except exceptions.GoogleAPIError as exc:
            raise StorageError(f"{self.uri(key)}: {exc}") from exc
        except OSError as exc:  # connection refused, DNS, TLS
            raise StorageError(f"{self.uri(key)}: cannot reach GCS: {exc}") from exc

    @staticmethod
    def _retry() -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        # An object upload is one request that replaces the object whole, so a retry is safe
        # even without a generation precondition.
        return DEFAULT_RETRY.with_timeout(120.0)

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._errors(key):
            self.bucket.blob(self._name(key)).upload_from_string(
                data, content_type=content_type or "application/octet-stream", retry=self._retry()
            )

    def read_bytes(self, key: str) -> bytes:
        with self._errors(key):
            return bytes(self.bucket.blob(self._name(key)).download_as_bytes(retry=self._retry()))

    def exists(self, key: str) -> bool:
        with self._errors(key):
            return bool(self.bucket.blob(self._name(key)).exists(retry=self._retry()))

    def list_keys(self, prefix: str) -> list[str]:
        start = len(self.prefix) + 1 if self.prefix else 0
        folder = self._name(prefix).strip("/")
        with self._errors(prefix):
            blobs = self.client.list_blobs(
                self.bucket_name, prefix=f"{folder}/" if folder else None, retry=self._retry()
            )
            return sorted(b.name[start:] for b in blobs)

    def delete(self, key: str) -> None:
        with suppress(ObjectNotFound), self._errors(key):
            self.bucket.blob(self._name(key)).delete(retry=self._retry())

    def version(self, key: str) -> str | None:
        with self._errors(key):
            blob = self.bucket.get_blob(self._name(key), retry=self._retry())
        return str(blob.generation) if blob is not None else None

    def move(self, source: str, target: str, *, if_version: str | None = None) -> None:
        from google.api_core import exceptions

        # A server-side copy replaces the target in one step; readers see the old object or
        # the new one, never a mix. The generation precondition (0: must not exist) makes the
        # copy conditional on nobody having written the target since it was read.
        condition = {} if if_version is None else {"if_generation_match": int(if_version or 0)}
        try:
            with self._errors(source):
                blob = self.bucket.blob(self._name(source))
                self.bucket.copy_blob(
                    blob, self.bucket, self._name(target), retry=self._retry(), **condition
                )
        except StorageError as exc:
            if isinstance(exc.__cause__, exceptions.PreconditionFailed):
                raise ConcurrentWrite(
                    f"{self.uri(target)} was replaced by another writer since it was read"
                ) from None
            raise
        self.delete(source)

    def ping(self, timeout_seconds: float = 120.0) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        # A health check wants an answer within its own deadline, not the write path's 120 s.
        retry = DEFAULT_RETRY.with_timeout(timeout_seconds)
        # Lists at most one object under the prefix: storage.objects.list, which the dashboard's
        # read-only role (roles/storage.objectViewer) grants. Reading the bucket's metadata
        # (Bucket.exists/reload, Client.get_bucket) would need storage.buckets.get, which it lacks.
        try:
            with self._errors(""):
                blobs = self.client.list_blobs(
                    self.bucket_name,
                    prefix=f"{self.prefix}/" if self.prefix else None,
                    max_results=1,
                    retry=retry,
                    timeout=min(timeout_seconds, 60.0),
                )
                list(blobs)  # the iterator is lazy: the request happens here
        except ObjectNotFound:
            raise StorageError(f"bucket gs://{self.bucket_name} does not exist") from None


def storage_from_settings(settings: CommonSettings, gcs_client: gcs.Client | None = None) -> Storage:
    """The storage the settings name: GCS when a bucket is set, else the local folder."""
    if settings.gcs_bucket:
        if gcs_client is None:
            # The client dagster-gcp's GCSResource builds, made here so that readers such as the
            # dashboard need no Dagster.
            from google.cloud import storage as gcs_module

            gcs_client = gcs_module.Client(project=settings.gcs_project)
        return GCSStorage(gcs_client, settings.gcs_bucket, settings.gcs_prefix)
    return LocalStorage(settings.storage_dir)
