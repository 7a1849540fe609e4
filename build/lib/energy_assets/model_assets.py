"""Features, hyperparameters, weekly models (with the promotion gate) and predictions."""

import datetime as dt
import hashlib
import json
import math
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from energy_assets import tracking
from energy_assets.automation import DAILY_FRESHNESS, recent_eager
from energy_assets.forecasting import metrics
from energy_assets.forecasting.baselines import BASELINES, seasonal_naive
from energy_assets.forecasting.features import (
    FEATURES,
    LOOKBACK,
    ORIGIN,
    TARGET,
    build_features,
)
from energy_assets.forecasting.model import P10, P90, PREDICTION, fit, predict
from energy_assets.ingestion import RAW
from energy_assets.metadata import metadata_values
from energy_assets.partitions import window
from energy_assets.schema import KEYS, TIME, VALUE
from energy_assets.settings import Settings
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import PARTITION_COLUMN, STORAGE_FORMAT, ParquetIOManager

FEATURES_KEY = dg.AssetKey("consumption_features")
PARAMS_KEY = dg.AssetKey("model_hyperparameters")
MODEL_KEY = dg.AssetKey("forecast_model")
PREDICTIONS_KEY = dg.AssetKey("predictions")
GATE = "promotion_gate"
LOOKBACK_DAYS = math.ceil(LOOKBACK / pd.Timedelta(days=1))  # raw days the features read


class HyperparameterConfig(dg.Config):
    n_trials: int = Field(default=20, ge=1, description="trials the study should reach in total")
    timeout_seconds: float = Field(default=900, gt=0, description="wall-time budget of this run")
    study_name: str | None = Field(default=None, description="default: one per window end")
    end_date: str | None = Field(default=None, description="last day of data (default: newest)")
    search_space: dict[str, Any] = Field(
        default_factory=dict, description="entries that replace those of search_space.yaml"
    )
    seed: int = 0


def model_weeks(settings: Settings) -> dg.WeeklyPartitionsDefinition:
    """Weeks from Monday to Monday, from the first Monday with a week of training data and the
    validation days before it (two weeks with the default seven validation days)."""
    first = settings.start_date + dt.timedelta(days=settings.validation_days + 7)
    first += dt.timedelta(days=(7 - first.weekday()) % 7)
    return dg.WeeklyPartitionsDefinition(start_date=first.isoformat(), day_offset=1, timezone="UTC")


def prediction_days(settings: Settings) -> dg.DailyPartitionsDefinition:
    start = model_weeks(settings).start
    return dg.DailyPartitionsDefinition(start_date=start.strftime("%Y-%m-%d"), timezone="UTC")


