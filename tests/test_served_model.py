"""The registered model is the whole forecaster: what MLflow's own loader serves from the request
form is what the forecaster makes from the full history, issue by issue or in a batch, and a
request it cannot forecast from is refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain import tracking
from energy_assets.domain.forecasting.features import (
    LEAD,
    ORIGIN,
    TARGET,
    build_origin_features,
)
from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.forecaster_files import load_forecaster, save_forecaster
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION
from energy_assets.domain.forecasting.request_form import (
    from_request,
    history_windows,
    request_body,
    request_frame,
    within,
)
from energy_assets.domain.forecasting.training import train_weekly_model
from energy_assets.domain.prices import PRICE_EUR
from energy_assets.domain.schema import CONSUMER_TYPE, TIME, VALUE
from energy_assets.domain.sources.prices import SimulatedPrices
from energy_assets.domain.sources.simulator import SimulatorSource

WEEK = pd.Timestamp("2023-03-13", tz="UTC")
REACH = 5
FORECASTS = [PREDICTION, P10, P90]


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = SimulatorSource(seed=5).fetch(
        pd.Timestamp("2022-02-01", tz="UTC"), pd.Timestamp("2023-03-20", tz="UTC")
    )
    return frame[frame[CONSUMER_TYPE].isin([111, 441, 999])].reset_index(drop=True)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return SimulatedPrices(seed=5).fetch(
        pd.Timestamp("2022-02-01", tz="UTC"), pd.Timestamp("2023-03-25", tz="UTC")
    )


@pytest.fixture(scope="module")
def forecaster(history: pd.DataFrame, prices: pd.DataFrame) -> Forecaster:
    """A week's model with prices, reaching 5 days."""
    trained = train_weekly_model(
        history[history[TIME] < WEEK],
        WEEK,
        training_weeks=8,
        validation_days=7,
        params={"num_boost_round": 40},
        prices=prices,
        horizon=REACH,
    )
    return Forecaster(trained.model)


