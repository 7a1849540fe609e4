"""Storage: the same behaviour on a local folder and on GCS (a real emulator on 127.0.0.1)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import energy_assets.storage.objects as storage_module
from energy_assets.settings import load_settings
from energy_assets.storage.objects import (
    ConcurrentWrite,
    GCSStorage,
    LocalStorage,
    ObjectNotFound,
    Storage,
    StorageError,
    storage_from_settings,
)

BUCKET = "test-bucket"
CANONICAL_DTYPES = {
    "datetime_utc": "datetime64[ns, UTC]",
    "area": "string",
    "consumer_type": "int64",
    "consumption_kwh": "float64",
}

StorageFactory = Callable[[str], Storage]


def canonical_frame(hours: int = 48, offset: float = 0.0) -> pd.DataFrame:
    times = pd.date_range("2023-01-01", periods=hours, freq="h", tz="UTC")
    areas = pd.array(["DK1", "DK2", None] * (hours // 3) + ["DK1"] * (hours % 3), dtype="string")
    return pd.DataFrame(
        {
            "datetime_utc": times,
            "area": areas,
            "consumer_type": np.arange(hours, dtype="int64") + 100,
            "consumption_kwh": np.linspace(0.5, 99.5, hours) + offset,
        }
    )


@pytest.fixture(params=["local", "gcs"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageFactory:
    """Storages with distinct bases: `make_storage(name)`. GCS ones live under a unique prefix."""
    if request.param == "local":
        return lambda name: LocalStorage(tmp_path / "stores" / name)
    client = request.getfixturevalue("gcs_client")
    run = f"storage-tests/{uuid.uuid4().hex}"
    return lambda name: GCSStorage(client, BUCKET, f"{run}/{name}")


@pytest.fixture
def storage(make_storage: StorageFactory) -> Storage:
    return make_storage("main")


# --- round trips -----------------------------------------------------------------------------


def test_parquet_roundtrip_preserves_canonical_dtypes(storage: Storage) -> None:
    frame = canonical_frame()
    assert {
        c: str(t) for c, t in frame.dtypes.items()
    } == CANONICAL_DTYPES  # the input is canonical

    storage.write_parquet("raw_consumption/2023-01-01.parquet", frame)
    back = storage.read_parquet("raw_consumption/2023-01-01.parquet")

    assert {c: str(t) for c, t in back.dtypes.items()} == CANONICAL_DTYPES
    assert isinstance(back["area"].dtype, pd.StringDtype)
    assert back["area"].isna().sum() == frame["area"].isna().sum() > 0
    pd.testing.assert_frame_equal(back, frame)


def test_empty_canonical_frame_roundtrip_keeps_dtypes(storage: Storage) -> None:
    empty = canonical_frame().iloc[0:0].reset_index(drop=True)
    storage.write_parquet("empty.parquet", empty)
    back = storage.read_parquet("empty.parquet")
    assert back.empty
    assert {c: str(t) for c, t in back.dtypes.items()} == CANONICAL_DTYPES


def test_bytes_roundtrip_and_overwrite(storage: Storage) -> None:
    storage.write_bytes("a/b/c.bin", b"first")
    assert storage.read_bytes("a/b/c.bin") == b"first"
    storage.write_bytes("a/b/c.bin", b"second, longer")
    assert storage.read_bytes("a/b/c.bin") == b"second, longer"
    storage.write_bytes("a/b/c.bin", b"")
    assert storage.read_bytes("a/b/c.bin") == b""


def test_object_lands_under_the_base(storage: Storage, tmp_path: Path) -> None:
    storage.write_bytes("raw/2023-01-01.parquet", b"x")
    assert storage.uri("raw/2023-01-01.parquet") == f"{storage.base_uri}/raw/2023-01-01.parquet"
    if isinstance(storage, LocalStorage):
        assert (tmp_path / "stores" / "main" / "raw" / "2023-01-01.parquet").read_bytes() == b"x"
        assert storage.base_uri == str((tmp_path / "stores" / "main").resolve())
    else:
        assert isinstance(storage, GCSStorage)
        name = f"{storage.prefix}/raw/2023-01-01.parquet"
        assert storage.client.bucket(BUCKET).blob(name).download_as_bytes() == b"x"
        assert storage.base_uri == f"gs://{BUCKET}/{storage.prefix}"


# --- listing, existence, deletion ------------------------------------------------------------


def test_list_keys_is_sorted_and_prefix_scoped(make_storage: StorageFactory) -> None:
    storage = make_storage("main")
    neighbour = make_storage("neighbour")  # another base in the same folder / bucket
    for key in [
        "raw/2023-01-03.parquet",
        "raw/2023-01-01.parquet",
        "raw/sub/2023-01-02.parquet",
        "raw_extra/2023-01-02.parquet",  # shares the string prefix 'raw', not the folder
        "rawfile.parquet",
        "other/2023-01-01.parquet",
    ]:
        storage.write_bytes(key, b"x")
    neighbour.write_bytes("raw/2023-01-02.parquet", b"x")

    expected = ["raw/2023-01-01.parquet", "raw/2023-01-03.parquet", "raw/sub/2023-01-02.parquet"]
    assert storage.list_keys("raw") == expected
    assert storage.list_keys("raw/") == expected
    assert storage.list_keys("raw/sub") == ["raw/sub/2023-01-02.parquet"]
    assert storage.list_keys("other") == ["other/2023-01-01.parquet"]
    assert storage.list_keys("missing") == []
    assert neighbour.list_keys("raw") == ["raw/2023-01-02.parquet"]


def test_list_keys_of_partition_files_in_date_order(storage: Storage) -> None:
    days = pd.date_range("2023-01-01", periods=12, freq="D").strftime("%Y-%m-%d").tolist()
    for day in reversed(days):
        storage.write_bytes(f"asset/{day}.parquet", b"x")
    assert storage.list_keys("asset") == [f"asset/{d}.parquet" for d in days]


def test_exists(storage: Storage) -> None:
    assert not storage.exists("raw/2023-01-01.parquet")
    storage.write_bytes("raw/2023-01-01.parquet", b"x")
    assert storage.exists("raw/2023-01-01.parquet")
    assert not storage.exists("raw")  # a "folder" is not an object
    assert not storage.exists("raw/2023-01-02.parquet")


def test_delete(storage: Storage) -> None:
    storage.write_bytes("raw/a.parquet", b"a")
    storage.write_bytes("raw/b.parquet", b"b")
    storage.delete("raw/a.parquet")
    assert not storage.exists("raw/a.parquet")
    assert storage.list_keys("raw") == ["raw/b.parquet"]
    assert storage.read_bytes("raw/b.parquet") == b"b"


def test_delete_of_a_missing_key_is_fine(storage: Storage) -> None:
    storage.delete("never/written.parquet")
    storage.write_bytes("raw/a.parquet", b"a")
    storage.delete("raw/a.parquet")
    storage.delete("raw/a.parquet")  # twice
    assert not storage.exists("raw/a.parquet")


# --- errors ----------------------------------------------------------------------------------


def test_missing_object_raises_object_not_found_naming_the_uri(storage: Storage) -> None:
    key = "raw_consumption/2023-01-07.parquet"
    uri = storage.uri(key)
    for read in (storage.read_bytes, storage.read_parquet):
        with pytest.raises(ObjectNotFound) as info:
            read(key)
        assert uri in str(info.value)
        assert "does not exist" in str(info.value)
        # Callers may catch either the storage error or the builtin.
        assert isinstance(info.value, StorageError)
        assert isinstance(info.value, FileNotFoundError)
    if isinstance(storage, GCSStorage):
        assert uri.startswith(f"gs://{BUCKET}/{storage.prefix}/")


def test_unreadable_parquet_raises_storage_error_naming_the_uri(storage: Storage) -> None:
    storage.write_bytes("raw/broken.parquet", b"this is not parquet")
    with pytest.raises(StorageError, match="not a readable parquet file") as info:
        storage.read_parquet("raw/broken.parquet")
    assert storage.uri("raw/broken.parquet") in str(info.value)
    assert not isinstance(info.value, ObjectNotFound)


def test_ping_succeeds_on_reachable_storage(storage: Storage) -> None:
    storage.ping()  # also for a local base that does not exist yet: it is created on write


def test_ping_fails_clearly_for_a_missing_bucket(gcs_client: Any) -> None:
    missing = GCSStorage(gcs_client, "no-such-bucket-for-tests", "energy")
    with pytest.raises(StorageError, match=r"bucket gs://no-such-bucket-for-tests does not exist"):
        missing.ping()


def test_gcs_ping_lists_objects_and_never_reads_bucket_metadata(
    gcs_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's role (roles/storage.objectViewer) may list objects, not get the bucket."""
    from google.cloud import storage as gcs

    def needs_buckets_get(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("reads bucket metadata: needs storage.buckets.get")

    for name in ("exists", "reload"):
        monkeypatch.setattr(gcs.Bucket, name, needs_buckets_get)
    for name in ("get_bucket", "lookup_bucket"):
        monkeypatch.setattr(gcs.Client, name, needs_buckets_get)
    listed: list[dict[str, Any]] = []
    list_blobs = gcs_client.list_blobs

    def recording_list_blobs(*args: Any, **kwargs: Any) -> Any:
        listed.append(kwargs)
        return list_blobs(*args, **kwargs)

    monkeypatch.setattr(gcs_client, "list_blobs", recording_list_blobs)
    GCSStorage(gcs_client, BUCKET, "energy").ping()
    assert [(call["prefix"], call["max_results"]) for call in listed] == [("energy/", 1)]


def test_reading_from_a_missing_bucket_names_the_object(gcs_client: Any) -> None:
    missing = GCSStorage(gcs_client, "no-such-bucket-for-tests", "energy")
    with pytest.raises(StorageError) as info:
        missing.read_bytes("raw/2023-01-01.parquet")
    assert "gs://no-such-bucket-for-tests/energy/raw/2023-01-01.parquet" in str(info.value)


def test_local_ping_fails_when_the_base_is_a_file(tmp_path: Path) -> None:
    base = tmp_path / "not-a-folder"
    base.write_text("x")
    with pytest.raises(StorageError, match="is not a folder"):
        LocalStorage(base).ping()


# --- GCS naming ------------------------------------------------------------------------------


def test_gcs_prefix_slashes_are_stripped_and_empty_prefix_uses_bucket_root(
    gcs_client: Any,
) -> None:
    run = uuid.uuid4().hex
    slashed = GCSStorage(gcs_client, BUCKET, f"/{run}/nested/")
    assert slashed.base_uri == f"gs://{BUCKET}/{run}/nested"
    slashed.write_bytes("k.bin", b"1")
    assert gcs_client.bucket(BUCKET).blob(f"{run}/nested/k.bin").download_as_bytes() == b"1"

    root = GCSStorage(gcs_client, BUCKET, "")
    assert root.base_uri == f"gs://{BUCKET}"
    assert root.uri(f"{run}/nested/k.bin") == f"gs://{BUCKET}/{run}/nested/k.bin"
    assert root.read_bytes(f"{run}/nested/k.bin") == b"1"
    assert root.list_keys(run) == [f"{run}/nested/k.bin"]


# --- storage_from_settings -------------------------------------------------------------------


def test_storage_from_settings_defaults_to_the_local_folder(tmp_path: Path) -> None:
    storage = storage_from_settings(load_settings())
    assert isinstance(storage, LocalStorage)
    assert storage.base == (tmp_path / "storage").resolve()  # relative to the working directory

    storage = storage_from_settings(load_settings(storage_dir=tmp_path / "elsewhere"))
    assert isinstance(storage, LocalStorage)
    assert storage.base == (tmp_path / "elsewhere").resolve()


def test_storage_from_settings_blank_bucket_means_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENERGY_GCS_BUCKET", "  ")
    monkeypatch.setenv("ENERGY_STORAGE_DIR", str(tmp_path / "env-store"))
    storage = storage_from_settings(load_settings())
    assert isinstance(storage, LocalStorage)
    assert storage.base == (tmp_path / "env-store").resolve()


def test_storage_from_settings_picks_gcs_with_a_given_client(gcs_client: Any) -> None:
    prefix = f"settings-tests/{uuid.uuid4().hex}"
    settings = load_settings(gcs_bucket=BUCKET, gcs_prefix=f"/{prefix}/", storage_dir="ignored")
    storage = storage_from_settings(settings, gcs_client=gcs_client)
    assert isinstance(storage, GCSStorage)
    assert storage.client is gcs_client
    assert storage.base_uri == f"gs://{BUCKET}/{prefix}" == settings.storage_uri

    storage.write_parquet("raw/2023-01-01.parquet", canonical_frame())
    blob = gcs_client.bucket(BUCKET).blob(f"{prefix}/raw/2023-01-01.parquet")
    assert blob.exists()
    assert not Path("ignored").exists()


def test_storage_from_settings_builds_a_gcs_client_from_the_environment(
    gcs_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gcs_client has pointed STORAGE_EMULATOR_HOST at the emulator; the settings come from env.
    prefix = f"settings-tests/{uuid.uuid4().hex}"
    monkeypatch.setenv("ENERGY_GCS_BUCKET", BUCKET)
    monkeypatch.setenv("ENERGY_GCS_PREFIX", prefix)
    monkeypatch.setenv("ENERGY_GCS_PROJECT", "test-project")
    storage = storage_from_settings(load_settings())
    assert isinstance(storage, GCSStorage)
    assert storage.client is not gcs_client

    frame = canonical_frame(hours=5)
    storage.write_parquet("raw/2023-01-01.parquet", frame)
    seen_by_other_client = GCSStorage(gcs_client, BUCKET, prefix)
    pd.testing.assert_frame_equal(
        seen_by_other_client.read_parquet("raw/2023-01-01.parquet"), frame
    )


# --- atomicity -------------------------------------------------------------------------------


def _unserialisable_frame() -> pd.DataFrame:
    return pd.DataFrame({"datetime_utc": [pd.Timestamp("2023-01-01", tz="UTC")], "x": [object()]})


def test_failed_serialisation_leaves_the_previous_object_untouched(storage: Storage) -> None:
    key = "raw/2023-01-01.parquet"
    storage.write_parquet(key, canonical_frame())
    before = storage.read_bytes(key)

    with pytest.raises((TypeError, ValueError)):  # pyarrow's ArrowInvalid / ArrowTypeError
        storage.write_parquet(key, _unserialisable_frame())

    assert storage.read_bytes(key) == before
    assert storage.list_keys("raw") == [key]
    pd.testing.assert_frame_equal(storage.read_parquet(key), canonical_frame())


def test_local_failed_serialisation_leaves_no_temp_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.write_parquet("raw/2023-01-01.parquet", canonical_frame())
    folder = tmp_path / "store" / "raw"
    before = (folder / "2023-01-01.parquet").read_bytes()

    with pytest.raises((TypeError, ValueError)):
        storage.write_parquet("raw/2023-01-01.parquet", _unserialisable_frame())
    with pytest.raises((TypeError, ValueError)):
        storage.write_parquet("raw/2023-01-02.parquet", _unserialisable_frame())

    assert sorted(os.listdir(folder)) == ["2023-01-01.parquet"]
    assert (folder / "2023-01-01.parquet").read_bytes() == before


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_local_write_failing_midway_keeps_old_file_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.write_bytes("raw/day.parquet", b"old content")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage_module.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        storage.write_bytes("raw/day.parquet", b"new content that never lands")
    monkeypatch.undo()

    folder = tmp_path / "store" / "raw"
    assert sorted(os.listdir(folder)) == ["day.parquet"]
    assert storage.read_bytes("raw/day.parquet") == b"old content"


def test_local_temp_files_are_hidden_from_list_keys(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.write_bytes("raw/a.parquet", b"x")
    (tmp_path / "store" / "raw" / ".a.parquet.abc123.tmp").write_bytes(b"partial")
    assert storage.list_keys("raw") == ["raw/a.parquet"]


def test_local_concurrent_writers_never_expose_a_partial_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    key = "raw/2023-01-01.parquet"
    rows = 20_000
    writers = 4
    writes_each = 25
    frames = {
        w: pd.DataFrame(
            {
                "writer": np.full(rows, w, dtype="int64"),
                "value": np.arange(rows, dtype="float64") * (w + 1),
                "label": pd.array([f"w{w}-{i % 97}" for i in range(rows)], dtype="string"),
            }
        )
        for w in range(writers)
    }
    storage.write_parquet(key, frames[0])

    errors: list[BaseException] = []
    start = threading.Barrier(writers + 1)

    def write(w: int) -> None:
        try:
            start.wait(timeout=10)
            for _ in range(writes_each):
                storage.write_parquet(key, frames[w])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,), daemon=True) for w in range(writers)]
    for thread in threads:
        thread.start()
    start.wait(timeout=10)

    reads = 0
    seen: set[int] = set()
    bad: list[str] = []
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline and reads < 10_000:
        try:
            got = storage.read_parquet(key)
        except Exception as exc:
            bad.append(f"read {reads}: {exc!r}")
            break
        reads += 1
        writer_ids = got["writer"].unique()
        if len(writer_ids) != 1:
            bad.append(f"read {reads}: rows of writers {sorted(writer_ids)} mixed")
            break
        w = int(writer_ids[0])
        seen.add(w)
        if not got.equals(frames[w]):
            bad.append(f"read {reads}: frame of writer {w} incomplete ({len(got)} rows)")
            break
    for thread in threads:
        thread.join(timeout=30)

    assert not any(t.is_alive() for t in threads), "writers did not finish"
    assert errors == []
    assert bad == []
    assert reads >= 5, "the reader barely overlapped the writers"
    assert seen  # every read was a complete frame of some writer
    final = storage.read_parquet(key)
    assert any(final.equals(f) for f in frames.values())
    assert sorted(os.listdir(tmp_path / "store" / "raw")) == ["2023-01-01.parquet"]


