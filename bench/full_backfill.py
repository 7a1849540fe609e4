"""A new deployment's first job: every asset backfilled over three years of 76 series.

Simulator data 2021-01-01 .. 2023-12-31 (76 series), a SQLite Dagster instance with the queued
run coordinator, local storage and a local MLflow store, all in a temporary folder. Each stage
runs as its own process, the way an operator would run it:

1. `raw_consumption` over the three years, one single-run backfill with its data contract, and
   `day_ahead_prices` (simulated) over the same days the same way;
2. `consumption_features` over the same days, one single run;
3. `model_hyperparameters` pinned to the search space's defaults (a one-trial study);
4. `forecast_model` for every week that serves a day of the range, as a partition backfill
   that the backfill daemon splits into runs of `--weeks-per-run` weeks (the asset's backfill
   policy, ENERGY_MODEL_WEEKS_PER_RUN) and the queued run coordinator runs `--concurrent` at a
   time (a `dagster-daemon` process started for the stage);
5. `predictions`, 6. `forecast_monitoring` and 7. `feature_drift` for every served day, one
   single run each.

Then it checks that every partition of every asset is stored, and prints per asset the wall
time, the peak memory of the stage's processes, and the storage written; for drift also the
time per day and the bytes per non-drifting day.

    python bench/full_backfill.py [--concurrent 2] [--weeks N] [--weeks-per-run K] [--keep]

`--weeks N` backfills only the newest N weeks' models (and serves their days); `--compare`
backfills those models once with one run at a time and once with `--concurrent`, and prints the
speed-up of the second over the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chain import local_workspace, materialize, pinned_study, timed_stage

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY, LAST_DAY = dt.date(2021, 1, 1), dt.date(2023, 12, 31)
STAGES = (
    "raw",
    "prices",
    "features",
    "hyperparameters",
    "models",
    "predictions",
    "monitoring",
    "drift",
)
FOLDERS = {
    "raw": "raw_consumption",
    "prices": "day_ahead_prices",
    "features": "consumption_features",
    "hyperparameters": "model_hyperparameters.json",
    "models": "forecast_model",
    "predictions": "predictions",
    "monitoring": "forecast_monitoring",
    "drift": "feature_drift",
}


def model_weeks() -> list[dt.date]:
    """Mondays of the weeks that serve a day of the range, from the first week with enough
    history (or the newest BENCH_WEEKS of them)."""
    from energy_assets.defs.partitions import first_model_week
    from energy_assets.settings import load_settings

    week = first_model_week(load_settings())
    weeks = []
    while week <= LAST_DAY:
        weeks.append(week)
        week += dt.timedelta(weeks=1)
    wanted = int(os.environ.get("BENCH_WEEKS") or 0)
    return weeks[-wanted:] if wanted else weeks


def served_days() -> tuple[dt.date, dt.date]:
    """The days drift is measured on: every day a model week covers."""
    return model_weeks()[0], LAST_DAY


def forecast_days() -> tuple[dt.date, dt.date]:
    """The days that can be forecast: from the first week whose model passed its promotion
    gate (earlier weeks have no version that may serve, and serving never regresses)."""
    from energy_assets import names
    from energy_assets.domain import tracking
    from energy_assets.settings import load_settings

    settings = load_settings()
    for week in model_weeks():
        path = settings.storage_dir / names.MODEL / f"{week.isoformat()}.json"
        if path.exists():
            uri = json.loads(path.read_text())["model_uri"]
            if tracking.gate_status(uri, settings.tracking_uri) == "passed":
                return week, LAST_DAY
    raise RuntimeError("no model week passed its promotion gate")


def run_stage(stage: str) -> dict[str, object]:
    """One stage, in this process; what it did, for the report."""
    from energy_assets import names

    if stage == "raw":
        return {"ok": materialize(names.RAW, days=(FIRST_DAY, LAST_DAY))}
    if stage == "prices":
        return {"ok": materialize(names.PRICES, days=(FIRST_DAY, LAST_DAY))}
    if stage == "features":
        return {"ok": materialize(names.FEATURES, days=(FIRST_DAY, LAST_DAY))}
    if stage == "hyperparameters":
        study = pinned_study(model_weeks()[0] - dt.timedelta(days=1))
        return {"ok": materialize(names.HYPERPARAMETERS, config=study)}
    if stage == "models":
        return backfill_models(int(os.environ["BENCH_CONCURRENT"]))
    if stage == "drift":
        return {"ok": materialize(names.DRIFT, days=served_days())}
    asset = {"predictions": names.PREDICTIONS, "monitoring": names.MONITORING}[stage]
    first, last = forecast_days()
    return {"ok": materialize(asset, days=(first, last)), "from": first.isoformat()}


def backfill_models(concurrent: int) -> dict[str, object]:
    """A partition backfill of every model week, run by a `dagster-daemon` of its own."""
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

    from energy_assets import names
    from energy_assets.definitions import build_definitions
    from energy_assets.domain import tracking
    from energy_assets.settings import load_settings

    defs = build_definitions(load_settings())
    instance = dg.DagsterInstance.get()
    weeks = [w.isoformat() for w in model_weeks()]
    backfill_id = f"models{int(time.time())}"
    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=defs.resolve_asset_graph(),
            partition_names=weeks,
            asset_selection=[dg.AssetKey(names.MODEL)],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title="every model week",
            description=None,
            run_config=None,
        )
    )
    # The queue's limit is the instance's setting, read by the daemon when it starts.
    home = Path(os.environ["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text(instance_yaml(concurrent))
    daemon = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-daemon")),
            "run",
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    running = {BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING}
    try:
        while True:
            backfill = instance.get_backfill(backfill_id)
            runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
            finished = all(r.is_finished for r in runs)
            if backfill is not None and backfill.status not in running and finished:
                break
            if daemon.poll() is not None:
                return {"ok": False, "error": f"dagster-daemon exited with {daemon.returncode}"}
            time.sleep(2)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
    durations = sorted(r.end_time - r.start_time for r in records if r.start_time and r.end_time)
    storage = Path(os.environ["ENERGY_STORAGE_DIR"]) / names.MODEL
    missing = [w for w in weeks if not (storage / f"{w}.json").exists()]
    tracking_uri = load_settings().tracking_uri
    failed_gate = [
        w
        for w in weeks
        if w not in missing
        and tracking.gate_status(json.loads((storage / f"{w}.json").read_text())["model_uri"],
                                 tracking_uri) != "passed"
    ]  # fmt: skip
    per_run = (
        int(os.environ.get("ENERGY_MODEL_WEEKS_PER_RUN") or 0)
        or load_settings().model_weeks_per_run
    )
    return {
        "ok": not missing,
        "weeks": len(weeks),
        "runs": len(records),
        "weeks_per_run": per_run,
        "failed_runs": sum(r.dagster_run.status != DagsterRunStatus.SUCCESS for r in records),
        "concurrent": concurrent,
        "median_run_s": round(durations[len(durations) // 2], 1) if durations else None,
        "median_week_s": round(durations[len(durations) // 2] / per_run, 1) if durations else None,
        "failed_gate": failed_gate,
        "missing": missing,
    }


def storage_figures(storage: Path) -> dict[str, object]:
    """Bytes written per asset; for drift, the bytes of each non-drifting day."""
    sizes = {}
    for stage, folder in FOLDERS.items():
        path = storage / folder
        files = [path] if path.is_file() else list(path.glob("*")) if path.exists() else []
        sizes[stage] = sum(f.stat().st_size for f in files)
    # A model's boosters live in the MLflow store (the state folder), its record in storage.
    state = storage.parent / "state"
    sizes["models"] += sum(f.stat().st_size for f in state.rglob("*") if f.is_file())
    drift = storage / FOLDERS["drift"]
    quiet = [
        p.stat().st_size
        for p in drift.glob("*.parquet")
        if not (drift / f"{p.stem}.html.gz").exists()
    ]
    references = sum(p.stat().st_size for p in (storage / "drift_reference").rglob("*.*"))
    return {
        "bytes": sizes,
        "drift_quiet_days": len(quiet),
        "drift_quiet_day_max_bytes": max(quiet, default=0),
        "drift_quiet_day_mean_bytes": sum(quiet) / len(quiet) if quiet else 0,
        "drift_report_days": len(list(drift.glob("*.html.gz"))),
        "drift_reference_bytes": references,
    }


def missing_partitions(storage: Path) -> dict[str, int]:
    """Per asset, how many of its partitions in the range are not stored."""
    every_day = [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    first, last = served_days()
    served = [d for d in every_day if first <= d <= last]
    forecast = [d for d in served if d >= forecast_days()[0]]
    expected = {
        "raw": every_day,
        "prices": every_day,
        "features": every_day,
        "models": model_weeks(),
        "predictions": forecast,
        "monitoring": forecast,
        "drift": served,
    }
    missing = {}
    for stage, keys in expected.items():
        suffix = "json" if stage == "models" else "parquet"
        folder = storage / FOLDERS[stage]
        missing[stage] = sum(not (folder / f"{k.isoformat()}.{suffix}").exists() for k in keys)
    missing["hyperparameters"] = int(not (storage / FOLDERS["hyperparameters"]).exists())
    return missing


def instance_yaml(concurrent: int) -> str:
    return (
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster.core.run_coordinator\n"
        "  class: QueuedRunCoordinator\n  config:\n"
        f"    max_concurrent_runs: {concurrent}\n"
    )


def workspace(
    root: Path, concurrent: int, weeks: int, per_run: int = 0, fresh: bool = True
) -> dict[str, str]:
    return {
        "ENERGY_SOURCE": "simulator",
        **local_workspace(root, FIRST_DAY, fresh=fresh),
        "BENCH_CONCURRENT": str(concurrent),
        "BENCH_WEEKS": str(weeks or ""),
        **({"ENERGY_MODEL_WEEKS_PER_RUN": str(per_run)} if per_run else {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=2, help="model runs at a time")
    parser.add_argument("--weeks", type=int, default=0, help="only the newest N model weeks")
    parser.add_argument("--weeks-per-run", type=int, default=0, help="model weeks per run")
    parser.add_argument("--compare", action="store_true", help="models with 1 and --concurrent")
    parser.add_argument("--keep", action="store_true", help="keep the workspace folder")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--resume", type=Path, help="a kept workspace: run only --stages in it")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages")
    args = parser.parse_args()
    if args.stage:  # a child process: one stage, its outcome as JSON on the last line
        print(json.dumps(run_stage(args.stage)))
        return 0
    root = args.resume or Path(tempfile.mkdtemp(prefix="bench-full-backfill-"))
    env = workspace(
        root, args.concurrent, args.weeks, args.weeks_per_run, fresh=args.resume is None
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ENERGY_", "BENCH_"))})
    first, last = served_days()
    print(f"full backfill: simulator, 76 series, {FIRST_DAY} .. {LAST_DAY}; "
          f"{len(model_weeks())} model weeks, {args.concurrent} model runs at a time; "
          f"served days {first} .. {last}; {os.cpu_count()} cores")  # fmt: skip
    print(f"workspace {root}\n")
    print("| asset | wall time | peak RSS | stored | outcome |\n|---|---|---|---|---|")
    total, failed, walls = 0.0, False, {}
    chosen = args.stages.split(",")
    stages = [s for s in STAGES if s in chosen]
    if args.compare:
        stages = [s for s in stages if STAGES.index(s) <= STAGES.index("models")]
    for stage in stages:
        if args.compare and stage == "models":
            slow, _, one = timed_stage(__file__, stage, {**env, "BENCH_CONCURRENT": "1"}, root)
            print(f"| models, 1 run at a time | {slow:.1f} s | | | {one} |", flush=True)
            shutil.rmtree(root / "storage" / FOLDERS["models"], ignore_errors=True)
        seconds, peak_mb, outcome = timed_stage(__file__, stage, env, root)
        walls[stage] = seconds
        total += seconds
        failed = failed or not outcome.startswith("ok")
        stored = storage_figures(root / "storage")["bytes"]
        assert isinstance(stored, dict)
        size = f"{stored[stage] / 2**20:.1f} MB"
        print(f"| {stage} | {seconds:.1f} s | {peak_mb:.0f} MB | {size} | {outcome} |", flush=True)
        if args.compare and stage == "models":
            print(f"\nmodels: {slow:.1f} s with 1 run at a time, {seconds:.1f} s with "
                  f"{args.concurrent}: speed-up {slow / seconds:.2f}x")  # fmt: skip
    if not args.compare:
        print(f"| total | {total:.1f} s | | | |\n")
        figures = storage_figures(root / "storage")
        days = (last - first).days + 1
        missing = missing_partitions(root / "storage")
        print(json.dumps({**figures, "missing_partitions": missing}, indent=2))
        if "drift" in walls:
            print(
                f"\ndrift: {1000 * walls['drift'] / days:.1f} ms per day over {days} days "
                f"(the stage's whole process); non-drifting days store at most "
                f"{figures['drift_quiet_day_max_bytes'] / 1024:.1f} KB "
                f"(mean {figures['drift_quiet_day_mean_bytes'] / 1024:.1f} KB); "
                f"{figures['drift_report_days']} drifting days have a stored report"
            )
        failed = failed or any(missing.values())
    if failed:
        print(
            f"a stage failed or a partition is missing; workspace kept at {root}", file=sys.stderr
        )
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
