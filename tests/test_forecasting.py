"""The pure forecasting core: leakage, baselines, metrics, model, backtest."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import seasonal_naive
from energy_assets.domain.forecasting.features import (
    ORIGIN,
    SCALE,
    TARGET,
    build_features,
    feature_columns,
)
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, design, fit, predict
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, TIME, VALUE
from energy_assets.domain.sources.simulator import SimulatorSource

KEYS = [AREA, CONSUMER_TYPE, TIME]  # the DE35 layout the simulator imitates

D = pd.Timestamp("2023-02-20", tz="UTC")
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return SimulatorSource(seed=3).fetch(D - 40 * DAY, D + 3 * DAY)


# -- leakage -------------------------------------------------------------------------------------


def test_no_feature_reads_the_origin_or_later(history: pd.DataFrame) -> None:
    full = build_features(history, [D])
    truncated = build_features(history[history[TIME] < D], [D])
    pd.testing.assert_frame_equal(
        full.drop(columns=[VALUE, TARGET]), truncated.drop(columns=[VALUE, TARGET])
    )
    assert truncated[VALUE].isna().all()  # the target itself is unknown at the origin


def test_changing_the_forecast_day_changes_only_the_target(history: pd.DataFrame) -> None:
    poisoned = history.copy()
    day = poisoned[TIME].between(D, D + DAY, inclusive="left")
    poisoned.loc[day, VALUE] *= 10
    a, b = build_features(history, [D]), build_features(poisoned, [D])
    columns = [*feature_columns(a), SCALE]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    np.testing.assert_allclose(b[VALUE], 10 * a[VALUE])


def test_feature_rows_and_lags(history: pd.DataFrame) -> None:
    features = build_features(history, [D, D + DAY])
    assert len(features) == 2 * 24 * 76
    assert (features[ORIGIN].isin([D, D + DAY])).all()
    row = features[(features.area == "DK1") & (features.consumer_type == 111)].iloc[5]
    series = history[(history.area == "DK1") & (history.consumer_type == 111)].set_index(TIME)
    lag168 = series.loc[row[TIME] - pd.Timedelta(hours=168), VALUE]
    assert row["r_lag168"] * row[SCALE] == pytest.approx(lag168)
    week = series.loc[D - pd.Timedelta(hours=168) : D - pd.Timedelta(hours=1), VALUE]
    assert row[SCALE] == pytest.approx(week.mean())


# -- baselines and metrics on hand-computed cases ---------------------------------------------


def tiny(values: list[float], start: str = "2023-01-01") -> pd.DataFrame:
    hours = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    return pd.DataFrame(
        {TIME: hours, "area": pd.array(["DK1"] * len(values), dtype="string"),
         "consumer_type": 111, VALUE: values}
    )  # fmt: skip


def test_seasonal_naive_by_hand() -> None:
    values = [float(i) for i in range(24 * 8)]  # hour i has value i
    day = pd.Timestamp("2023-01-08", tz="UTC")
    naive = seasonal_naive(tiny(values), [day])
    series = naive[(naive.area == "DK1") & (naive.consumer_type == 111)]
    np.testing.assert_array_equal(series["naive_24h"], np.arange(144, 168))
    np.testing.assert_array_equal(series["naive_168h"], np.arange(0, 24))
    assert naive[naive.consumer_type == 112]["naive_24h"].isna().all()  # no history: no guess


def test_metrics_by_hand() -> None:
    y = np.array([100.0, 200.0, 0.0, 50.0])
    f = np.array([110.0, 180.0, 5.0, 50.0])
    assert metrics.wape(y, f) == pytest.approx(35 / 350)
    # The zero actual is left out of MAPE rather than divided by.
    assert metrics.mape(y, f) == pytest.approx((0.1 + 0.1 + 0.0) / 3)
    assert metrics.bias(y, f) == pytest.approx(-5 / 350)
    insample = np.array([1.0, 2.0, 4.0, 8.0])  # lag-1 naive errors: 1, 2, 4 -> MAE 7/3
    assert metrics.mase(y, f, insample, season=1) == pytest.approx((35 / 4) / (7 / 3))


def test_metrics_with_only_zeros_are_nan_not_errors() -> None:
    zeros = np.zeros(3)
    assert math.isnan(metrics.wape(zeros, np.ones(3)))
    assert math.isnan(metrics.mape(zeros, np.ones(3)))
    assert math.isnan(metrics.mase(np.ones(3), np.ones(3), np.ones(10), season=2))
    with pytest.raises(ValueError, match="shape"):
        metrics.wape(np.ones(3), np.ones(2))


def test_per_series_summary() -> None:
    frame = pd.DataFrame(
        {"area": ["DK1", "DK1", "DK2", "DK2"], "consumer_type": [111, 111, 111, 111],
         "y": [100.0, 100.0, 10.0, 10.0], "f": [90.0, 110.0, 10.0, 12.0]}
    )  # fmt: skip
    per_series = metrics.per_series(frame, "y", "f")
    assert per_series["mape"].tolist() == pytest.approx([0.1, 0.1])
    summary = metrics.summary(frame, "y", "f")
    assert summary["wape"] == pytest.approx(22 / 220)
    assert summary["mape_median"] == pytest.approx(0.1)


# -- model -----------------------------------------------------------------------------------


def test_model_fits_predicts_and_orders_quantiles(history: pd.DataFrame) -> None:
    days = pd.date_range(D - 25 * DAY, D, freq="D", tz="UTC")
    features = build_features(history, days)
    train, test = features[features[ORIGIN] < D], features[features[ORIGIN] == D]
    model = fit(train, {"num_boost_round": 60})
    out = predict(model, test)
    assert list(out[KEYS].itertuples(index=False)) == list(test[KEYS].itertuples(index=False))
    assert (out[PREDICTION] >= 0).all() and np.isfinite(out[PREDICTION]).all()
    assert (out[P10] <= out[PREDICTION]).all() and (out[PREDICTION] <= out[P90]).all()
    assert metrics.wape(test[VALUE], out[PREDICTION]) < metrics.wape(
        test[VALUE], test["r_lag24"] * test[SCALE]
    )
    again = predict(fit(train, {"num_boost_round": 60}), test)
    pd.testing.assert_frame_equal(out, again)  # deterministic


def test_fit_refuses_empty_training_data(history: pd.DataFrame) -> None:
    features = build_features(history, [D])
    with pytest.raises(ValueError, match="no trainable rows"):
        fit(features.iloc[:0])


# -- backtest on real data -------------------------------------------------------------------


@pytest.mark.realdata
def test_baselines_reproduce_the_reference_figures(de35_parquet: Path) -> None:
    from energy_assets.domain.sources.files import read_consumption_file

    history = read_consumption_file(de35_parquet)
    days = list(pd.date_range("2023-01-14", "2023-01-23", tz="UTC"))
    naive = seasonal_naive(history, days).merge(history, on=KEYS)
    assert round(metrics.wape(naive[VALUE], naive["naive_24h"]), 3) == 0.107
    assert round(metrics.summary(naive, VALUE, "naive_168h")["mape_median"], 3) == 0.066
    assert round(metrics.summary(naive, VALUE, "naive_24h")["mape_median"], 3) == 0.103


def _hourly_rows(days: int, series: int) -> pd.DataFrame:
    hours = pd.date_range("2022-01-01", periods=days * 24, freq="h", tz="UTC")
    return pd.DataFrame({TIME: np.repeat(hours, series), "x": 1.0})


def test_training_sample_keeps_every_row_under_the_budget() -> None:
    from energy_assets.domain.forecasting.model import (
        recency_weights,
        split_params,
        training_sample,
    )

    frame = _hourly_rows(days=30, series=5)
    params = split_params({"max_training_rows": len(frame)})
    rows, weights = training_sample(frame, params)
    assert len(rows) == len(frame)
    np.testing.assert_allclose(weights, recency_weights(frame, 10.0, 0.1))


def test_training_sample_keeps_recent_days_and_the_weight_of_old_ones() -> None:
    """Over the budget: the newest days above the weight floor stay whole, older days are drawn
    whole with weights that keep their stratum's total weight, the same on every call."""
    from energy_assets.domain.forecasting.model import (
        recency_weights,
        split_params,
        training_sample,
    )

    frame = _hourly_rows(days=400, series=10)  # 96,000 rows
    params = split_params({"max_training_rows": 20_000})
    rows, weights = training_sample(frame, params)
    again, weights_again = training_sample(frame, params)
    assert rows.index.equals(again.index) and np.array_equal(weights, weights_again)
    assert len(rows) <= 20_000 + 240  # the budget, give or take one day
    per_day = rows.groupby(rows[TIME].dt.floor("D")).size()
    assert (per_day == 240).all(), "days are kept whole"
    newest = frame[TIME].max().floor("D")
    recent = pd.date_range(newest - pd.Timedelta(days=20), newest, freq="D")
    assert recent.isin(per_day.index).all(), "the newest days above the floor are all kept"
    full = recency_weights(frame, 10.0, 0.1)
    old = (frame[TIME] < newest - pd.Timedelta(days=60)).to_numpy()
    kept_old = (rows[TIME] < newest - pd.Timedelta(days=60)).to_numpy()
    assert kept_old.sum() < old.sum() / 5, "old days are sampled"
    assert weights[kept_old].sum() == pytest.approx(full[old].sum(), rel=0.05)
    assert weights.sum() == pytest.approx(full.sum(), rel=0.05)


def test_a_warm_start_keeps_the_fitted_trees_and_boosts_on(history: pd.DataFrame) -> None:
    """`continue_fit` boosts each ensemble member further from where it stopped: the first
    trees are the fitted model's, the series keep their categorical codes, and the result
    forecasts the same rows, differently."""
    from energy_assets.domain.forecasting.model import continue_fit

    frame = build_features(history, pd.date_range(D - 20 * DAY, D, freq="D", tz="UTC"))
    params = {"num_boost_round": 20}
    first = fit(frame[frame[ORIGIN] < frame[ORIGIN].max()], params, quantiles=())
    warm = continue_fit(first, frame, params, rounds=5)
    assert warm.point.current_iteration() == first.point.current_iteration() + 5
    assert [m.current_iteration() for m in warm.members] == [25]
    assert warm.point.pandas_categorical == first.point.pandas_categorical
    before = warm.point.predict(design(frame, first.point.feature_name()), num_iteration=20)
    np.testing.assert_allclose(
        before, first.point.predict(design(frame, first.point.feature_name())), rtol=1e-12
    )
    assert not np.allclose(predict(warm, frame)[PREDICTION], predict(first, frame)[PREDICTION])