@pytest.fixture(scope="module")
def registered(forecaster: Forecaster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The forecaster registered in a fresh MLflow store: its version's URI."""

    store = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    tracking.configure(uri, "served", (store / "artifacts").as_uri())
    version = tracking.log_forecast_model(
        forecaster.model,
        registered_model="served",
        week=str(WEEK.date()),
        params={},
        tags={},
        metrics={},
    )
    yield version.uri
    tracking.load_forecaster.cache_clear()


@pytest.fixture(scope="module")
def served(registered: str) -> Any:
    """The registered version as MLflow's own loader gives it."""
    import mlflow

    return mlflow.pyfunc.load_model(registered)


def assert_close(mine: pd.DataFrame, theirs: pd.DataFrame, rtol: float = 1e-9) -> None:
    keys = [c for c in mine.columns if c not in (*FORECASTS, "price_known")]
    pd.testing.assert_frame_equal(
        mine[keys].reset_index(drop=True), theirs[keys].reset_index(drop=True), check_dtype=False
    )
    for column in FORECASTS:
        np.testing.assert_allclose(mine[column], theirs[column], rtol=rtol, err_msg=column)


def test_a_forecaster_saved_and_loaded_forecasts_the_same(
    forecaster: Forecaster, history: pd.DataFrame, prices: pd.DataFrame, tmp_path: Path
) -> None:
    files = save_forecaster(forecaster, tmp_path)
    assert {"forecaster.json", "point.txt", "quantiles/0.1.txt", "further/0.txt"} <= set(files)
    loaded = load_forecaster(tmp_path, "here")
    origins = pd.DatetimeIndex([WEEK])
    expected = forecaster.forecast(history, prices, origins)
    pd.testing.assert_frame_equal(loaded.forecast(history, prices, origins), expected)
    assert sorted(expected[LEAD].unique()) == [1, 2, 3, 4, 5]


def test_an_issue_alone_is_the_same_issue_in_a_batch(
    forecaster: Forecaster, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    origins = pd.DatetimeIndex(["2023-03-13", "2023-03-14", "2023-03-15"], tz="UTC")
    batch = forecaster.forecast(history, prices, origins)
    assert list(batch[ORIGIN].unique()) == list(origins)
    for origin in origins:
        alone = forecaster.forecast(history, prices, pd.DatetimeIndex([origin]))
        assert_close(alone, batch[batch[ORIGIN] == origin])


@pytest.mark.parametrize("leads", [(1, 2, 7, 8, 14), (15, 29, 30)])
def test_the_history_windows_hold_every_hour_the_features_read(
    history: pd.DataFrame, leads: tuple[int, ...]
) -> None:
    origin = pd.Timestamp("2023-03-06", tz="UTC")
    full = build_origin_features(history, pd.DatetimeIndex([origin]), None, leads)
    kept = within(history, history_windows(origin, max(leads)))
    assert len(kept) < len(history) / 5
    trimmed = build_origin_features(kept, pd.DatetimeIndex([origin]), None, leads)
    known = [c for c in full.columns if c not in (VALUE, TARGET)]  # what is forecast is not
    pd.testing.assert_frame_equal(trimmed[known], full[known], rtol=1e-9)


def test_mlflow_serves_from_the_request_what_the_forecaster_makes_from_all_history(
    served: Any, forecaster: Forecaster, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    origin = pd.Timestamp("2023-03-15", tz="UTC")
    frame = request_frame(history[history[TIME] < origin], prices, origin, REACH)
    assert frame[TIME].dt.tz is None and PRICE_EUR in frame.columns
    answer = served.predict(frame, params={"origin": "2023-03-15T00:00:00Z"})
    expected = forecaster.forecast(history, prices, pd.DatetimeIndex([origin]))
    assert_close(answer, expected)
    assert answer["price_known"].any() and not answer["price_known"].all()
    # Without params: the day after the last hour of consumption, every lead.
    pd.testing.assert_frame_equal(served.predict(frame), answer)
    # Some leads only: made as an issue reaching the farthest of them is.
    some = served.predict(frame, params={"leads": [2, 3]})
    assert sorted(some[LEAD].unique()) == [2, 3]


def test_the_json_body_is_the_request_frame(
    forecaster: Forecaster, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    origin = pd.Timestamp("2023-03-15", tz="UTC")
    frame = request_frame(history[history[TIME] < origin], prices, origin, REACH)
    body = request_body(frame, {"origin": "2023-03-15T00:00:00Z"})
    split = body["dataframe_split"]
    back = pd.DataFrame(split["data"], columns=split["columns"])
    assert back[VALUE].isna().sum() == frame[VALUE].isna().sum() > 0  # the days forecast
    parsed, parsed_prices = from_request(back, forecaster.keys)
    expected, expected_prices = from_request(frame, forecaster.keys)
    pd.testing.assert_frame_equal(parsed, expected)
    assert parsed_prices is not None and expected_prices is not None
    pd.testing.assert_frame_equal(parsed_prices, expected_prices)


def request(history: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    origin = pd.Timestamp("2023-03-15", tz="UTC")
    return request_frame(history[history[TIME] < origin], prices, origin, REACH)


@pytest.mark.parametrize(
    ("change", "params", "message"),
    [
        (None, {"origin": "2023-03-15T06:00:00Z"}, "00:00 UTC of the first day forecast"),
        (None, {"origin": "next tuesday"}, "origin 'next tuesday' is not a time"),
        (None, {"leads": [0, 1]}, r"leads must be whole days in 1 \.\. 5"),
        (None, {"leads": [6]}, r"leads must be whole days in 1 \.\. 5"),
        ("duplicate", {}, "has two consumption values"),
        ("half past", {}, "is not the start of an hour"),
        ("no consumption", {}, "no row has a consumption_kwh"),
        ("price clash", {}, "two different price_eur_mwh for DK1"),
    ],
)
def test_a_request_it_cannot_forecast_from_is_refused_by_name(
    served: Any,
    history: pd.DataFrame,
    prices: pd.DataFrame,
    change: str | None,
    params: dict[str, Any],
    message: str,
) -> None:
    frame = request(history, prices)
    if change == "duplicate":
        frame = pd.concat([frame, frame[frame[VALUE].notna()].tail(1)], ignore_index=True)
    elif change == "half past":
        frame.loc[5, TIME] += pd.Timedelta(minutes=30)
    elif change == "no consumption":
        frame[VALUE] = np.nan
    elif change == "price clash":  # two DK1 series, one hour, two prices
        priced = frame[(frame["area"] == "DK1") & frame[PRICE_EUR].notna()]
        hour = priced[TIME].iloc[-1]
        rows = frame.index[(frame["area"] == "DK1") & (frame[TIME] == hour)]
        frame.loc[rows[1], PRICE_EUR] += 1.0
    with pytest.raises(Exception, match=message):
        served.predict(frame, params=params)


def test_a_request_without_a_key_column_is_refused_by_the_signature(
    served: Any, history: pd.DataFrame, prices: pd.DataFrame
) -> None:
    with pytest.raises(Exception, match="consumer_type"):
        served.predict(request(history, prices).drop(columns=[CONSUMER_TYPE]))


def test_the_model_records_its_input_and_the_packages_that_load_it(
    served: Any, registered: str
) -> None:
    from importlib.metadata import version

    import mlflow

    metadata = served.metadata
    assert metadata.metadata["keys"] == ["area", "consumer_type"]
    assert metadata.metadata["leads"] == [1, 2, 3, 4, 5]
    assert metadata.metadata["prices"] == PRICE_EUR
    assert metadata.metadata["history"]["read_hours_before_origin"] == 336
    params = {p.name: p.default for p in metadata.get_params_schema().params}
    assert params == {"origin": "", "leads": [1, 2, 3, 4, 5]}
    inputs = {c.name: c.required for c in metadata.get_input_schema().inputs}
    assert inputs == {TIME: True, "area": True, CONSUMER_TYPE: True, VALUE: False, PRICE_EUR: False}
    logged = mlflow.artifacts.load_text(f"{registered}/requirements.txt").split()
    expected = [f"{n}=={version(n)}" for n in ("mlflow", *tracking.MODEL_REQUIREMENTS)]
    assert sorted(logged) == sorted(expected)
