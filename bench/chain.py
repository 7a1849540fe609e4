"""Running the chain's stages as an operator would, each timed as its own process.

A stage is this machine's python running the benchmark script again with `--stage NAME`; the
child prints its outcome as JSON on its last line. The parent reads the child's wall time and
peak memory (of the child and every process under it, sampled from /proc).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def materialize(
    asset: str,
    *,
    days: tuple[dt.date, dt.date] | None = None,
    partition: str | None = None,
    config: dict[str, Any] | None = None,
) -> bool:
    """One run of `asset` in this process (a single-run range of `days`, or one partition)."""
    import dagster as dg

    from energy_assets.definitions import build_definitions
    from energy_assets.settings import load_settings

    job = build_definitions(load_settings()).resolve_implicit_global_asset_job_def()
    tags = {}
    if days:
        tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[1].isoformat(),
        }
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        asset_selection=[dg.AssetKey(asset)],
        partition_key=partition,
        tags=tags,
        run_config={**QUIET, **({"ops": config} if config else {})},
        raise_on_error=False,
    )
    return bool(result.success)


def pinned_study(end_date: dt.date) -> dict[str, Any]:
    """Run config of a one-trial study whose space is the model's defaults."""
    from energy_assets import names
    from energy_assets.domain.forecasting.model import DEFAULT_PARAMS

    space = {k: {"kind": "categorical", "choices": [v]} for k, v in DEFAULT_PARAMS.items()}
    config = {"n_trials": 1, "end_date": end_date.isoformat(), "study_name": "pinned-defaults",
              "search_space": space}  # fmt: skip
    return {names.HYPERPARAMETERS: {"config": config}}


def local_workspace(root: Path, first_day: dt.date, *, fresh: bool = True) -> dict[str, str]:
    """The environment of a benchmark's own deployment under `root` from `first_day`: local
    storage, MLflow and Optuna state, and a Dagster home (made when `fresh`)."""
    return {
        "ENERGY_START_DATE": first_day.isoformat(),
        "ENERGY_STORAGE_DIR": str(root / "storage"),
        "ENERGY_STATE_DIR": str(root / "state"),
        "DAGSTER_HOME": str(dagster_home(root) if fresh else root / "dagster_home"),
        "DO_NOT_TRACK": "1",
    }


def dagster_home(root: Path) -> Path:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def tree_rss(root: int) -> int:
    """Resident memory (bytes) of a process and every process under it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def timed_stage(
    script: str, stage: str, env: dict[str, str], logs: Path
) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB, the stage's whole process tree) and outcome of one stage."""
    started = time.perf_counter()
    log = logs / f"{stage}.log"
    peak = [0]
    with log.open("w") as errors:  # the libraries' chatter, kept out of the table
        child = subprocess.Popen(
            [sys.executable, script, "--stage", stage],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )

        def sample() -> None:
            while child.poll() is None:
                peak[0] = max(peak[0], tree_rss(child.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert child.stdout is not None
        out = child.stdout.read()
        child.wait()
        sampler.join()
    seconds = time.perf_counter() - started
    lines = [line for line in out.splitlines() if line.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else {"ok": False, "exit": child.returncode}
    extra = {k: v for k, v in outcome.items() if k != "ok" and v}
    text = ("ok" if outcome.get("ok") else "FAILED") + (f" {extra}" if extra else "")
    if not outcome.get("ok"):
        text += f", see {log}"
    return seconds, peak[0] / 2**20, text
