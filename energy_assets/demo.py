"""The demo: run the pipeline over a window on the configured source and print what it made.

Ingestion and features run as one single-run backfill each; then a small Optuna study, the
models of the window's last two weeks (each behind its promotion gate), their predictions,
monitoring and drift. On the simulator a regime change is injected in the last week, and one
tick of the MAPE alert sensor shows the alerts it raises and the retune runs it requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dagster as dg

from energy_assets.definitions import build_definitions
from energy_assets.instance import local_instance
from energy_assets.settings import Settings, SourceKind, load_settings
from energy_assets.sources import source_from_settings
from resources.notifier import AlertLog
from resources.storage import Storage, object_key, storage_from_settings
from sensors.mape_alert import MAPE_ALERT_SENSOR

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# A small study keeps the demo to minutes; `make ui` can launch a bigger one.
DEMO_STUDY = {
    "n_trials": 4,
    "timeout_seconds": 120,
    "search_space": {"num_boost_round": {"kind": "int", "low": 100, "high": 250, "step": 50}},
}
DEMO_TRAINING_WEEKS = 4


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.defs = build_definitions(settings)
        self.job = self.defs.resolve_implicit_global_asset_job_def()
        self.instance = local_instance()
        self.ok = True

    def run(
        self,
        label: str,
        assets: Sequence[str],
        *,
        partition: str | None = None,
        days: tuple[dt.date, dt.date] | None = None,
        config: dict[str, Any] | None = None,
    ) -> dg.ExecuteInProcessResult:
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
            asset_selection=[dg.AssetKey(a) for a in assets],
            partition_key=partition,
            tags=tags,
            run_config={**QUIET, **({"ops": config} if config else {})},
            raise_on_error=False,
        )
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
        return result

    @staticmethod
    def print_drift(storage: Storage, first: dt.date, last: dt.date) -> None:
        print("\n  feature_drift: columns beyond their training-window range")
        day = first
        while day <= last:
            key = object_key("feature_drift", day.isoformat())
            if storage.exists(key):
                frame = storage.read_parquet(key)
                drifted = ", ".join(frame.loc[frame["drifted"], "column"]) or "-"
                print(f"    {day}: {drifted}")
            day += dt.timedelta(days=1)

    def alert_tick(self, storage: Storage) -> None:
        """One evaluation of the MAPE alert sensor over every monitored day in the instance."""
        sensor = self.defs.resolve_sensor_def(MAPE_ALERT_SENSOR)
        log = AlertLog(storage)
        before = {a.key for a in log.read()}
        with dg.build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            resources=dict(self.defs.resources or {}),
        ) as context:
            result = sensor.evaluate_tick(context)
        print(f"\n  {MAPE_ALERT_SENSOR}: one tick")
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
    print(f"window:   {first} .. {last}; models for the weeks of {week1} and {week2}")
    print(f"storage:  {settings.storage_uri}")
    print(f"instance: {demo.instance.root_directory}\n")

    demo.run(f"raw_consumption {first}..{last}", ["raw_consumption"], days=(first, last))
    demo.run(f"consumption_features {first}..{last}", ["consumption_features"], days=(first, last))
    study_end = week1 - dt.timedelta(days=1)
    demo.run(
        f"model_hyperparameters ({DEMO_STUDY['n_trials']} trials to {study_end})",
        ["model_hyperparameters"],
        config={"model_hyperparameters": {"config": {**DEMO_STUDY, "end_date": str(study_end)}}},
    )
    for week in (week1, week2):
        demo.run(f"forecast_model week {week}", ["forecast_model"], partition=week.isoformat())
    week_end = week2 + dt.timedelta(days=6)
    demo.run(f"predictions {week1}..{week_end}", ["predictions"], days=(week1, week_end))
    demo.run(
        f"forecast_monitoring {week1}..{week_end}", ["forecast_monitoring"], days=(week1, week_end)
    )
    demo.run(f"feature_drift {week1}..{week_end}", ["feature_drift"], days=(week1, week_end))
    demo.print_drift(storage, week1, week_end)
    demo.alert_tick(storage)

    print()
    assets = ("raw_consumption", "consumption_features", "forecast_model", "predictions",
              "forecast_monitoring", "feature_drift", "alerts")  # fmt: skip
    for asset in assets:
        files = storage.list_keys(asset)
        print(f"  {asset}: {len(files)} files under {storage.uri(asset)}/")
    newest = object_key("predictions", week_end.isoformat())
    if storage.exists(newest):
        frame = storage.read_parquet(newest)
        versions = ", ".join(sorted(frame["model_version"].unique()))
        print(f"  predictions {week_end}: {len(frame)} rows from {versions}")
    print("\nDagster UI:  make ui   (http://127.0.0.1:3000)")
    print(f"MLflow UI:   make mlflow   (http://127.0.0.1:5000, store {settings.tracking_uri})")
    return demo.ok
