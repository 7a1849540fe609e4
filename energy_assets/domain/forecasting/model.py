"""One global LightGBM model over all series, with P10/P90 quantile models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import (
    LEAD,
    SCALE,
    TARGET,
    learnable_features,
)
from energy_assets.domain.schema import KEY_COLUMNS, SERIES, TIME, series_keys

# LightGBM trains on OpenMP threads. With the default busy-waiting, training slows 50-70x when
# another process holds a core; passive waiting changes no result. It must be set before
# lightgbm loads, which this module does lazily.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PREDICTION = "prediction_kwh"
P10 = "p10_kwh"
P90 = "p90_kwh"
MODEL_URI = "model_uri"  # the pinned version a forecast came from: models:/<name>/<version>
# Whether the forecast of the row's hour knew the hour's day-ahead price (deployments with prices).
PRICE_KNOWN_COLUMN = "price_known"

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
# The most rows a model trains on. Past it, the newest days above the weight floor are kept
# whole and the older days are sampled (see `training_sample`): a long history of many series
# keeps its yearly shape at a fraction of the cost.
MAX_ROWS = "max_training_rows"
# The quantile models' boosting rounds as a share of the point model's, at a learning rate
# raised by the same factor: the band's coarse shape converges in fewer, larger steps.
QUANTILE_ROUNDS = "quantile_rounds_share"
DEFAULT_PARAMS: dict[str, Any] = {
    RECENCY: 10.0,
    RECENCY_FLOOR: 0.1,
    ENSEMBLE: "l1,huber",
    MAX_ROWS: 60_000,
    QUANTILE_ROUNDS: 0.5,
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
    # The days after the day ahead (leads 2 and on): one model over those leads, trained on
    # features from the same newest known day (with a `lead_days` column), and per lead the
    # P10/P90 of its log errors on held-out days, its band. None on a version trained for the
    # day ahead alone.
    further: ForecastModel | None = None
    lead_bands: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        """The farthest lead the model forecasts."""
        return max(self.lead_bands, default=1) if self.further is not None else 1

    def log_ratio(self, X: pd.DataFrame) -> np.ndarray:
        """The point forecast as log(value / scale): the mean over the ensemble's models."""
        models = [self.point, *self.members]
        return np.mean([m.predict(X, num_threads=PREDICT_THREADS) for m in models], axis=0)

    def feature_importance(self) -> pd.Series:
        gain = self.point.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.point.feature_name()).sort_values(ascending=False)


RATIO_FLOOR = 1e-3  # keeps log() finite for zero hours
# Forecasting is row by row, so the thread count changes no number (training stays on one
# thread); 0 lets OpenMP use every core: an issue at every lead is ~170k rows per model week.
PREDICT_THREADS = 0


def trainable_rows(frame: pd.DataFrame) -> np.ndarray:
    """Which rows have a known target and a usable scale."""
    return (np.isfinite(frame[TARGET]) & (frame[SCALE] > 0)).to_numpy()


