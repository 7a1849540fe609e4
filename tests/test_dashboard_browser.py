"""Every dashboard page in real headless Chromium (Debian's, installed by `make browser`)."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dash_app.app import create_app
from dash_app.screenshots import (
    CHROMEDRIVER,
    CHROMIUM,
    PAGES,
    capture,
    chromium,
    console_errors,
    open_page,
    serve,
    wait_for,
    wait_idle,
)
from energy_assets.settings import load_settings
from energy_assets.storage.objects import storage_from_settings
from tests.test_dashboard import DAYS, seed

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason=f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make browser` installs them",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    base = tmp_path_factory.mktemp("dashboard")
    settings = load_settings(storage_dir=base / "storage", state_dir=base / "state")
    seed(storage_from_settings(settings))
    with serve(create_app(settings)) as url, chromium() as driver:
        yield url, driver


def plot_y(driver: Any, graph: str, trace: int) -> list[float]:
    return list(
        driver.execute_script(
            f"return document.querySelector('#{graph} .js-plotly-plot').data[{trace}].y"
        )
    )


def choose(driver: Any, dropdown: str, label: str) -> None:
    """Open a Dash dropdown and click the option with that label."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, dropdown).click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        options = [
            o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == label
        ]
        if options:
            options[0].click()
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"no option {label!r} in #{dropdown}")
    time.sleep(0.2)
    wait_idle(driver)


def test_every_page_renders_without_console_errors(site: tuple[str, Any]) -> None:
    url, driver = site
    expected = {"forecast": "Model version: models:/m/2", "accuracy": "Per-series MAPE",
                "drift": "pooled MAPE 20% > 12%", "health": "storage reachable"}  # fmt: skip
    for name in PAGES:
        open_page(driver, url, name)
        body = driver.find_element("tag name", "body").text
        assert expected[name] in body, f"{name}: {body[:300]}"
        assert "Traceback" not in body and "Error" not in body
        assert console_errors(driver) == [], name


def test_the_series_selector_changes_the_forecast_chart(site: tuple[str, Any]) -> None:
    url, driver = site
    driver.get(url + "/")
    wait_for(driver, "#forecast-graph .js-plotly-plot .main-svg")
    wait_idle(driver)
    before = plot_y(driver, "forecast-graph", 2)
    choose(driver, "forecast-area", "DK2")
    choose(driver, "forecast-type", "999 · other")
    after = plot_y(driver, "forecast-graph", 2)
    assert len(before) == len(after) == 24 and before != after
    title = driver.execute_script(
        "return document.querySelector('#forecast-graph .js-plotly-plot').layout.title.text"
    )
    assert title == f"DK2 · 999 · other · {DAYS[-1]}"
    assert console_errors(driver) == []


