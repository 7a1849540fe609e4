"""`forecast_model`: the week's LightGBM model, registered in MLflow, and its promotion gate."""

import math
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.check_targets import run_materializations
from energy_assets.defs.forecasting.features import prices_of_days
from energy_assets.defs.forecasting.model_report import publish_report
from energy_assets.defs.forecasting.training_data import plan_weeks
from energy_assets.defs.partitions import Partitions
from energy_assets.domain.forecasting.features import LOOKBACK_DAYS
from energy_assets.domain.forecasting.gate import gate_verdict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.forecasting.request_form import rows_of_days
from energy_assets.domain.forecasting.training import WeeklyModel, reusable_checked, train_week
from energy_assets.domain.monitoring.drift import build_reference
from energy_assets.settings import Settings
from energy_assets.storage.drift_store import save_reference
from resources.asset_storage import AssetStorage
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import STORAGE_FORMAT

LOOKBACK_WEEKS = math.ceil(LOOKBACK_DAYS / 7)


def _raw_dep(settings: Settings) -> dg.AssetDep:
    # The training weeks of the checked model (a week earlier than the served model's) and the
    # year before them that their features look back on; the asset reads what its samples need.
    return dg.AssetDep(
        names.RAW,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-(settings.training_weeks + LOOKBACK_WEEKS + 1), end_offset=-1
        ),
    )


def build_forecast_model(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.MODEL,
        partitions_def=partitions.weeks,
        deps=[_raw_dep(settings)],
        ins={"hyperparameters": dg.AssetIn(names.HYPERPARAMETERS)},
        # A backfill trains several weeks per run: one process start and one read of the data
        # for them all, and each week's checked model is the week before's served model.
        backfill_policy=dg.BackfillPolicy.multi_run(settings.model_weeks_per_run),
        io_manager_key="parquet_io_manager",
        metadata={STORAGE_FORMAT: "json"},
        group_name="forecasting",
        kinds={"lightgbm", "mlflow"},
        description="The week's LightGBM model, trained only on data before the week starts.",
    )
    def forecast_model(
        context: dg.AssetExecutionContext,
        hyperparameters: dict[str, Any],
        mlflow_tracking: MlflowResource,
        asset_storage: AssetStorage,
    ) -> dict[str, Any]:
        params = dict(hyperparameters["params"])
        weeks = plan_weeks(asset_storage, settings, context.partition_keys, params)
        raw = asset_storage.read_window(dg.AssetKey(names.RAW), weeks.raw_keys())
        prices = prices_of_days(asset_storage, settings, weeks.price_days())
        records: dict[str, Any] = {}
        previous: WeeklyModel | None = None
        tags = {
            "dagster_run_id": context.run_id,
            "hyperparameters_study": str(hyperparameters.get("study")),
        }
        for i, (week, plan) in enumerate(weeks.plans.items()):
            week_raw = rows_of_days(raw, plan.raw_days())
            checked = reusable_checked(previous, plan)
            trained = train_week(
                week_raw,
                plan,
                params,
                None if prices is None else rows_of_days(prices, plan.price_days()),
                checked=checked,
                # The next week of this run reuses this week's served model as its checked one.
                keep_checkable=i + 1 < len(weeks.plans),
            )
            context.log.info(
                f"week {week}: checked model {'the week before' if checked else 'fitted'}"
            )
            records[week] = _publish(
                context, trained, week_raw, params, tags, mlflow_tracking, asset_storage
            )
            # Only what the next week may reuse stays in memory, not this week's frames.
            previous = trained.reusable()
        # One week's run returns its record; a run of several, a record per week.
        return records if len(records) > 1 else next(iter(records.values()))

    return forecast_model


def _publish(
    context: dg.AssetExecutionContext,
    trained: WeeklyModel,
    raw: pd.DataFrame,
    params: dict[str, Any],
    tags: dict[str, str],
    mlflow_tracking: MlflowResource,
    asset_storage: AssetStorage,
) -> dict[str, Any]:
    """Register the week's model, store its drift reference and report; its record."""
    week = str(trained.plan.week_start.date())
    record = register(
        mlflow_tracking,
        trained,
        week=week,
        week_start=trained.plan.week_start,
        params=params,
        tags=tags,
    )
    # Drift compares each served day with the newest weeks this model learnt from.
    reference = build_reference(trained.features)
    save_reference(asset_storage.storage, week, record.model_version, reference)
    context.log.info(f"week {week}: registered {record.model_uri}")
    report = publish_report(context, trained, record, raw, asset_storage.storage, mlflow_tracking)
    context.add_asset_metadata({**_summary(record), **report}, partition_key=week)
    return record.to_dict()