def trainable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a known target and a usable scale."""
    return frame[trainable_rows(frame)]


def label(frame: pd.DataFrame) -> np.ndarray:
    """The model learns log(value / scale): errors become relative, as the metrics are."""
    return np.log(np.maximum(frame[TARGET].to_numpy(dtype="float64"), RATIO_FLOOR))


def recency_weights(frame: pd.DataFrame, half_life_days: float, floor: float = 0.0) -> np.ndarray:
    """Halve a row's weight for every `half_life_days` it lies before the newest row, down to
    `floor` at the least."""
    age = (frame[TIME].max() - frame[TIME]).dt.total_seconds().to_numpy() / 86_400
    return np.maximum(np.power(0.5, age / half_life_days), floor)


def day_sample(
    days: pd.DatetimeIndex,
    rows_per_day: np.ndarray,
    newest: pd.Timestamp,
    params: TrainingParams,
) -> pd.Series:
    """The days a model trains on, within the row budget, each with the factor its rows' recency
    weights are multiplied by.

    Under the budget every day is kept with factor 1. Over it, the newest days whose weight is
    above the floor are kept whole (up to half the budget), and the rest of the budget is drawn
    from the older days by systematic sampling with probability proportional to their weight; a
    sampled day's factor is 1 / probability, so each stratum's total weight is estimated without
    bias. Deterministic: the same days give the same sample."""
    rows = np.asarray(rows_per_day, dtype="int64")
    if rows.sum() <= params.max_rows:
        return pd.Series(1.0, index=days)
    order = np.argsort(_ns(days))[::-1]  # newest day first
    ages = (_ns(pd.DatetimeIndex([newest])) - _ns(days[order])) / 86_400e9
    weight = np.maximum(np.power(0.5, ages / params.half_life_days), params.weight_floor)
    rows = rows[order]
    recent = np.cumsum(rows) <= params.max_rows // 2
    recent &= np.cumsum(weight <= params.weight_floor) == 0  # the unbroken run above the floor
    pool = np.flatnonzero(~recent)
    share = _inclusion(weight[pool], rows[pool], params.max_rows - int(rows[recent].sum()))
    drawn = np.floor(np.cumsum(share) + 0.5) > np.floor(np.cumsum(share) - share + 0.5)
    factor = pd.Series(1.0, index=days[order][recent])
    sampled = pd.Series(1.0 / share[drawn], index=days[order][pool[drawn]])
    return pd.concat([factor, sampled]).sort_index()


def _inclusion(weight: np.ndarray, rows: np.ndarray, budget: int) -> np.ndarray:
    """Each day's inclusion probability, proportional to its weight and at most 1, such that
    the expected rows drawn come to `budget`."""
    if budget <= 0 or len(weight) == 0:
        return np.zeros(len(weight))
    low, high = 0.0, 1.0 / float(weight.min())  # at `high` every day is certain
    for _ in range(60):  # bisection on the scale of the probabilities
        mid = (low + high) / 2
        if float((np.minimum(1.0, mid * weight) * rows).sum()) > budget:
            high = mid
        else:
            low = mid
    return np.minimum(1.0, low * weight)


def _ns(times: pd.DatetimeIndex) -> np.ndarray:
    """UTC times as int64 nanoseconds since the epoch."""
    return times.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[ns]").astype("int64")


def _days(frame: pd.DataFrame, by: str = TIME) -> np.ndarray:
    """Each row's UTC day (of the column `by`) as int64 nanoseconds."""
    return _ns(pd.DatetimeIndex(frame[by]).floor("D"))


