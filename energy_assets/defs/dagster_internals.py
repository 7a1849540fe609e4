"""The one module that imports Dagster's private modules (`dagster._…`). Each name below is
something Dagster's public API does not offer and the project needs:

- the run worker's heartbeat (run_health.py) subclasses the in-process executor and the default
  run launcher, so it needs their execution-plan, retry and run-health types and the config
  schema of a configurable instance class;
- the data contract (ingestion/raw.py) links each check result to the materialization it judged.

tests/test_dagster_internals.py pins every name to the Dagster version in requirements.lock,
so an upgrade fails there until this module is audited against the new version and
AUDITED_FOR is moved.
"""

from __future__ import annotations

from dagster._config import Field, IntSource, UserConfigSchema
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._serdes import ConfigurableClassData

AUDITED_FOR = "1.13.27"

__all__ = [
    "AUDITED_FOR",
    "IN_PROC_CONFIG",
    "AssetCheckEvaluationTargetMaterializationData",
    "CheckRunHealthResult",
    "ConfigurableClassData",
    "DagsterEvent",
    "ExecutionPlan",
    "Field",
    "InProcessExecutor",
    "IntSource",
    "PlanOrchestrationContext",
    "RetryMode",
    "StepDependencyConfig",
    "UserConfigSchema",
    "WorkerStatus",
]
