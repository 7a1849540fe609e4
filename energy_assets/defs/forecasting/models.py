"""`forecast_model`: the week's LightGBM model, registered in MLflow, and its promotion gate."""

import math
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.forecasting.features import prices_from_storage
from energy_assets.defs.forecasting.model_report import publish_report
from energy_assets.defs.partitions import Partitions, run_window
from energy_assets.domain.forecasting.features import LOOKBACK_DAYS
from energy_assets.domain.forecasting.gate import gate_verdict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.forecasting.training import WeeklyModel, train_weekly_model
from energy_assets.domain.monitoring.drift import build_reference
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings
from energy_assets.storage.drift_store import save_reference
from resources.asset_storage import AssetStorage
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import ALLOW_MISSING, STORAGE_FORMAT

LOOKBACK_WEEKS = math.ceil(LOOKBACK_DAYS / 7)


def _model_inputs(settings: Settings) -> dict[str, dg.AssetIn]:
    return {
        # The training weeks, and the year before them that their features look back on.
        "raw": dg.AssetIn(
            names.RAW,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(settings.training_weeks + LOOKBACK_WEEKS), end_offset=-1
            ),
            # A day its contract refused is missing history, not a reason to stop.
            metadata={ALLOW_MISSING: True},
        ),
        "hyperparameters": dg.AssetIn(names.HYPERPARAMETERS),
    }


def build_forecast_model(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.MODEL,
        partitions_def=partitions.weeks,
        ins=_model_inputs(settings),
        io_manager_key="parquet_io_manager",
        metadata={STORAGE_FORMAT: "json"},
        group_name="forecasting",
        kinds={"lightgbm", "mlflow"},
        description="The week's LightGBM model, trained only on data before the week starts.",
    )
    def forecast_model(
        context: dg.AssetExecutionContext,
        raw: pd.DataFrame,
        hyperparameters: dict[str, Any],
        mlflow_tracking: MlflowResource,
        asset_storage: AssetStorage,
    ) -> dg.Output:
        week_start, _ = run_window(context)
        week = context.partition_key
        newest_needed = week_start - pd.Timedelta(days=settings.validation_days + 1)
        if raw.empty or raw[TIME].max() < newest_needed:
            raise dg.Failure(f"week {week}: no raw data in the weeks before {week_start.date()}")
        trained = train_weekly_model(
            raw,
            week_start,
            training_weeks=settings.training_weeks,
            validation_days=settings.validation_days,
            params=hyperparameters["params"],
            prices=prices_from_storage(asset_storage, settings, raw[TIME].min(), week_start),
            horizon=settings.horizon_days,
        )
        record = register(
            mlflow_tracking,
            trained,
            week=week,
            week_start=week_start,
            params=dict(hyperparameters["params"]),
            tags={
                "dagster_run_id": context.run_id,
                "hyperparameters_study": str(hyperparameters.get("study")),
            },
        )
        # Drift compares each served day with the newest weeks this model learnt from.
        reference = build_reference(trained.features)
        save_reference(asset_storage.storage, week, record.model_version, reference)
        context.log.info(f"week {week}: registered {record.model_uri}")
        report = publish_report(
            context, trained, record, raw, asset_storage.storage, mlflow_tracking
        )
        return dg.Output(record.to_dict(), metadata={**_summary(record), **report})

    return forecast_model


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
    @dg.asset_check(
        asset=names.MODEL,
        name=names.GATE,
        blocking=True,
        partitions_def=partitions.weeks,
        description="Beats both seasonal-naive baselines on its validation window (WAPE and median "
        "MAPE) and forecasts finite, non-negative values; a pass makes the version champion.",
    )
    def promotion_gate(
        context: dg.AssetCheckExecutionContext,
        forecast_model: dict[str, Any],
        mlflow_tracking: MlflowResource,
    ) -> dg.AssetCheckResult:
        [stored] = forecast_model.values()
        record = ModelRecord.from_dict(stored)
        passed, problems = gate_verdict(record.validation, record.forecasts_finite_non_negative)
        # With approval required a pass makes a candidate: champion only once a person approves.
        promoted = mlflow_tracking.judge(
            record.model_name, record.model_version, record.week, passed, require_approval
        )
        serves = "awaits approval" if passed and require_approval else "may serve"
        return dg.AssetCheckResult(
            passed=passed,
            description="; ".join(problems) if problems else f"{record.model_uri} {serves}",
            metadata={"model_uri": record.model_uri, "champion": promoted, "problems": problems},
        )

    return promotion_gate
