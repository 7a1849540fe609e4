"""Versions registered before the forecaster was the registered model: their MLflow model is
the point booster in LightGBM's flavour, and the rest of the forecaster (ensemble members,
P10/P90 boosters, band calibration, further leads) are text artifacts of their run. They keep
serving in the pipeline through the same `Forecaster`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.forecaster_files import ModelArtifactsMissing
from energy_assets.domain.forecasting.model import ForecastModel

CALIBRATION = "calibration.json"
MANIFEST = "manifest.json"  # the artifacts a version needs to forecast, written with them
LEAD_BANDS = "lead_bands.json"  # a version that forecasts further leads: each lead's band


def load_booster_version(uri: str, run_id: str, client: Any, local: Path) -> Forecaster:
    """The forecaster of a version logged in LightGBM's flavour (its MLflow model downloaded
    to `local`), the rest from its run's artifacts."""
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm

    point = mlflow.lightgbm.load_model(str(local))

    def boosters(folder: str) -> dict[str, Any]:
        """The boosters stored as text artifacts in a folder of the run, by file stem."""
        out = {}
        for artifact in client.list_artifacts(run_id, folder):
            text = mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact.path}")
            out[artifact.path.rsplit("/", 1)[-1].removesuffix(".txt")] = lgb.Booster(model_str=text)
        return out

    _check_artifacts(uri, run_id, client)
    top = {a.path for a in client.list_artifacts(run_id)}
    quantiles = {float(alpha): booster for alpha, booster in boosters("quantiles").items()}
    members = [b for _, b in sorted(boosters("members").items(), key=lambda kv: int(kv[0]))]
    widening = (
        float(mlflow.artifacts.load_dict(f"runs:/{run_id}/{CALIBRATION}")["band_widening"])
        if CALIBRATION in top
        else 0.0
    )
    model = ForecastModel(point=point, quantiles=quantiles, members=members, band_widening=widening)
    if LEAD_BANDS in top:
        further = [b for _, b in sorted(boosters("further").items(), key=lambda kv: int(kv[0]))]
        model.further = ForecastModel(point=further[0], members=further[1:])
        bands = mlflow.artifacts.load_dict(f"runs:/{run_id}/{LEAD_BANDS}")
        model.lead_bands = {int(lead): (float(lo), float(hi)) for lead, (lo, hi) in bands.items()}
    return Forecaster(model)


def _check_artifacts(uri: str, run_id: str, client: Any) -> None:
    """Every artifact the version was logged with is there; a version logged before the
    manifest needs at least its P10/P90 models. A model short of one would forecast without
    its band or its ensemble members, silently."""
    import mlflow

    def listed(folder: str | None = None) -> set[str]:
        return {a.path for a in client.list_artifacts(run_id, folder)}

    top = listed()
    if MANIFEST in top:
        needed = list(mlflow.artifacts.load_dict(f"runs:/{run_id}/{MANIFEST}")["artifacts"])
    else:
        needed = ["quantiles/0.1.txt", "quantiles/0.9.txt"]
    folders = {path.rsplit("/", 1)[0] for path in needed if "/" in path}
    present = top.union(*(listed(folder) for folder in folders))
    missing = [path for path in needed if path not in present]
    if missing:
        raise ModelArtifactsMissing(
            f"{uri} (MLflow run {run_id}) lacks the artifacts {missing}; "
            "retrain its week to register a complete version"
        )