def training_sample(
    frame: pd.DataFrame,
    params: TrainingParams,
    factors: pd.Series | None = None,
    by: str = TIME,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of `frame` a model trains on and their weights: recency weights times the
    factor of the row's day (the day of its `by` column: its hour's, or its origin's where the
    sample was drawn by origin); `factors` (a `day_sample`) are worked out here when not given."""
    day = _days(frame, by)
    if factors is None:
        days, counts = np.unique(day, return_counts=True)
        index = pd.DatetimeIndex(days).tz_localize("UTC")
        factors = day_sample(index, counts, frame[TIME].max(), params)
    keys = _ns(pd.DatetimeIndex(factors.index))
    position = np.searchsorted(keys, day)
    position[position == len(keys)] = 0
    keep = keys[position] == day
    weights = recency_weights(frame, params.half_life_days, params.weight_floor)
    return frame[keep], weights[keep] * factors.to_numpy()[position[keep]]


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
    max_rows: int
    quantile_share: float


def quantile_params(booster: Mapping[str, Any], alpha: float, share: float) -> dict[str, Any]:
    """A quantile model's parameters: the point model's, kept coarser. With small leaves its
    tails fit noise and the band comes out too narrow (49% of the real slice's hours inside the
    P10-P90 band at 63 leaves of 20 rows, against 80% meant). `share` of the rounds are run at
    a learning rate raised by the inverse share."""
    return {
        **booster,
        "objective": "quantile",
        "alpha": alpha,
        "num_leaves": min(int(booster["num_leaves"]), 31),
        "min_data_in_leaf": max(int(booster["min_data_in_leaf"]), 40),
        "learning_rate": float(booster["learning_rate"]) / share,
    }


def split_params(params: Mapping[str, Any]) -> TrainingParams:
    """LightGBM parameters, boosting rounds and recency weighting from model parameters."""
    booster = {**DEFAULT_PARAMS, **params}
    rounds = int(booster.pop("num_boost_round"))
    half_life = float(booster.pop(RECENCY))
    floor = float(booster.pop(RECENCY_FLOOR))
    max_rows = int(booster.pop(MAX_ROWS))
    share = float(booster.pop(QUANTILE_ROUNDS))
    if max_rows < 1 or not 0 < share <= 1:
        raise ValueError(f"{MAX_ROWS} must be >= 1 and {QUANTILE_ROUNDS} in (0, 1]")
    listed = booster.pop(ENSEMBLE)
    names = listed.split(",") if isinstance(listed, str) else list(listed or [])
    extra = [o.strip() for o in names if o.strip() and o.strip() != booster["objective"]]
    return TrainingParams(
        {**booster, **DETERMINISTIC}, rounds, extra, half_life, floor, max_rows, share
    )


def _dataset(
    frame: pd.DataFrame, columns: list[str], weights: np.ndarray, reference: Any = None
) -> Any:
    import lightgbm as lgb

    return lgb.Dataset(
        design(frame, columns),
        label=label(frame),
        weight=weights,
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
    day_factors: pd.Series | None = None,
    sample_by: str = TIME,
) -> ForecastModel:
    """Fit the point model (and quantile models) on the trainable rows of `train`, sampled to
    the row budget; `day_factors` name a sample already drawn (its days, of the `sample_by`
    column, and weight factors)."""
    import lightgbm as lgb

    rows = trainable(train)
    if rows.empty:
        raise ValueError("no trainable rows: every target or scale is missing")
    settings = split_params(params or {})
    rows, weights = training_sample(rows, settings, day_factors, sample_by)
    columns = learnable_features(rows)
    train_set = _dataset(rows, columns, weights)
    valid_sets = None
    if valid is not None:
        held_out = trainable(valid)
        recency = recency_weights(held_out, settings.half_life_days, settings.weight_floor)
        valid_sets = [_dataset(held_out, columns, recency, train_set)]
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
    quantile_rounds = max(1, round(settings.rounds * settings.quantile_share))
    models = {
        alpha: lgb.train(
            quantile_params(settings.booster, alpha, settings.quantile_share),
            train_set,
            quantile_rounds,
        )
        for alpha in quantiles
    }
    return ForecastModel(point=point, quantiles=models, members=members)


def continue_fit(
    model: ForecastModel,
    train: pd.DataFrame,
    params: Mapping[str, Any] | None,
    rounds: int,
    day_factors: pd.Series | None = None,
) -> ForecastModel:
    """The point ensemble of `model` boosted `rounds` more on the trainable rows of `train`
    (sampled and weighted as `fit` does): a warm start from a fitted model instead of a new fit.
    Each booster keeps its objective and the series' categorical codes it was trained with."""
    import lightgbm as lgb

    rows = trainable(train)
    if rows.empty:
        raise ValueError("no trainable rows: every target or scale is missing")
    settings = split_params(params or {})
    rows, weights = training_sample(rows, settings, day_factors)
    objectives = [settings.booster["objective"], *settings.extra_objectives]
    boosters = [model.point, *model.members]
    if len(objectives) != len(boosters):
        raise ValueError(f"{len(boosters)} boosters to continue, {len(objectives)} objectives")
    columns = model.point.feature_name()
    categorical = [c for c in columns if is_categorical(c)]
    X = design(rows, columns)
    for column, categories in zip(categorical, model.point.pandas_categorical or [], strict=False):
        X[column] = pd.Categorical(X[column].astype(object), categories=categories)

    def dataset() -> Any:  # one per booster: each computes its own starting scores on it
        return lgb.Dataset(
            X,
            label=label(rows),
            weight=weights,
            categorical_feature=categorical,
            free_raw_data=False,
        )

    continued = [
        lgb.train({**settings.booster, "objective": objective}, dataset(), rounds, init_model=b)
        for b, objective in zip(boosters, objectives, strict=True)
    ]
    return ForecastModel(point=continued[0], members=continued[1:])


def predict(model: ForecastModel, features: pd.DataFrame) -> pd.DataFrame:
    """Forecasts in kWh: point, and P10/P90 where quantile models exist; never negative.
    Rows of a further lead (`lead_days` above 1) are forecast by the further leads' model, with
    its band of their lead; the output keeps the input's row order (and its `lead_days`)."""
    if LEAD not in features.columns:
        return _predict_day_ahead(model, features)
    further = features[LEAD].to_numpy() > 1
    if not further.any():
        return _predict_day_ahead(model, features).assign(**{LEAD: features[LEAD].to_numpy()})
    if model.further is None:
        raise ValueError(
            "the model forecasts the day ahead only; retrain its week for leads beyond 1"
        )
    beyond = features[LEAD].to_numpy()[further]
    if beyond.max() > model.horizon:
        raise ValueError(f"the model forecasts leads up to {model.horizon}, not {beyond.max()}")
    parts = [_predict_further(model.further, model.lead_bands, features[further])]
    if not further.all():
        parts.insert(0, _predict_day_ahead(model, features[~further]))
    out = pd.concat(parts)
    out = out.reindex(features.index)
    out[LEAD] = features[LEAD].to_numpy()
    return out


