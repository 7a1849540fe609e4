"""End to end: `raw_consumption` and its data contract through Dagster, on real and bad data."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster import AssetExecutionContext

from energy_assets.definitions import build_definitions
from energy_assets.names import CONTRACT
from energy_assets.settings import load_settings
from tests.asset_keys import RAW

REPO = Path(__file__).resolve().parents[1]
RANGE_TAGS = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def contract_results(instance: dg.DagsterInstance, run_id: str) -> dict[str, bool]:
    results = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.get_dagster_event().asset_check_evaluation_data
        assert evaluation.check_name == CONTRACT
        results[str(evaluation.partition)] = evaluation.passed
    return results


def run_range(  # type: ignore[no-untyped-def]
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: str,
    last: str,
    also: tuple[dg.AssetKey, ...] = (),
):
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        tags={RANGE_TAGS[0]: first, RANGE_TAGS[1]: last},
        raise_on_error=False,
        asset_selection=[RAW, *also],
    )


@pytest.mark.realdata
def test_cli_materializes_a_week_of_real_data(de35_csv: Path, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "ENERGY_SOURCE": "file",
        "ENERGY_FILE": str(de35_csv),
        "ENERGY_START_DATE": "2022-12-21",
        "ENERGY_STORAGE_DIR": "out",
        "DAGSTER_HOME": str(home),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "energy_assets.definitions",
         "--select", "raw_consumption", "--partition-range", "2023-01-01...2023-01-07"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]

    files = sorted((tmp_path / "out" / "raw_consumption").glob("*.parquet"))
    assert [f.stem for f in files] == [f"2023-01-0{d}" for d in range(1, 8)]
    real = pd.read_parquet(str(de35_csv).replace(".csv.gz", "_long.parquet"))
    for file in files:
        day = pd.read_parquet(file)
        assert len(day) == 76 * 24
        expected = real[real.datetime_utc.dt.strftime("%Y-%m-%d") == file.stem]
        assert day.consumption_kwh.sum() == pytest.approx(expected.consumption_kwh.sum())

    instance = dg.DagsterInstance.from_config(str(home))
    [run] = instance.get_runs()
    assert run.is_success
    assert contract_results(instance, run.run_id) == {f.stem: True for f in files}
    materialized = instance.get_materialized_partitions(RAW)
    assert materialized == {f.stem for f in files}


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    out = pd.DataFrame(
        {
            "HourUTC": frame.datetime_utc.dt.strftime("%Y-%m-%d %H:%M"),
            "HourDK": "",
            "PriceArea": frame.area,
            "ConsumerType_DE35": frame.consumer_type,
            "TotalCon": frame.consumption_kwh,
        }
    )
    out.to_csv(path, sep=";", index=False)
    return path


@pytest.fixture
def bad_day_file(tmp_path: Path) -> Path:
    """Five simulated days; 2023-01-04 lacks DK1/111 at 05:00 and has one negative value."""
    from energy_assets.domain.sources.simulator import SimulatorSource

    start = pd.Timestamp("2023-01-01", tz="UTC")
    frame = SimulatorSource().fetch(start, start + pd.Timedelta(days=5))
    hole = (
        (frame.datetime_utc == pd.Timestamp("2023-01-04 05:00", tz="UTC"))
        & (frame.area == "DK1")
        & (frame.consumer_type == 111)
    )
    frame = frame[~hole].reset_index(drop=True)
    frame.loc[
        frame.datetime_utc == pd.Timestamp("2023-01-04 07:00", tz="UTC"), "consumption_kwh"
    ] = -5.0
    return write_csv(tmp_path / "bad.csv", frame)


def test_a_bad_day_fails_its_own_partition_blocks_downstream_and_spares_good_ones(
    bad_day_file: Path, tmp_path: Path
) -> None:
    settings = load_settings(
        source="file", file=bad_day_file, start_date="2023-01-01", storage_dir=tmp_path / "st"
    )
    base = build_definitions(settings)
    ran: list[str] = []

    @dg.asset(deps=[RAW], partitions_def=base.resolve_assets_def(RAW).partitions_def,
              backfill_policy=dg.BackfillPolicy.single_run())  # fmt: skip
    def downstream(context: AssetExecutionContext) -> None:
        ran.extend(context.partition_keys)

    defs = dg.Definitions.merge(base, dg.Definitions(assets=[downstream]))
    instance = dg.DagsterInstance.ephemeral()

    first = run_range(defs, instance, "2023-01-01", "2023-01-03", (downstream.key,))
    assert first.success
    assert ran == ["2023-01-01", "2023-01-02", "2023-01-03"]
    folder = tmp_path / "st" / "raw_consumption"
    before = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}

    ran.clear()
    second = run_range(defs, instance, "2023-01-03", "2023-01-05", (downstream.key,))
    assert not second.success
    assert ran == []  # the blocking contract stopped the downstream step
    assert contract_results(instance, second.run_id) == {
        "2023-01-03": True,
        "2023-01-04": False,
        "2023-01-05": True,
    }
    [failed] = [
        r.get_dagster_event().asset_check_evaluation_data
        for r in instance.all_logs(
            second.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if not r.get_dagster_event().asset_check_evaluation_data.passed
    ]
    assert (
        "complete_hourly_grid" in failed.description
        and "DK1/111 @ 2023-01-04 05:00" in failed.description
    )
    assert "finite_non_negative" in failed.description
    assert failed.metadata["finite_non_negative.negative"].value == 76
    # Earlier good partitions are untouched; the good days of the run are published, the bad
    # day is not (nothing was stored for it before), and nothing stays staged.
    for name in ("2023-01-01.parquet", "2023-01-02.parquet", "2023-01-03.parquet"):
        assert (folder / name).read_bytes() == before[name]
    assert not (folder / "2023-01-04.parquet").exists()
    assert len(pd.read_parquet(folder / "2023-01-05.parquet")) == 76 * 24
    assert list((tmp_path / "st" / "_staged").rglob("*.parquet")) == []
    assert contract_results(instance, first.run_id)["2023-01-02"] is True


def test_a_refetch_that_fails_its_contract_leaves_the_published_day_byte_identical(
    bad_day_file: Path, tmp_path: Path
) -> None:
    from energy_assets.domain.sources.simulator import SimulatorSource

    start = pd.Timestamp("2023-01-01", tz="UTC")
    good = write_csv(
        tmp_path / "good.csv", SimulatorSource().fetch(start, start + pd.Timedelta(days=5))
    )
    storage = tmp_path / "st"
    instance = dg.DagsterInstance.ephemeral()

    def ingest(source_file: Path) -> dg.ExecuteInProcessResult:
        settings = load_settings(
            source="file", file=source_file, start_date="2023-01-01", storage_dir=storage
        )
        return run_range(build_definitions(settings), instance, "2023-01-04", "2023-01-04")

    assert ingest(good).success
    published = storage / "raw_consumption" / "2023-01-04.parquet"
    before = published.read_bytes()

    again = ingest(bad_day_file)  # the source now has a gap and negative values for the day

    assert not again.success
    assert contract_results(instance, again.run_id) == {"2023-01-04": False}
    assert published.read_bytes() == before
    assert list((storage / "_staged").rglob("*.parquet")) == []


def test_single_run_backfill_of_simulated_days(tmp_path: Path) -> None:
    settings = load_settings(start_date="2023-01-01", storage_dir=tmp_path / "st")
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(defs, instance, "2023-02-01", "2023-03-31")
    assert result.success
    runs = instance.get_runs()
    assert len(runs) == 1
    files = sorted((tmp_path / "st" / "raw_consumption").glob("*.parquet"))
    assert len(files) == 59
    assert all(len(pd.read_parquet(f)) == 1824 for f in files[::10])
    [mat] = [e for e in result.get_asset_materialization_events() if e.partition == "2023-02-01"]
    meta = mat.materialization.metadata
    assert meta["synthetic"].value is True
    assert "SYNTHETIC" in meta["source"].value
    assert meta["rows"].value == 59 * 1824


def test_code_location_loads_without_heavy_libraries() -> None:
    code = (
        "import sys, energy_assets.definitions as d; defs = d.defs(); "
        "heavy = [m for m in ('lightgbm', 'mlflow', 'evidently', 'optuna') if m in sys.modules]; "
        "print(heavy); assert defs.resolve_assets_def('raw_consumption')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True, text=True, cwd=REPO, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Validation successful" in proc.stdout + proc.stderr


def test_defaults_use_the_in_process_executor() -> None:
    defs = build_definitions(load_settings())
    job = defs.resolve_job_def("ingest_job")
    assert job.executor_def.name == "in_process"


@pytest.mark.realdata
def test_api_source_through_dagster_with_a_retried_fault(replay_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.http_replay import Fault

    replay_server.inject(Fault.http_status(503))
    settings = load_settings(
        source="energidataservice",
        api_dataset="ConsumptionDE35Hour",
        api_base_url=replay_server.url,
        api_page_size=1000,
        api_backoff_seconds=0.01,
        start_date="2022-12-21",
        storage_dir=tmp_path / "st",
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = run_range(defs, instance, "2023-01-22", "2023-01-23")
    assert result.success
    assert contract_results(instance, result.run_id) == {"2023-01-22": True, "2023-01-23": True}
    day = pd.read_parquet(tmp_path / "st" / "raw_consumption" / "2023-01-23.parquet")
    assert len(day) == 1824
    # One 503, then two days of 1,824 rows in pages of 1,000.
    assert len(replay_server.requests) == 1 + 4


def test_schema_drift_fails_the_day_and_publishes_nothing_of_it(tmp_path: Path) -> None:
    """A consumer type never seen before (on 2023-01-02) and a duplicated row whose second
    value differs (on 2023-01-03): each day fails its contract by name and is not stored, so
    neither a dropped series nor a last-value-wins row reaches the models."""
    from energy_assets.domain.sources.simulator import SimulatorSource

    start = pd.Timestamp("2023-01-01", tz="UTC")
    frame = SimulatorSource().fetch(start, start + pd.Timedelta(days=3))
    day2 = frame[frame.datetime_utc.dt.day == 2]
    newcomer = day2[(day2.area == "DK1") & (day2.consumer_type == 111)].assign(consumer_type=555)
    day3 = frame[frame.datetime_utc.dt.day == 3]
    twice = day3.head(1).assign(consumption_kwh=day3.head(1).consumption_kwh * 10)
    drifted = pd.concat([frame, newcomer, twice], ignore_index=True)
    settings = load_settings(
        source="file",
        file=write_csv(tmp_path / "drift.csv", drifted),
        start_date="2023-01-01",
        storage_dir=tmp_path / "st",
    )
    instance = dg.DagsterInstance.ephemeral()

    result = run_range(build_definitions(settings), instance, "2023-01-01", "2023-01-03")

    assert not result.success
    assert contract_results(instance, result.run_id) == {
        "2023-01-01": True,
        "2023-01-02": False,
        "2023-01-03": False,
    }
    descriptions = {
        str(e.partition): str(e.description)
        for e in (
            r.get_dagster_event().asset_check_evaluation_data
            for r in instance.all_logs(
                result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        )
    }
    assert "known_series" in descriptions["2023-01-02"] and "555" in descriptions["2023-01-02"]
    assert "unique_keys" in descriptions["2023-01-03"]
    stored = sorted(p.name for p in (tmp_path / "st" / "raw_consumption").glob("*.parquet"))
    assert stored == ["2023-01-01.parquet"]


def test_two_runs_fetching_one_day_never_overwrite_each_other_unseen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A stages 2023-01-02; while it audits, run B fetches the same day and publishes it.
    A's publish is then refused: B's version stays whole, A's check says why it did not publish."""
    from energy_assets.domain import quality
    from energy_assets.domain.sources.simulator import SimulatorSource

    start = pd.Timestamp("2023-01-01", tz="UTC")
    frame = SimulatorSource().fetch(start, start + pd.Timedelta(days=3))
    first = write_csv(tmp_path / "first.csv", frame)
    second = write_csv(
        tmp_path / "second.csv", frame.assign(consumption_kwh=frame.consumption_kwh + 1)
    )
    storage = tmp_path / "st"
    instance = dg.DagsterInstance.ephemeral()

    def defs_for(source_file: Path) -> dg.Definitions:
        settings = load_settings(
            source="file", file=source_file, start_date="2023-01-01", storage_dir=storage
        )
        return build_definitions(settings)

    audit = quality.check_days
    runs: list[dg.ExecuteInProcessResult] = []
    inside_b = False

    def audit_while_another_run_publishes(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside_b
        if not inside_b:  # run A's audit: run B runs whole meanwhile
            inside_b = True
            runs.append(run_range(defs_for(second), instance, "2023-01-02", "2023-01-02"))
        return audit(*args, **kwargs)

    monkeypatch.setattr(quality, "check_days", audit_while_another_run_publishes)
    a = run_range(defs_for(first), instance, "2023-01-02", "2023-01-02")
    [b] = runs

    assert a.success and b.success
    published = pd.read_parquet(storage / "raw_consumption" / "2023-01-02.parquet")
    expected = frame[frame.datetime_utc.dt.day == 2].consumption_kwh.to_numpy() + 1
    np.testing.assert_allclose(sorted(published.consumption_kwh), sorted(expected))
    [verdict] = [
        r.get_dagster_event().asset_check_evaluation_data
        for r in instance.all_logs(a.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    assert verdict.passed and verdict.metadata["published"].value is False
    assert list((storage / "_staged").rglob("*.*")) == []
