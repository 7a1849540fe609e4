"""ParquetIOManager (over the AssetStorage resource) with small synthetic assets, on a local
folder and on a GCS emulator.

No `from __future__ import annotations` here: Dagster reads the `context` annotations literally.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster_gcp import GCSResource

from energy_assets.settings import load_settings
from energy_assets.storage.objects import GCSStorage, LocalStorage, ObjectNotFound, Storage
from resources.asset_storage import AssetStorage
from resources.parquet_io_manager import (
    STORAGE_FORMAT,
    ParquetIOManager,
    PartitionSplitError,
    split_by_partition,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::dagster.BetaWarning", "ignore::dagster.PreviewWarning"
)

BUCKET = "test-bucket"
IO = "parquet_io_manager"
DAILY = dg.DailyPartitionsDefinition(start_date="2023-01-01", end_date="2023-02-01", timezone="UTC")
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class Backend:
    name: str
    manager: ParquetIOManager
    storage: Storage  # an independent view on the same base, to inspect what was written


@pytest.fixture(params=["local", "gcs"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        base = tmp_path / "store"
        manager = ParquetIOManager(asset_storage=AssetStorage(base_dir=str(base)))
        return Backend("local", manager, LocalStorage(base))
    client = request.getfixturevalue("gcs_client")
    prefix = f"io-manager-tests/{uuid.uuid4().hex}"
    storage = AssetStorage(
        base_dir=str(tmp_path / "unused"),
        gcs_bucket=BUCKET,
        gcs_prefix=prefix,
        gcs=GCSResource(project="test-project"),
    )
    manager = ParquetIOManager(asset_storage=storage)
    return Backend("gcs", manager, GCSStorage(client, BUCKET, prefix))


# --- helpers ---------------------------------------------------------------------------------


def day(key: str) -> pd.Timestamp:
    return pd.Timestamp(key, tz="UTC")


def hourly_frame(start: pd.Timestamp, end: pd.Timestamp, value: float = 0.0) -> pd.DataFrame:
    times = pd.date_range(start, end, freq="h", inclusive="left")
    return pd.DataFrame(
        {
            "datetime_utc": times,
            "area": pd.array(["DK1"] * len(times), dtype="string"),
            "hour": np.arange(len(times), dtype="int64"),
            "consumption_kwh": np.full(len(times), value, dtype="float64"),
        }
    )


def window_of(context: dg.AssetExecutionContext) -> tuple[pd.Timestamp, pd.Timestamp]:
    tw = context.partition_time_window
    return pd.Timestamp(tw.start).tz_convert("UTC"), pd.Timestamp(tw.end).tz_convert("UTC")


def run(
    assets: Sequence[Any],
    backend: Backend,
    *,
    partition: str | None = None,
    days: tuple[str, str] | None = None,
    selection: Sequence[Any] | None = None,
) -> dg.ExecuteInProcessResult:
    tags = {RANGE_START: days[0], RANGE_END: days[1]} if days else None
    return dg.materialize(
        assets,
        partition_key=partition,
        tags=tags,
        selection=selection,
        resources={IO: backend.manager},
        instance=dg.DagsterInstance.ephemeral(),
    )


def stored_bytes(backend: Backend, prefix: str) -> dict[str, bytes]:
    return {k: backend.storage.read_bytes(k) for k in backend.storage.list_keys(prefix)}


def daily_asset(name: str, calls: list[str], value: float = 0.0, **kwargs: Any) -> Any:
    """A daily asset returning one row per hour of the run's window."""

    @dg.asset(
        name=name,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=IO,
        **kwargs,
    )
    def _asset(context: dg.AssetExecutionContext) -> pd.DataFrame:
        calls.append(",".join(context.partition_keys))
        start, end = window_of(context)
        return hourly_frame(start, end, value)

    return _asset


# --- writing ---------------------------------------------------------------------------------


