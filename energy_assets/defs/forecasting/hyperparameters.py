"""`model_hyperparameters`: an Optuna study over the recent weeks, its trials as MLflow runs."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from energy_assets import names
from energy_assets.defs.forecasting.features import features_from_storage
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import STORAGE_FORMAT


class HyperparameterConfig(dg.Config):
    n_trials: int = Field(default=20, ge=1, description="trials the study should reach in total")
    timeout_seconds: float = Field(default=900, gt=0, description="wall-time budget of this run")
    study_name: str | None = Field(default=None, description="default: one per window end")
    end_date: str | None = Field(default=None, description="last day of data (default: newest)")
    search_space: dict[str, Any] = Field(
        default_factory=dict, description="entries that replace those of search_space.yaml"
    )
    seed: int = 0


def build_model_hyperparameters(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.HYPERPARAMETERS,
        deps=[names.RAW],
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
        asset_storage: AssetStorage,
    ) -> dg.Output:
        stored = asset_storage.stored_partitions(dg.AssetKey(names.RAW))
        if not stored:
            raise dg.Failure("no raw_consumption partitions stored yet; materialize them first")
        end = pd.Timestamp(config.end_date or stored[-1], tz="UTC") + pd.Timedelta(days=1)
        valid_start = end - pd.Timedelta(days=settings.validation_days)
        train_start = valid_start - pd.Timedelta(weeks=settings.training_weeks)
        features = features_from_storage(asset_storage, settings, train_start, end, "the study")
        study = Study(features, valid_start, end, config, settings.study_storage, context.run_id)
        record = {
            **study.run(mlflow_tracking),
            "train_start": str(train_start.date()),
            "valid_start": str(valid_start.date()),
            "end": str(end.date()),
        }
        return dg.Output(record, metadata=record)

    return model_hyperparameters


@dataclass(frozen=True)
class Study:
    features: pd.DataFrame  # of the training days, then the validation days
    valid_start: pd.Timestamp
    end: pd.Timestamp  # the day after the last day of data
    config: HyperparameterConfig
    storage: str  # Optuna storage URL
    run_id: str  # of the Dagster run, tagged on the MLflow run

    def name(self, space: dict[str, Any]) -> str:
        """The configured name, else one per window end and search space: a changed search
        space must not resume a study of another space."""
        digest = hashlib.sha1(json.dumps(space, sort_keys=True).encode()).hexdigest()[:8]
        last_day = (self.end - pd.Timedelta(days=1)).date()
        return self.config.study_name or f"forecast-{last_day}-{digest}"

    def run(self, mlflow_tracking: MlflowResource) -> dict[str, Any]:
        """The study as an MLflow run with one nested run per trial; its record for storage."""
        import mlflow

        from energy_assets.domain.forecasting.tuning import load_search_space, tune

        space = load_search_space(overrides=self.config.search_space)
        name = self.name(space)
        origin = self.features[ORIGIN]
        train = self.features[origin < self.valid_start]
        valid = self.features[origin >= self.valid_start]
        mlflow_tracking.activate()
        with mlflow.start_run(run_name=f"model_hyperparameters {name}") as parent:
            mlflow.set_tags({"study": name, "dagster_run_id": self.run_id})
            result = tune(
                train,
                valid,
                space,
                storage=self.storage,
                study_name=name,
                n_trials=self.config.n_trials,
                timeout_seconds=self.config.timeout_seconds,
                seed=self.config.seed,
                on_trial=_log_trial,
            )
            mlflow.log_params({f"best.{k}": str(v) for k, v in result.best_params.items()})
            mlflow.log_metric("best_valid_wape", result.best_value)
        return {
            "params": result.best_params,
            "valid_wape": result.best_value,
            "study": name,
            "trials": result.trials,
            "completed": result.completed,
            "pruned": result.pruned,
            "mlflow_run_id": parent.info.run_id,
        }


def _log_trial(number: int, params: dict[str, Any], value: float | None, state: str) -> None:
    """One trial as a run nested in the study's run."""
    import mlflow

    with mlflow.start_run(run_name=f"trial {number}", nested=True):
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.set_tag("state", state)
        if value is not None:
            mlflow.log_metric("valid_wape", value)
