"""The demo: run the pipeline over a window on the configured source and print what it made.

Ingestion and features run as one single-run backfill each; then a small Optuna study, the
models of the window's last two weeks (each behind its promotion gate), their predictions,
monitoring and drift. On the simulator a regime change is injected in the last week, and one
tick of the MAPE alert sensor shows the alerts it raises and the retune runs it requests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.definitions import build_definitions
from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.forecasting.model import MODEL_URI, PRICE_KNOWN_COLUMN
from energy_assets.domain.schema import TIME
from energy_assets.domain.sources import price_source_from_settings, source_from_settings
from energy_assets.instance import local_instance
from energy_assets.progress import Steps, steps
from energy_assets.settings import Settings, SourceKind, load_settings, redact_url
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.model_reports import newest_report
from energy_assets.storage.objects import Storage, object_key, storage_from_settings

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# A small study keeps the demo to minutes; `make ui` can launch a bigger one.
DEMO_STUDY = {
    "n_trials": 4,
    "timeout_seconds": 120,
    "search_space": {"num_boost_round": {"kind": "int", "low": 100, "high": 250, "step": 50}},
}
DEMO_TRAINING_WEEKS = 4
# ingest, features, study, two weekly models, predictions, monitoring, drift, one alert tick;
# and prices where the deployment has them
DEMO_STAGES = 9


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.defs = build_definitions(settings)
        self.job = self.defs.resolve_implicit_global_asset_job_def()
        self.instance = local_instance()
        self.ok = True
        self.stages = DEMO_STAGES + settings.uses_prices
        self.progress = Steps("demo", self.stages, "stages")  # shown by run_demo on a terminal

    def run(
        self,
        asset: str,
        *,
        partition: str | None = None,
        days: tuple[dt.date, dt.date] | None = None,
        config: dict[str, Any] | None = None,
        label: str | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Materialize one asset: one partition, a single-run range of days, or unpartitioned."""
        name = f"{asset} {label or (f'{days[0]}..{days[1]}' if days else '')}"
        self.progress.start(name)
        tags = (
            {
                "dagster/asset_partition_range_start": days[0].isoformat(),
                "dagster/asset_partition_range_end": days[1].isoformat(),
            }
            if days
            else {}
        )
        result = self.job.execute_in_process(
            instance=self.instance,
            asset_selection=[dg.AssetKey(asset)],
            partition_key=partition,
            tags=tags,
            run_config={**QUIET, **({"ops": config} if config else {})},
            raise_on_error=False,
        )
        self.report(name, result)
        self.progress.advance()
        return result

    def report(self, label: str, result: dg.ExecuteInProcessResult) -> None:
        """One line per run, and the check evaluations that failed in it."""
        checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]
        failed = [c for c in checks if not c.passed]
        verdict = "SUCCESS" if result.success else "FAILED"
        check_text = f", checks {len(checks) - len(failed)}/{len(checks)} passed" if checks else ""
        print(f"  {label:44s} {verdict}{check_text}")
        for check in failed[:5]:
            print(f"    FAILED {check.check_name} [{check.partition}]: {check.description}")
        self.ok &= result.success

    @staticmethod
    def print_drift(storage: Storage, first: dt.date, last: dt.date) -> None:
        print("\n  feature_drift: columns beyond their training-window range")
        day = first
        while day <= last:
            key = object_key(names.DRIFT, day.isoformat())
            if storage.exists(key):
                frame = storage.read_parquet(key)
                drifted = ", ".join(frame.loc[frame["drifted"], "column"]) or "-"
                print(f"    {day}: {drifted}")
            day += dt.timedelta(days=1)

    def alert_tick(self, storage: Storage) -> None:
        """One evaluation of the MAPE alert sensor over every monitored day in the instance."""
        self.progress.start(f"{names.MAPE_ALERT_SENSOR}: one tick")
        sensor = self.defs.resolve_sensor_def(names.MAPE_ALERT_SENSOR)
        log = AlertLog(storage)
        before = {a.key for a in log.read()}
        with dg.build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            resources=dict(self.defs.resources or {}),
        ) as context:
            result = sensor.evaluate_tick(context)
        print(f"\n  {names.MAPE_ALERT_SENSOR}: one tick")
        for alert in log.read():
            new = "new" if alert.key not in before else "logged earlier"
            print(f"    {alert.level.value:5s} {alert.day} ({new}): {alert.message}")
        for request in result.run_requests or []:
            print(
                f"    requested retune_job for week {request.partition_key} "
                f"(run key {request.run_key})"
            )
        if not result.run_requests:
            print(f"    no run requested ({result.skip_message or 'no ALERT day'})")
        outbox = self.defs.resolve_sensor_def(names.ALERT_OUTBOX_SENSOR)
        with dg.build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            resources=dict(self.defs.resources or {}),
        ) as context:
            outbox.evaluate_tick(context)
        print(
            f"  {names.ALERT_OUTBOX_SENSOR}: {len(log.read())} alerts "
            f"logged, {len(log.pending())} waiting for delivery"
        )
        self.progress.advance()