def test_single_partition_lands_at_asset_key_slash_partition_key(backend: Backend) -> None:
    calls: list[str] = []
    hourly = daily_asset("hourly", calls)
    result = run([hourly], backend, partition="2023-01-02")

    assert result.success
    assert calls == ["2023-01-02"]
    assert backend.storage.list_keys("hourly") == ["hourly/2023-01-02.parquet"]
    stored = backend.storage.read_parquet("hourly/2023-01-02.parquet")
    pd.testing.assert_frame_equal(stored, hourly_frame(day("2023-01-02"), day("2023-01-03")))
    assert str(stored["datetime_utc"].dtype) == "datetime64[ns, UTC]"

    (mat,) = result.asset_materializations_for_node("hourly")
    assert mat.partition == "2023-01-02"
    assert mat.metadata["uri"].value == backend.storage.uri("hourly/2023-01-02.parquet")
    assert mat.metadata["partitions_written"].value == 1


def test_asset_key_prefix_becomes_folders(backend: Backend) -> None:
    calls: list[str] = []
    nested = daily_asset("hourly", calls, key_prefix=["energy", "raw"])
    run([nested], backend, partition="2023-01-02")
    assert backend.storage.list_keys("energy") == ["energy/raw/hourly/2023-01-02.parquet"]
    assert backend.storage.list_keys("hourly") == []


def test_single_run_range_writes_one_file_per_partition(backend: Backend) -> None:
    calls: list[str] = []
    hourly = daily_asset("hourly", calls)
    result = run([hourly], backend, days=("2023-01-01", "2023-01-05"))

    assert result.success
    keys = [f"2023-01-0{d}" for d in range(1, 6)]
    assert calls == [",".join(keys)]  # one run of the asset for the whole range
    assert backend.storage.list_keys("hourly") == [f"hourly/{k}.parquet" for k in keys]

    whole = hourly_frame(day("2023-01-01"), day("2023-01-06"))
    parts = []
    for key in keys:
        part = backend.storage.read_parquet(f"hourly/{key}.parquet")
        assert len(part) == 24
        assert part["datetime_utc"].min() == day(key)
        assert part["datetime_utc"].max() == day(key) + pd.Timedelta(hours=23)
        assert part.index.equals(pd.RangeIndex(24))
        parts.append(part)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)

    mats = result.asset_materializations_for_node("hourly")
    assert sorted(m.partition for m in mats) == keys
    assert all(m.metadata["partitions_written"].value == 5 for m in mats)
    assert {m.metadata["uri"].value for m in mats} == {backend.storage.uri("hourly")}


@pytest.mark.parametrize("zone", ["UTC", "naive", "Europe/Copenhagen"])
def test_split_is_by_utc_instant_whatever_the_column_zone(backend: Backend, zone: str) -> None:
    @dg.asset(
        partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key=IO
    )
    def zoned(context: dg.AssetExecutionContext) -> pd.DataFrame:
        start, end = window_of(context)
        frame = hourly_frame(start, end)
        if zone == "naive":
            frame["datetime_utc"] = frame["datetime_utc"].dt.tz_localize(None)
        else:
            frame["datetime_utc"] = frame["datetime_utc"].dt.tz_convert(zone)
        return frame

    run([zoned], backend, days=("2023-01-02", "2023-01-03"))
    assert backend.storage.list_keys("zoned") == [
        "zoned/2023-01-02.parquet",
        "zoned/2023-01-03.parquet",
    ]
    for key, first_hour in [("2023-01-02", 0), ("2023-01-03", 24)]:
        part = backend.storage.read_parquet(f"zoned/{key}.parquet")
        assert part["hour"].tolist() == list(range(first_hour, first_hour + 24))


def test_split_of_shuffled_rows_keeps_each_days_rows_in_their_order() -> None:
    """Rows in any order, keys in any order, a day with no rows: each day gets exactly its rows,
    in the order they came, and an empty day keeps the frame's columns and dtypes."""
    frame = hourly_frame(day("2023-01-01"), day("2023-01-04"))
    frame = frame[frame["datetime_utc"].dt.day != 2]  # nothing for 2023-01-02
    frame = frame.sample(frac=1.0, random_state=0)  # shuffled rows, a shuffled index
    keys = ["2023-01-03", "2023-01-01", "2023-01-02"]

    parts = split_by_partition(frame, keys, DAILY, "datetime_utc")

    assert list(parts) == keys
    for key in keys:
        in_day = frame["datetime_utc"].between(day(key), day(key) + pd.Timedelta(hours=23))
        pd.testing.assert_frame_equal(parts[key], frame[in_day].reset_index(drop=True))
    assert parts["2023-01-02"].empty
    assert parts["2023-01-02"].dtypes.equals(frame.dtypes)


