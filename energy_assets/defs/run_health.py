"""Run-worker liveness for runs launched on a code server.

`DefaultRunLauncher` runs each run as a child process of the code server that loaded it. When
that server's container stops (a redeploy, an OOM kill, a crashed node) its runs die with it and
nothing records it: the run stays STARTED forever, its backfill never finishes and no failure
alert fires. Dagster's run monitoring can fail such runs, but only through a launcher that can
tell whether a run's worker is alive, which `DefaultRunLauncher` cannot.

Here the run worker proves it is alive: the executor stamps a heartbeat on the run's tags every
few seconds, and `HeartbeatRunLauncher.check_run_worker_health` judges a run whose heartbeat is
older than `stale_after_seconds` lost, so run monitoring marks it failed (and the run-failure
alert reports it). The worker's own process is the witness, so this holds whatever happened to
the server: killed, restarted, or reloaded from the UI (a reload starts a new server process
and leaves the old one to finish its runs, which keep beating).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Self

import dagster as dg

from energy_assets.defs.dagster_internals import (
    IN_PROC_CONFIG,
    CheckRunHealthResult,
    ConfigurableClassData,
    DagsterEvent,
    ExecutionPlan,
    Field,
    InProcessExecutor,
    IntSource,
    PlanOrchestrationContext,
    RetryMode,
    StepDependencyConfig,
    UserConfigSchema,
    WorkerStatus,
)

HEARTBEAT_TAG = "energy/heartbeat"
HEARTBEAT_SECONDS = 5.0
# Six missed beats: a slow database write or a long GIL-holding step does not fail a live run.
STALE_AFTER_SECONDS = 30


class Heartbeat:
    """Writes the time to the run's HEARTBEAT_TAG every `interval` seconds on a daemon thread."""

    def __init__(
        self, instance: dg.DagsterInstance, run_id: str, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self.instance = instance
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            # A database hiccup is not a dead worker: the next beat tries again.
            with contextlib.suppress(Exception):
                self.instance.add_run_tags(self.run_id, {HEARTBEAT_TAG: f"{time.time():.0f}"})
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval)


class HeartbeatExecutor(InProcessExecutor):
    """The in-process executor, with the run worker's heartbeat while it executes."""

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        with Heartbeat(plan_context.instance, plan_context.run_id):
            yield from super().execute(plan_context, execution_plan)


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def heartbeat_in_process_executor(init_context: dg.InitExecutorContext) -> HeartbeatExecutor:
    """Every step in the run's own process (steps are cheap and vectorised), with a heartbeat."""
    config = init_context.executor_config
    return HeartbeatExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        step_dependency_config=StepDependencyConfig.from_config(
            config.get("step_dependency_config")  # type: ignore[arg-type]
        ),
    )


class HeartbeatRunLauncher(dg.DefaultRunLauncher):
    """`DefaultRunLauncher` whose run monitoring fails a run once its heartbeat goes stale.

    A run without a heartbeat tag (another code location's executor, or a worker that has not
    reached its executor yet) is left alone: absence of evidence is not a dead worker.

    Nor is a stale heartbeat evidence while the monitor itself was not watching: after a
    database outage (a Cloud SQL failover takes about a minute) every worker's last beat is old
    though the workers live, and judging them at once would fail, and retry, runs that are
    still running. So a run is judged lost only after the checks have gone on without a gap
    for `stale_after_seconds`."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        stale_after_seconds: int = STALE_AFTER_SECONDS,
    ) -> None:
        super().__init__(inst_data=inst_data)
        self.stale_after_seconds = stale_after_seconds
        self._last_check: float | None = None
        self._watching_since = 0.0

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {
            "stale_after_seconds": Field(
                IntSource,
                default_value=STALE_AFTER_SECONDS,
                is_required=False,
                description="A run whose worker has not beaten for this long is lost.",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data, **config_value)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        now = time.time()
        if self._last_check is None or now - self._last_check > self.stale_after_seconds / 2:
            self._watching_since = now  # the monitor was away: give the workers a full window
        self._last_check = now
        beat = run.tags.get(HEARTBEAT_TAG)
        if beat is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no heartbeat recorded")
        age = now - float(beat)
        watched = now - self._watching_since
        if age > self.stale_after_seconds and watched >= self.stale_after_seconds:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the run worker's last heartbeat was {age:.0f} s ago (limit "
                f"{self.stale_after_seconds} s): its process is gone, as when the code server "
                "that ran it stops",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"heartbeat {age:.0f} s ago")
