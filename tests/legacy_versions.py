"""Versions as the registry held them before the forecaster was the MLflow model: the point
booster in LightGBM's flavour, the rest of the forecaster as text artifacts of the run (with a
manifest). Written here the way that code wrote them, to show such versions keep serving."""

from __future__ import annotations

from typing import Any

from energy_assets.domain.booster_versions import CALIBRATION, LEAD_BANDS, MANIFEST
from energy_assets.domain.forecasting.model import ForecastModel
from energy_assets.domain.forecasting.serving_rules import WEEK_TAG
from energy_assets.domain.tracking import ModelVersion


def log_booster_version(
    model: ForecastModel, registered_model: str, week: str, tracking_uri: str
) -> ModelVersion:
    import mlflow
    import mlflow.lightgbm
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    artifacts: list[str] = []
    with mlflow.start_run(run_name=f"forecast_model {week} (booster format)") as run:
        mlflow.set_tags({WEEK_TAG: week})
        for alpha, booster in model.quantiles.items():
            artifacts.append(f"quantiles/{alpha:g}.txt")
            mlflow.log_text(booster.model_to_string(), artifacts[-1])
        for index, booster in enumerate(model.members, start=1):
            artifacts.append(f"members/{index}.txt")
            mlflow.log_text(booster.model_to_string(), artifacts[-1])
        mlflow.log_dict({"band_widening": model.band_widening}, CALIBRATION)
        artifacts.append(CALIBRATION)
        if model.further is not None:
            for index, booster in enumerate([model.further.point, *model.further.members]):
                artifacts.append(f"further/{index}.txt")
                mlflow.log_text(booster.model_to_string(), artifacts[-1])
            bands = {str(lead): list(band) for lead, band in model.lead_bands.items()}
            mlflow.log_dict(bands, LEAD_BANDS)
            artifacts.append(LEAD_BANDS)
        mlflow.log_dict({"artifacts": artifacts}, MANIFEST)
        example: Any = pd.DataFrame({name: [0.0] for name in model.point.feature_name()})
        info = mlflow.lightgbm.log_model(
            model.point,
            name="model",
            signature=mlflow.models.infer_signature(example),
            registered_model_name=registered_model,
            pip_requirements=["lightgbm"],
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_model_version_tag(registered_model, version, WEEK_TAG, week)
    return ModelVersion(registered_model, version, run.info.run_id)
