"""MLflow tracking and registry for forecast models (no Dagster imports).

A registered version is the whole forecaster as an MLflow pyfunc model (served_forecaster.py).
Loading goes through an explicit version (`models:/name/3`), never an alias or "latest", so a
prediction always uses the model its record names.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from energy_assets.domain.booster_versions import load_booster_version
from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.forecaster_files import (
    ARTIFACT,
    check_forecaster_files,
    save_forecaster,
)
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
# The file MLflow runs to make the served model when it loads a version (models-from-code).
SERVED_MODEL_CODE = Path(__file__).with_name("served_model_code.py")

# What the served forecaster imports, pinned to the versions that trained it (MLflow adds
# itself). Left to itself MLflow infers this list by loading the model in a subprocess: about
# 3 s of every weekly model run, for the same list.
MODEL_REQUIREMENTS = (
    "cloudpickle",
    "holidays",
    "lightgbm",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
)


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
) -> ModelVersion:
    """Log a weekly model as an MLflow run; register the whole forecaster as a new version
    tagged with its week."""
    import matplotlib.pyplot as plt
    import mlflow

    from energy_assets.domain.served_forecaster import model_metadata, signature

    forecaster = Forecaster(model)
    with mlflow.start_run(run_name=f"forecast_model {week}") as run, TemporaryDirectory() as tmp:
        mlflow.set_tags({**tags, WEEK_TAG: week})
        mlflow.log_params(_plain(params))
        mlflow.log_metrics({**metrics, "band_widening": model.band_widening})
        importance = model.feature_importance()
        fig = importance_figure(importance)
        mlflow.log_figure(fig, "feature_importance.png")
        plt.close(fig)
        mlflow.log_dict(
            {str(k): float(v) for k, v in importance.items()}, "feature_importance.json"
        )
        folder = Path(tmp) / ARTIFACT
        save_forecaster(forecaster, folder)
        with warnings.catch_warnings():
            # An example request is weeks of hourly history of every series: the signature
            # and the metadata document the form instead.
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(SERVED_MODEL_CODE),
                artifacts={ARTIFACT: str(folder)},
                code_paths=[str(_code_copy(Path(tmp)))],
                signature=signature(forecaster),
                metadata=model_metadata(forecaster),
                registered_model_name=registered_model,
                pip_requirements=model_requirements(),
            )
        version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_model_version_tag(registered_model, version, WEEK_TAG, week)
    return ModelVersion(registered_model, version, run.info.run_id)


def _code_copy(tmp: Path) -> Path:
    """The package's pure forecasting code (its domain layer), which the served model imports:
    an image of `mlflow models build-docker` has no other copy."""
    import energy_assets

    source = Path(energy_assets.__file__).parent
    target = tmp / "code" / source.name
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source / "domain", target / "domain", ignore=ignore)
    shutil.copy2(source / "__init__.py", target / "__init__.py")
    return target


def parse_version_uri(uri: str) -> tuple[str, str]:
    match = _VERSION_URI.match(uri)
    if not match:
        raise ValueError(
            f"{uri!r} is not a pinned model version; expected models:/<name>/<version number>"
        )
    return match["name"], match["version"]


@lru_cache(maxsize=32)
def load_forecaster(uri: str, tracking_uri: str) -> Forecaster:
    """The forecaster of one explicit registered version, loaded as MLflow loads it for
    serving (`mlflow.pyfunc.load_model`); a version registered before the forecaster was the
    model, from its run's artifacts."""
    import mlflow
    from mlflow.models import Model

    name, version = parse_version_uri(uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(name, version).run_id
    if run_id is None:
        raise ValueError(f"{uri}: the model version names no MLflow run")
    # Downloaded once, into a folder removed once the boosters are in memory: a backfill loads
    # a version per week, and a long-lived process would keep every copy.
    with TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        if "lightgbm" in Model.load(str(local)).flavors:  # the former format: a booster
            return load_booster_version(uri, run_id, client, local)
        check_forecaster_files(local / "artifacts" / ARTIFACT, uri)
        # The model's copy of the code goes first on sys.path while it loads; this process
        # already runs the same package, and keeps its own path.
        path = list(sys.path)
        try:
            served = mlflow.pyfunc.load_model(str(local))
        finally:
            sys.path[:] = path
        return served.unwrap_python_model().forecaster  # type: ignore[no-any-return]


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
