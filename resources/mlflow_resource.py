"""MLflow as a Dagster resource: where runs are tracked and models registered."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from energy_assets.domain import tracking
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