def run_demo(start: dt.date | None = None, days: int = 90) -> bool:
    settings = load_settings()
    settings = settings.model_copy(
        update={"training_weeks": min(settings.training_weeks, DEMO_TRAINING_WEEKS)}
    )
    first = start or settings.start_date
    last = first + dt.timedelta(days=days - 1)
    # The window's last two whole Monday-to-Sunday weeks get models and predictions.
    week2 = last - dt.timedelta(days=(last.weekday() + 1) % 7 + 6)
    week1 = week2 - dt.timedelta(days=7)
    if week1 < first + dt.timedelta(days=21):
        print(f"error: a {days}-day window is too short for the demo (needs about 5 weeks)")
        return False
    if settings.source is SourceKind.SIMULATOR and settings.simulator_regime_change_date is None:
        # Consumption jumps on the Thursday of the last week: monitoring should catch it.
        settings = settings.model_copy(
            update={"simulator_regime_change_date": week2 + dt.timedelta(days=3)}
        )
    demo = Demo(settings)
    storage = storage_from_settings(settings)
    print(f"source:   {source_from_settings(settings).describe()}")
    prices = price_source_from_settings(settings)
    print(f"prices:   {prices.describe() if prices else 'none (forecasts without prices)'}")
    print(f"window:   {first} .. {last}; models for the weeks of {week1} and {week2}")
    print(f"storage:  {settings.storage_uri}")
    print(f"instance: {demo.instance.root_directory}\n")

    # Stages done, elapsed and left on a terminal; the printed runs go above the bar.
    with steps("demo", demo.stages, "stages") as demo.progress:
        demo.run(names.RAW, days=(first, last))
        if prices is not None:
            demo.run(names.PRICES, days=(first, last))
        demo.run(names.FEATURES, days=(first, last))
        study_end = week1 - dt.timedelta(days=1)
        demo.run(
            names.HYPERPARAMETERS,
            label=f"{DEMO_STUDY['n_trials']} trials to {study_end}",
            config={names.HYPERPARAMETERS: {"config": {**DEMO_STUDY, "end_date": str(study_end)}}},
        )
        for week in (week1, week2):
            demo.run(names.MODEL, partition=week.isoformat(), label=f"week {week}")
        week_end = week2 + dt.timedelta(days=6)
        for asset in (names.PREDICTIONS, names.MONITORING, names.DRIFT):
            demo.run(asset, days=(week1, week_end))
        demo.print_drift(storage, week1, week_end)
        demo.alert_tick(storage)
    print_outputs(storage, week_end, last)
    if prices is not None:
        print_prices(storage, week1, week_end)
    report = newest_report(storage)
    if report is not None:
        report_week, version, uri = report
        print(f"\nModel report (week {report_week}, version {version}): {uri}")
    print("\nDagster UI:  make ui   (http://127.0.0.1:3000)")
    store = redact_url(settings.tracking_uri)
    print(f"MLflow UI:   make mlflow   (http://127.0.0.1:5000, store {store})")
    print_serving(storage, settings, week_end)
    return demo.ok


def print_serving(storage: Storage, settings: Settings, issue: dt.date) -> None:
    """How to serve the newest issue's version with MLflow and ask it for that issue."""
    key = object_key(names.PREDICTIONS, issue.isoformat())
    if not storage.exists(key):
        return
    uri = str(storage.read_parquet(key)[MODEL_URI].iloc[0])
    version = uri.rsplit("/", 1)[-1]
    print(f"\nServe {uri} as MLflow does, and ask it for the issue of {issue}:")
    print("  . .venv/bin/activate")
    print(f"  export MLFLOW_TRACKING_URI={redact_url(settings.tracking_uri)}")
    print(f"  mlflow models serve -m {uri} --env-manager local -h 127.0.0.1 -p 5001 &")
    print(f"  energy-forecast model example-request {version} --date {issue} > request.json")
    print(
        "  curl -s -H 'Content-Type: application/json' --data @request.json "
        "http://127.0.0.1:5001/invocations"
    )


def print_outputs(storage: Storage, newest_issue: dt.date, newest_actuals: dt.date) -> None:
    """What the demo stored, and what the newest issue forecast: which days, from which versions,
    and how far past the newest actuals it reaches."""
    print()
    for folder in (*(a for a in names.ASSETS if a != names.HYPERPARAMETERS), names.ALERTS):
        files = storage.list_keys(folder)
        print(f"  {folder}: {len(files)} files under {storage.uri(folder)}/")
    newest = object_key(names.PREDICTIONS, newest_issue.isoformat())
    if not storage.exists(newest):
        return
    frame = storage.read_parquet(newest)
    uris = ", ".join(sorted(frame[MODEL_URI].unique()))
    days = frame[TIME].dt.date
    print(
        f"  predictions issued for {newest_issue}: {len(frame)} rows, days {days.min()} .. "
        f"{days.max()} (leads {frame[LEAD].min()} .. {frame[LEAD].max()}) from {uris}"
    )
    beyond = sorted({d for d in days if d > newest_actuals})
    if beyond:
        print(
            f"  newest actuals {newest_actuals}: the issue forecasts {len(beyond)} days past "
            f"them, through {beyond[-1]}"
        )


def print_prices(storage: Storage, first: dt.date, last: dt.date) -> None:
    """The served days' prices per area, and the days forecast without them."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    stored = [k for d in days if storage.exists(k := object_key(names.PRICES, d.isoformat()))]
    if not stored:
        print(f"\n  {names.PRICES}: none stored for {first} .. {last}")
        return
    prices = pd.concat([storage.read_parquet(k) for k in stored], ignore_index=True)
    print(f"\n  {names.PRICES} {first} .. {last} (EUR/MWh):")
    for area, of_area in prices.groupby("area", observed=True):
        eur = of_area["price_eur_mwh"]
        print(
            f"    {area}: mean {eur.mean():.1f}, min {eur.min():.1f}, max {eur.max():.1f}, "
            f"{int((eur < 0).sum())} negative hours"
        )
    without = []
    for day in days:
        key = object_key(names.PREDICTIONS, day.isoformat())
        if storage.exists(key):
            frame = storage.read_parquet(key)
            if PRICE_KNOWN_COLUMN in frame.columns and not frame[PRICE_KNOWN_COLUMN].any():
                without.append(day.isoformat())
    print(f"    forecasts made without prices: {', '.join(without) or 'none'}")
