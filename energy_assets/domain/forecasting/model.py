"""One global LightGBM model over all series, with P10/P90 quantile models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import SCALE, TARGET, learnable_features
from energy_assets.domain.schema import KEY_COLUMNS, SERIES, TIME, series_keys

# LightGBM trains on OpenMP threads. With the default busy-waiting, training slows 50-70x when
# another process holds a core; passive waiting changes no result. It must be set before
# lightgbm loads, which this module does lazily.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PREDICTION = "prediction_kwh"
P10 = "p10_kwh"
P90 = "p90_kwh"
MODEL_URI = "model_uri"  # the pinned version a forecast came from: models:/<name>/<version>

# Fixed settings that make training reproducible; search spaces never override them. With
# column-wise histograms each feature is summed by one thread, so the result does not depend on
# the thread count either.
DETERMINISTIC: dict[str, Any] = {
    "deterministic": True,
    "force_col_wise": True,
    "seed": 0,
    "verbosity": -1,
}
# Not LightGBM parameters: how training rows are weighted by age. A row's weight halves every
# half-life but never drops below the floor: with weeks of history the newest days dominate,
# while with years of history old rows still teach the yearly pattern.
RECENCY = "recency_half_life_days"
RECENCY_FLOOR = "recency_weight_floor"
# The point forecast averages (in log space) the model of `objective` and one model per further
# objective listed here: losses that err differently (L1 on spiky series, Huber on smooth ones)
# cancel part of each other's error.
ENSEMBLE = "ensemble_objectives"
DEFAULT_PARAMS: dict[str, Any] = {
    RECENCY: 10.0,
    RECENCY_FLOOR: 0.1,
    ENSEMBLE: "l1,huber",
    "objective": "l1",
    "learning_rate": 0.05,
    "num_boost_round": 400,
    "num_leaves": 63,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    # One thread: on these data sizes a second one costs more in waking and waiting than it
    # saves (measured 1.7-2.7x slower on 2 cores), and concurrent runs share the cores.
    "num_threads": 1,
}


@dataclass
class ForecastModel:
    point: Any  # lightgbm.Booster
    quantiles: dict[float, Any] = field(default_factory=dict)
    members: list[Any] = field(default_factory=list)  # further point models, averaged in
    # How far (in log space) the P10-P90 band is widened on both sides, calibrated on held-out
    # days so that the band covers what it claims to (split-conformal quantile regression).
    band_widening: float = 0.0

    def log_ratio(self, X: pd.DataFrame) -> np.ndarray:
        """The point forecast as log(value / scale): the mean over the ensemble's models."""
        models = [self.point, *self.members]
        return np.mean([m.predict(X) for m in models], axis=0)

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


def recency_weights(frame: pd.DataFrame, half_life_days: float, floor: float = 0.0) -> np.ndarray:
    """Halve a row's weight for every `half_life_days` it lies before the newest row, down to
    `floor` at the least."""
    age = (frame[TIME].max() - frame[TIME]).dt.total_seconds().to_numpy() / 86_400
    return np.maximum(np.power(0.5, age / half_life_days), floor)


def is_categorical(column: str) -> bool:
    return column == SERIES or column in KEY_COLUMNS


