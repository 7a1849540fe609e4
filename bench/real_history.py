"""Three years of real consumption through the whole chain: raw data to monitoring and drift.

The real `ConsumptionIndustry` export of municipality 851 (Aalborg), branch Privat, 2021-2023,
and the real DK1 `Elspotprices` of the same years, read by the file sources as they are. On a
SQLite Dagster instance and local storage in a temporary folder, each stage runs as its own
process (so its peak memory is its own), the way an operator would run it:

1. `raw_consumption` 2021-01-01 .. 2023-12-31 as one single-run backfill, with its data contract,
   and 2. `day_ahead_prices` over the same days;
3. `consumption_features` over the same days, one single run;
4. `model_hyperparameters` pinned to the search space's defaults (a one-point study);
5. the weekly models that serve the issues forecasting 2023 (from the Monday of the first issue,
   13 days before 2023-01-01 at the default horizon of 14 days), one run per week, each
   registered in MLflow behind its promotion gate (a week whose model fails it is served by the
   newest passing earlier version, as in production);
6. `predictions`: every daily issue that forecasts a day of 2023, one single run;
7. `forecast_monitoring` and 8. `feature_drift` for every day of 2023, one single run each.

It prints wall time and peak memory per stage, the pooled WAPE of 2023 at every lead from the
stored monitoring files next to both seasonal-naive baselines at the same lead on the same hours,
and the WARN/ALERT days at the default thresholds (lead 1).

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

from chain import local_workspace, materialize, pinned_study, timed_stage

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (
    Path(os.environ.get("ENERGY_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "energidataservice_consumption_industry"
    / "consumption_industry_851_privat_2021_2023.csv.gz"
)
PRICES = "elspotprices_dk1_2021_2023.csv.gz"  # beside the consumption export
FIRST_DAY, LAST_DAY = dt.date(2021, 1, 1), dt.date(2023, 12, 31)
YEAR_START, YEAR_END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
STAGES = (
    "raw", "prices", "features", "hyperparameters", "models", "predictions", "monitoring",
    "drift",
)  # fmt: skip


def first_issue() -> dt.date:
    """The first issue that forecasts a day of 2023: the horizon's days before 2023-01-01."""
    from energy_assets.settings import load_settings

    return YEAR_START - dt.timedelta(days=load_settings().horizon_days - 1)


def model_weeks() -> list[dt.date]:
    """The weeks that serve an issue forecasting 2023: from the Monday of the first one."""
    start = first_issue()
    first = start - dt.timedelta(days=start.weekday())
    return [first + dt.timedelta(weeks=i) for i in range((YEAR_END - first).days // 7 + 1)]


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
    if stage == "predictions":
        return {"ok": materialize(names.PREDICTIONS, days=(first_issue(), YEAR_END))}
    asset = {"monitoring": names.MONITORING, "drift": names.DRIFT}[stage]
    return {"ok": materialize(asset, days=(YEAR_START, YEAR_END))}


def scores(storage: Path) -> dict[str, object]:
    """Pooled WAPE of 2023 at every lead from the stored monitoring files, both baselines at
    the same lead on the same hours, and the WARN/ALERT days of lead 1 at the default
    thresholds."""
    import pandas as pd

    from energy_assets import names
    from energy_assets.domain.forecasting.baselines import LEAD_BASELINES, seasonal_naive
    from energy_assets.domain.forecasting.features import LEAD
    from energy_assets.domain.monitoring.accuracy import day_summaries
    from energy_assets.domain.monitoring.alerts import Level, classify
    from energy_assets.domain.schema import VALUE, row_keys, series_keys
    from energy_assets.settings import load_settings

    def read(asset: str) -> pd.DataFrame:
        files = sorted((storage / asset).glob("*.parquet"))
        return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)

    monitored, raw = read(names.MONITORING), read(names.RAW)
    days = sorted(pd.to_datetime(monitored["day"], utc=True).unique())
    on = row_keys(series_keys(raw))
    by_lead: dict[str, dict[str, float]] = {}
    for lead, scored in monitored.groupby(LEAD):
        naive = seasonal_naive(raw, days, lead=int(lead)).merge(raw[[*on, VALUE]], on=on)
        actual = naive[VALUE].abs().sum()
        figures = {
            "days": int(scored["day"].nunique()),
            "model": float(scored["abs_error_kwh"].sum() / scored["actual_kwh"].sum()),
            **{
                name: float((naive[column] - naive[VALUE]).abs().sum() / actual)
                for name, column in LEAD_BASELINES.items()
            },
        }
        figures["ratio"] = figures["model"] / min(figures[n] for n in LEAD_BASELINES)
        by_lead[str(lead)] = figures
    settings = load_settings()
    levels = [classify(s["mape"], settings.mape_warn, settings.mape_alert)
              for s in day_summaries(monitored).values()]  # fmt: skip
    lead_one = by_lead["1"]
    return {
        "days_monitored": int(monitored["day"].nunique()),
        "model_wape": lead_one["model"],
        "naive_24h_wape": lead_one["naive_last_day"],
        "naive_168h_wape": lead_one["naive_last_week"],
        "by_lead": by_lead,
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
    print("\n| lead | days | model | naive: newest known day | naive: newest known week | "
          "model / better naive |\n|---|---|---|---|---|---|")  # fmt: skip
    for lead, f in sorted(figures["by_lead"].items(), key=lambda kv: int(kv[0])):
        print(f"| {lead} | {f['days']} | {f['model']:.2%} | {f['naive_last_day']:.2%} | "
              f"{f['naive_last_week']:.2%} | {f['ratio']:.3f} |")  # fmt: skip
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
        "ENERGY_PRICES_FILE": str(data.with_name(PRICES).resolve()),
        "ENERGY_PRICE_AREAS": "DK1",
        **local_workspace(root, FIRST_DAY),
    }


if __name__ == "__main__":
    sys.exit(main())
