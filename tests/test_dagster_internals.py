"""Dagster's private names, used in one adapter module only, pinned to the locked Dagster.

Each test holds a name to the shape the project relies on; the version test fails on any
Dagster upgrade until energy_assets/defs/dagster_internals.py is audited again.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import dagster

from energy_assets.defs import dagster_internals as internals

REPO = Path(__file__).resolve().parents[1]
ADAPTER = "energy_assets/defs/dagster_internals.py"


def test_the_adapter_was_audited_for_the_locked_dagster() -> None:
    locked = re.search(r"^dagster==(\S+)", (REPO / "requirements.lock").read_text(), re.M)
    assert locked is not None
    assert internals.AUDITED_FOR == locked.group(1) == dagster.__version__


def test_only_the_adapter_imports_dagster_internals() -> None:
    importers = set()
    for package in ("energy_assets", "resources", "sensors", "dash_app"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                if any(n.startswith("dagster._") for n in names):
                    importers.add(str(path.relative_to(REPO)))
    assert importers == {ADAPTER}


def test_the_in_process_executor_takes_what_the_heartbeat_executor_passes() -> None:
    params = inspect.signature(internals.InProcessExecutor.__init__).parameters
    assert {"retries", "step_dependency_config"} <= set(params)
    assert callable(internals.InProcessExecutor.execute)
    assert {"retries", "step_dependency_config"} <= set(internals.IN_PROC_CONFIG.config_type.fields)
    assert callable(internals.RetryMode.from_config)
    assert callable(internals.StepDependencyConfig.from_config)
    for name in ("DagsterEvent", "ExecutionPlan", "PlanOrchestrationContext"):
        assert inspect.isclass(getattr(internals, name)), name


def test_run_health_results_have_the_statuses_the_launcher_returns() -> None:
    result = internals.CheckRunHealthResult(internals.WorkerStatus.FAILED, "gone")
    assert result.status is internals.WorkerStatus.FAILED and result.msg == "gone"
    assert internals.WorkerStatus.RUNNING.name == "RUNNING"


def test_a_configurable_class_declares_its_config_with_these_types() -> None:
    field = internals.Field(internals.IntSource, default_value=30, is_required=False)
    assert field.default_value == 30
    data = internals.ConfigurableClassData("m", "C", "{}")
    assert (data.module_name, data.class_name) == ("m", "C")
    assert internals.UserConfigSchema is not None


def test_a_check_names_the_materialization_it_judged_by_these_fields() -> None:
    target = internals.AssetCheckEvaluationTargetMaterializationData(
        storage_id=1, run_id="r", timestamp=0.0
    )
    evaluation = dagster.AssetCheckEvaluation(
        asset_key=dagster.AssetKey("a"),
        check_name="c",
        passed=True,
        target_materialization_data=target,
    )
    assert evaluation.target_materialization_data == target
    fields = (
        {f.name for f in dataclasses.fields(target)}
        if dataclasses.is_dataclass(target)
        else set(target._fields)  # a NamedTuple in some versions
    )
    assert {"storage_id", "run_id", "timestamp"} <= fields