def test_custom_partition_time_column_from_definition_metadata(backend: Backend) -> None:
    @dg.asset(
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=IO,
        metadata={"partition_time_column": "reading_time"},
    )
    def readings(context: dg.AssetExecutionContext) -> pd.DataFrame:
        start, end = window_of(context)
        frame = hourly_frame(start, end).rename(columns={"datetime_utc": "reading_time"})
        # A decoy: split by this column, the last day's rows would fall outside the range.
        frame["datetime_utc"] = frame["reading_time"] + pd.Timedelta(days=1)
        return frame

    result = run([readings], backend, days=("2023-01-01", "2023-01-03"))
    assert result.success
    keys = ["2023-01-01", "2023-01-02", "2023-01-03"]
    assert backend.storage.list_keys("readings") == [f"readings/{k}.parquet" for k in keys]
    for key in keys:
        part = backend.storage.read_parquet(f"readings/{key}.parquet")
        assert len(part) == 24
        assert part["reading_time"].min() == day(key)
        assert part["reading_time"].max() < day(key) + pd.Timedelta(days=1)


def test_rows_outside_the_range_raise_and_write_nothing(backend: Backend) -> None:
    mode = {"extra": pd.Timedelta(0)}

    @dg.asset(
        partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key=IO
    )
    def leaky(context: dg.AssetExecutionContext) -> pd.DataFrame:
        start, end = window_of(context)
        frame = hourly_frame(start, end, value=1.0)
        if mode["extra"]:
            stray = hourly_frame(start, end, value=2.0).head(3)
            stray["datetime_utc"] += mode["extra"]
            frame = pd.concat([frame, stray], ignore_index=True)
        return frame

    run([leaky], backend, partition="2023-01-02")
    before = stored_bytes(backend, "leaky")
    assert list(before) == ["leaky/2023-01-02.parquet"]

    # Three rows a day past the end, then three rows a day before the start.
    for extra in [pd.Timedelta(days=3), pd.Timedelta(days=-1)]:
        mode["extra"] = extra
        with pytest.raises(PartitionSplitError) as info:
            run([leaky], backend, days=("2023-01-01", "2023-01-03"))
        message = str(info.value)
        assert "3 rows fall outside partitions 2023-01-01..2023-01-03" in message
        assert "datetime_utc" in message
        assert stored_bytes(backend, "leaky") == before  # nothing new, nothing changed


def test_range_output_without_the_partition_column_raises_and_writes_nothing(
    backend: Backend,
) -> None:
    @dg.asset(
        partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key=IO
    )
    def timeless(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"value": [1.0, 2.0]})

    with pytest.raises(PartitionSplitError, match="no column 'datetime_utc'"):
        run([timeless], backend, days=("2023-01-01", "2023-01-02"))
    assert backend.storage.list_keys("timeless") == []


def test_rematerialization_overwrites_the_partition(backend: Backend) -> None:
    state = {"value": 1.0}

    @dg.asset(
        partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key=IO
    )
    def versioned(context: dg.AssetExecutionContext) -> pd.DataFrame:
        start, end = window_of(context)
        return hourly_frame(start, end, value=state["value"])

    run([versioned], backend, days=("2023-01-01", "2023-01-03"))
    state["value"] = 2.0
    run([versioned], backend, partition="2023-01-02")
    state["value"] = 3.0
    run([versioned], backend, days=("2023-01-03", "2023-01-04"))

    keys = backend.storage.list_keys("versioned")
    assert keys == [f"versioned/2023-01-0{d}.parquet" for d in range(1, 5)]
    values = {k: backend.storage.read_parquet(k)["consumption_kwh"].unique().tolist() for k in keys}
    assert values == {
        "versioned/2023-01-01.parquet": [1.0],
        "versioned/2023-01-02.parquet": [2.0],
        "versioned/2023-01-03.parquet": [3.0],
        "versioned/2023-01-04.parquet": [3.0],
    }
    assert all(len(backend.storage.read_parquet(k)) == 24 for k in keys)


