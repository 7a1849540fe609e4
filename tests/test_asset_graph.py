"""A snapshot of the code location's wiring: every asset's key, inputs, partitions, backfill
policy, automation condition, freshness policy, checks and pool, and every job, schedule,
sensor and resource key. A change to the wiring changes tests/asset_graph.json, so it shows
up in review.

After an intended change: `UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/test_asset_graph.py -n 0`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from energy_assets.definitions import build_definitions
from energy_assets.settings import load_settings

SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def _partitions(spec: dg.AssetSpec | dg.AssetCheckSpec | Any) -> str | None:
    found = getattr(spec, "partitions_def", None)
    return None if found is None else f"{type(found).__name__}: {found}"


def _graph(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node),
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "automation": str(node.automation_condition) if node.automation_condition else None,
            "freshness": repr(node.freshness_policy) if node.freshness_policy else None,
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get(c).blocking else ''}" for c in node.check_keys
            ),
            "pools": sorted(p for p in node.pools if p) if node.pools else [],
            "group": node.group_name,
            "kinds": sorted(node.kinds),
        }
    repository = defs.get_repository_def()
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
        "schedules": sorted(
            f"{s.name}: {s.cron_schedule} ({s.execution_timezone})"
            for s in repository.schedule_defs
        ),
        "resources": sorted(defs.resources or {}),
        "sensors": sorted(
            f"{s.name}: {type(s).__name__}, {s.default_status.value}"
            for s in repository.sensor_defs
        ),
    }


def test_the_wiring_matches_the_snapshot() -> None:
    # Fixed settings: the graph must not depend on the machine's environment.
    settings = load_settings(start_date="2023-01-01", publication_delay_days=15)
    current = json.loads(json.dumps(_graph(build_definitions(settings))))
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"no snapshot yet: run with UPDATE_SNAPSHOT=1 to write {SNAPSHOT}"
    assert current == json.loads(SNAPSHOT.read_text())


def test_the_snapshot_names_every_definition() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    # Not vacuous: the location's eight assets, its jobs, schedules and sensors are all in it.
    assert set(recorded["assets"]) >= {"raw_consumption", "day_ahead_prices", "predictions"}
    assert len(recorded["assets"]) == 8
    assert recorded["schedules"] and recorded["sensors"] and recorded["jobs"]


def test_dg_lists_every_definition_of_the_location() -> None:
    """`dg list defs` loads the project as `dg` does ([tool.dg] in pyproject.toml)."""
    import subprocess
    import sys

    dg_cli = Path(sys.executable).with_name("dg")
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [str(dg_cli), "list", "defs", "--json"], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout)
    recorded = json.loads(SNAPSHOT.read_text())
    assert sorted(a["asset_key"] for a in listed["assets"]) == sorted(recorded["assets"])
    checks = {f"{k}:{c.split(' ')[0]}" for k, a in recorded["assets"].items() for c in a["checks"]}
    assert {c["key"] for c in listed["asset_checks"]} == checks
    assert sorted(j["name"] for j in listed["jobs"]) == recorded["jobs"]
    assert sorted(s["name"] for s in listed["schedules"]) == [
        s.split(":")[0] for s in recorded["schedules"]
    ]
    assert sorted(s["name"] for s in listed["sensors"]) == [
        s.split(":")[0] for s in recorded["sensors"]
    ]