def _predict_further(
    model: ForecastModel, bands: dict[int, tuple[float, float]], features: pd.DataFrame
) -> pd.DataFrame:
    scale = features[SCALE].to_numpy(dtype="float64")
    out = features[[TIME, *series_keys(features)]].copy()
    log_point = model.log_ratio(design(features, model.point.feature_name()))
    point = np.exp(log_point) * scale
    out[PREDICTION] = point
    if bands:
        leads = features[LEAD].to_numpy()
        low = np.array([bands[int(lead)][0] for lead in leads]) if len(leads) else np.zeros(0)
        high = np.array([bands[int(lead)][1] for lead in leads]) if len(leads) else np.zeros(0)
        out[P10] = np.minimum(np.exp(log_point + low) * scale, point)
        out[P90] = np.maximum(np.exp(log_point + high) * scale, point)
    return out


def lead_band(
    model: ForecastModel, held_out: pd.DataFrame, log_point: np.ndarray | None = None
) -> dict[int, tuple[float, float]]:
    """Per lead of the held-out rows, the 10th and 90th percentile of the model's log errors
    (log actual - log forecast): the P10-P90 band its forecasts at that lead are given.
    `log_point`: the model's log forecasts of every held-out row, where already made."""
    if log_point is None:
        log_point = model.log_ratio(design(held_out, model.point.feature_name()))
    usable = trainable_rows(held_out)
    rows = held_out[usable]
    if rows.empty:
        return {}
    errors = label(rows) - np.asarray(log_point)[usable]
    leads = rows[LEAD].to_numpy()
    return {
        int(lead): (
            float(np.quantile(errors[leads == lead], 0.1)),
            float(np.quantile(errors[leads == lead], 0.9)),
        )
        for lead in np.unique(leads)
    }


def _predict_day_ahead(model: ForecastModel, features: pd.DataFrame) -> pd.DataFrame:
    scale = features[SCALE].to_numpy(dtype="float64")
    out = features[[TIME, *series_keys(features)]].copy()
    X = design(features, model.point.feature_name())
    point = np.exp(model.log_ratio(X)) * scale
    out[PREDICTION] = point
    if model.quantiles:
        low_log, high_log = _band(model, features)
        low = np.exp(low_log - model.band_widening) * scale
        high = np.exp(high_log + model.band_widening) * scale
        # Separately fitted quantiles can cross; order them around the point forecast.
        out[P10] = np.minimum(np.minimum(low, high), point)
        out[P90] = np.maximum(np.maximum(low, high), point)
    return out


def _band(model: ForecastModel, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The quantile models' band in log space, lower edge first. Each model reads its own
    features: the quantile models may come from a fit on fewer days than the point model."""
    low_model, high_model = (
        model.quantiles[min(model.quantiles)],
        model.quantiles[max(model.quantiles)],
    )
    low = low_model.predict(design(features, low_model.feature_name()), num_threads=PREDICT_THREADS)
    high = high_model.predict(
        design(features, high_model.feature_name()), num_threads=PREDICT_THREADS
    )
    return np.minimum(low, high), np.maximum(low, high)


def band_widening(model: ForecastModel, held_out: pd.DataFrame) -> float:
    """The widening that makes the band hold the share of held-out hours it is meant to (the
    quantiles' spread, 80% for P10-P90), with the finite-sample correction of split-conformal
    prediction; negative when the band is too wide. 0 without quantile models or rows."""
    rows = trainable(held_out)
    if not model.quantiles or rows.empty:
        return 0.0
    low, high = _band(model, rows)
    actual = label(rows)
    errors = np.maximum(low - actual, actual - high)
    meant = max(model.quantiles) - min(model.quantiles)
    level = min(1.0, meant * (1 + 1 / len(errors)))
    return float(np.quantile(errors, level))