# --- conditional moves (publishing a staged partition) -----------------------------------------


def test_version_changes_with_every_write_and_is_none_when_absent(storage: Storage) -> None:
    assert storage.version("v/a.bin") is None
    storage.write_bytes("v/a.bin", b"one")
    first = storage.version("v/a.bin")
    storage.write_bytes("v/a.bin", b"two")
    second = storage.version("v/a.bin")
    assert first is not None and second is not None and first != second


def test_move_replaces_the_target_whole_and_removes_the_source(storage: Storage) -> None:
    storage.write_bytes("m/target.bin", b"old")
    storage.write_bytes("m/staged.bin", b"new")
    storage.move("m/staged.bin", "m/target.bin", if_version=storage.version("m/target.bin"))
    assert storage.read_bytes("m/target.bin") == b"new"
    assert not storage.exists("m/staged.bin")
    storage.write_bytes("m/other.bin", b"first")
    storage.move("m/other.bin", "m/fresh.bin", if_version="")  # "": the target must not exist
    assert storage.read_bytes("m/fresh.bin") == b"first"


def test_a_local_move_against_a_stale_version_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    # (The GCS emulator the tests use ignores generation preconditions, so this is local only;
    # on GCS the same call sends `ifGenerationMatch`.)
    storage = LocalStorage(tmp_path)
    storage.write_bytes("p/day.parquet", b"published by run A")
    seen = storage.version("p/day.parquet")
    storage.write_bytes("p/day.parquet", b"published by run B")
    storage.write_bytes("p/staged.parquet", b"staged by run A")
    with pytest.raises(ConcurrentWrite, match="replaced by another writer"):
        storage.move("p/staged.parquet", "p/day.parquet", if_version=seen)
    assert storage.read_bytes("p/day.parquet") == b"published by run B"
    assert storage.read_bytes("p/staged.parquet") == b"staged by run A"
    with pytest.raises(ConcurrentWrite):
        storage.move("p/staged.parquet", "p/day.parquet", if_version="")  # expected absent
    assert storage.list_keys("p") == ["p/day.parquet", "p/staged.parquet"]  # no lock files


def test_a_gcs_precondition_failure_is_a_concurrent_write(
    gcs_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What GCS answers (HTTP 412) when the target's generation moved on since it was read; the
    emulator does not enforce preconditions, so its answer is given here."""
    from google.api_core import exceptions

    storage = GCSStorage(gcs_client, BUCKET, f"storage-tests/{uuid.uuid4().hex}")
    storage.write_bytes("p/staged.parquet", b"staged")
    sent: dict[str, Any] = {}

    def refuse(*args: Any, **kwargs: Any) -> None:
        sent.update(kwargs)
        raise exceptions.PreconditionFailed("conditionNotMet")

    monkeypatch.setattr(storage.bucket, "copy_blob", refuse)
    with pytest.raises(ConcurrentWrite, match="replaced by another writer"):
        storage.move("p/staged.parquet", "p/day.parquet", if_version="1700000000000000")
    assert sent["if_generation_match"] == 1700000000000000
    assert storage.read_bytes("p/staged.parquet") == b"staged"  # nothing removed
