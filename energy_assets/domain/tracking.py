"""MLflow tracking and registry for forecast models (no Dagster imports).

A registered version holds the point model in MLflow's LightGBM flavour; the P10/P90 boosters
and the ensemble's further point models are text artifacts of the same run. Loading goes
through an explicit version (`models:/name/3`), never an alias or "latest", so a prediction
always uses the model its record names.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from energy_assets.domain.forecasting.importance import importance_figure
from energy_assets.domain.forecasting.model import ForecastModel
from energy_assets.domain.forecasting.serving_rules import (
    APPROVAL_AT_TAG,
    APPROVAL_BY_TAG,
    APPROVAL_REASON_TAG,
    APPROVAL_TAG,
    APPROVED,
    CANDIDATE,
    GATE_TAG,
    NOT_REQUIRED,
    REJECTED,
    WEEK_TAG,
    Serving,
    VersionInfo,
    eligible,
    serving_of,
)

CHAMPION = "champion"
CALIBRATION = "calibration.json"
MANIFEST = "manifest.json"  # the artifacts a version needs to forecast, written with them
LEAD_BANDS = "lead_bands.json"  # a version that forecasts further leads: each lead's band


class ModelArtifactsMissing(ValueError):
    """A registered version lacks artifacts it needs to forecast."""


# What loading a version's booster needs, pinned to the versions that trained it. Left to
# itself MLflow infers this list by loading the model in a subprocess: about 3 s of every
# weekly model run, for the same list (MLflow adds itself).
MODEL_REQUIREMENTS = ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy")


def model_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def configure(tracking_uri: str, experiment: str, artifact_root: str | None = None) -> str:
    """Point MLflow at the tracking store and make `experiment` current; returns its id."""
    import mlflow

    # Progress bars of artifact downloads would fill every run log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id
        if found
        else client.create_experiment(experiment, artifact_location=artifact_root)
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)


def _plain(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items()}


def log_forecast_model(
    model: ForecastModel,
    *,
    registered_model: str,
    week: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    input_example: pd.DataFrame,
) -> ModelVersion:
    """Log a weekly model as an MLflow run; register it as a new version tagged with its week."""
    import matplotlib.pyplot as plt
    import mlflow
    import mlflow.lightgbm

    with mlflow.start_run(run_name=f"forecast_model {week}") as run:
        mlflow.set_tags({**tags, WEEK_TAG: week})
        mlflow.log_params(_plain(params))
        mlflow.log_metrics(dict(metrics))
        importance = model.feature_importance()
        fig = importance_figure(importance)
        mlflow.log_figure(fig, "feature_importance.png")
        plt.close(fig)
        mlflow.log_dict(
            {str(k): float(v) for k, v in importance.items()}, "feature_importance.json"
        )
        for alpha, booster in model.quantiles.items():
            mlflow.log_text(booster.model_to_string(), f"quantiles/{alpha:g}.txt")
        for index, booster in enumerate(model.members, start=1):
            mlflow.log_text(booster.model_to_string(), f"members/{index}.txt")
        mlflow.log_dict({"band_widening": model.band_widening}, CALIBRATION)
        if model.further is not None:
            further = [model.further.point, *model.further.members]
            for index, booster in enumerate(further):
                mlflow.log_text(booster.model_to_string(), f"further/{index}.txt")
            bands = {str(lead): list(band) for lead, band in model.lead_bands.items()}
            mlflow.log_dict(bands, LEAD_BANDS)
        mlflow.log_dict({"artifacts": _artifacts_of(model)}, MANIFEST)
        mlflow.log_metric("band_widening", model.band_widening)
        with warnings.catch_warnings():
            # The integer columns are identity and calendar codes, never missing; MLflow's hint
            # about integer columns holding NaN does not apply.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            # A signature rather than an input example: MLflow would round-trip the example
            # through JSON, losing the categorical dtype the booster predicts with.
            info = mlflow.lightgbm.log_model(
                model.point,
                name="model",
                signature=mlflow.models.infer_signature(input_example),
                registered_model_name=registered_model,
                pip_requirements=model_requirements(),
            )
        version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_model_version_tag(registered_model, version, WEEK_TAG, week)
    return ModelVersion(registered_model, version, run.info.run_id)


def parse_version_uri(uri: str) -> tuple[str, str]:
    match = _VERSION_URI.match(uri)
    if not match:
        raise ValueError(
            f"{uri!r} is not a pinned model version; expected models:/<name>/<version number>"
        )
    return match["name"], match["version"]


@lru_cache(maxsize=32)
def load_forecast_model(uri: str, tracking_uri: str) -> ForecastModel:
    """The model of one explicit registered version, with its quantile boosters."""
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm

    name, version = parse_version_uri(uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(name, version).run_id
    if run_id is None:
        raise ValueError(f"{uri}: the model version names no MLflow run")
    point = mlflow.lightgbm.load_model(uri)

    def boosters(folder: str) -> dict[str, Any]:
        """The boosters stored as text artifacts in a folder of the run, by file stem."""
        out = {}
        for artifact in client.list_artifacts(run_id, folder):
            text = mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact.path}")
            out[artifact.path.rsplit("/", 1)[-1].removesuffix(".txt")] = lgb.Booster(model_str=text)
        return out

    _check_artifacts(uri, run_id, client)
    quantiles = {float(alpha): booster for alpha, booster in boosters("quantiles").items()}
    members = [b for _, b in sorted(boosters("members").items(), key=lambda kv: int(kv[0]))]
    stored = [a.path for a in client.list_artifacts(run_id) if a.path == CALIBRATION]
    widening = (
        float(mlflow.artifacts.load_dict(f"runs:/{run_id}/{CALIBRATION}")["band_widening"])
        if stored
        else 0.0
    )
    model = ForecastModel(point=point, quantiles=quantiles, members=members, band_widening=widening)
    if LEAD_BANDS in {a.path for a in client.list_artifacts(run_id)}:
        further = [b for _, b in sorted(boosters("further").items(), key=lambda kv: int(kv[0]))]
        model.further = ForecastModel(point=further[0], members=further[1:])
        bands = mlflow.artifacts.load_dict(f"runs:/{run_id}/{LEAD_BANDS}")
        model.lead_bands = {int(lead): (float(lo), float(hi)) for lead, (lo, hi) in bands.items()}
    return model


def _artifacts_of(model: ForecastModel) -> list[str]:
    return [
        *(f"quantiles/{alpha:g}.txt" for alpha in model.quantiles),
        *(f"members/{i}.txt" for i in range(1, len(model.members) + 1)),
        CALIBRATION,
        *(
            [*(f"further/{i}.txt" for i in range(1 + len(model.further.members))), LEAD_BANDS]
            if model.further is not None
            else []
        ),
    ]


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


def _client(tracking_uri: str | None = None) -> Any:
    import mlflow

    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def record_gate(
    registered_model: str, version: str, passed: bool, *, require_approval: bool = False
) -> None:
    """Keep the promotion gate's verdict on the version, where every later run can see it. A
    pass is marked a candidate first when a person must approve it, so no reader ever sees it
    as passed without its approval state."""
    client = _client()
    if passed:
        state = CANDIDATE if require_approval else NOT_REQUIRED
        client.set_model_version_tag(registered_model, version, APPROVAL_TAG, state)
    client.set_model_version_tag(
        registered_model, version, GATE_TAG, "passed" if passed else "failed"
    )


def log_text(run_id: str, text: str, artifact: str, tracking_uri: str) -> None:
    _client(tracking_uri).log_text(run_id, text, artifact)


def version_tags(uri: str, tracking_uri: str) -> dict[str, str]:
    name, version = parse_version_uri(uri)
    return dict(_client(tracking_uri).get_model_version(name, version).tags or {})


def gate_status(uri: str, tracking_uri: str) -> str | None:
    """'passed', 'failed', or None when the gate never judged this version."""
    return version_tags(uri, tracking_uri).get(GATE_TAG)


def list_versions(registered_model: str, tracking_uri: str) -> list[VersionInfo]:
    """Every registered version of the model, newest first."""
    found = _client(tracking_uri).search_model_versions(f"name = '{registered_model}'")
    return sorted((VersionInfo.of(v) for v in found), key=lambda v: -int(v.version))


def get_version(registered_model: str, version: str, tracking_uri: str) -> VersionInfo | None:
    import mlflow

    try:
        return VersionInfo.of(_client(tracking_uri).get_model_version(registered_model, version))
    except mlflow.exceptions.MlflowException:
        return None


def newest_eligible(
    registered_model: str, week: str, tracking_uri: str, *, require_approval: bool = False
) -> Serving | None:
    """The version that serves `week`: a failed, rejected or (when approval is required)
    unapproved model never takes over, and serving never stops while an earlier one is good."""
    return serving_of(list_versions(registered_model, tracking_uri), week, require_approval)


def champion_uri(registered_model: str, tracking_uri: str) -> str | None:
    """`models:/<name>/<version>` of the version holding the champion alias, or None."""
    import mlflow

    client = _client(tracking_uri)
    try:
        version = client.get_model_version_by_alias(registered_model, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    return f"models:/{registered_model}/{version.version}"


def promote(
    registered_model: str,
    version: str,
    week: str,
    *,
    require_approval: bool = False,
    tracking_uri: str | None = None,
) -> bool:
    """Give `version` the champion alias unless it may not serve (gate, rejection, or approval
    still pending when required) or the champion is of a later week."""
    import mlflow

    client = _client(tracking_uri)
    tags = client.get_model_version(registered_model, version).tags or {}
    if not eligible(tags, require_approval):
        return False
    try:
        current = client.get_model_version_by_alias(registered_model, CHAMPION)
        current_week = (current.tags or {}).get(WEEK_TAG, "")
        if current_week > week:
            return False
    except mlflow.exceptions.MlflowException:
        pass  # no champion yet
    client.set_registered_model_alias(registered_model, CHAMPION, version)
    return True


def record_decision(
    registered_model: str,
    version: str,
    decision: str,
    *,
    by: str,
    at: str,
    reason: str,
    tracking_uri: str | None = None,
) -> str | None:
    """Keep a person's decision on a candidate in its tags (state last, so the state is never
    newer than who, when and why), then move the champion alias:

    - approved: the version becomes champion unless the champion is of a later week;
    - rejected: a rejected version never holds the alias. Should it hold it (approval switched
      on after the gate promoted it), the alias goes back to the newest eligible version, or
      is removed when there is none: no champion is better than a rejected one.

    Returns the champion's version afterwards (None when there is none)."""
    import mlflow

    if decision not in (APPROVED, REJECTED):
        raise ValueError(f"decision must be {APPROVED!r} or {REJECTED!r}, not {decision!r}")
    client = _client(tracking_uri)
    client.set_model_version_tag(registered_model, version, APPROVAL_BY_TAG, by)
    client.set_model_version_tag(registered_model, version, APPROVAL_AT_TAG, at)
    client.set_model_version_tag(registered_model, version, APPROVAL_REASON_TAG, reason)
    client.set_model_version_tag(registered_model, version, APPROVAL_TAG, decision)
    info = get_version(registered_model, version, client.tracking_uri)
    week = info.week if info else ""
    if decision == APPROVED:
        promote(
            registered_model,
            version,
            week,
            require_approval=True,
            tracking_uri=client.tracking_uri,
        )
    else:
        try:
            current = str(client.get_model_version_by_alias(registered_model, CHAMPION).version)
        except mlflow.exceptions.MlflowException:
            current = None
        if current == version:
            versions = list_versions(registered_model, client.tracking_uri)
            newest = max((v.week for v in versions), default="")
            fallback = serving_of(versions, newest, True, exclude=version)
            if fallback is None:
                client.delete_registered_model_alias(registered_model, CHAMPION)
            else:
                _, best = parse_version_uri(fallback.uri)
                client.set_registered_model_alias(registered_model, CHAMPION, best)
    found = champion_uri(registered_model, client.tracking_uri)
    return parse_version_uri(found)[1] if found else None
