"""Monitoring metrics, drift, alert levels, the alerts log and webhook delivery."""

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.monitoring.accuracy import (
    MonitoringInputError,
    day_summaries,
    day_summary,
    score_series,
)
from energy_assets.domain.monitoring.alerts import Alert, Level, classify, mape_alert
from energy_assets.domain.monitoring.drift import (
    DAY,
    DriftInputError,
    DriftReference,
    build_reference,
    calibrate_thresholds,
    day_drift,
    evidently_report,
    summarise,
    wasserstein,
)
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import GCSStorage, LocalStorage
from resources.notifier import Notifier
from tests.webhook_server import WebhookServer

T0 = pd.Timestamp("2023-01-10 00:00", tz="UTC")


def frames(rows: list[tuple[int, str, int, float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(hour offset, area, consumer type, actual, forecast) -> predictions, actuals."""
    keys = pd.DataFrame(
        {
            "datetime_utc": [T0 + pd.Timedelta(hours=h) for h, *_ in rows],
            "area": pd.array([a for _, a, *_ in rows], dtype="string"),
            "consumer_type": [c for _, _, c, *_ in rows],
        }
    )
    actuals = keys.assign(consumption_kwh=[y for *_, y, _ in rows])
    predictions = keys.assign(prediction_kwh=[f for *_, f in rows], model_uri="models:/m/3")
    return predictions, actuals


# --- accuracy ------------------------------------------------------------------------------------


def test_per_series_scores_match_hand_computed_values() -> None:
    predictions, actuals = frames(
        [
            (0, "DK1", 111, 100.0, 110.0),  # APE 0.10
            (1, "DK1", 111, 200.0, 150.0),  # APE 0.25
            (0, "DK2", 999, 0.0, 5.0),  # zero actual: no APE, counted in WAPE numerator
            (1, "DK2", 999, 50.0, 40.0),  # APE 0.20
        ]
    )
    series = score_series(predictions, actuals).set_index(["area", "consumer_type"])
    dk1, dk2 = series.loc[("DK1", 111)], series.loc[("DK2", 999)]
    assert dk1["mape"] == pytest.approx(0.175)
    assert dk1["wape"] == pytest.approx(60 / 300)
    assert dk1["bias"] == pytest.approx(-40 / 300)
    assert (dk1["count"], dk1["mape_hours"]) == (2, 2)
    assert dk2["mape"] == pytest.approx(0.20)  # the zero hour is skipped, not divided by
    assert dk2["wape"] == pytest.approx(15 / 50)
    assert dk2["bias"] == pytest.approx(-5 / 50)
    assert (dk2["count"], dk2["mape_hours"]) == (2, 1)
    assert set(series["model_uri"]) == {"models:/m/3"}

    summary = day_summary(series.reset_index())
    assert summary["day"] == "2023-01-10"
    assert summary["mape"] == pytest.approx((0.10 + 0.25 + 0.20) / 3)  # over scored hours
    assert summary["wape"] == pytest.approx(75 / 350)
    assert summary["bias"] == pytest.approx(-45 / 350)
    assert summary["mape_median"] == pytest.approx((0.175 + 0.20) / 2)
    assert (summary["worst_series"], summary["mape_worst"]) == ("DK2/999", pytest.approx(0.2))
    assert (summary["series_scored"], summary["hours_scored"]) == (2, 4)
    assert summary["model_uri"] == "models:/m/3"


def test_a_series_of_zeros_and_missing_actuals_give_nan_not_errors() -> None:
    predictions, actuals = frames([(0, "DK1", 111, 0.0, 3.0), (1, "DK1", 111, np.nan, 3.0)])
    [row] = score_series(predictions, actuals).to_dict(orient="records")
    assert np.isnan(row["mape"]) and np.isnan(row["wape"]) and np.isnan(row["bias"])
    assert row["count"] == 1  # the hour without an actual is not scored
    assert np.isnan(day_summary(score_series(predictions, actuals))["mape"])


def test_days_are_scored_apart_and_keyed_by_date() -> None:
    predictions, actuals = frames(
        [(0, "DK1", 111, 100.0, 90.0), (24, "DK1", 111, 100.0, 70.0), (25, "DK1", 111, 50, 50)]
    )
    summaries = day_summaries(score_series(predictions, actuals))
    assert list(summaries) == ["2023-01-10", "2023-01-11"]
    assert summaries["2023-01-10"]["mape"] == pytest.approx(0.10)
    assert summaries["2023-01-11"]["mape"] == pytest.approx(0.15)


def test_bad_inputs_name_what_is_wrong() -> None:
    predictions, actuals = frames([(0, "DK1", 111, 100.0, 90.0)])
    with pytest.raises(MonitoringInputError, match=r"predictions lack the columns \['model_u"):
        score_series(predictions.drop(columns="model_uri"), actuals)
    with pytest.raises(MonitoringInputError, match="actuals lack the columns"):
        score_series(predictions, actuals.drop(columns="consumption_kwh"))
    with pytest.raises(MonitoringInputError, match="more than one forecast"):
        score_series(pd.concat([predictions, predictions]), actuals)


# --- drift ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n"), [(5000, 1824), (1824, 1824), (7, 3), (20_000, 24)])
def test_wasserstein_matches_scipy(m: int, n: int) -> None:
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(m + n)
    reference = np.round(rng.lognormal(0, 1, m), 2)  # rounded: ties, as real ratios have
    current = np.round(rng.lognormal(0.2, 1.1, n), 2)
    ours = wasserstein(np.sort(reference), np.sort(current))
    assert ours == pytest.approx(wasserstein_distance(reference, current), rel=1e-9, abs=1e-12)


def _real_features(de35_parquet: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from energy_assets.domain.forecasting.features import build_features
    from energy_assets.domain.sources.files import read_consumption_file

    history = read_consumption_file(de35_parquet)
    reference = build_features(history, pd.date_range("2022-12-27", "2023-01-08", tz="UTC"))
    days = build_features(history, pd.date_range("2023-01-09", "2023-01-12", tz="UTC"))
    return reference, days


def test_day_drift_agrees_with_evidently_on_real_features(de35_parquet: Path) -> None:
    """The vectorised distances are Evidently's own, column by column, and its report is
    stored compressed."""
    reference_features, days = _real_features(de35_parquet)
    reference = build_reference(reference_features)
    table = day_drift(reference, days)
    assert sorted(table[DAY].unique()) == sorted(days[ORIGIN].unique())
    one_day = days[days[ORIGIN] == days[ORIGIN].max()]
    compressed, evidently = evidently_report(reference.features, one_day, reference.thresholds)
    ours = table[table[DAY] == days[ORIGIN].max()].set_index("column")["distance"]
    assert set(ours.index) == set(evidently) and len(ours) >= 10
    for column, value in evidently.items():
        assert ours[column] == pytest.approx(value, rel=1e-9, abs=1e-12), column
    html = gzip.decompress(compressed)
    assert b"<html" in html[:2000].lower() and len(html) > 2 * len(compressed)


def test_drift_on_real_features_flags_only_the_columns_a_shift_moves(de35_parquet: Path) -> None:
    reference_features, days = _real_features(de35_parquet)
    reference = build_reference(reference_features)
    today = days[days[ORIGIN] == pd.Timestamp("2023-01-11", tz="UTC")]
    ordinary = summarise(day_drift(reference, today))
    assert ordinary.drifted == [] and not ordinary.dataset_drift  # an ordinary weekday
    # Every series 30% above its level: the level and the last day's ratio move, lags do not.
    shifted = today.assign(
        log_scale=today["log_scale"] + np.log10(1.3), r_mean_24h=today["r_mean_24h"] * 1.3
    )
    moved = summarise(day_drift(reference, shifted))
    assert moved.drifted == ["r_mean_24h", "log_scale"]
    assert moved.as_dict()["drifted_columns"] == "r_mean_24h, log_scale"


def test_thresholds_are_the_reference_days_own_spread() -> None:
    """A column whose days differ a lot from each other tolerates more than a steady one."""
    rng = np.random.default_rng(3)
    days = np.repeat(pd.date_range("2023-01-01", periods=14, tz="UTC"), 500)
    wobble = np.repeat(rng.normal(0, 1, 14), 500)
    frame = pd.DataFrame({ORIGIN: days, "steady": rng.normal(0, 1, len(days)),
                          "wobbly": rng.normal(0, 1, len(days)) + 3 * wobble})  # fmt: skip
    thresholds = calibrate_thresholds(frame, ["steady", "wobbly"])
    assert thresholds["steady"] == pytest.approx(0.1)  # the floor: its days are alike
    assert thresholds["wobbly"] > 0.5


def test_thresholds_equal_scipy_day_against_the_rest() -> None:
    """Each day against all the others, the thresholds' basis, is scipy's exact W1 (ties,
    unequal day sizes and a day of one value included)."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(11)
    sizes = [1, 7, 40, 300, 300]
    days = np.repeat(pd.date_range("2023-01-01", periods=len(sizes), tz="UTC"), sizes)
    values = np.round(rng.gamma(2.0, 1.5, len(days)), 1) + np.repeat(np.arange(len(sizes)), sizes)
    frame = pd.DataFrame({ORIGIN: days, "x": values})
    scale = max(float(np.std(values)), 1e-9)
    expected = max(
        wasserstein_distance(values[days != day], values[days == day]) / scale
        for day in np.unique(days)
    )
    thresholds = calibrate_thresholds(frame, ["x"])
    assert thresholds["x"] == pytest.approx(max(0.1, 1.1 * expected), rel=1e-9)


def test_a_column_without_values_or_of_one_day_gets_the_floor() -> None:
    days = np.repeat(pd.date_range("2023-01-01", periods=3, tz="UTC"), 4)
    frame = pd.DataFrame({ORIGIN: days, "empty": np.nan, "x": np.arange(12.0)})
    assert calibrate_thresholds(frame, ["empty"]) == {"empty": 0.1}
    assert calibrate_thresholds(frame.iloc[:4], ["x"]) == {"x": 0.1}  # one day: no rest


def test_drift_refuses_missing_columns_and_empty_frames(de35_parquet: Path) -> None:
    reference_features, days = _real_features(de35_parquet)
    reference = build_reference(reference_features)
    with pytest.raises(DriftInputError, match=r"current features lack the columns \['log_scale'\]"):
        day_drift(reference, days.drop(columns="log_scale"))
    with pytest.raises(DriftInputError, match="reference features lack the columns"):
        build_reference(reference_features.drop(columns="r_lag24"))
    empty = DriftReference(reference.features.iloc[:0], reference.thresholds)
    with pytest.raises(DriftInputError, match="reference features are empty"):
        day_drift(empty, days)


# --- alert levels and records --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mape", "level"),
    [(0.05, Level.OK), (0.08, Level.OK), (0.081, Level.WARN), (0.12, Level.WARN),
     (0.2, Level.ALERT), (float("nan"), Level.ALERT)],
)  # fmt: skip
def test_classify_against_warn_and_alert(mape: float, level: Level) -> None:
    assert classify(mape, 0.08, 0.12) is level


def test_classify_refuses_thresholds_out_of_order() -> None:
    with pytest.raises(ValueError, match=r"warn threshold 0\.2 must be below alert threshold 0\.1"):
        classify(0.1, 0.2, 0.1)


def test_alert_round_trips_and_names_the_day_level_and_figures() -> None:
    summary = {"day": "2023-01-18", "mape": 0.15, "wape": 0.1, "worst_series": "DK1/999",
               "mape_worst": 0.4, "model_uri": "models:/m/7", "lead_days": 3}  # fmt: skip
    alert = mape_alert(Level.ALERT, summary, 0.08, 0.12)
    assert alert.key == "2023-01-18_mape_ALERT"
    assert alert.text().startswith(
        "[ALERT] 2023-01-18: pooled MAPE 15.0% (lead 3) is above the alert"
    )
    assert "models:/m/7" in alert.text() and "DK1/999" in alert.text()
    assert Alert.from_json(alert.to_json()) == alert


# --- the alerts log and the webhook ------------------------------------------------------------


def alert(day: str = "2023-01-18", level: Level = Level.WARN) -> Alert:
    return Alert(level=level, day=day, source="mape", message="pooled MAPE high")


@pytest.fixture(params=["local", "gcs"])
def log(request: pytest.FixtureRequest, tmp_path: object) -> AlertLog:
    if request.param == "local":
        return AlertLog(LocalStorage(str(tmp_path)))
    emulator = request.getfixturevalue("gcs_emulator")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    client = gcs.Client(project="test", credentials=AnonymousCredentials())
    return AlertLog(GCSStorage(client, "test-bucket", f"alerts-{request.node.name}"))


def test_the_alerts_log_appends_once_per_alert_and_reads_back_in_order(log: AlertLog) -> None:
    first, second = alert("2023-01-17"), alert("2023-01-18", Level.ALERT)
    assert log.append(first) and log.append(second)
    assert not log.append(alert("2023-01-17"))  # same identity: kept once
    assert [a.key for a in log.read()] == [first.key, second.key]
    frame = log.frame()
    assert list(frame["level"]) == ["WARN", "ALERT"] and list(frame["day"]) == [
        "2023-01-17",
        "2023-01-18",
    ]


def test_pending_alerts_are_those_without_a_delivery_mark(log: AlertLog) -> None:
    first, second = alert("2023-01-17"), alert("2023-01-18", Level.ALERT)
    log.append(first)
    log.append(second)
    assert [a.key for a in log.pending()] == [first.key, second.key]
    log.mark_delivered(first, "webhook")
    assert [a.key for a in log.pending()] == [second.key]
    assert [a.key for a in log.read()] == [first.key, second.key]  # the log itself is unchanged


def test_delivery_posts_each_pending_alert_once_in_order(tmp_path: object) -> None:
    log = AlertLog(LocalStorage(str(tmp_path)))
    log.append(alert("2023-01-17"))
    log.append(alert("2023-01-18", Level.ALERT))
    with WebhookServer() as server:
        notifier = Notifier(webhook_url=server.url, backoff_seconds=0.01)
        first = notifier.deliver_pending(log)
        second = notifier.deliver_pending(log)
    assert first.sent == ["2023-01-17_mape_WARN", "2023-01-18_mape_ALERT"] and not first.error
    assert second.sent == [] and log.pending() == []
    assert [a["body"]["text"] for a in server.accepted] == [
        alert("2023-01-17").text(),
        alert("2023-01-18", Level.ALERT).text(),
    ]
    assert server.accepted[0]["path"] == "/services/T000/B000/secret-token"


def test_delivery_retries_a_webhook_that_fails_twice(tmp_path: object) -> None:
    log = AlertLog(LocalStorage(str(tmp_path)))
    log.append(alert())
    with WebhookServer(fail_first=2) as server:
        delivery = Notifier(webhook_url=server.url, backoff_seconds=0.01).deliver_pending(log)
    assert delivery.sent == [alert().key]
    assert len(server.attempts) == 3 and len(server.accepted) == 1


def test_a_webhook_that_keeps_failing_leaves_alerts_pending_without_leaking_the_url(
    tmp_path: object,
) -> None:
    log = AlertLog(LocalStorage(str(tmp_path)))
    log.append(alert("2023-01-17"))
    log.append(alert("2023-01-18"))
    with WebhookServer(fail_first=100) as server:
        notifier = Notifier(webhook_url=server.url, max_retries=2, backoff_seconds=0.01)
        delivery = notifier.deliver_pending(log)
    assert delivery.sent == [] and delivery.waiting == 2
    assert delivery.error is not None and "answered HTTP 503 after 2 retries" in delivery.error
    assert "secret-token" not in delivery.error and "127.0.0.1" in delivery.error
    assert len(server.attempts) == 3  # the first alert's tries; the second waits its turn
    assert len(log.pending()) == 2


def test_an_unreachable_webhook_is_reported(tmp_path: object, refusing_port: int) -> None:
    log = AlertLog(LocalStorage(str(tmp_path)))
    log.append(alert())
    notifier = Notifier(
        webhook_url=f"http://127.0.0.1:{refusing_port}/hook", max_retries=1, backoff_seconds=0.01
    )
    delivery = notifier.deliver_pending(log)
    assert delivery.error is not None
    assert re.search(r"127\.0\.0\.1:\d+/… unreachable after 1", delivery.error)


def test_without_a_webhook_alerts_are_delivered_to_the_log_alone(tmp_path: object) -> None:
    log = AlertLog(LocalStorage(str(tmp_path)))
    log.append(alert())
    assert Notifier().deliver_pending(log).sent == [alert().key]
    assert len(log.read()) == 1 and log.pending() == []
