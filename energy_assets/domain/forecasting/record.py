"""The record `forecast_model` keeps of each weekly model: which registered version it made, the
data it learnt from and how it did on its validation days. Stored as JSON beside the models."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_DATES = ("train_start", "train_end", "valid_start")


class RecordError(ValueError):
    """A stored model record cannot be read; the message names what is wrong."""


@dataclass(frozen=True)
class ModelRecord:
    week: str  # the weekly partition key, the Monday the model serves from
    model_name: str  # the registered model
    model_version: str  # the version number the registry gave it, e.g. "3"
    model_uri: str  # what predictions load: models:/<model_name>/<model_version>
    mlflow_run_id: str
    train_start: dt.date  # first day trained on
    train_end: dt.date  # first day not trained on: the start of the week
    valid_start: dt.date  # first of the validation days that judge it
    params: dict[str, Any]
    validation: dict[str, dict[str, float]]  # forecaster -> metric -> value
    forecasts_finite_non_negative: bool

    @property
    def training_window(self) -> str:
        return f"{self.train_start} .. {self.train_end}"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update({name: getattr(self, name).isoformat() for name in _DATES})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelRecord:
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise RecordError(f"model record of week {data.get('week')!r} lacks {missing}")
        values = {n: data[n] for n in names}
        try:
            values.update({n: dt.date.fromisoformat(str(data[n])) for n in _DATES})
        except ValueError as exc:
            raise RecordError(f"model record of week {data.get('week')!r}: {exc}") from None
        values["model_version"] = str(values["model_version"])
        return cls(**values)
