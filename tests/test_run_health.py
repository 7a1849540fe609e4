"""Run-worker liveness: the heartbeat a run worker writes, and how the launcher judges it.
(tests/test_deployed_stack.py kills a real code server under a real run.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.launcher.base import WorkerStatus

from energy_assets.defs.run_health import (
    HEARTBEAT_TAG,
    Heartbeat,
    HeartbeatRunLauncher,
    heartbeat_in_process_executor,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("energy_assets.defs.run_health.time.time", clock)
    return clock


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def run_with(beat: float | None) -> dg.DagsterRun:
    tags = {} if beat is None else {HEARTBEAT_TAG: f"{beat:.0f}"}
    return dg.DagsterRun(job_name="job", run_id="r1", tags=tags)


def test_a_fresh_heartbeat_is_a_running_worker(clock: Clock) -> None:
    launcher = HeartbeatRunLauncher(stale_after_seconds=30)
    assert launcher.supports_check_run_worker_health
    assert launcher.check_run_worker_health(run_with(clock.now - 4)).status is WorkerStatus.RUNNING


def test_a_stale_heartbeat_fails_the_run_once_the_monitor_has_watched_long_enough(
    clock: Clock,
) -> None:
    launcher = HeartbeatRunLauncher(stale_after_seconds=30)
    beat = clock.now
    statuses = []
    for _ in range(5):  # the monitor's checks, 10 s apart
        clock.now += 10
        statuses.append(launcher.check_run_worker_health(run_with(beat)).status)
    # 40 s old at the 4th check, but the monitor had watched only 30 s by then; lost at the 4th.
    assert statuses == [WorkerStatus.RUNNING] * 3 + [WorkerStatus.FAILED] * 2
    result = launcher.check_run_worker_health(run_with(beat))
    assert "heartbeat was 50 s ago (limit 30 s)" in str(result.msg)


def test_after_a_gap_in_monitoring_old_heartbeats_get_a_new_window(clock: Clock) -> None:
    """A database outage: neither the workers' beats nor the monitor's checks got through."""
    launcher = HeartbeatRunLauncher(stale_after_seconds=30)
    launcher.check_run_worker_health(run_with(clock.now))
    clock.now += 70  # nothing checked for 70 s
    beat = clock.now - 70
    statuses = []
    for _ in range(4):  # checks resume, 10 s apart; this run's worker never beats again
        statuses.append(launcher.check_run_worker_health(run_with(beat)).status)
        clock.now += 10
    assert statuses == [WorkerStatus.RUNNING] * 3 + [WorkerStatus.FAILED]


def test_a_run_without_a_heartbeat_is_left_alone(clock: Clock) -> None:
    launcher = HeartbeatRunLauncher(stale_after_seconds=30)
    for _ in range(10):
        clock.now += 10
        assert launcher.check_run_worker_health(run_with(None)).status is WorkerStatus.RUNNING


def test_the_heartbeat_stamps_the_run_until_it_stops(instance: dg.DagsterInstance) -> None:
    run = instance.add_run(dg.DagsterRun(job_name="job", run_id="beating"))

    def stamp() -> float | None:
        tags = instance.get_run_by_id(run.run_id).tags  # type: ignore[union-attr]
        return float(tags[HEARTBEAT_TAG]) if HEARTBEAT_TAG in tags else None

    with Heartbeat(instance, run.run_id, interval=0.05):
        deadline = time.monotonic() + 60  # generous: a busy machine may starve the thread
        while (first := stamp()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while (later := stamp()) == first:  # it keeps beating
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert later is not None and later > first and abs(later - time.time()) < 60
    stopped = stamp()
    time.sleep(0.2)
    assert stamp() == stopped


def test_a_job_on_the_heartbeat_executor_beats_while_it_runs(
    instance: dg.DagsterInstance,
) -> None:
    result = dg.execute_job(dg.reconstructable(beating_job), instance=instance)
    assert result.success
    assert beating_job.executor_def.name == "in_process"  # run config stays as it was
    record = instance.get_run_by_id(result.run_id)
    assert record is not None
    assert abs(float(record.tags[HEARTBEAT_TAG]) - time.time()) < 30


@dg.op
def sleeping_op() -> None:
    time.sleep(0.3)


@dg.job(executor_def=heartbeat_in_process_executor)
def beating_job() -> None:
    sleeping_op()