def test_the_area_selector_changes_the_accuracy_table_and_heat_map(site: tuple[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    url, driver = site
    driver.get(url + "/accuracy")
    wait_for(driver, "#accuracy-heatmap .js-plotly-plot .main-svg")
    wait_idle(driver)

    def series_column() -> list[str]:
        cells = driver.find_elements(By.CSS_SELECTOR, "#accuracy-table td[data-dash-column=series]")
        return [c.text for c in cells]

    both = series_column()
    rows_both = len(plot_y(driver, "accuracy-heatmap", 0) or [])
    choose(driver, "accuracy-area", "DK2")
    dk2 = series_column()
    assert both != dk2 and dk2 and all(s.startswith("DK2/") for s in dk2)
    assert any(s.startswith("DK1/") for s in both)
    heat_rows = driver.execute_script(
        "return document.querySelector('#accuracy-heatmap .js-plotly-plot').data[0].y.length"
    )
    assert (rows_both, heat_rows) == (76, 38)


def test_the_drift_page_charts_every_day_and_links_stored_reports(site: tuple[str, Any]) -> None:
    """The chart holds every day's per-column distance over its threshold; the report link is
    there for the drifting day and opens its Evidently report, absent for a quiet one."""
    from selenium.webdriver.common.by import By

    url, driver = site
    driver.get(url + "/drift")
    wait_for(driver, "#drift-chart .js-plotly-plot .main-svg")
    wait_idle(driver)
    chart = driver.execute_script(
        "const d = document.querySelector('#drift-chart .js-plotly-plot').data[0];"
        "return {x: d.x, y: d.y, z: d.z};"
    )
    assert list(chart["x"]) == DAYS and sorted(chart["y"]) == ["log_scale", "r_lag24"]
    log_scale = chart["z"][list(chart["y"]).index("log_scale")]
    assert log_scale == pytest.approx([0.5 / 0.6] * (len(DAYS) - 1) + [0.5 / 0.2])
    links = {
        a.get_attribute("href").rsplit("/", 1)[-1]
        for a in driver.find_elements(By.CSS_SELECTOR, "#drift-table a")
    }
    assert DAYS[-1] in links and DAYS[1] not in links and DAYS[2] not in links
    driver.get(f"{url}/reports/drift/{DAYS[-1]}")
    assert f"report {DAYS[-1]}" in driver.find_element(By.TAG_NAME, "body").text
    assert console_errors(driver) == []


def test_storage_without_forecasts_shows_the_banner(site: tuple[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _, driver = site
    empty = load_settings(storage_dir=tmp_path / "none", state_dir=tmp_path / "state")
    with serve(create_app(empty)) as other:
        driver.get(other + "/")
        wait_for(driver, "#forecast-banner")
        wait_idle(driver)
        banner = driver.find_element(By.ID, "forecast-banner")
        assert banner.is_displayed() and "No forecasts are stored yet." in banner.text
        assert console_errors(driver) == []


def test_screenshots_of_every_page(site: tuple[str, Any], tmp_path: Path) -> None:
    url, _ = site
    shots = capture(url, tmp_path)
    assert sorted(shots) == sorted(PAGES)
    for path in shots.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


# --- the Models page: approving and rejecting candidates (ENERGY_REQUIRE_APPROVAL) ---------------


@pytest.fixture(scope="module")
def approvals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real pipeline with approval required: W1's model approved, W2's and W3's candidates;
    W2's days and W3's first day predicted (by W1's version), and the dashboard over it, served
    on 127.0.0.1 without sign-in (so a local browser may decide)."""
    import dagster as dg
    import pandas as pd

    from dash_app.store import DashboardStore
    from energy_assets.definitions import build_definitions
    from energy_assets.storage.approvals import decide
    from tests.asset_keys import FEATURES_KEY, MODEL_KEY, PARAMS_KEY, PREDICTIONS_KEY, RAW
    from tests.test_model_assets import CHEAP_SPACE, cheap_settings, failure_text, isolated, run

    base = tmp_path_factory.mktemp("approvals")
    weeks = ("2023-02-06", "2023-02-13", "2023-02-20")
    with isolated(base):
        settings = cheap_settings(base, start_date="2023-01-01", require_approval=True)
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        ingest = run(defs, instance, [RAW, FEATURES_KEY], first="2023-01-01", last="2023-02-20")
        assert ingest.success, failure_text(ingest)
        config = {"n_trials": 2, "end_date": "2023-02-05", "search_space": CHEAP_SPACE}
        assert run(defs, instance, [PARAMS_KEY], config=config).success
        versions = {}
        for week in weeks:
            assert run(defs, instance, [MODEL_KEY], partition=week).success
            record = pd.read_json(
                settings.storage_dir / "forecast_model" / f"{week}.json", typ="series"
            )
            versions[week] = str(record["model_version"])
        decide(settings, versions[weeks[0]], "approve", "ana", "first week checked by hand")
        predicted = run(defs, instance, [PREDICTIONS_KEY], first="2023-02-13", last="2023-02-20")
        assert predicted.success, failure_text(predicted)
        store = DashboardStore(storage_from_settings(settings), settings, ttl_seconds=0)
        with serve(create_app(settings, store)) as url, chromium() as driver:
            yield {"url": url, "driver": driver, "settings": settings, "defs": defs,
                   "instance": instance, "weeks": weeks, "versions": versions}  # fmt: skip


def api_model_uri(state: dict[str, Any], day: str) -> str:
    """What /api/predictions names as the model of one stored series on `day`."""
    import json
    import urllib.request

    import pandas as pd

    stored = pd.read_parquet(state["settings"].storage_dir / "predictions" / f"{day}.parquet")
    first = stored.iloc[0]
    query = f"date={day}&area={first['area']}&consumer_type={first['consumer_type']}"
    with urllib.request.urlopen(f"{state['url']}/api/predictions?{query}", timeout=30) as answer:
        return str(json.loads(answer.read())["model_uri"])


def click_decision(driver: Any, url: str, version: str, button: str, reason: str) -> str:
    """On the Models page, type a reason in the version's row and click Approve or Reject;
    the message shown."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/models")
    row = wait_for(driver, f"#model-row-{version}")
    wait_idle(driver)
    if reason:
        row.find_element(By.CSS_SELECTOR, "input").send_keys(reason)
    [clicked] = [b for b in row.find_elements(By.CSS_SELECTOR, "button") if b.text == button]
    clicked.click()
    message = wait_for(driver, "#models-message .alert")
    wait_idle(driver)
    return str(message.text)


def sensor_run(state: dict[str, Any]) -> list[Any]:
    """One tick of model_approval_sensor, its runs executed in process (as the daemon would)."""
    import dagster as dg

    from sensors.approval import MODEL_APPROVAL_SENSOR

    defs, instance = state["defs"], state["instance"]
    with dg.build_sensor_context(
        instance=instance,
        definitions=defs,
        cursor=state.get("cursor"),
        resources=dict(defs.resources),
    ) as context:
        tick = defs.resolve_sensor_def(MODEL_APPROVAL_SENSOR).evaluate_tick(context)
    state["cursor"] = tick.cursor
    requests = list(tick.run_requests or [])
    for request in requests:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=request.asset_selection, tags=request.tags
        )
        assert result.success
    return requests


def test_approving_a_candidate_from_the_models_page_makes_it_serve_the_week(
    approvals: dict[str, Any],
) -> None:
    from energy_assets.domain import tracking

    state, driver, url = approvals, approvals["driver"], approvals["url"]
    w1, w2, _ = state["weeks"]
    name = state["settings"].registered_model
    v1, v2 = state["versions"][w1], state["versions"][w2]
    day = "2023-02-14"
    assert api_model_uri(state, day) == f"models:/{name}/{v1}"  # the fallback, before

    # A reason is required: without one, nothing is decided.
    assert "a reason must be given" in click_decision(driver, url, v2, "Approve", "")
    tags = tracking.version_tags(f"models:/{name}/{v2}", state["settings"].tracking_uri)
    assert tags[tracking.APPROVAL_TAG] == tracking.CANDIDATE

    shown = click_decision(driver, url, v2, "Approve", "validated against the holiday week")
    assert f"v{v2} (week {w2}) approved by anonymous (no sign-in)" in shown
    row = wait_for(driver, f"#model-row-{v2}")
    assert "approved" in row.text and "validated against the holiday week" in row.text
    assert "champion" in row.text

    # The approval sensor's run re-predicts the week's stored days with the approved version.
    [request] = sensor_run(state)
    assert request.tags["energy/model_version"] == v2
    assert api_model_uri(state, day) == f"models:/{name}/{v2}"


def test_rejecting_a_candidate_from_the_models_page_keeps_the_earlier_version(
    approvals: dict[str, Any],
) -> None:
    from energy_assets.domain import tracking

    state, driver, url = approvals, approvals["driver"], approvals["url"]
    _, _, w3 = state["weeks"]
    settings = state["settings"]
    v3 = state["versions"][w3]
    before = api_model_uri(state, w3)
    assert before != f"models:/{settings.registered_model}/{v3}"

    shown = click_decision(driver, url, v3, "Reject", "overfits the cold snap")
    assert f"v{v3} (week {w3}) rejected by anonymous (no sign-in)" in shown
    tags = tracking.version_tags(f"models:/{settings.registered_model}/{v3}", settings.tracking_uri)
    assert tags[tracking.APPROVAL_TAG] == tracking.REJECTED
    assert sensor_run(state) == []  # nothing to re-predict: the week keeps its version
    assert api_model_uri(state, w3) == before
    serving = tracking.newest_eligible(
        settings.registered_model, w3, settings.tracking_uri, require_approval=True
    )
    # What serves the week from now on is an approved earlier version, never the rejected one.
    assert serving is not None and serving.week < w3
    assert serving.uri != f"models:/{settings.registered_model}/{v3}"
    # The buttons are gone: the version is decided.
    row = wait_for(driver, f"#model-row-{v3}")
    assert "rejected" in row.text and not row.find_elements("css selector", "button")