def register(
    mlflow_tracking: MlflowResource,
    trained: WeeklyModel,
    *,
    week: str,
    week_start: pd.Timestamp,
    params: dict[str, Any],
    tags: dict[str, str],
) -> ModelRecord:
    """Log the week's model as an MLflow run and a new registered version; its record."""
    window = {
        "train_start": trained.train_start.date(),
        "train_end": week_start.date(),
        "valid_start": trained.valid_start.date(),
    }
    version = mlflow_tracking.log_model(
        trained.model,
        week=week,
        params=params,
        tags={**{k: str(v) for k, v in window.items()}, **tags},
        metrics={
            **{
                f"valid_{forecaster}_{metric}": value
                for forecaster, scores in trained.validation.items()
                for metric, value in scores.items()
            },
            # The further leads' model and both naives at each lead, on the same days.
            **{
                f"valid_lead{lead}_{forecaster}_{metric}": scores[metric]
                for lead, methods in trained.lead_validation.items()
                for forecaster, scores in methods.items()
                for metric in ("wape", "bias")
            },
        },
    )
    return ModelRecord(
        week=week,
        model_name=version.name,
        model_version=version.version,
        model_uri=version.uri,
        mlflow_run_id=version.run_id,
        params=params,
        validation=trained.validation,
        forecasts_finite_non_negative=trained.forecasts_finite_non_negative,
        **window,
    )


def _summary(record: ModelRecord) -> dict[str, Any]:
    """What the Dagster UI shows of a model version."""
    validation = record.validation
    return {
        "model_uri": record.model_uri,
        "model_version": int(record.model_version),
        "valid_wape": validation["model"]["wape"],
        "valid_mape_median": validation["model"]["mape_median"],
        "naive_24h_wape": validation["naive_24h"]["wape"],
        "naive_168h_wape": validation["naive_168h"]["wape"],
        "train_window": record.training_window,
    }


def build_promotion_gate(
    partitions: Partitions, require_approval: bool = False
) -> dg.AssetChecksDefinition:
    spec = dg.AssetCheckSpec(
        names.GATE,
        asset=names.MODEL,
        blocking=True,
        partitions_def=partitions.weeks,
        description="Beats both seasonal-naive baselines on its validation window (WAPE and median "
        "MAPE) and forecasts finite, non-negative values; a pass makes the version champion.",
    )
    key = dg.AssetKey(names.MODEL)

    @dg.multi_asset_check(specs=[spec], name=f"{names.MODEL}_{names.GATE}")
    def promotion_gate(
        context: dg.AssetCheckExecutionContext,
        mlflow_tracking: MlflowResource,
        asset_storage: AssetStorage,
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per week, oldest first, so that a run of several weeks leaves the
        # newest passing one champion and each week's verdict on its own partition.
        weeks = sorted(context.partition_keys)
        run_id = context.op_execution_context.run_id
        targets = run_materializations(context, key, run_id, weeks)
        for week in weeks:
            record = ModelRecord.from_dict(asset_storage.read_record(key, week))
            passed, problems = gate_verdict(record.validation, record.forecasts_finite_non_negative)
            # With approval required a pass makes a candidate: champion only once approved.
            promoted = mlflow_tracking.judge(
                record.model_name, record.model_version, record.week, passed, require_approval
            )
            serves = "awaits approval" if passed and require_approval else "may serve"
            yield dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=names.GATE,
                passed=passed,
                partition=week,
                blocking=True,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) if problems else f"{record.model_uri} {serves}",
                metadata={
                    "model_uri": record.model_uri,
                    "champion": promoted,
                    "problems": problems,
                },
                target_materialization_data=targets.get(week),
            )
        # Blocking checks gate downstream steps through their outputs.
        for output in context.op_execution_context.op_def.output_defs:
            yield dg.Output(None, output_name=output.name)

    return promotion_gate