def test_non_dataframe_output_is_a_clear_type_error(backend: Backend) -> None:
    @dg.asset(partitions_def=DAILY, io_manager_key=IO)
    def not_a_frame(context: dg.AssetExecutionContext) -> dict[str, int]:
        return {"rows": 3}

    with pytest.raises(
        TypeError, match="not_a_frame: ParquetIOManager stores DataFrames, got dict"
    ):
        run([not_a_frame], backend, partition="2023-01-02")
    assert backend.storage.list_keys("not_a_frame") == []
    assert not backend.storage.exists("not_a_frame.parquet")


def test_unpartitioned_asset_is_stored_at_asset_parquet(backend: Backend) -> None:
    received: list[pd.DataFrame] = []
    frame = hourly_frame(day("2023-01-01"), day("2023-01-02"), value=7.0)

    @dg.asset(io_manager_key=IO)
    def summary() -> pd.DataFrame:
        return frame

    @dg.asset(io_manager_key=IO)
    def summary_copy(summary: pd.DataFrame) -> pd.DataFrame:
        received.append(summary)
        return summary.head(1)

    result = run([summary, summary_copy], backend)
    assert result.success
    assert backend.storage.exists("summary.parquet")
    assert backend.storage.list_keys("summary") == []  # a file, not a folder
    pd.testing.assert_frame_equal(backend.storage.read_parquet("summary.parquet"), frame)
    assert len(received) == 1
    pd.testing.assert_frame_equal(received[0], frame)
    pd.testing.assert_frame_equal(
        backend.storage.read_parquet("summary_copy.parquet"), frame.head(1)
    )
    (mat,) = result.asset_materializations_for_node("summary")
    assert mat.metadata["uri"].value == backend.storage.uri("summary.parquet")


# --- reading ---------------------------------------------------------------------------------


def window_asset(received: dict[str, pd.DataFrame]) -> Any:
    """Daily asset reading its own day and the two before it from `hourly`."""

    @dg.asset(
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key=IO,
        ins={
            "hourly": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2))
        },
    )
    def three_days(context: dg.AssetExecutionContext, hourly: pd.DataFrame) -> pd.DataFrame:
        received[",".join(context.partition_keys)] = hourly
        daily = hourly.groupby(hourly["datetime_utc"].dt.floor("D")).size()
        start, end = window_of(context)
        daily = daily[(daily.index >= start) & (daily.index < end)]
        return pd.DataFrame(
            {"datetime_utc": daily.index, "rows_in_window": np.asarray(daily, dtype="int64")}
        )

    return three_days


def test_downstream_window_receives_one_concatenated_frame(backend: Backend) -> None:
    calls: list[str] = []
    hourly = daily_asset("hourly", calls)
    received: dict[str, pd.DataFrame] = {}
    three_days = window_asset(received)
    run([hourly], backend, days=("2023-01-01", "2023-01-05"))

    run([hourly, three_days], backend, partition="2023-01-04", selection=[three_days])
    assert calls == ["2023-01-01,2023-01-02,2023-01-03,2023-01-04,2023-01-05"]  # not rerun
    got = received["2023-01-04"]
    assert isinstance(got, pd.DataFrame)
    stored = hourly_frame(day("2023-01-01"), day("2023-01-06"))  # what the range run wrote
    pd.testing.assert_frame_equal(got, stored.iloc[24:96].reset_index(drop=True))
    assert len(got) == 72
    assert got.index.equals(pd.RangeIndex(72))
    assert got["datetime_utc"].is_monotonic_increasing
    assert backend.storage.list_keys("three_days") == ["three_days/2023-01-04.parquet"]

    # A single-run range downstream reads the union of the windows and splits its own output.
    run([hourly, three_days], backend, days=("2023-01-03", "2023-01-05"), selection=[three_days])
    got = received["2023-01-03,2023-01-04,2023-01-05"]
    pd.testing.assert_frame_equal(got, stored)
    assert backend.storage.list_keys("three_days") == [
        f"three_days/2023-01-0{d}.parquet" for d in (3, 4, 5)
    ]
    assert backend.storage.read_parquet("three_days/2023-01-05.parquet")[
        "rows_in_window"
    ].tolist() == [24]