def days_of(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")


def validation_metrics(
    features: pd.DataFrame, forecast: np.ndarray, history: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """The model and both seasonal-naive baselines on the same rows."""
    frame = features[[*KEYS, VALUE]].assign(model=forecast)
    frame = frame.merge(seasonal_naive(history, list(features[ORIGIN].unique())), on=KEYS)
    return {m: metrics.summary(frame, VALUE, m) for m in ("model", *BASELINES)}


def gate_verdict(record: dict[str, Any]) -> tuple[bool, list[str]]:
    """Promotion rules: beat both baselines on WAPE and median MAPE; finite, non-negative."""
    problems = []
    validation = record["validation"]
    for baseline in ("naive_24h", "naive_168h"):
        for key in ("wape", "mape_median"):
            model, other = validation["model"][key], validation[baseline][key]
            if not (np.isfinite(model) and model < other):
                problems.append(f"{key} {model:.4f} does not beat {baseline} {other:.4f}")
    if not record["forecasts_finite_non_negative"]:
        problems.append("forecasts are not all finite and non-negative")
    return not problems, problems


def build_model_assets(
    settings: Settings, daily: dg.DailyPartitionsDefinition
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    weeks = model_weeks(settings)
    pred_days = prediction_days(settings)

    @dg.asset(
        key=FEATURES_KEY,
        partitions_def=daily,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={
            # Day D's features read the days before D only: a forecast for D can be made as
            # soon as D-1 is published, before any of D's own data exists.
            "raw": dg.AssetIn(
                RAW,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-LOOKBACK_DAYS, end_offset=-1
                ),
            )
        },
        io_manager_key="parquet_io_manager",
        metadata={PARTITION_COLUMN: TIME},
        group_name="forecasting",
        kinds={"pandas", "parquet"},
        automation_condition=recent_eager(settings),
        description="Day-ahead features per series and hour, from the data before 00:00 UTC of "
        "the day.",
    )
    def consumption_features(context: dg.AssetExecutionContext, raw: pd.DataFrame) -> dg.Output:
        start, end = window(context)
        # The target is left out: it is not known at forecast time, and monitoring scores the
        # forecasts against the raw actuals.
        frame = build_features(raw, days_of(start, end)).drop(columns=[VALUE, TARGET])
        complete = frame[FEATURES].notna().all(axis=1)
        return dg.Output(
            frame,
            metadata=metadata_values(
                {"rows": len(frame), "complete_rows_share": float(complete.mean())}
            ),
        )

    @dg.asset(
        key=PARAMS_KEY,
        deps=[RAW],
        io_manager_key="parquet_io_manager",
        metadata={STORAGE_FORMAT: "json"},
        group_name="forecasting",
        kinds={"optuna", "mlflow"},
        description="Best LightGBM parameters from an Optuna study over the recent weeks.",
    )
    def model_hyperparameters(
        context: dg.AssetExecutionContext,
        config: HyperparameterConfig,
        mlflow_tracking: MlflowResource,
        parquet_io_manager: dg.ResourceParam[ParquetIOManager],
    ) -> dg.Output:
        import mlflow

        from energy_assets.forecasting.tuning import load_search_space, tune

        stored = parquet_io_manager.stored_partitions(RAW)
        if not stored:
            raise dg.Failure("no raw_consumption partitions stored yet; materialize them first")
        end = pd.Timestamp(config.end_date or stored[-1], tz="UTC") + pd.Timedelta(days=1)
        valid_start = end - pd.Timedelta(days=settings.validation_days)
        train_start = valid_start - pd.Timedelta(weeks=settings.training_weeks)
        wanted = [
            d.strftime("%Y-%m-%d")
            for d in days_of(train_start - pd.Timedelta(days=LOOKBACK_DAYS), end)
        ]
        raw = parquet_io_manager.read_window(RAW, [k for k in wanted if k in set(stored)])
        features = build_features(raw, days_of(train_start, end))
        train, valid = (
            features[features[ORIGIN] < valid_start],
            features[features[ORIGIN] >= valid_start],
        )
        space = load_search_space(overrides=config.search_space)
        # A changed search space must not resume a study of another space.
        digest = hashlib.sha1(json.dumps(space, sort_keys=True).encode()).hexdigest()[:8]
        study_name = config.study_name or f"forecast-{(end - pd.Timedelta(days=1)).date()}-{digest}"

        mlflow_tracking.activate()
        with mlflow.start_run(run_name=f"model_hyperparameters {study_name}") as parent:
            mlflow.set_tags({"study": study_name, "dagster_run_id": context.run_id})

            def on_trial(
                number: int, params: dict[str, Any], value: float | None, state: str
            ) -> None:
                with mlflow.start_run(run_name=f"trial {number}", nested=True):
                    mlflow.log_params({k: str(v) for k, v in params.items()})
                    mlflow.set_tag("state", state)
                    if value is not None:
                        mlflow.log_metric("valid_wape", value)

            result = tune(
                train,
                valid,
                space,
                storage=settings.study_storage,
                study_name=study_name,
                n_trials=config.n_trials,
                timeout_seconds=config.timeout_seconds,
                seed=config.seed,
                on_trial=on_trial,
            )
            mlflow.log_params({f"best.{k}": str(v) for k, v in result.best_params.items()})
            mlflow.log_metric("best_valid_wape", result.best_value)
        record = {
            "params": result.best_params,
            "valid_wape": result.best_value,
            "study": study_name,
            "trials": result.trials,
            "completed": result.completed,
            "pruned": result.pruned,
            "train_start": str(train_start.date()),
            "valid_start": str(valid_start.date()),
            "end": str(end.date()),
            "mlflow_run_id": parent.info.run_id,
        }
        return dg.Output(record, metadata=metadata_values({**record, "params": result.best_params}))

    @dg.asset(
        key=MODEL_KEY,
        partitions_def=weeks,
        ins={
            "raw": dg.AssetIn(
                RAW,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-settings.training_weeks, end_offset=-1
                ),
            ),
            "hyperparameters": dg.AssetIn(PARAMS_KEY),
        },
        io_manager_key="parquet_io_manager",
        metadata={STORAGE_FORMAT: "json"},
        group_name="forecasting",
        kinds={"lightgbm", "mlflow"},
        automation_condition=recent_eager(settings),
        description="The week's LightGBM model, trained only on data before the week starts.",
    )
    def forecast_model(
        context: dg.AssetExecutionContext,
        raw: pd.DataFrame,
        hyperparameters: dict[str, Any],
        mlflow_tracking: MlflowResource,
    ) -> dg.Output:
        week_start, _ = window(context)
        week = context.partition_key
        if raw.empty or raw[TIME].max() < week_start - pd.Timedelta(
            days=settings.validation_days + 1
        ):
            raise dg.Failure(f"week {week}: no raw data in the weeks before {week_start.date()}")
        first_day = raw[TIME].min().ceil("D") + pd.Timedelta(days=1)
        features = build_features(raw, days_of(first_day, week_start))
        valid_start = week_start - pd.Timedelta(days=settings.validation_days)
        train = features[features[ORIGIN] < valid_start]
        valid = features[features[ORIGIN] >= valid_start]
        params = dict(hyperparameters["params"])

        # Validation: a model of the earlier days judged on the last days before the week.
        checked = fit(train, params, quantiles=())
        checked_forecast = predict(checked, valid)[PREDICTION].to_numpy()
        validation = validation_metrics(valid, checked_forecast, raw)
        # The week's model: every day before the week.
        model = fit(features, params)
        forecast = predict(model, valid)
        finite = bool(
            np.isfinite(forecast[[PREDICTION, P10, P90]].to_numpy()).all()
            and (forecast[[PREDICTION, P10, P90]].to_numpy() >= 0).all()
        )
        mlflow_tracking.activate()
        flat = {f"valid_{m}_{k}": v for m, s in validation.items() for k, v in s.items()}
        version = tracking.log_forecast_model(
            model,
            registered_model=mlflow_tracking.registered_model,
            week=week,
            params=params,
            tags={
                "train_start": str(first_day.date()),
                "train_end": str(week_start.date()),
                "valid_start": str(valid_start.date()),
                "dagster_run_id": context.run_id,
                "hyperparameters_study": str(hyperparameters.get("study")),
            },
            metrics=flat,
            input_example=valid[FEATURES].head(5),
        )
        record = {
            "week": week,
            "model_uri": version.uri,
            "model_name": version.name,
            "model_version": version.version,
            "mlflow_run_id": version.run_id,
            "train_start": str(first_day.date()),
            "train_end": str(week_start.date()),
            "valid_start": str(valid_start.date()),
            "params": params,
            "validation": validation,
            "forecasts_finite_non_negative": finite,
        }
        context.log.info(f"week {week}: registered {version.uri}")
        return dg.Output(
            record,
            metadata=metadata_values(
                {
                    "model_uri": version.uri,
                    "model_version": int(version.version),
                    "valid_wape": validation["model"]["wape"],
                    "valid_mape_median": validation["model"]["mape_median"],
                    "naive_24h_wape": validation["naive_24h"]["wape"],
                    "naive_168h_wape": validation["naive_168h"]["wape"],
                    "train_window": f"{first_day.date()} .. {week_start.date()}",
                }
            ),
        )

    @dg.asset_check(
        asset=forecast_model,
        name=GATE,
        blocking=True,
        partitions_def=weeks,
        description="Beats both seasonal-naive baselines on its validation window (WAPE and median "
        "MAPE) and forecasts finite, non-negative values; a pass makes the version champion.",
    )
    def promotion_gate(
        context: dg.AssetCheckExecutionContext,
        forecast_model: dict[str, Any],
        mlflow_tracking: MlflowResource,
    ) -> dg.AssetCheckResult:
        [record] = forecast_model.values()
        passed, problems = gate_verdict(record)
        mlflow_tracking.activate()
        tracking.record_gate(record["model_name"], record["model_version"], passed)
        promoted = passed and tracking.promote(
            record["model_name"], record["model_version"], record["week"]
        )
        return dg.AssetCheckResult(
            passed=passed,
            description="; ".join(problems) if problems else f"{record['model_uri']} may serve",
            metadata=metadata_values(
                {"model_uri": record["model_uri"], "champion": promoted, "problems": problems}
            ),
        )

    @dg.asset(
        key=PREDICTIONS_KEY,
        partitions_def=pred_days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={
            "features": dg.AssetIn(FEATURES_KEY),
            "models": dg.AssetIn(MODEL_KEY),
        },
        io_manager_key="parquet_io_manager",
        metadata={PARTITION_COLUMN: TIME},
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        automation_condition=recent_eager(settings),
        freshness_policy=DAILY_FRESHNESS,
        description="Hourly forecasts with P10/P90 per series, from the model of the day's week.",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        models: dict[str, dict[str, Any]],
        mlflow_tracking: MlflowResource,
    ) -> dg.Output:
        start, end = window(context)
        parts, used = [], {}
        for day in days_of(start, end):
            week = weeks.get_partition_key_for_timestamp(day.timestamp())
            record = models[week]
            # The gate blocks downstream steps only in its own run; its verdict, kept on the
            # version, keeps a failed model out of every later run too.
            status = tracking.gate_status(record["model_uri"], mlflow_tracking.tracking_uri)
            if status != "passed":
                raise dg.Failure(
                    f"{day.date()}: {record['model_uri']} (week {week}) has promotion gate "
                    f"status {status!r}; retrain that week before predicting with it"
                )
            model = tracking.load_forecast_model(record["model_uri"], mlflow_tracking.tracking_uri)
            rows = features[features[ORIGIN] == day]
            out = predict(model, rows)
            out["model_version"] = record["model_uri"]
            parts.append(out)
            used[str(day.date())] = record["model_uri"]
        frame = pd.concat(parts, ignore_index=True)
        versions = sorted(set(used.values()))
        return dg.Output(
            frame,
            metadata=metadata_values(
                {
                    "rows": len(frame),
                    "model_version": versions[0] if len(versions) == 1 else ", ".join(versions),
                    "model_versions_by_day": used if len(used) > 1 else None,
                }
            ),
        )

    return [consumption_features, model_hyperparameters, forecast_model, predictions], [
        promotion_gate
    ]
