"""The dashboard's views, callbacks and JSON endpoints over storage seeded on disk or in GCS."""

import datetime as dt
import gzip
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dash_app import cards, health, views
from dash_app.app import create_app
from dash_app.pages import (
    accuracy_colours,
    accuracy_over_time,
    drift_rows,
    forecast_page,
    lead_options,
    render_page,
    update_accuracy,
    update_forecast,
)
from dash_app.store import DashboardStore, Watched
from energy_assets.domain.monitoring.alerts import Alert, Level
from energy_assets.domain.sources.prices import SimulatedPrices
from energy_assets.domain.sources.simulator import SimulatorSource
from energy_assets.settings import DashboardSettings, load_dashboard_settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.drift_store import save_report
from energy_assets.storage.objects import LocalStorage, Storage, storage_from_settings
from tests.dashboards import issue_rows, scores_by_lead

DAYS = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-02-01", "2023-02-04")]
HISTORY = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-01-25", "2023-02-04")]
LEADS = 3  # days each seeded issue forecasts: the issue of DAYS[-1] reaches 2023-02-06


def simulated(first: str, last: str) -> pd.DataFrame:
    """Simulator actuals of the days from `first` through `last`."""
    start = pd.Timestamp(first, tz="UTC")
    return SimulatorSource(seed=1).fetch(start, pd.Timestamp(last, tz="UTC") + pd.Timedelta(days=1))


def seed(storage: Storage) -> None:
    """Eleven days of simulator actuals; an issue of forecasts (three days from its own) for
    each of four days, their monitoring by lead, drift and an alert."""
    actuals = simulated(HISTORY[0], "2023-02-06")
    known = actuals[
        actuals["datetime_utc"] < pd.Timestamp(DAYS[-1], tz="UTC") + pd.Timedelta(days=1)
    ]
    for day, part in known.groupby(known["datetime_utc"].dt.floor("D")):
        storage.write_parquet(f"raw_consumption/{day.date()}.parquet", part)
    issues = [issue_rows(actuals, day, LEADS) for day in DAYS]
    for day, issue in zip(DAYS, issues, strict=True):
        storage.write_parquet(f"predictions/{day}.parquet", issue)
    for day in DAYS:
        storage.write_parquet(
            f"forecast_monitoring/{day}.parquet", scores_by_lead(issues, known, day)
        )
        drifting = day == DAYS[-1]
        drift = pd.DataFrame(
            {
                "day": [pd.Timestamp(day, tz="UTC")] * 2,
                "column": ["r_lag24", "log_scale"],
                "distance": [0.05, 0.5],
                "threshold": [0.2, 0.2 if drifting else 0.6],
                "drifted": [False, drifting],
            }
        )
        if day == DAYS[0]:  # as drift was stored before reports were kept for drifting days only
            storage.write_bytes(f"feature_drift/{day}.html", f"<html>report {day}</html>".encode())
        else:
            report = ""
            if drifting:
                html = gzip.compress(f"<html>report {day}</html>".encode())
                report = save_report(storage, day, html)
            drift = drift.assign(report=report)
        storage.write_parquet(f"feature_drift/{day}.parquet", drift)
    AlertLog(storage).append(Alert(Level.ALERT, DAYS[-1], "mape", "pooled MAPE 20% > 12%"))


@pytest.fixture
def settings(tmp_path: Path) -> DashboardSettings:
    return load_dashboard_settings(storage_dir=tmp_path / "storage", state_dir=tmp_path / "state")


@pytest.fixture
def store(settings: DashboardSettings) -> DashboardStore:
    seed(storage_from_settings(settings))
    return DashboardStore.from_settings(settings)


@pytest.fixture
def client(settings: DashboardSettings, store: DashboardStore) -> Any:
    return create_app(settings, store).server.test_client()


