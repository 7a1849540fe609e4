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
