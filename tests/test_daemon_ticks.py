"""The alert path driven by the Dagster daemon's own sensor loop (`execute_sensor_iteration`) on a
real SQLite instance with the queued run coordinator: the daemon keeps the cursors, records
failed ticks, drops repeated run keys and queues the runs the sensors request.

The webhook is down for three ticks, then up: the retune is queued on the first tick all the
same, and the ALERT and the run failure are each delivered once, after the outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration

from energy_assets.definitions import build_definitions
from energy_assets.names import ALERT_OUTBOX_SENSOR, INGEST_JOB, MAPE_ALERT_SENSOR
from energy_assets.settings import load_settings
from tests.asset_keys import MONITORING_KEY
from tests.webhook_server import WebhookServer

REPO = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    queued = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.instance_for_test(
        temp_dir=str(home), overrides={"run_coordinator": queued}
    ) as instance:
        yield instance


@pytest.fixture
def webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookServer]:
    """The code location's settings come from the environment, as in a deployment."""
    with WebhookServer() as server:
        for name, value in {
            "ENERGY_SOURCE": "file",
            "ENERGY_FILE": str(tmp_path / "missing.csv"),
            "ENERGY_START_DATE": "2023-01-01",
            "ENERGY_STORAGE_DIR": str(tmp_path / "storage"),
            "ENERGY_STATE_DIR": str(tmp_path / "state"),
            "ENERGY_ALERT_WEBHOOK_URL": server.url,
            "ENERGY_ALERT_WEBHOOK_RETRIES": "1",
            "ENERGY_ALERT_WEBHOOK_BACKOFF_SECONDS": "0.01",
        }.items():
            monkeypatch.setenv(name, value)
        yield server


def workspace(instance: dg.DagsterInstance, folder: Path) -> Any:
    """The code location loaded as the daemon loads it; from a file that builds the definitions
    when loaded, so they read this test's environment (the module's `defs` were built when it
    was first imported)."""
    location = folder / "location.py"
    location.write_text(
        "from energy_assets.definitions import build_definitions\n\ndefs = build_definitions()\n"
    )
    origin = LoadableTargetOrigin(
        executable_path=sys.executable,
        python_file=str(location),
        attribute="defs",
        working_directory=str(REPO),
    )
    target = InProcessWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(origin, location_name="energy_forecasting")
    )
    return create_test_daemon_workspace_context(target, instance)


def daemon_tick(context: WorkspaceProcessContext, at: dt.datetime) -> None:
    """One iteration of the sensor daemon at `at` (each sensor ticks if its interval passed)."""
    with freeze_time(at):
        list(
            execute_sensor_iteration(
                context,
                logging.getLogger("sensor-daemon"),
                threadpool_executor=None,
                submit_threadpool_executor=None,
            )
        )


def ticks(instance: dg.DagsterInstance, sensor: str) -> list[tuple[TickStatus, str | None]]:
    """The sensor's ticks as the daemon recorded them, oldest first: status, and the error or
    skip reason."""
    [state] = [s for s in instance.all_instigator_state() if s.name == sensor]
    records = instance.get_ticks(state.instigator_origin_id, state.selector_id)
    return [(t.status, _error(t.error) if t.error else t.skip_reason) for t in reversed(records)]


def _error(error: Any) -> str:
    """The error's message with those of its causes (the sensor's own error is behind
    Dagster's wrapper)."""
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return " <- ".join(messages)


