"""A forecaster as files: its boosters (the ensemble, the quantile models, the further leads'
models) and its band calibration in one folder, the artifact of its registered MLflow model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.model import ForecastModel

ARTIFACT = "forecaster"  # the model's artifact: a folder of boosters and `forecaster.json`
CONFIG = "forecaster.json"
FORMAT = 1


class ModelArtifactsMissing(ValueError):
    """A registered version lacks artifacts it needs to forecast."""


def save_forecaster(forecaster: Forecaster, folder: Path) -> list[str]:
    """Write the forecaster's boosters and calibration into `folder`; the files written."""
    model = forecaster.model
    boosters = {"point.txt": model.point}
    boosters.update({f"members/{i}.txt": b for i, b in enumerate(model.members, start=1)})
    boosters.update({f"quantiles/{alpha:g}.txt": b for alpha, b in model.quantiles.items()})
    if model.further is not None:
        further = [model.further.point, *model.further.members]
        boosters.update({f"further/{i}.txt": b for i, b in enumerate(further)})
    for name, booster in boosters.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(folder / name))
    config = {
        "format": FORMAT,
        "files": sorted(boosters),
        "band_widening": model.band_widening,
        "lead_bands": {str(lead): list(band) for lead, band in model.lead_bands.items()},
    }
    (folder / CONFIG).write_text(json.dumps(config, indent=1))
    return [CONFIG, *sorted(boosters)]


def check_forecaster_files(folder: Path, where: str) -> list[str]:
    """The files of the forecaster saved in `folder`, every one of them there; `where` names
    the version in the error. A model short of one would forecast without its band or its
    ensemble members, silently."""
    if not (folder / CONFIG).is_file():
        raise ModelArtifactsMissing(f"{where} lacks its {ARTIFACT}/{CONFIG}")
    files = list(json.loads((folder / CONFIG).read_text())["files"])
    missing = [f"{ARTIFACT}/{f}" for f in files if not (folder / f).is_file()]
    if missing:
        raise ModelArtifactsMissing(
            f"{where} lacks the artifacts {missing}; retrain its week to register a complete "
            "version"
        )
    return files


def load_forecaster(folder: Path, where: str) -> Forecaster:
    """The forecaster saved in `folder`; `where` names the version in errors."""
    import lightgbm as lgb

    files = check_forecaster_files(folder, where)
    config = json.loads((folder / CONFIG).read_text())

    def boosters(prefix: str) -> list[tuple[str, Any]]:
        found = [f for f in files if f.startswith(f"{prefix}/")]
        stems = sorted(found, key=lambda f: float(Path(f).stem))
        return [(Path(f).stem, lgb.Booster(model_file=str(folder / f))) for f in stems]

    model = ForecastModel(
        point=lgb.Booster(model_file=str(folder / "point.txt")),
        members=[b for _, b in boosters("members")],
        quantiles={float(alpha): b for alpha, b in boosters("quantiles")},
        band_widening=float(config["band_widening"]),
    )
    further = [b for _, b in boosters("further")]
    if further:
        model.further = ForecastModel(point=further[0], members=further[1:])
        model.lead_bands = {
            int(lead): (float(lo), float(hi)) for lead, (lo, hi) in config["lead_bands"].items()
        }
    return Forecaster(model)
