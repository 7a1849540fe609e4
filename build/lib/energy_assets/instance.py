"""A persistent local Dagster instance for command-line runs (`DAGSTER_HOME`, SQLite)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_HOME = ".dagster_home"
INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def local_instance() -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME, created as ./.dagster_home with telemetry off if unset."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()