def test_the_daemon_queues_retunes_through_a_webhook_outage_and_delivers_each_alert_once(
    instance: dg.DagsterInstance, webhook: WebhookServer, tmp_path: Path
) -> None:
    # A failed run and an ALERT day before the daemon's first tick.
    defs = build_definitions(load_settings())
    failed = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, partition_key="2023-01-05", raise_on_error=False
    )
    assert not failed.success
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            MONITORING_KEY,
            partition="2023-02-03",
            metadata={"hours_scored": 1824, "mape": 0.3, "wape": 0.25, "model_uri": "models:/m/4"},
        )
    )

    webhook.down = True
    with workspace(instance, tmp_path) as context:
        for i in range(3):
            daemon_tick(context, START + dt.timedelta(minutes=3 * i))
        queued = instance.get_runs(filters=dg.RunsFilter(tags={"energy/reason": "mape_alert"}))
        assert [r.tags["dagster/run_key"] for r in queued] == ["retune-2023-01-30"]
        assert queued[0].status == dg.DagsterRunStatus.QUEUED
        assert webhook.accepted == []

        webhook.down = False
        for i in range(3, 5):
            daemon_tick(context, START + dt.timedelta(minutes=3 * i))

    texts = sorted(str(a["body"]["text"]) for a in webhook.accepted)
    assert [t.split("]")[0] for t in texts] == ["[ALERT", "[FAILURE"]
    assert f"run {failed.run_id[:8]} of ingest_job failed" in texts[1]
    # Three failed rounds (the daemon records the error), one that delivered both, then none.
    outbox = ticks(instance, ALERT_OUTBOX_SENSOR)
    assert [status for status, _ in outbox[:3]] == [TickStatus.FAILURE] * 3
    # (1 or 2 alerts wait on the first tick, by the order the daemon runs the two sensors in.)
    assert all(
        "alerts wait for delivery" in str(reason) and "HTTP 503" in str(reason)
        for _, reason in outbox[:3]
    )
    assert outbox[3:] == [
        (TickStatus.SKIPPED, "delivered 2 alerts"),
        (TickStatus.SKIPPED, "no alert waiting"),
    ]
    # The MAPE sensor's first tick queued the retune; the later ones found nothing new.
    mape = ticks(instance, MAPE_ALERT_SENSOR)
    assert mape[0][0] == TickStatus.SUCCESS
    assert {status for status, _ in mape[1:]} == {TickStatus.SKIPPED}
    assert len(instance.get_runs(filters=dg.RunsFilter(tags={"energy/reason": "mape_alert"}))) == 1


def automation_tick(context: WorkspaceProcessContext, at: dt.datetime) -> None:
    """One iteration of the asset daemon, which evaluates the automation-condition sensor."""
    from dagster._daemon.asset_daemon import AssetDaemon

    with freeze_time(at):
        AssetDaemon(settings={}, pre_sensor_interval_seconds=0)._run_iteration_impl(
            context, threadpool_executor=None, amp_tick_futures={}, debug_crash_flags={}
        )


def requested(instance: dg.DagsterInstance) -> set[str]:
    """`asset partition` of every run the daemon queued so far."""
    out = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])):
        first = run.tags.get("dagster/partition") or run.tags.get(
            "dagster/asset_partition_range_start"
        )
        last = run.tags.get("dagster/asset_partition_range_end", first)
        for key in run.asset_selection or ():
            out.add(f"{key.to_user_string()} {first}" + (f"..{last}" if last != first else ""))
    return out


def test_the_asset_daemon_runs_nothing_on_a_refused_day_until_it_is_fetched_whole(
    instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from energy_assets.domain.sources.simulator import SimulatorSource
    from tests.test_ingestion import run_range, write_csv

    start = pd.Timestamp("2023-01-01", tz="UTC")
    whole = SimulatorSource().fetch(start, start + pd.Timedelta(days=21))
    late = whole.datetime_utc >= pd.Timestamp("2023-01-21 20:00", tz="UTC")
    partial, complete = write_csv(tmp_path / "partial.csv", whole[~late]), tmp_path / "whole.csv"
    write_csv(complete, whole)
    for name, value in {
        "ENERGY_SOURCE": "file",
        "ENERGY_FILE": str(partial),
        "ENERGY_START_DATE": "2023-01-01",
        "ENERGY_STORAGE_DIR": str(tmp_path / "storage"),
        "ENERGY_STATE_DIR": str(tmp_path / "state"),
        "ENERGY_PUBLICATION_DELAY_DAYS": "15",
    }.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(load_settings())
    assert run_range(defs, instance, "2023-01-01", "2023-01-20").success
    at = dt.datetime(2023, 2, 6, 7, tzinfo=dt.UTC)

    with workspace(instance, tmp_path) as context:
        automation_tick(context, at)  # takes stock of what exists
        before = requested(instance)
        refused = run_range(defs, instance, "2023-01-21", "2023-01-21")
        assert not refused.success  # four hours missing: the contract refuses the day
        automation_tick(context, at + dt.timedelta(minutes=1))
        assert requested(instance) == before  # nothing downstream of the refused day

        monkeypatch.setenv("ENERGY_FILE", str(complete))
        fixed = run_range(build_definitions(load_settings()), instance, "2023-01-21", "2023-01-21")
        assert fixed.success
        automation_tick(context, at + dt.timedelta(minutes=2))
        assert "consumption_features 2023-01-22" in requested(instance) - before