def known_health(client: Any, deadline_seconds: float = 120.0) -> Any:
    """/api/health once the worker's background readers have read every fact (a generous
    deadline: a busy machine imports MLflow slowly)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        response = client.get("/api/health")
        facts = response.get_json()["facts"]
        if facts and all(f["ok"] is not None for f in facts.values()):
            return response
        assert time.monotonic() < deadline, response.get_json()
        time.sleep(0.1)


# --- callbacks as functions ----------------------------------------------------------------------


def test_the_forecast_follows_the_series_selector(store: DashboardStore) -> None:
    fig1, version, banner, style = update_forecast(store, "DK1", 111, DAYS[-1])
    fig2, *_ = update_forecast(store, "DK2", 999, DAYS[-1])
    names = [t.name for t in fig1.data]
    assert names == ["P90", "P10-P90", "forecast", "actual"]
    assert version == "Model version: models:/m/2"
    assert style == {"display": "none"} and banner == ""
    assert len(fig1.data[2].y) == 24 and len(fig1.data[3].y) == 8 * 24  # 7 days before + the day
    assert not np.allclose(fig1.data[2].y, fig2.data[2].y)
    assert fig2.layout.title.text == "DK2 · 999 · other"
    assert fig2.layout.title.subtitle.text == DAYS[-1]


def seed_prices(storage: Storage) -> pd.DataFrame:
    prices = SimulatedPrices(seed=1).fetch(
        pd.Timestamp(HISTORY[0], tz="UTC"),
        pd.Timestamp(HISTORY[-1], tz="UTC") + pd.Timedelta(days=1),
    )
    for day, part in prices.groupby(prices["datetime_utc"].dt.floor("D")):
        storage.write_parquet(f"day_ahead_prices/{day.date()}.parquet", part)
    return prices


def test_the_areas_prices_are_drawn_under_the_forecast_on_the_same_time_axis(
    store: DashboardStore,
) -> None:
    prices = seed_prices(store.storage)
    store.clear()
    fig, *_ = update_forecast(store, "DK2", 999, DAYS[-1])
    [price] = [t for t in fig.data if t.name == "day-ahead price"]
    # The day and the week before it, of the series' own area, under the consumption chart.
    dk2 = prices[prices["area"] == "DK2"]
    assert len(price.y) == 8 * 24
    np.testing.assert_allclose(price.y, dk2["price_eur_mwh"].to_numpy()[-8 * 24 :])
    assert price.xaxis == "x2" and price.yaxis == "y2"
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"
    [actual] = [t for t in fig.data if t.name == "actual"]
    assert list(actual.x) == list(price.x)  # the same hours on the shared axis


def test_a_forecast_made_without_prices_says_so(store: DashboardStore) -> None:
    key = f"predictions/{DAYS[-1]}.parquet"
    forecast = store.storage.read_parquet(key)
    store.storage.write_parquet(key, forecast.assign(price_known=False))
    store.storage.write_parquet(
        f"predictions/{DAYS[-2]}.parquet",
        store.storage.read_parquet(f"predictions/{DAYS[-2]}.parquet").assign(price_known=True),
    )
    store.clear()
    _, _, banner, style = update_forecast(store, "DK1", 111, DAYS[-1])
    assert style.get("display") != "none"
    assert f"The forecast of {DAYS[-1]} was made without day-ahead prices" in banner
    _, _, banner, _ = update_forecast(store, "DK1", 111, DAYS[-2])
    assert banner == ""


def test_a_day_without_forecasts_shows_a_banner_not_an_empty_chart(store: DashboardStore) -> None:
    _, _, banner, style = update_forecast(store, "DK1", 111, "2023-03-01")
    assert style.get("display") != "none"
    assert "No forecast is stored for 2023-03-01." in banner


def test_a_day_that_fails_the_data_contract_is_named_in_the_banner(store: DashboardStore) -> None:
    key = f"raw_consumption/{DAYS[-1]}.parquet"
    day = store.storage.read_parquet(key)
    store.storage.write_parquet(key, day.iloc[: len(day) - 76])  # the last hour is missing
    store.clear()
    _, _, banner, _ = update_forecast(store, "DK1", 111, DAYS[-1])
    assert f"The actuals of {DAYS[-1]} fail the data contract: complete_hourly_grid" in banner


def newest_scores(store: DashboardStore, lead: int = 1) -> pd.DataFrame:
    """The newest stored day's per-series scores at one lead."""
    scores = store.frame("forecast_monitoring", DAYS[-1])
    assert scores is not None and set(scores["lead_days"]) == {1, 2, 3}
    return scores[scores["lead_days"] == lead]


def test_accuracy_table_and_heatmap_follow_the_area(store: DashboardStore) -> None:
    both, heat_both, _ = update_accuracy(store, "all", 1)
    dk2, heat_dk2, _ = update_accuracy(store, "DK2", 1)
    assert len(both) == 76 and len(dk2) == 38
    assert {r["series"].split("/")[0] for r in dk2} == {"DK2"}
    assert [r["mape"] for r in both] == sorted((r["mape"] for r in both), reverse=True)
    # Percentages, so that the table shows "4.3 %" and filters on "> 10".
    scores = newest_scores(store)
    worst = scores.loc[scores["mape"].idxmax()]
    assert both[0]["mape"] == round(float(worst["mape"]) * 100, 4)
    assert both[0]["actual_kwh"] == round(float(worst["actual_kwh"]), 1)
    assert len(heat_both.data[0].y) == 76 and len(heat_dk2.data[0].y) == 38
    assert list(heat_both.data[0].x) == DAYS


def test_every_page_renders_and_an_unknown_one_says_so(store: DashboardStore) -> None:
    health.refresh(store)
    titles = {"/": "Forecast", "/accuracy": "Accuracy", "/drift": "Drift and alerts",
              "/health": "Health: degraded"}  # fmt: skip
    for path, title in titles.items():
        assert render_page(store, path).children[0].children == title
    assert "There is no page /nope." in str(render_page(store, "/nope"))
    assert "Models" in str(render_page(store, "/models"))
    drift = str(render_page(store, "/drift"))
    assert f"/reports/drift/{DAYS[-1]}" in drift and "log_scale" in drift
    assert f"/reports/drift/{DAYS[1]}" not in drift  # it did not drift: no report is stored
    assert "pooled MAPE 20% > 12%" in drift


def test_the_status_cards_say_what_is_stored(store: DashboardStore) -> None:
    by_id = {c.id: c for c in cards.status_cards(store)}
    assert list(by_id) == ["card-mape", "card-freshness", "card-version", "card-alert"]
    scores = newest_scores(store)  # the alert lead's, the day ahead by default
    pooled = (scores["mape"] * scores["mape_hours"]).sum() / scores["mape_hours"].sum()
    assert by_id["card-mape"].value == f"{pooled * 100:.1f} %"
    assert by_id["card-mape"].caption.startswith(f"{DAYS[-1]} · 1 day ahead · warn > 8.0 %")
    assert by_id["card-mape"].state == "ok" and by_id["card-mape"].colour == "success"
    assert by_id["card-freshness"].value == DAYS[-1] and by_id["card-freshness"].state == "bad"
    assert by_id["card-freshness"].title == "Newest actuals"
    version = by_id["card-version"]
    assert (version.value, version.state) == ("v2", "ok")
    assert version.caption == f"model m · week of 2023-01-30 · issue of {DAYS[-1]}"
    alert = by_id["card-alert"]
    assert (alert.value, alert.state) == ("ALERT", "bad")
    assert alert.caption == f"{DAYS[-1]} · pooled MAPE 20% > 12%"
    page = str(cards.render(list(by_id.values())))
    assert "text-bg-success" in page and "text-bg-danger" in page


