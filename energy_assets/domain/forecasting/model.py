"""One global LightGBM model over all series, with P10/P90 quantile models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import CATEGORICAL, FEATURES, SCALE, TARGET
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, TIME

# LightGBM trains on a fixed number of OpenMP threads. With the default busy-waiting, training
# slows 50-70x when another process holds a core; passive waiting changes no result. It must be
# set before lightgbm loads, which this module does lazily.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PREDICTION = "prediction_kwh"
P10 = "p10_kwh"
P90 = "p90_kwh"
MODEL_URI = "model_uri"  # the pinned version a forecast came from: models:/<name>/<version>

# Fixed settings that make training reproducible; search spaces never override them.
DETERMINISTIC: dict[str, Any] = {
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 2,
    "seed": 0,
    "verbosity": -1,
}
# Not LightGBM parameters: how training rows are weighted by age.
RECENCY = "recency_half_life_days"
DEFAULT_PARAMS: dict[str, Any] = {
    RECENCY: 10.0,
    "objective": "l1",
    "learning_rate": 0.05,
    "num_boost_round": 400,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}


@dataclass
class ForecastModel:
    point: Any  # lightgbm.Booster
    quantiles: dict[float, Any] = field(default_factory=dict)

    def feature_importance(self) -> pd.Series:
        gain = self.point.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.point.feature_name()).sort_values(ascending=False)


RATIO_FLOOR = 1e-3  # keeps log() finite for zero hours


def trainable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known target and a usable scale."""
    return frame[np.isfinite(frame[TARGET]) & (frame[SCALE] > 0)]


def label(frame: pd.DataFrame) -> np.ndarray:
    """The model learns log(value / scale): errors become relative, as the metrics are."""
    return np.log(np.maximum(frame[TARGET].to_numpy(dtype="float64"), RATIO_FLOOR))


def recency_weights(frame: pd.DataFrame, half_life_days: float) -> np.ndarray:
    """Halve a row's weight for every `half_life_days` it lies before the newest row."""
    age = (frame[TIME].max() - frame[TIME]).dt.total_seconds().to_numpy() / 86_400
    return np.power(0.5, age / half_life_days)


def _dataset(frame: pd.DataFrame, half_life: float, reference: Any = None) -> Any:
    import lightgbm as lgb

    return lgb.Dataset(
        frame[FEATURES],
        label=label(frame),
        weight=recency_weights(frame, half_life),
        categorical_feature=CATEGORICAL,
        reference=reference,
        free_raw_data=False,
    )


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], int, float]:
    """LightGBM parameters, boosting rounds and recency half-life from model parameters."""
    booster = {**DEFAULT_PARAMS, **params}
    rounds = int(booster.pop("num_boost_round"))
    half_life = float(booster.pop(RECENCY))
    return {**booster, **DETERMINISTIC}, rounds, half_life


def fit(
    train: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    quantiles: tuple[float, ...] = (0.1, 0.9),
    valid: pd.DataFrame | None = None,
    callbacks: list[Callable[..., None]] | None = None,
) -> ForecastModel:
    """Fit the point model (and quantile models) on the trainable rows of `train`."""
    import lightgbm as lgb

    rows = trainable(train)
    if rows.empty:
        raise ValueError("no trainable rows: every target or scale is missing")
    booster_params, rounds, half_life = split_params(params or {})
    train_set = _dataset(rows, half_life)
    valid_sets = [_dataset(trainable(valid), half_life, train_set)] if valid is not None else None
    point = lgb.train(
        booster_params,
        train_set,
        num_boost_round=rounds,
        valid_sets=valid_sets,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )
    models = {
        alpha: lgb.train(
            {**booster_params, "objective": "quantile", "alpha": alpha}, train_set, rounds
        )
        for alpha in quantiles
    }
    return ForecastModel(point=point, quantiles=models)


def predict(model: ForecastModel, features: pd.DataFrame) -> pd.DataFrame:
    """Forecasts in kWh: point, and P10/P90 where quantile models exist; never negative."""
    scale = features[SCALE].to_numpy(dtype="float64")
    out = features[[TIME, AREA, CONSUMER_TYPE]].copy()
    X = features[FEATURES]
    point = np.exp(model.point.predict(X)) * scale
    out[PREDICTION] = point
    if model.quantiles:
        low = np.exp(model.quantiles[min(model.quantiles)].predict(X)) * scale
        high = np.exp(model.quantiles[max(model.quantiles)].predict(X)) * scale
        # Separately fitted quantiles can cross; order them around the point forecast.
        out[P10] = np.minimum(np.minimum(low, high), point)
        out[P90] = np.maximum(np.maximum(low, high), point)
    return out
