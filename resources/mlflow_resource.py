"""MLflow as a Dagster resource: where runs are tracked and models registered, and the
registry's reads and writes that the assets and checks make (through
energy_assets/domain/tracking.py, which the dashboard and the CLI use directly)."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from energy_assets.domain import tracking
from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.model import ForecastModel
from energy_assets.domain.forecasting.serving_rules import Serving
from energy_assets.settings import Settings, secret_env_var


class MlflowResource(dg.ConfigurableResource):
    """Tracking URI, experiment and registered-model name; MLflow itself is imported lazily.

    A tracking URI may carry credentials (postgresql://user:pw@host/db, https://user:pw@host):
    one set in the environment is passed as `EnvVar("MLFLOW_TRACKING_URI")` (or
    ENERGY_MLFLOW_TRACKING_URI when that is where it was set), so the Dagster UI and GraphQL
    show only the variable's name (the field is marked secret too, for a value given directly)."""

    tracking_uri: str = Field(json_schema_extra={"dagster__is_secret": True})
    artifact_root: str | None = None
    experiment: str = "energy-forecasting"
    registered_model: str = "energy-consumption-forecast"

    @classmethod
    def from_settings(cls, settings: Settings) -> MlflowResource:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        env_var = secret_env_var(settings, "mlflow_tracking_uri")
        local = settings.mlflow_tracking_uri is None  # the SQLite store in state_dir
        return cls(
            tracking_uri=dg.EnvVar(env_var) if env_var else settings.tracking_uri,
            artifact_root=settings.artifact_root if local else None,
            experiment=settings.mlflow_experiment,
            registered_model=settings.registered_model,
        )

    def activate(self) -> str:
        """Configure the MLflow client for this process; returns the experiment id."""
        return tracking.configure(self.tracking_uri, self.experiment, self.artifact_root)

    def load_forecaster(self, uri: str) -> Forecaster:
        """The forecaster of an explicit version (`models:/<name>/<version>`), as MLflow
        serves it."""
        return tracking.load_forecaster(uri, self.tracking_uri)

    def version_tags(self, uri: str) -> dict[str, str]:
        return tracking.version_tags(uri, self.tracking_uri)

    def version_week(self, uri: str) -> str | None:
        """The week a version was trained for, from its tags."""
        return self.version_tags(uri).get(tracking.WEEK_TAG)

    def serving(self, week: str, *, require_approval: bool) -> Serving | None:
        """The version that serves `week` (serving_rules.serving_of over the registry)."""
        return tracking.newest_eligible(
            self.registered_model, week, self.tracking_uri, require_approval=require_approval
        )

    def champion_uri(self, registered_model: str | None = None) -> str | None:
        return tracking.champion_uri(registered_model or self.registered_model, self.tracking_uri)

    def judge(
        self, name: str, version: str, week: str, passed: bool, require_approval: bool
    ) -> bool:
        """Record the promotion gate's verdict on the version, then make it champion where it
        may serve (with approval required, a pass is a candidate until a person approves);
        whether it became champion."""
        self.activate()
        tracking.record_gate(name, version, passed, require_approval=require_approval)
        return passed and tracking.promote(
            name, version, week, require_approval=require_approval, tracking_uri=self.tracking_uri
        )

    def log_text(self, run_id: str, text: str, artifact: str) -> None:
        tracking.log_text(run_id, text, artifact, self.tracking_uri)

    def log_model(self, model: ForecastModel, **logged: Any) -> tracking.ModelVersion:
        """Log the forecaster as an MLflow run and register it as a new version
        (tracking.log_forecast_model's arguments beside the model)."""
        self.activate()
        return tracking.log_forecast_model(model, registered_model=self.registered_model, **logged)