def test_missing_upstream_partition_fails_naming_it(backend: Backend) -> None:
    calls: list[str] = []
    hourly = daily_asset("hourly", calls)
    received: dict[str, pd.DataFrame] = {}
    three_days = window_asset(received)
    run([hourly], backend, partition="2023-01-02")
    run([hourly], backend, partition="2023-01-04")  # 2023-01-03 is never materialized

    with pytest.raises(ObjectNotFound) as info:
        run([hourly, three_days], backend, partition="2023-01-04", selection=[three_days])
    message = str(info.value)
    assert message.startswith("hourly: ")
    assert backend.storage.uri("hourly/2023-01-03.parquet") in message
    assert "materialize that partition first" in message
    assert "2023-01-02" not in message and "2023-01-04" not in message
    assert received == {}
    assert backend.storage.list_keys("three_days") == []


# --- construction ----------------------------------------------------------------------------


def test_local_storage_needs_no_gcs_configuration(tmp_path: Path) -> None:
    storage = AssetStorage(base_dir=str(tmp_path / "plain"))
    assert isinstance(storage.gcs, GCSResource)
    assert isinstance(storage.storage, LocalStorage)
    assert storage.storage.base == (tmp_path / "plain").resolve()


def test_storage_keeps_the_given_gcs_resource() -> None:
    storage = AssetStorage(gcs_bucket=BUCKET, gcs=GCSResource(project="my-project"))
    assert storage.gcs.project == "my-project"  # a plain attribute, no descriptor recursion
    assert AssetStorage().gcs.project is None


def test_from_settings_local(tmp_path: Path) -> None:
    storage = AssetStorage.from_settings(load_settings(storage_dir=tmp_path / "configured"))
    manager = ParquetIOManager(asset_storage=storage)
    backend = Backend("local", manager, LocalStorage(tmp_path / "configured"))
    run([daily_asset("hourly", [])], backend, partition="2023-01-02")
    assert (tmp_path / "configured" / "hourly" / "2023-01-02.parquet").is_file()


def test_from_settings_gcs(gcs_client: Any, tmp_path: Path) -> None:
    prefix = f"io-manager-tests/{uuid.uuid4().hex}"
    settings = load_settings(gcs_bucket=BUCKET, gcs_prefix=prefix, gcs_project="test-project")
    backend = Backend(
        "gcs",
        ParquetIOManager(asset_storage=AssetStorage.from_settings(settings)),
        GCSStorage(gcs_client, BUCKET, prefix),
    )
    run([daily_asset("hourly", [])], backend, partition="2023-01-02")
    assert backend.storage.list_keys("hourly") == ["hourly/2023-01-02.parquet"]
    assert not (tmp_path / "storage").exists()


def test_json_records_round_trip_keyed_by_partition(backend: Backend) -> None:
    received: list[dict[str, Any]] = []

    @dg.asset(partitions_def=DAILY, io_manager_key=IO, metadata={STORAGE_FORMAT: "json"})
    def record(context: dg.AssetExecutionContext) -> dict[str, Any]:
        return {"day": context.partition_key, "uri": "models:/m/3"}

    @dg.asset(partitions_def=DAILY, io_manager_key=IO)
    def reader(record: dict[str, Any]) -> None:
        received.append(record)

    run([record], backend, partition="2023-01-02")
    run([record, reader], backend, partition="2023-01-02", selection=[reader])
    assert received == [{"2023-01-02": {"day": "2023-01-02", "uri": "models:/m/3"}}]
    assert backend.storage.exists("record/2023-01-02.json")