def design(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The model's input: the feature columns, the series identity as pandas categoricals.
    LightGBM keeps the categories it was trained on and maps later inputs onto them, so a
    series is coded the same way in every prediction, and an unseen one is a missing value."""
    X = frame[columns].copy()
    for column in columns:
        if is_categorical(column):
            values = X[column].astype(object)
            X[column] = pd.Categorical(values.to_numpy(dtype=object))
    return X


@dataclass(frozen=True)
class TrainingParams:
    booster: dict[str, Any]  # LightGBM parameters
    rounds: int
    extra_objectives: list[str]  # of further point models
    half_life_days: float
    weight_floor: float


def quantile_params(booster: Mapping[str, Any], alpha: float) -> dict[str, Any]:
    """A quantile model's parameters: the point model's, kept coarser. With small leaves its
    tails fit noise and the band comes out too narrow (49% of the real slice's hours inside the
    P10-P90 band at 63 leaves of 20 rows, against 80% meant)."""
    return {
        **booster,
        "objective": "quantile",
        "alpha": alpha,
        "num_leaves": min(int(booster["num_leaves"]), 31),
        "min_data_in_leaf": max(int(booster["min_data_in_leaf"]), 40),
    }


def split_params(params: Mapping[str, Any]) -> TrainingParams:
    """LightGBM parameters, boosting rounds and recency weighting from model parameters."""
    booster = {**DEFAULT_PARAMS, **params}
    rounds = int(booster.pop("num_boost_round"))
    half_life = float(booster.pop(RECENCY))
    floor = float(booster.pop(RECENCY_FLOOR))
    listed = booster.pop(ENSEMBLE)
    names = listed.split(",") if isinstance(listed, str) else list(listed or [])
    extra = [o.strip() for o in names if o.strip() and o.strip() != booster["objective"]]
    return TrainingParams({**booster, **DETERMINISTIC}, rounds, extra, half_life, floor)


def _dataset(
    frame: pd.DataFrame, columns: list[str], params: TrainingParams, reference: Any = None
) -> Any:
    import lightgbm as lgb

    return lgb.Dataset(
        design(frame, columns),
        label=label(frame),
        weight=recency_weights(frame, params.half_life_days, params.weight_floor),
        categorical_feature=[c for c in columns if is_categorical(c)],
        reference=reference,
        free_raw_data=False,
    )


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
    settings = split_params(params or {})
    columns = learnable_features(rows)
    train_set = _dataset(rows, columns, settings)
    valid_sets = (
        [_dataset(trainable(valid), columns, settings, train_set)] if valid is not None else None
    )
    point = lgb.train(
        settings.booster,
        train_set,
        num_boost_round=settings.rounds,
        valid_sets=valid_sets,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )
    members = [
        lgb.train({**settings.booster, "objective": objective}, train_set, settings.rounds)
        for objective in settings.extra_objectives
    ]
    models = {
        alpha: lgb.train(quantile_params(settings.booster, alpha), train_set, settings.rounds)
        for alpha in quantiles
    }
    return ForecastModel(point=point, quantiles=models, members=members)


def predict(model: ForecastModel, features: pd.DataFrame) -> pd.DataFrame:
    """Forecasts in kWh: point, and P10/P90 where quantile models exist; never negative."""
    scale = features[SCALE].to_numpy(dtype="float64")
    out = features[[TIME, *series_keys(features)]].copy()
    X = design(features, model.point.feature_name())
    point = np.exp(model.log_ratio(X)) * scale
    out[PREDICTION] = point
    if model.quantiles:
        low_log, high_log = _band(model, X)
        low = np.exp(low_log - model.band_widening) * scale
        high = np.exp(high_log + model.band_widening) * scale
        # Separately fitted quantiles can cross; order them around the point forecast.
        out[P10] = np.minimum(np.minimum(low, high), point)
        out[P90] = np.maximum(np.maximum(low, high), point)
    return out


def _band(model: ForecastModel, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The quantile models' band in log space, lower edge first."""
    low = model.quantiles[min(model.quantiles)].predict(X)
    high = model.quantiles[max(model.quantiles)].predict(X)
    return np.minimum(low, high), np.maximum(low, high)


def band_widening(model: ForecastModel, held_out: pd.DataFrame) -> float:
    """The widening that makes the band hold the share of held-out hours it is meant to (the
    quantiles' spread, 80% for P10-P90), with the finite-sample correction of split-conformal
    prediction; negative when the band is too wide. 0 without quantile models or rows."""
    rows = trainable(held_out)
    if not model.quantiles or rows.empty:
        return 0.0
    low, high = _band(model, design(rows, model.point.feature_name()))
    actual = label(rows)
    errors = np.maximum(low - actual, actual - high)
    meant = max(model.quantiles) - min(model.quantiles)
    level = min(1.0, meant * (1 + 1 / len(errors)))
    return float(np.quantile(errors, level))
