"""Forecasting: features, the hyperparameter study, weekly models behind their promotion gate,
predictions, and the retune job that the MAPE alert sensor requests."""

from __future__ import annotations

import dagster as dg

from energy_assets import names
from energy_assets.defs.forecasting.features import build_consumption_features
from energy_assets.defs.forecasting.hyperparameters import build_model_hyperparameters
from energy_assets.defs.forecasting.models import build_forecast_model, build_promotion_gate
from energy_assets.defs.forecasting.predictions import build_predictions
from energy_assets.defs.loading import current
from energy_assets.defs.partitions import Partitions
from sensors.approval import build_model_approval_sensor


def build_retune_job(partitions: Partitions) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        names.RETUNE_JOB,
        selection=dg.AssetSelection.assets(names.HYPERPARAMETERS, names.MODEL),
        partitions_def=partitions.weeks,
        description="A new Optuna study on the newest data, then the week's model behind its "
        "promotion gate. Requested by mape_alert_sensor on ALERT.",
    )


@dg.definitions
def defs() -> dg.Definitions:
    settings, partitions = current()
    return dg.Definitions(
        assets=[
            build_consumption_features(settings, partitions),
            build_model_hyperparameters(settings),
            build_forecast_model(settings, partitions),
            build_predictions(settings, partitions),
        ],
        asset_checks=[build_promotion_gate(partitions, settings.require_approval)],
        jobs=[build_retune_job(partitions)],
        sensors=[build_model_approval_sensor(settings)],
    )
