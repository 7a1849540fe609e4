"""MLflow as a Dagster resource: where runs are tracked and models registered."""

from __future__ import annotations

import dagster as dg

from energy_assets.domain import tracking
from energy_assets.settings import Settings


class MlflowResource(dg.ConfigurableResource):
    """Tracking URI, experiment and registered-model name; MLflow itself is imported lazily."""

    tracking_uri: str
    artifact_root: str | None = None
    experiment: str = "energy-forecasting"
    registered_model: str = "energy-consumption-forecast"

    @classmethod
    def from_settings(cls, settings: Settings) -> MlflowResource:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            tracking_uri=settings.tracking_uri,
            artifact_root=None if settings.mlflow_tracking_uri else settings.artifact_root,
            experiment=settings.mlflow_experiment,
            registered_model=settings.registered_model,
        )

    def activate(self) -> str:
        """Configure the MLflow client for this process; returns the experiment id."""
        return tracking.configure(self.tracking_uri, self.experiment, self.artifact_root)