@pytest.mark.parametrize(
    ("warn", "alert", "state"),
    [(0.08, 0.12, "ok"), (0.02, 0.12, "warn"), (0.01, 0.02, "bad")],
)
def test_the_mape_card_is_coloured_by_the_thresholds(
    store: DashboardStore, warn: float, alert: float, state: str
) -> None:
    settings = store.settings.model_copy(update={"mape_warn": warn, "mape_alert": alert})
    assert cards.mape_card(DashboardStore(store.storage, settings)).state == state


def test_the_status_cards_of_empty_or_unreadable_storage(tmp_path: Path) -> None:
    empty = load_dashboard_settings(storage_dir=tmp_path / "none", state_dir=tmp_path / "state")
    states = {
        c.id: (c.value, c.state) for c in cards.status_cards(DashboardStore.from_settings(empty))
    }
    assert states == {
        "card-mape": ("no data", "none"),
        "card-freshness": ("no data", "bad"),
        "card-version": ("none", "bad"),
        "card-alert": ("none", "ok"),
    }

    class Broken(DashboardStore):
        def partitions(self, asset: str, suffix: str = "parquet") -> list[str]:
            raise OSError("disk gone")

    broken = cards.status_cards(Broken.from_settings(empty))
    assert [c.value for c in broken][:3] == ["unavailable"] * 3
    assert all("disk gone" not in c.caption for c in broken)


def test_numbers_are_formatted_for_people() -> None:
    assert cards.percent(0.2278) == "22.8 %" and cards.percent(float("nan")) == "n/a"
    assert cards.kwh(1234.4) == "1,234 kWh" and cards.kwh(None) == "n/a"
    assert cards.version_label("models:/energy/17") == "v17"
    assert cards.version_label("runs:/abc/model") == "runs:/abc/model"


def test_the_accuracy_table_colours_mape_above_warn_amber_and_above_alert_red() -> None:
    amber, red = accuracy_colours(0.08, 0.12)
    assert amber["if"] == {"filter_query": "{mape} > 8.0", "column_id": "mape"}
    assert red["if"] == {"filter_query": "{mape} > 12.0", "column_id": "mape"}  # not 12.000…02
    assert amber["backgroundColor"] != red["backgroundColor"]


def test_drifted_features_are_named_in_words_with_their_column_as_tooltip(
    store: DashboardStore,
) -> None:
    from energy_assets.domain.forecasting.feature_names import label

    rows = drift_rows(store.all_frames("feature_drift"))
    assert rows[0]["day"] == DAYS[-1]
    assert rows[0]["drifted"] == (
        f'<abbr title="log_scale" data-feature="log_scale">{label("log_scale")}</abbr>'
    )
    assert rows[1]["drifted"] == "none"


def test_new_partitions_show_up_once_the_cache_expires(store: DashboardStore) -> None:
    # A long TTL, then the cache's clock moved past it: no race with a busy machine.
    store = DashboardStore(store.storage, store.settings, ttl_seconds=60)
    before = len(store.partitions("predictions"))
    frame = store.frame("predictions", DAYS[-1])
    assert frame is not None
    store.storage.write_parquet("predictions/2023-02-05.parquet", frame)
    assert len(store.partitions("predictions")) == before  # cached
    store._cache.expire(time.monotonic() + 61)
    assert len(store.partitions("predictions")) == before + 1


def test_the_cache_stays_within_its_byte_budget(store: DashboardStore) -> None:
    """Keys per day cannot grow it without bound: past the budget the oldest entries go."""
    day = store.frame("raw_consumption", HISTORY[0])
    assert day is not None
    one_day = int(day.memory_usage(deep=True).sum())
    small = DashboardStore(store.storage, store.settings, max_bytes=3 * one_day)
    for key in HISTORY:
        assert small.frame("raw_consumption", key) is not None
    assert small._cache.currsize <= 3 * one_day and len(small._cache) < len(HISTORY)
    assert small.frame("raw_consumption", HISTORY[0]) is not None  # evicted: read again
    huge = small.cached(("huge",), lambda: pd.concat([day] * 10))  # over budget: not kept
    assert len(huge) == 10 * len(day) and ("huge",) not in small._cache


# --- endpoints -----------------------------------------------------------------------------------


