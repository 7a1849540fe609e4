"""Three years of real consumption through the whole chain: raw data to monitoring and drift.

The real `ConsumptionIndustry` export of municipality 851 (Aalborg), branch Privat, 2021-2023,
read by the file source as it is. On a SQLite Dagster instance and local storage in a temporary
folder, each stage runs as its own process (so its peak memory is its own), the way an operator
would run it:

1. `raw_consumption` 2021-01-01 .. 2023-12-31 as one single-run backfill, with its data contract;
2. `consumption_features` over the same days, one single run;
3. `model_hyperparameters` pinned to the search space's defaults (a one-point study);
4. the 53 weekly models that serve 2023 (Mondays 2022-12-26 .. 2023-12-25), one run per week,
   each registered in MLflow behind its promotion gate (a week whose model fails it is served
   by the newest passing earlier version, as in production);
5. `predictions` for every day of 2023, one single run, each day from its week's version;
6. `forecast_monitoring` and 7. `feature_drift` for every day of 2023, one single run each.

It prints wall time and peak memory per stage, the pooled WAPE of 2023 from the stored monitoring
files next to both seasonal-naive baselines on the same hours, and the WARN/ALERT days at the
default thresholds.

    python bench/real_history.py [--data PATH] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from chain import dagster_home, materialize, pinned_study, timed_stage

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (
    Path(os.environ.get("ENERGY_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "energidataservice_consumption_industry"
    / "consumption_industry_851_privat_2021_2023.csv.gz"
)
FIRST_DAY, LAST_DAY = dt.date(2021, 1, 1), dt.date(2023, 12, 31)
YEAR_START, YEAR_END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
STAGES = ("raw", "features", "hyperparameters", "models", "predictions", "monitoring", "drift")


def model_weeks() -> list[dt.date]:
    """The weeks that serve a day of 2023: from Monday 2022-12-26 (for Sunday 2023-01-01)."""
    first = dt.date(2022, 12, 26)
    return [first + dt.timedelta(weeks=i) for i in range(53)]


def run_stage(stage: str) -> dict[str, object]:
    """One stage, in this process; what it did, for the report."""
    from energy_assets import names

    if stage == "raw":
        return {"ok": materialize(names.RAW, days=(FIRST_DAY, LAST_DAY))}
    if stage == "features":
        return {"ok": materialize(names.FEATURES, days=(FIRST_DAY, LAST_DAY))}
    if stage == "hyperparameters":
        return {
            "ok": materialize(names.HYPERPARAMETERS, config=pinned_study(dt.date(2022, 12, 31)))
        }
    if stage == "models":
        # A week whose model fails its promotion gate fails its run, yet its version is
        # registered (and never serves); a week with no record failed outright.
        refused = [w.isoformat() for w in model_weeks()
                   if not materialize(names.MODEL, partition=w.isoformat())]  # fmt: skip
        storage = Path(os.environ["ENERGY_STORAGE_DIR"]) / names.MODEL
        failed = [w for w in refused if not (storage / f"{w}.json").exists()]
        gated = [w for w in refused if w not in failed]
        return {"ok": not failed, "weeks": len(model_weeks()), "failed_gate": gated,
                "failed": failed}  # fmt: skip
    asset = {"predictions": names.PREDICTIONS, "monitoring": names.MONITORING,
             "drift": names.DRIFT}[stage]  # fmt: skip
    return {"ok": materialize(asset, days=(YEAR_START, YEAR_END))}


def scores(storage: Path) -> dict[str, object]:
    """Pooled WAPE of 2023 from the stored monitoring files, both baselines on the same hours,
    and the WARN/ALERT days at the default thresholds."""
    import pandas as pd

    from energy_assets import names
    from energy_assets.domain.forecasting.baselines import seasonal_naive
    from energy_assets.domain.monitoring.accuracy import day_summaries
    from energy_assets.domain.monitoring.alerts import Level, classify
    from energy_assets.domain.schema import TIME, VALUE, row_keys, series_keys
    from energy_assets.settings import load_settings

    monitored = pd.concat(
        [pd.read_parquet(p) for p in sorted((storage / names.MONITORING).glob("*.parquet"))],
        ignore_index=True,
    )
    raw = pd.concat(
        [pd.read_parquet(p) for p in sorted((storage / names.RAW).glob("*.parquet"))],
        ignore_index=True,
    )
    predicted = pd.concat(
        [pd.read_parquet(p) for p in sorted((storage / names.PREDICTIONS).glob("*.parquet"))],
        ignore_index=True,
    )
    days = sorted(predicted[TIME].dt.floor("D").unique())
    on = row_keys(series_keys(predicted))
    both = predicted[on].merge(raw[[*on, VALUE]], on=on).merge(seasonal_naive(raw, days), on=on)
    actual = both[VALUE].abs().sum()
    settings = load_settings()
    levels = [classify(s["mape"], settings.mape_warn, settings.mape_alert)
              for s in day_summaries(monitored).values()]  # fmt: skip
    return {
        "days_monitored": int(monitored["day"].nunique()),
        "model_wape": float(monitored["abs_error_kwh"].sum() / monitored["actual_kwh"].sum()),
        "naive_24h_wape": float((both["naive_24h"] - both[VALUE]).abs().sum() / actual),
        "naive_168h_wape": float((both["naive_168h"] - both[VALUE]).abs().sum() / actual),
        "warn_days": sum(level is Level.WARN for level in levels),
        "alert_days": sum(level is Level.ALERT for level in levels),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the workspace folder")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:  # a child process: one stage, its outcome as JSON on the last line
        print(json.dumps(run_stage(args.stage)))
        return 0
    if not args.data.exists():
        print(f"real data not found at {args.data}; set ENERGY_SHARED_DATA", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-real-history-"))
    env = workspace(root, args.data)
    print(f"real ConsumptionIndustry history through the chain: {args.data.name}")
    print(f"workspace {root}\n")
    print("| stage | wall time | peak RSS | outcome |\n|---|---|---|---|")
    total, failed = 0.0, False
    for stage in STAGES:
        seconds, peak_mb, outcome = timed_stage(__file__, stage, env, root)
        total += seconds
        failed = failed or not outcome.startswith("ok")
        print(f"| {stage} | {seconds:.1f} s | {peak_mb:.0f} MB | {outcome} |", flush=True)
    print(f"| total | {total:.1f} s | | |\n")
    if failed:  # the workspace and the stages' logs stay for a look
        print(f"a stage failed; workspace kept at {root}", file=sys.stderr)
        return 1
    os.environ.update(env)
    figures = scores(root / "storage")
    print(json.dumps(figures, indent=2))
    print(
        f"\n2023, {figures['days_monitored']} days: pooled WAPE {figures['model_wape']:.2%} "
        f"(same-hour-yesterday naive {figures['naive_24h_wape']:.2%}, same-hour-last-week "
        f"naive {figures['naive_168h_wape']:.2%}); at the default thresholds "
        f"{figures['warn_days']} WARN and {figures['alert_days']} ALERT days"
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def workspace(root: Path, data: Path) -> dict[str, str]:
    return {
        "ENERGY_SOURCE": "file",
        "ENERGY_FILE": str(data.resolve()),
        "ENERGY_START_DATE": FIRST_DAY.isoformat(),
        "ENERGY_STORAGE_DIR": str(root / "storage"),
        "ENERGY_STATE_DIR": str(root / "state"),
        "DAGSTER_HOME": str(dagster_home(root)),
        "DO_NOT_TRACK": "1",
    }


if __name__ == "__main__":
    sys.exit(main())
