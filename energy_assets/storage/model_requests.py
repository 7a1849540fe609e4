"""A served version's request for one issue, from the stored history: what
`energy-forecast model example-request` prints for `mlflow models serve`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from energy_assets import names
from energy_assets.domain import tracking
from energy_assets.domain.calendar import day_keys, utc_days
from energy_assets.domain.forecasting.request_form import (
    history_windows,
    price_window,
    request_body,
    request_frame,
)
from energy_assets.domain.schema import DataFormatError
from energy_assets.settings import Settings
from energy_assets.storage.objects import Storage, object_key, storage_from_settings


def stored_days(storage: Storage, asset: str, days: pd.DatetimeIndex) -> pd.DataFrame | None:
    """The stored partitions of `asset` among `days`, as one frame; None when none is."""
    stored = set(storage.partition_keys(asset))
    frames = [
        storage.read_parquet(object_key(asset, day)) for day in day_keys(days) if day in stored
    ]
    return pd.concat(frames, ignore_index=True) if frames else None


def issue_request(
    settings: Settings,
    version: str,
    day: dt.date,
    leads: list[int] | None = None,
    storage: Storage | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The request frame and params that make the issue of `day` (its origin) with `version`,
    from the stored raw days and prices it reads."""
    import mlflow

    uri = f"models:/{settings.registered_model}/{version}"
    tracking.parse_version_uri(uri)  # a version number, nothing else
    mlflow.set_tracking_uri(settings.tracking_uri)
    metadata = mlflow.models.get_model_info(uri).metadata or {}
    if "leads" not in metadata:
        raise ValueError(
            f"{uri} was registered before the forecaster was the MLflow model; it serves the "
            "pipeline but not `mlflow models serve`: retrain its week for a version that does"
        )
    chosen = leads or list(metadata["leads"])
    reach = max(chosen)
    storage = storage or storage_from_settings(settings)
    origin = pd.Timestamp(day, tz="UTC")
    raw_days = pd.DatetimeIndex(
        sorted({d for start, end in history_windows(origin, reach) for d in utc_days(start, end)})
    )
    history = stored_days(storage, names.RAW, raw_days)
    if history is None:
        raise DataFormatError(f"no raw data stored for the days the issue of {day} reads")
    prices = None
    if metadata.get("prices"):
        start, end = price_window(origin, reach)
        prices = stored_days(storage, names.PRICES, utc_days(start, end))
    frame = request_frame(history, prices, origin, reach)
    return frame, {"origin": origin.strftime("%Y-%m-%dT%H:%M:%SZ"), "leads": chosen}


def example_request(
    settings: Settings, version: str, day: dt.date, leads: list[int] | None = None
) -> dict[str, Any]:
    """The JSON body of `/invocations` that forecasts the issue of `day` with `version`."""
    frame, params = issue_request(settings, version, day, leads)
    return request_body(frame, params)
