"""A weekly version as MLflow registers it: the whole forecaster as a pyfunc model.

`mlflow.pyfunc.load_model("models:/<name>/<version>")`, `mlflow models serve` and batch scoring
get the forecast itself (kWh, P10/P90, every lead) from the request form of
`forecasting/request_form.py`; the boosters and the band calibration are the model's artifact
(`forecasting/forecaster_files.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from energy_assets.domain.forecasting.features import LEAD, LOOKBACK_DAYS, ORIGIN, YEAR_HOURS
from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.forecaster_files import ARTIFACT, load_forecaster
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, PRICE_KNOWN_COLUMN
from energy_assets.domain.forecasting.request_form import (
    RECENT_HOURS,
    YEAR_WEEK_HOURS,
    default_origin,
    from_request,
    parse_origin,
)
from energy_assets.domain.prices import PRICE_EUR
from energy_assets.domain.schema import KEY_COLUMNS, TIME, VALUE


class ForecasterModel(PythonModel):  # type: ignore[misc]
    """The pyfunc: the request frame in, the issue's forecasts out."""

    forecaster: Forecaster

    def load_context(self, context: Any) -> None:
        self.forecaster = load_forecaster(Path(context.artifacts[ARTIFACT]), "the model")

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        try:
            history, prices = from_request(model_input, self.forecaster.keys)
            origin = parse_origin(params.get("origin")) or default_origin(history)
            leads = params.get("leads") or None
            return self.forecaster.forecast(history, prices, pd.DatetimeIndex([origin]), leads)
        except ValueError as exc:  # a request it cannot forecast from: HTTP 400 with the reason
            raise MlflowException.invalid_parameter_value(str(exc)) from exc


def signature(forecaster: Forecaster) -> ModelSignature:
    """Input: the request form; params: `origin` and `leads`; output: the issue's rows."""
    keys = [ColSpec(_kind(k), k) for k in forecaster.keys]
    inputs: list[Any] = [ColSpec("datetime", TIME), *keys, ColSpec("double", VALUE, required=False)]
    if forecaster.uses_prices:
        inputs.append(ColSpec("double", PRICE_EUR, required=False))
    outputs: list[Any] = [
        ColSpec("datetime", ORIGIN),
        ColSpec("long", LEAD),
        ColSpec("datetime", ISSUED_AT),
        ColSpec("datetime", TIME),
        *keys,
        *(ColSpec("double", c) for c in (PREDICTION, P10, P90)),
    ]
    if forecaster.uses_prices:
        outputs.append(ColSpec("boolean", PRICE_KNOWN_COLUMN))
    params = ParamSchema(
        [
            # Empty: the day after the input's last hour of consumption.
            ParamSpec("origin", "string", ""),
            ParamSpec("leads", "long", forecaster.leads(), shape=(-1,)),
        ]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


def _kind(key: str) -> str:
    return "long" if KEY_COLUMNS[key].dtype == "int64" else "string"


def model_metadata(forecaster: Forecaster) -> dict[str, Any]:
    """What the model records about its input: the history it reads, relative to the origin."""
    return {
        "history": {
            "days_before_origin": LOOKBACK_DAYS,
            "read_hours_before_origin": RECENT_HOURS,
            "read_year_ago_hours": f"origin - {YEAR_HOURS + YEAR_WEEK_HOURS} h .. "
            f"origin - {YEAR_HOURS} h + the farthest lead x 24 h",
        },
        "keys": forecaster.keys,
        "leads": forecaster.leads(),
        "prices": PRICE_EUR if forecaster.uses_prices else None,
        "input": "hourly rows: datetime_utc (UTC, no zone), the keys, consumption_kwh; rows of "
        "the days forecast without consumption, with the hour's price where the model uses it",
    }