def test_predictions_endpoint_returns_the_days_24_hours(client: Any) -> None:
    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={DAYS[0]}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["area"], body["consumer_type"], body["date"]) == ("DK1", 111, DAYS[0])
    assert len(body["rows"]) == 24 and body["model_uri"] == "models:/m/2"
    assert body["rows"][0]["datetime_utc"] == f"{DAYS[0]}T00:00:00+00:00"
    assert all(r["p10_kwh"] <= r["prediction_kwh"] <= r["p90_kwh"] for r in body["rows"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("area=DK1&consumer_type=abc&date=2023-02-01", "consumer_type must be a DE35 code"),
        ("area=DK3&consumer_type=111&date=2023-02-01", "area must be one of DK1, DK2"),
        ("area=DK1&consumer_type=123456&date=2023-02-01", "not a DE35 code of this dataset"),
        ("area=DK1&consumer_type=111&date=01-02-2023", "date must be a date as YYYY-MM-DD"),
        ("area=DK1&consumer_type=111", "date is required"),
    ],
)
def test_predictions_endpoint_rejects_bad_parameters(client: Any, query: str, message: str) -> None:
    response = client.get(f"/api/predictions?{query}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_predictions_endpoint_answers_404_for_a_day_not_stored(client: Any) -> None:
    response = client.get("/api/predictions?area=DK1&consumer_type=111&date=2023-06-01")
    assert response.status_code == 404
    assert "no predictions stored" in response.get_json()["error"]


def strict_json(data: bytes) -> Any:
    """JSON as the standard defines it: NaN and Infinity are not numbers there."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(data, parse_constant=refuse)


def test_predictions_without_a_band_or_with_missing_numbers_are_valid_json(
    settings: DashboardSettings, store: DashboardStore
) -> None:
    # A day whose stored forecasts lack the P10/P90 columns and hold a NaN forecast.
    day = DAYS[2]
    path = f"predictions/{day}.parquet"
    frame = store.storage.read_parquet(path).drop(columns=["p10_kwh", "p90_kwh"])
    chosen = (frame["area"] == "DK1") & (frame["consumer_type"] == 111)
    frame.loc[chosen & (frame["datetime_utc"] == f"{day} 03:00Z"), "prediction_kwh"] = np.nan
    store.storage.write_parquet(path, frame)
    client = create_app(settings, DashboardStore.from_settings(settings)).server.test_client()

    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={day}")

    assert response.status_code == 200
    body = strict_json(response.data)
    assert body["warnings"] == [f"the stored predictions of {day} lack p10_kwh, p90_kwh"]
    assert [r["p10_kwh"] for r in body["rows"]] == [None] * 24
    assert body["rows"][3]["prediction_kwh"] is None
    assert all(isinstance(r["prediction_kwh"], float) for i, r in enumerate(body["rows"]) if i != 3)


def test_an_unreadable_predictions_file_is_a_json_503_without_internals(
    settings: DashboardSettings, store: DashboardStore
) -> None:
    store.storage.write_bytes(f"predictions/{DAYS[1]}.parquet", b"not parquet", "application/x")
    client = create_app(settings, DashboardStore.from_settings(settings)).server.test_client()

    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={DAYS[1]}")

    assert response.status_code == 503
    assert strict_json(response.data) == {"error": "the stored predictions could not be read"}


def test_health_is_200_with_its_facts_and_503_without_forecasts(
    client: Any, settings: DashboardSettings, tmp_path: Path
) -> None:
    response = known_health(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"  # 2023 data is stale today, and the last alert is ALERT
    facts = body["facts"]
    assert facts["storage reachable"]["ok"] and facts["newest prediction"]["value"] == DAYS[-1]
    assert (
        not facts["data freshness"]["ok"]
        and "newest day 2023-02-04" in facts["data freshness"]["value"]
    )
    assert facts["last alert"]["value"] == "ALERT 2023-02-04"  # no message text in public
    assert facts["champion version"]["value"] == "none registered"
    assert facts["storage reachable"]["value"] is None  # no storage address
    assert str(settings.storage_dir) not in response.get_data(as_text=True)

    empty = load_dashboard_settings(storage_dir=tmp_path / "empty", state_dir=tmp_path / "state")
    down = known_health(create_app(empty).server.test_client())
    assert down.status_code == 503 and down.get_json()["status"] == "down"


def test_drift_reports_are_served_from_storage(client: Any) -> None:
    """Compressed reports of drifting days, and plain ones as older runs stored them."""
    for day in (DAYS[-1], DAYS[0]):
        answer = client.get(f"/reports/drift/{day}")
        assert (
            answer.data == f"<html>report {day}</html>".encode() and answer.mimetype == "text/html"
        )
    assert client.get(f"/reports/drift/{DAYS[1]}").status_code == 404  # no report kept
    assert client.get("/reports/drift/2023-09-09").status_code == 404
    assert client.get("/reports/drift/not-a-day").status_code == 400
    assert b"report" not in client.get("/reports/drift/..%2F..%2Fsettings").data


def test_the_dashboard_reads_gcs_when_a_bucket_is_set(
    gcs_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prefix = f"dashboard-tests/{uuid.uuid4().hex}"
    monkeypatch.setenv("ENERGY_GCS_BUCKET", "test-bucket")
    monkeypatch.setenv("ENERGY_GCS_PREFIX", prefix)
    settings = load_dashboard_settings(state_dir=tmp_path / "state")
    seed(storage_from_settings(settings, gcs_client=gcs_client))
    client = create_app(settings).server.test_client()
    response = client.get(f"/api/predictions?area=DK2&consumer_type=441&date={DAYS[1]}")
    assert response.status_code == 200 and len(response.get_json()["rows"]) == 24
    answer = known_health(client)
    assert answer.get_json()["facts"]["storage reachable"] == {"ok": True, "value": None}
    assert "test-bucket" not in answer.get_data(as_text=True)


def test_health_is_503_when_the_bucket_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    refusing_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The public answer says only that storage is down; the page names the bucket with a fixed
    message, and the error itself goes to the server log."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{refusing_port}")
    monkeypatch.setenv("ENERGY_GCS_BUCKET", "test-bucket")
    settings = load_dashboard_settings(state_dir=tmp_path / "state")
    response = known_health(create_app(settings).server.test_client())
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "down" and not body["facts"]["storage reachable"]["ok"]
    text = response.get_data(as_text=True)
    assert "refused" not in text.lower() and "test-bucket" not in text and "127.0.0.1" not in text

    store = DashboardStore.from_settings(settings)
    health.refresh(store)
    page = str(render_page(store, "/health"))
    assert "gs://test-bucket/energy cannot be reached" in page and "refused" not in page.lower()
    assert "refused" in caplog.text.lower()


def test_predictions_endpoint_refuses_long_queries(client: Any) -> None:
    base = f"area=DK1&consumer_type=111&date={DAYS[0]}"
    too_long = client.get(f"/api/predictions?{base}&area={'x' * 65}")
    assert too_long.status_code == 400 and "at most 64 characters" in too_long.get_json()["error"]
    many = "&".join(f"p{i}=1" for i in range(9))
    too_many = client.get(f"/api/predictions?{base}&{many}")
    assert too_many.status_code == 400 and "at most 8 query" in too_many.get_json()["error"]


def test_request_bodies_are_limited(client: Any) -> None:
    big = b"{" + b" " * 70_000 + b"}"
    answer = client.post("/_dash-update-component", data=big, content_type="application/json")
    assert answer.status_code == 413


# --- health at once: facts read in the background ---------------------------------------------


class StalledStorage(LocalStorage):
    """Local storage whose reachability check waits until released, as a hung GCS would."""

    def __init__(self, base: Path, release: threading.Event) -> None:
        super().__init__(base)
        self.release = release

    def ping(self, timeout_seconds: float = 120.0) -> None:
        self.release.wait(300)


def wait_for_health(client: Any, until: Any, deadline_seconds: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        body: dict[str, Any] = client.get("/api/health").get_json()
        if until(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_health_answers_at_once_while_its_facts_are_still_being_read(
    settings: DashboardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(storage_from_settings(settings))
    storage_free, registry_free = threading.Event(), threading.Event()

    def champion(*_: object) -> str:
        registry_free.wait(300)
        return "models:/m/2"

    monkeypatch.setattr(health.tracking, "champion_uri", champion)
    store = DashboardStore(StalledStorage(settings.storage_dir, storage_free), settings)
    client = create_app(settings, store).server.test_client()
    try:
        # Both readers are stuck: the answer comes anyway, and says what it does not know.
        first = client.get("/api/health")
        assert first.status_code == 200
        body = first.get_json()
        assert body["status"] == "starting" and body["checked_at"] is None
        assert set(body["facts"]) == {
            "storage reachable",
            "data freshness",
            "newest prediction",
            "champion version",
            "last alert",
        }
        assert all(f == {"ok": None, "value": "not yet known"} for f in body["facts"].values())
        page = str(render_page(store, "/health"))
        assert "Health: starting" in page and "not yet known" in page

        # Storage answers; the registry still does not: the storage facts are not held up.
        storage_free.set()
        body = wait_for_health(client, lambda b: b["status"] != "starting")
        assert body["status"] == "degraded" and body["checked_at"]
        assert body["facts"]["newest prediction"] == {"ok": True, "value": DAYS[-1]}
        assert body["facts"]["champion version"] == {"ok": None, "value": "not yet known"}

        registry_free.set()
        body = wait_for_health(client, lambda b: b["facts"]["champion version"]["ok"])
        assert body["facts"]["champion version"]["value"] == "2"
    finally:
        storage_free.set()
        registry_free.set()


def test_a_reading_that_stops_coming_no_longer_vouches_for_its_fact(store: DashboardStore) -> None:
    health.refresh(store)
    now = dt.datetime.now(dt.UTC)
    status, facts = health.health_facts(store, now)
    assert status == "degraded" and facts[0].ok
    later = now + dt.timedelta(seconds=health.STALE_AFTER_SECONDS + 60)
    status, facts = health.health_facts(store, later)
    assert status == "down"
    assert [(f.name, f.ok) for f in facts] == [("storage reachable", False)]
    assert "not read for" in facts[0].value


def test_a_fact_never_read_for_minutes_is_wrong_not_unknown(
    settings: DashboardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    monkeypatch.setattr(health.tracking, "champion_uri", lambda *_: release.wait(300))
    store = DashboardStore(StalledStorage(settings.storage_dir, release), settings)
    try:
        now = dt.datetime.now(dt.UTC)
        assert health.health_facts(store, now)[0] == "starting"
        later = now + dt.timedelta(seconds=health.STALE_AFTER_SECONDS + 60)
        status, facts = health.health_facts(store, later)
        assert status == "down" and [(f.name, f.ok) for f in facts] == [
            ("storage reachable", False)
        ]
        assert "not read in" in facts[0].value
        champion = health.champion_fact(health.champion_watch(store), later)
        assert champion.ok is False and "not read in" in champion.value
    finally:
        release.set()


def test_a_failed_read_keeps_the_reading_before_it() -> None:
    values = iter([1, RuntimeError("storage hiccup"), 3])

    def read() -> int:
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    watched = Watched("flaky", read, interval=60)
    first = watched.refresh()
    assert first is not None and first.value == 1
    assert watched.refresh() is first  # the failed read: the reading before it stays (and ages)
    again = watched.refresh()
    assert again is not None and again.value == 3
    assert Watched("broken", lambda: 1 / 0, interval=60).refresh() is None


def test_a_background_reader_reads_again_every_interval_until_stopped() -> None:
    reads: list[int] = []
    watched = Watched("counter", lambda: reads.append(1) or len(reads), interval=0.01)
    deadline = time.monotonic() + 60
    while (reading := watched.reading()) is None or reading.value < 3:
        assert time.monotonic() < deadline, reads
        time.sleep(0.01)
    watched.stop()
    time.sleep(0.1)
    stopped_at = len(reads)
    time.sleep(0.2)
    assert len(reads) <= stopped_at + 1  # a read under way when stopped may still finish


def test_new_days_reach_the_health_answer_at_the_next_reading(store: DashboardStore) -> None:
    health.refresh(store)
    _, facts = health.health_facts(store)
    assert {f.name: f.value for f in facts}["newest prediction"] == DAYS[-1]
    frame = store.frame("predictions", DAYS[-1])
    assert frame is not None
    store.storage.write_parquet("predictions/2023-02-05.parquet", frame)
    store.clear()
    health.refresh(store)
    _, facts = health.health_facts(store)
    assert {f.name: f.value for f in facts}["newest prediction"] == "2023-02-05"


# --- forecasts by issue and lead -----------------------------------------------------------------


def stored_day(store: DashboardStore, issue: str, day: str, lead: int) -> pd.DataFrame:
    """DK1/111's rows of `day` in the stored issue of `issue`, which holds them at `lead`."""
    frame = store.storage.read_parquet(f"predictions/{issue}.parquet")
    rows = frame[
        (frame["area"] == "DK1")
        & (frame["consumer_type"] == 111)
        & (frame["datetime_utc"].dt.strftime("%Y-%m-%d") == day)
    ]
    assert len(rows) == 24 and set(rows["lead_days"]) == {lead}
    return rows.sort_values("datetime_utc")


def predicted(body: dict[str, Any]) -> list[float]:
    return [r["prediction_kwh"] for r in body["rows"]]


def test_the_api_answers_the_newest_forecast_of_a_day_or_the_one_made_lead_days_ahead(
    client: Any, store: DashboardStore
) -> None:
    query = "/api/predictions?area=DK1&consumer_type=111&date=2023-02-05"
    # 2023-02-05 was forecast by the issues of 02-03 (three days ahead) and 02-04 (two).
    newest = client.get(query).get_json()
    assert (newest["lead_days"], newest["issued_at"]) == (2, "2023-02-05T12:00:00+00:00")
    assert newest["rows"][0]["datetime_utc"] == "2023-02-05T00:00:00+00:00"
    expected = stored_day(store, "2023-02-04", "2023-02-05", 2)["prediction_kwh"]
    assert predicted(newest) == pytest.approx(expected.tolist())

    older = client.get(query + "&lead=3").get_json()
    assert (older["lead_days"], older["issued_at"]) == (3, "2023-02-04T12:00:00+00:00")
    expected = stored_day(store, "2023-02-03", "2023-02-05", 3)["prediction_kwh"]
    assert predicted(older) == pytest.approx(expected.tolist())
    assert not np.allclose(predicted(older), predicted(newest))

    # A day whose actuals are stored was last forecast by its own issue, a day ahead.
    past = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={DAYS[1]}").get_json()
    assert past["lead_days"] == 1 and past["issued_at"] == f"{DAYS[2]}T12:00:00+00:00"

    # Leads no stored issue made: 404, saying which issue was looked for.
    missing = client.get(query + "&lead=4")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == (
        "no predictions stored for DK1/111 on 2023-02-05 at lead 4 (from the issue of 2023-02-02)"
    )
    assert client.get(query + "&lead=1").status_code == 404  # no issue of 2023-02-05
    beyond = client.get("/api/predictions?area=DK1&consumer_type=111&date=2023-02-07")
    assert beyond.status_code == 404 and "no predictions stored" in beyond.get_json()["error"]


@pytest.mark.parametrize("lead", ["0", "61", "abc", "01", "1.5", "", "-1", "+2", "%D9%A3"])
def test_the_api_refuses_a_lead_that_is_not_1_to_60_days(client: Any, lead: str) -> None:
    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={DAYS[0]}&lead={lead}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(
        "lead must be a whole number of days from 1 to 60, got"
    )


def test_days_at_the_ends_of_the_calendar_are_not_stored_rather_than_errors(
    client: Any, store: DashboardStore
) -> None:
    """Any real day may be asked for: years 1 and 9999 find nothing (a far day asks only about
    the days the stored issues reach)."""
    for query in ("date=0001-01-01", "date=0001-01-01&lead=5", "date=9999-12-31&lead=60"):
        response = client.get(f"/api/predictions?area=DK1&consumer_type=111&{query}")
        assert response.status_code == 404, (query, response.get_json())
    fig, _, banner, _ = update_forecast(store, "DK1", 111, "9999-12-31")
    assert banner == "No forecast is stored for 9999-12-31."
    assert len(fig.data[2].y) == LEADS * 24  # the newest forecasts stored, as for tomorrow
    _, _, banner, _ = update_forecast(store, "DK1", 111, "0001-01-01")
    assert banner == "No forecast is stored for 0001-01-01."


def test_files_stored_before_issues_read_as_the_day_ahead(
    client: Any, store: DashboardStore
) -> None:
    """An older predictions file holds its own day alone, without origin, lead or issue time;
    an older monitoring file has no lead: both are the day-ahead forecast's."""
    day = "2023-01-31"
    actuals = simulated(day, day)
    old = issue_rows(actuals, day, 1).drop(columns=["origin", "lead_days", "issued_at"])
    store.storage.write_parquet(f"predictions/{day}.parquet", old)
    scores = scores_by_lead([old], actuals, day).drop(columns="lead_days")
    store.storage.write_parquet(f"forecast_monitoring/{day}.parquet", scores)
    store.clear()

    body = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={day}").get_json()
    assert (body["lead_days"], body["issued_at"]) == (1, f"{day}T00:00:00+00:00")
    assert len(body["rows"]) == 24
    query = f"/api/predictions?area=DK1&consumer_type=111&date={day}&lead="
    assert client.get(query + "1").get_json()["rows"] == body["rows"]
    assert client.get(query + "2").status_code == 404
    _, _, leads = update_accuracy(store, "all", 1)
    assert [(r["lead_days"], r["days"]) for r in leads] == [(1, 5), (2, 3), (3, 2)]
    assert list(views.daily_accuracy(store)["day"].dt.strftime("%Y-%m-%d")) == [day, *DAYS]


def test_the_forecast_page_opens_on_tomorrow(store: DashboardStore) -> None:
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert picker(forecast_page(store)).date == tomorrow
    chosen = picker(forecast_page(store, dt.date(2023, 2, 4)))
    assert chosen.date == "2023-02-05" and chosen.min_date_allowed == DAYS[0]

    # Over storage long stale: the newest forecasts stored, and a banner that tomorrow has none.
    fig, version, banner, _ = update_forecast(store, "DK1", 111, tomorrow)
    assert banner == f"No forecast is stored for {tomorrow}."
    assert fig.layout.title.subtitle.text == f"{DAYS[-1]} to {tomorrow}"
    expected = [stored_day(store, DAYS[-1], f"2023-02-0{4 + n}", n + 1) for n in range(LEADS)]
    np.testing.assert_allclose(
        fig.data[2].y, pd.concat(expected)["prediction_kwh"].to_numpy(), rtol=1e-12
    )
    assert version == "Model version: models:/m/2"


def picker(page: Any) -> Any:
    """The forecast page's day picker."""
    found, todo = [], [page]
    while todo:
        node = todo.pop()
        found += [node] if getattr(node, "id", None) == "forecast-date" else []
        children = getattr(node, "children", None)
        todo += children if isinstance(children, list) else [children] if children else []
    [component] = found
    return component


def test_the_forecast_shows_the_newest_forecast_of_each_day_from_the_newest_actuals(
    store: DashboardStore,
) -> None:
    """As a current deployment stores them: the actuals end on 02-04, the newest issue (of
    02-05, by another model version) forecasts the days after it."""
    later = issue_rows(simulated("2023-02-05", "2023-02-07"), "2023-02-05", LEADS, "models:/m/3")
    store.storage.write_parquet("predictions/2023-02-05.parquet", later)
    store.clear()

    fig, version, banner, style = update_forecast(store, "DK1", 111, "2023-02-07")
    title = fig.layout.title
    assert (title.text, title.subtitle.text) == (
        "DK1 · 111 · household",
        "2023-02-04 to 2023-02-07",
    )
    # 02-04 from its own issue, not from those of 02-02 or 02-03; the days after from 02-05's.
    parts = [stored_day(store, DAYS[-1], DAYS[-1], 1)]
    parts += [stored_day(store, "2023-02-05", f"2023-02-0{5 + n}", n + 1) for n in range(3)]
    expected = pd.concat(parts)
    p90, p10, forecast, actual = fig.data
    np.testing.assert_allclose(forecast.y, expected["prediction_kwh"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(p10.y, expected["p10_kwh"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(p90.y, expected["p90_kwh"].to_numpy(), rtol=1e-12)
    assert [int(c[0]) for c in forecast.customdata] == [1] * 48 + [2] * 24 + [3] * 24
    assert {c[1] for c in forecast.customdata[24:]} == {"2023-02-06 12:00 UTC"}
    assert len(actual.y) == 8 * 24  # the week before the newest actuals, and their day
    assert version == "Model version: models:/m/2, models:/m/3"
    assert (banner, style) == ("", {"display": "none"})

    # A day whose actuals are stored shows that day alone, as it was last forecast.
    fig, *_ = update_forecast(store, "DK1", 111, DAYS[1])
    assert fig.layout.title.subtitle.text == DAYS[1] and len(fig.data[2].y) == 24


def test_the_newest_actuals_card_says_the_day_and_how_old_it_is(store: DashboardStore) -> None:
    now = dt.datetime(2023, 2, 17, 9, tzinfo=dt.UTC)  # the source has published through 02-04
    card = cards.freshness_card(store, now)
    assert (card.title, card.value, card.state) == ("Newest actuals", DAYS[-1], "ok")
    assert card.caption == "13 days old · expected 2023-02-04 · up to date"

    # A stored day without data is not the newest actuals.
    day = store.storage.read_parquet(f"raw_consumption/{DAYS[-1]}.parquet")
    store.storage.write_parquet("raw_consumption/2023-02-05.parquet", day.iloc[:0])
    store.clear()
    card = cards.freshness_card(store, now + dt.timedelta(days=1))
    assert (card.value, card.state) == (DAYS[-1], "ok")  # a day behind is still fresh
    assert card.caption == "14 days old · expected 2023-02-05 · 1 day behind"
    card = cards.freshness_card(store, now + dt.timedelta(days=3))
    assert card.caption == "16 days old · expected 2023-02-07 · 3 days behind"
    assert card.state == "bad"


def test_accuracy_by_lead_pools_every_stored_day_at_each_lead(store: DashboardStore) -> None:
    scores = pd.concat(store.storage.read_parquet(f"forecast_monitoring/{d}.parquet") for d in DAYS)

    def pooled(frame: pd.DataFrame) -> dict[str, float]:
        actual = frame["actual_kwh"].sum()
        return {
            "mape": (frame["mape"].fillna(0) * frame["mape_hours"]).sum()
            / frame["mape_hours"].sum(),
            "wape": frame["abs_error_kwh"].sum() / actual,
            "bias": frame["error_kwh"].sum() / actual,
        }

    for area in ("all", "DK2"):
        _, _, leads = update_accuracy(store, area, 1)
        # Every issue forecast three days; the first issue stored is of DAYS[0].
        assert [(r["lead_days"], r["days"]) for r in leads] == [(1, 4), (2, 3), (3, 2)]
        for row in leads:
            mine = scores[scores["lead_days"] == row["lead_days"]]
            mine = mine[mine["area"] == area] if area != "all" else mine
            for figure, value in pooled(mine).items():
                assert row[figure] == pytest.approx(value * 100, abs=1e-4), (area, row)
        # The seeded forecasts run 3 % higher per lead past the first.
        assert leads[0]["bias"] < leads[1]["bias"] < leads[2]["bias"]

    # The per-series table and the heat map at a further lead: that lead's scores and days.
    rows, heat, _ = update_accuracy(store, "all", 3)
    worst = newest_scores(store, 3).sort_values("mape").iloc[-1]
    assert rows[0]["mape"] == round(float(worst["mape"]) * 100, 4)
    assert list(heat.data[0].x) == DAYS[2:] and "3 days ahead" in heat.layout.title.text
    assert lead_options(store) == ([{"label": "1 day ahead", "value": 1},
                                    {"label": "2 days ahead", "value": 2},
                                    {"label": "3 days ahead", "value": 3}], 1)  # fmt: skip
    assert 'id="accuracy-leads"' in str(render_page(store, "/accuracy")).replace("'", '"')


def test_the_alert_lead_is_the_one_the_accuracy_over_time_and_the_mape_card_show(
    store: DashboardStore,
) -> None:
    settings = store.settings.model_copy(update={"alert_lead": 2})
    second = DashboardStore(store.storage, settings)
    daily = views.daily_accuracy(second)
    assert list(daily["day"].dt.strftime("%Y-%m-%d")) == DAYS[1:]  # lead 2 from DAYS[1] on
    scores = newest_scores(store, 2)
    mape = (scores["mape"] * scores["mape_hours"]).sum() / scores["mape_hours"].sum()
    card = cards.mape_card(second)
    assert card.value == f"{mape * 100:.1f} %" != cards.mape_card(store).value
    assert card.caption.startswith(f"{DAYS[-1]} · 2 days ahead")
    assert lead_options(second)[1] == 2
    assert "2 days ahead" in accuracy_over_time(second).layout.title.text


# --- strict request parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2023-02-01junk", "date must be a date as YYYY-MM-DD, got '2023-02-01junk'"),
        ("2023-02-01T00:00", "date must be a date as YYYY-MM-DD"),
        ("2023-02-01%0A", "date must be a date as YYYY-MM-DD"),
        ("%202023-02-01", "date must be a date as YYYY-MM-DD"),
        ("2023-2-1", "date must be a date as YYYY-MM-DD"),
        ("%D9%A2%D9%A0%D9%A2%D9%A3-02-01", "date must be a date as YYYY-MM-DD"),  # Arabic digits
        ("2023-02-30", "date '2023-02-30' is not a day of the calendar"),
        ("2023-13-01", "is not a day of the calendar"),
    ],
)
def test_predictions_refuse_a_date_that_is_not_exactly_a_day(
    client: Any, value: str, message: str
) -> None:
    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&date={value}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_a_bad_date_is_refused_even_where_nothing_is_stored(tmp_path: Path) -> None:
    empty = load_dashboard_settings(storage_dir=tmp_path / "empty", state_dir=tmp_path / "state")
    client = create_app(empty).server.test_client()
    response = client.get("/api/predictions?area=DK1&consumer_type=111&date=2023-02-01junk")
    assert response.status_code == 400 and "date must be" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"date={DAYS[0]}&date={DAYS[1]}", "query parameter date is given more than once"),
        (f"date={DAYS[0]}&colour=red", "unknown query parameter 'colour'"),
        (f"date={DAYS[0]}&municipality=851", "unknown query parameter 'municipality'"),
    ],
)
def test_predictions_refuse_repeated_and_unknown_parameters(
    client: Any, query: str, message: str
) -> None:
    response = client.get(f"/api/predictions?area=DK1&consumer_type=111&{query}")
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/reports/drift/2023-02-04junk", "day must be a date as YYYY-MM-DD"),
        ("/reports/drift/2023-02-31", "day '2023-02-31' is not a day of the calendar"),
        ("/reports/model/2023-01-16x/1", "week must be a date as YYYY-MM-DD"),
        ("/reports/model/2023-01-17/1", "week must be the Monday a model week starts on"),
        ("/reports/model/2023-01-16/1%0A", "version must be a model version number"),
        ("/reports/model/2023-01-16/01", "version must be a model version number"),
    ],
)
def test_report_routes_refuse_what_is_not_exactly_a_day_week_or_version(
    client: Any, path: str, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_the_forecast_page_names_a_bad_date_in_its_banner(store: DashboardStore) -> None:
    _, _, banner, style = update_forecast(store, "DK1", "111", f"{DAYS[0]}junk")
    assert "date must be a date as YYYY-MM-DD" in banner and style != {"display": "none"}
    _, version, banner, _ = update_forecast(store, "DK1", "111", DAYS[0])
    assert banner == "" and version == "Model version: models:/m/2"
