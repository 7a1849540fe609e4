"""Every dashboard page in real headless Chromium (Debian's, installed by `make browser`)."""

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dash_app.app import create_app
from dash_app.figures import wrap
from dash_app.screenshots import (
    CHROMEDRIVER,
    CHROMIUM,
    LAPTOP,
    PAGES,
    PHONE,
    capture,
    chromium,
    console_errors,
    foreign_requests,
    horizontal_overflow,
    open_page,
    serve,
    viewport,
    wait_for,
    wait_idle,
)
from energy_assets.domain.calendar import published_day
from energy_assets.domain.forecasting.feature_names import label
from energy_assets.settings import DashboardSettings, load_dashboard_settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import storage_from_settings
from tests.dashboards import dashboard_settings, issue_rows
from tests.test_dashboard import DAYS, LEADS, seed, seed_prices, simulated

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason=f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make browser` installs them",
)


# Bootstrap 5.3's colours of the status cards' states (text-bg-success, -warning, -danger).
CARD_COLOURS = {
    "success": "rgb(25, 135, 84)",
    "warning": "rgb(255, 193, 7)",
    "danger": "rgb(220, 53, 69)",
}
# The accuracy table's MAPE cells above warn and above alert (Bootstrap's subtle backgrounds).
AMBER, RED = "rgb(255, 243, 205)", "rgb(248, 215, 218)"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> DashboardSettings:
    """Settings over storage seeded on disk, whose files the tests read for what to expect."""
    base = tmp_path_factory.mktemp("dashboard")
    settings = load_dashboard_settings(storage_dir=base / "storage", state_dir=base / "state")
    seed(storage_from_settings(settings))
    seed_prices(storage_from_settings(settings))
    return settings


@pytest.fixture(scope="module")
def site(stored: DashboardSettings) -> Iterator[tuple[str, Any]]:
    with serve(create_app(stored)) as url, chromium() as driver:
        yield url, driver
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def newest(settings: DashboardSettings, asset: str) -> Path:
    """The stored parquet file of an asset's newest day."""
    return max((settings.storage_dir / asset).glob("*.parquet"))


def day_ahead(scores: pd.DataFrame) -> pd.DataFrame:
    """The day-ahead forecasts' scores (the alert lead's, which the cards and tables show
    first) of a stored monitoring file."""
    return scores[scores["lead_days"] == 1]


def scroll_to(element: Any) -> None:
    """Scroll an element to the middle of the viewport at once (Bootstrap makes scrolling
    smooth, that is, animated)."""
    element.parent.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element
    )


def click(element: Any) -> None:
    scroll_to(element)
    element.click()


def card(driver: Any, card_id: str) -> dict[str, str]:
    """A status card's value, caption, colour class and computed background colour."""
    return dict(
        driver.execute_script(
            "const c = document.getElementById(arguments[0]);"
            "return {value: c.querySelector('.card-value').textContent,"
            " caption: c.querySelector('.card-caption').textContent,"
            " colour: Array.from(c.classList).find(k => k.startsWith('text-bg-')).slice(8),"
            " background: getComputedStyle(c).backgroundColor};",
            card_id,
        )
    )


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
    deadline = time.monotonic() + 60
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
                "drift": "pooled MAPE 20% > 12%", "health": "storage reachable",
                "models": "Models"}  # fmt: skip
    for name in PAGES:
        open_page(driver, url, name)
        body = driver.find_element("tag name", "body").text
        assert expected[name] in body, f"{name}: {body[:300]}"
        assert "Traceback" not in body and "Error" not in body
        assert console_errors(driver) == [], name


@pytest.mark.parametrize(("width", "height"), [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_every_page_fits_a_phone_and_a_laptop(
    site: tuple[str, Any], width: int, height: int
) -> None:
    """At 390 and 1280 px wide: no horizontal scrolling, no console error, nothing loaded from
    anywhere but the dashboard, and Bootstrap's styles applied (from the dashboard's assets)."""
    url, driver = site
    viewport(driver, width, height)
    try:
        for name in PAGES:
            open_page(driver, url, name)
            assert driver.execute_script("return window.innerWidth") == width
            assert horizontal_overflow(driver) <= 0, f"{name} scrolls sideways at {width} px"
            assert console_errors(driver) == [], f"{name} at {width} px"
            assert foreign_requests(driver, url) == [], name
            assert card(driver, "card-version")["background"] == CARD_COLOURS["success"], name
            cards_across = driver.execute_script(
                "const tops = Array.from(document.querySelectorAll('#status-row > div'))"
                ".map(c => c.getBoundingClientRect().top);"
                "return tops.filter(t => t === tops[0]).length;"
            )
            assert cards_across == (2 if width < 600 else 4), name
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_status_cards_show_what_is_stored(
    site: tuple[str, Any], stored: DashboardSettings
) -> None:
    """Each card's value, caption and colour against the stored files, on every page."""
    url, driver = site
    monitoring = day_ahead(pd.read_parquet(newest(stored, "forecast_monitoring")))
    pooled = (monitoring["mape"].fillna(0) * monitoring["mape_hours"]).sum() / monitoring[
        "mape_hours"
    ].sum()
    mape_colour = (
        "success"
        if pooled <= stored.mape_warn
        else "warning"
        if pooled <= stored.mape_alert
        else "danger"
    )
    raw_day = newest(stored, "raw_consumption").stem
    today = dt.datetime.now(dt.UTC).date()
    expected_day = today - dt.timedelta(days=1 + stored.publication_delay_days)
    forecast_file = newest(stored, "predictions")
    uris = pd.read_parquet(forecast_file)["model_uri"].unique()
    forecast_day = dt.date.fromisoformat(forecast_file.stem)
    monday = forecast_day - dt.timedelta(days=forecast_day.weekday())
    last = AlertLog(storage_from_settings(stored)).frame().iloc[-1]
    assert list(uris) == ["models:/m/2"] and last["level"] == "ALERT"  # what the seed stored

    for name in PAGES:
        open_page(driver, url, name)
        mape = card(driver, "card-mape")
        assert mape["value"] == f"{pooled * 100:.1f} %", name
        assert mape["caption"].startswith(monitoring["day"].max().strftime("%Y-%m-%d"))
        thresholds = f"warn > {stored.mape_warn:.1%}, alert > {stored.mape_alert:.1%}"
        assert " · 1 day ahead · " + thresholds.replace("%", " %") in mape["caption"]
        assert mape["colour"] == mape_colour == "success"
        assert mape["background"] == CARD_COLOURS["success"]

        fresh = card(driver, "card-freshness")
        assert fresh["value"] == raw_day == DAYS[-1]
        age = (today - dt.date.fromisoformat(raw_day)).days
        behind = (expected_day - dt.date.fromisoformat(raw_day)).days
        assert fresh["caption"] == (
            f"{age:,} days old · expected {expected_day} · {behind:,} days behind"
        )
        assert fresh["colour"] == "danger"  # 2023's data is long stale

        version = card(driver, "card-version")
        assert version["value"] == "v2" and version["colour"] == "success"
        assert f"model m · week of {monday} · issue of {forecast_file.stem}" == version["caption"]

        alert = card(driver, "card-alert")
        assert alert["value"] == last["level"] and alert["colour"] == "danger"
        assert alert["caption"] == f"{last['day']} · {last['message']}"
        assert alert["background"] == CARD_COLOURS["danger"]


def test_the_accuracy_table_sorts_filters_and_colours_by_the_thresholds(
    stored: DashboardSettings, tmp_path: Path
) -> None:
    """With thresholds inside the newest day's range of per-series MAPE, every colour shows:
    each MAPE cell is amber above warn, red above alert, as the stored scores say."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    scores = day_ahead(pd.read_parquet(newest(stored, "forecast_monitoring")))
    by_series = {
        f"{r.area}/{r.consumer_type}": float(r.mape)
        for r in scores.itertuples()
        if pd.notna(r.mape)
    }
    # The table holds percentages to 4 decimals: the thresholds are placed among those.
    ranked = sorted(round(v * 100, 4) for v in by_series.values())
    # Among the 20 worst (the first page), midway between neighbours: no series sits on a
    # threshold, and the page shows red, amber and uncoloured cells.
    warn, alert = (ranked[-14] + ranked[-15]) / 200, (ranked[-7] + ranked[-8]) / 200
    settings = stored.model_copy(update={"mape_warn": warn, "mape_alert": alert})

    def rows() -> list[tuple[str, str, str]]:
        """(series, MAPE text, MAPE cell background) of the rows shown."""
        return [
            tuple(r)
            for r in driver.execute_script(
                "return Array.from(document.querySelectorAll('#accuracy-table tbody tr'))"
                ".filter(tr => tr.querySelector('td[data-dash-column=mape]'))"
                ".map(tr => [tr.querySelector('td[data-dash-column=series]').textContent,"
                " tr.querySelector('td[data-dash-column=mape]').textContent,"
                " getComputedStyle(tr.querySelector('td[data-dash-column=mape]'))"
                ".backgroundColor]);"
            )
        ]

    def type_filter(column: str, text: str) -> None:
        box = driver.find_element(
            By.CSS_SELECTOR, f"#accuracy-table th.dash-filter[data-dash-column={column}] input"
        )
        scroll_to(box)
        box.send_keys(Keys.BACKSPACE * len(box.get_attribute("value") or ""), text, Keys.ENTER)
        time.sleep(0.3)
        wait_idle(driver)

    with serve(create_app(settings)) as url, chromium() as driver:
        open_page(driver, url, "accuracy")
        shown = rows()
        assert len(shown) == 20  # one page of 76
        colours = set()
        for series, text, background in shown:
            value = by_series[series]
            assert text == f"{value * 100:.1f} %", series
            held = round(value * 100, 4)
            expected = (
                RED
                if held > round(alert * 100, 6)
                else AMBER
                if held > round(warn * 100, 6)
                else None
            )
            if expected:
                assert background == expected, (series, value, warn, alert)
            else:
                assert background not in (AMBER, RED), (series, value)
            colours.add(expected)
        assert colours == {RED, AMBER, None}

        # Sorted as stored scores are, worst first; one click on MAPE sorts ascending.
        assert [s for s, *_ in shown] == sorted(by_series, key=by_series.__getitem__)[::-1][:20]
        click(
            driver.find_element(
                By.CSS_SELECTOR, "#accuracy-table th[data-dash-column=mape] .column-header--sort"
            )
        )
        time.sleep(0.3)
        wait_idle(driver)
        assert [s for s, *_ in rows()] == sorted(by_series, key=by_series.__getitem__)[:20]

        type_filter("series", "DK2")
        dk2 = rows()
        assert dk2 and all(s.startswith("DK2/") for s, *_ in dk2)
        assert len(dk2) == min(20, sum(s.startswith("DK2/") for s in by_series))

        type_filter("series", "")
        limit = round(alert * 100, 2)
        type_filter("mape", f"> {limit}")
        worst = rows()
        assert sorted(s for s, *_ in worst) == sorted(
            s for s, v in by_series.items() if round(v * 100, 4) > limit
        )
        assert all(background == RED for *_, background in worst)
        assert console_errors(driver) == []


def test_the_series_selector_changes_the_forecast_chart(site: tuple[str, Any]) -> None:
    """Over storage long stale, the page opens on tomorrow: the forecasts drawn are those of
    the newest actuals' day and the two after it, which the newest issue reached."""
    url, driver = site
    driver.get(url + "/")
    wait_for(driver, "#forecast-graph .js-plotly-plot .main-svg")
    wait_idle(driver)
    before = plot_y(driver, "forecast-graph", 2)
    choose(driver, "forecast-area", "DK2")
    choose(driver, "forecast-type", "999 · other")
    after = plot_y(driver, "forecast-graph", 2)
    assert len(before) == len(after) == LEADS * 24 and before != after
    title = driver.execute_script(
        "const t = document.querySelector('#forecast-graph .js-plotly-plot').layout.title;"
        "return [t.text, t.subtitle.text];"
    )
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    assert title == ["DK2 · 999 · other", f"{DAYS[-1]} to {tomorrow}"]
    assert console_errors(driver) == []


def test_the_forecast_page_draws_the_areas_prices_under_the_consumption(
    site: tuple[str, Any], stored: DashboardSettings
) -> None:
    url, driver = site
    driver.get(url + "/")
    wait_for(driver, "#forecast-graph .js-plotly-plot .main-svg")
    wait_idle(driver)
    choose(driver, "forecast-area", "DK2")
    wait_idle(driver)
    script = "return document.querySelector('#forecast-graph .js-plotly-plot')"
    traces = driver.execute_script(script + ".data.map(t => [t.name, t.xaxis || 'x'])")
    assert ["day-ahead price", "x2"] in traces
    index = [name for name, _ in traces].index("day-ahead price")
    shown = plot_y(driver, "forecast-graph", index)
    prices = pd.concat(
        pd.read_parquet(f) for f in sorted((stored.storage_dir / "day_ahead_prices").glob("*"))
    )
    dk2 = prices[prices["area"] == "DK2"]["price_eur_mwh"].to_numpy()
    assert shown == pytest.approx(list(dk2[-8 * 24 :]))  # the day and the week before it
    # One time axis: the consumption panel follows the price panel's.
    assert driver.execute_script(script + ".layout.xaxis.matches") == "x2"
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
    # Features named in words on the axis.
    names = {wrap(label(c)): c for c in ("log_scale", "r_lag24")}
    assert list(chart["x"]) == DAYS and sorted(chart["y"]) == sorted(names)
    assert [names[y] for y in chart["y"]] == ["log_scale", "r_lag24"]
    log_scale = chart["z"][[names[y] for y in chart["y"]].index("log_scale")]
    assert log_scale == pytest.approx([0.5 / 0.6] * (len(DAYS) - 1) + [0.5 / 0.2])
    links = {
        a.get_attribute("href").rsplit("/", 1)[-1]
        for a in driver.find_elements(By.CSS_SELECTOR, "#drift-table a")
    }
    assert DAYS[-1] in links and DAYS[1] not in links and DAYS[2] not in links
    # The drifted feature in words, its column name as the tooltip.
    feature = driver.find_element(By.CSS_SELECTOR, "#drift-table abbr[title=log_scale]")
    assert feature.text == label("log_scale") != "log_scale"
    driver.get(f"{url}/reports/drift/{DAYS[-1]}")
    assert f"report {DAYS[-1]}" in driver.find_element(By.TAG_NAME, "body").text
    assert console_errors(driver) == []


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> tuple[DashboardSettings, dt.date]:
    """Storage as a deployment running today leaves it (the default publication delay): the
    actuals through the newest published day, that day's issue and the newest issue, of the
    day after it, which forecasts every day through tomorrow. Returns the newest actuals' day."""
    base = tmp_path_factory.mktemp("current")
    settings = load_dashboard_settings(storage_dir=base / "storage", state_dir=base / "state")
    storage = storage_from_settings(settings)
    today = dt.datetime.now(dt.UTC).date()
    newest = published_day(dt.datetime.now(dt.UTC), settings.publication_delay_days)
    actuals = simulated(str(newest - dt.timedelta(days=7)), str(today + dt.timedelta(days=1)))
    known = actuals[actuals["datetime_utc"].dt.date <= newest]
    for day, part in known.groupby(known["datetime_utc"].dt.date):
        storage.write_parquet(f"raw_consumption/{day}.parquet", part)
    for issue in (newest, newest + dt.timedelta(days=1)):
        rows = issue_rows(actuals, str(issue), settings.horizon_days)
        storage.write_parquet(f"predictions/{issue}.parquet", rows)
    return settings, newest


def test_the_forecast_page_shows_tomorrows_forecast_by_default(
    site: tuple[str, Any], current: tuple[DashboardSettings, dt.date]
) -> None:
    """The page opens on tomorrow: the newest forecast of every day from the newest actuals'
    day through tomorrow, tomorrow's from the issue made today at 12:00 UTC; the newest
    actuals' card says their day and age."""
    from selenium.webdriver.common.by import By

    _, driver = site
    settings, newest = current
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = today + dt.timedelta(days=1)
    issues = {
        day: pd.read_parquet(settings.storage_dir / "predictions" / f"{day}.parquet")
        for day in (newest, newest + dt.timedelta(days=1))
    }

    def stored(issue: dt.date, day: dt.date) -> list[float]:
        rows = issues[issue]
        rows = rows[(rows["area"] == "DK1") & (rows["consumer_type"] == 111)]
        rows = rows[rows["datetime_utc"].dt.date == day].sort_values("datetime_utc")
        assert len(rows) == 24
        return list(rows["prediction_kwh"])

    with serve(create_app(settings)) as url:
        driver.get(url + "/")
        wait_for(driver, "#forecast-graph .js-plotly-plot .main-svg")
        wait_idle(driver)
        picker = driver.find_element(By.ID, "forecast-date")
        if picker.tag_name != "input":  # the id is on the input itself from Dash 4 on
            picker = picker.find_element(By.TAG_NAME, "input")
        assert picker.get_attribute("value") == str(tomorrow)
        script = "return document.querySelector('#forecast-graph .js-plotly-plot')"
        title = driver.execute_script(script + ".layout.title.text")
        days_shown = driver.execute_script(script + ".layout.title.subtitle.text")
        assert title.startswith("DK1 · 111 ·") and days_shown == f"{newest} to {tomorrow}"
        shown = plot_y(driver, "forecast-graph", 2)
        days = (tomorrow - newest).days + 1  # 15 with the default delay of 12 days
        assert len(shown) == days * 24
        # The newest actuals' day from its own issue; tomorrow from the newest, 14 days ahead.
        assert shown[:24] == pytest.approx(stored(newest, newest))
        assert shown[-24:] == pytest.approx(stored(newest + dt.timedelta(days=1), tomorrow))
        lead, issued = driver.execute_script(script + ".data[2].customdata.at(-1)")
        assert (int(lead), issued) == (settings.horizon_days, f"{today} 12:00 UTC")
        assert len(plot_y(driver, "forecast-graph", 3)) == 8 * 24  # actuals: the week and the day
        assert not driver.find_element(By.ID, "forecast-banner").is_displayed()

        actuals = card(driver, "card-freshness")
        age = (today - newest).days
        assert actuals["value"] == str(newest) and age == settings.publication_delay_days + 1
        assert actuals["caption"] == f"{age} days old · expected {newest} · up to date"
        assert actuals["colour"] == "success"
        assert console_errors(driver) == []


def test_storage_without_forecasts_shows_the_banner(site: tuple[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _, driver = site
    empty = load_dashboard_settings(storage_dir=tmp_path / "none", state_dir=tmp_path / "state")
    with serve(create_app(empty)) as other:
        driver.get(other + "/")
        wait_for(driver, "#forecast-banner")
        wait_idle(driver)
        banner = driver.find_element(By.ID, "forecast-banner")
        assert banner.is_displayed() and "No forecasts are stored yet." in banner.text
        assert console_errors(driver) == []


def test_screenshots_of_every_page(site: tuple[str, Any], tmp_path: Path) -> None:
    """Every page at a laptop's width, the forecast page at a phone's too."""
    url, _ = site
    shots = capture(url, tmp_path)
    assert sorted(shots) == sorted([*PAGES, "forecast-phone"])
    for name, path in shots.items():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        width = int.from_bytes(data[16:20], "big")  # the IHDR chunk's width
        assert width == (PHONE[0] if name.endswith("-phone") else LAPTOP[0]), name


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
        shown = dashboard_settings(settings)
        store = DashboardStore(storage_from_settings(shown), shown, ttl_seconds=0)
        with serve(create_app(shown, store)) as url, chromium() as driver:
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

    from energy_assets.names import MODEL_APPROVAL_SENSOR

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
    from energy_assets.domain.forecasting import serving_rules

    state, driver, url = approvals, approvals["driver"], approvals["url"]
    w1, w2, _ = state["weeks"]
    name = state["settings"].registered_model
    v1, v2 = state["versions"][w1], state["versions"][w2]
    day = "2023-02-14"
    assert api_model_uri(state, day) == f"models:/{name}/{v1}"  # the fallback, before

    # A reason is required: without one, nothing is decided.
    assert "a reason must be given" in click_decision(driver, url, v2, "Approve", "")
    tags = tracking.version_tags(f"models:/{name}/{v2}", state["settings"].tracking_uri)
    assert tags[serving_rules.APPROVAL_TAG] == serving_rules.CANDIDATE

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
    from energy_assets.domain.forecasting import serving_rules

    state, driver, url = approvals, approvals["driver"], approvals["url"]
    _, _, w3 = state["weeks"]
    settings = state["settings"]
    v3 = state["versions"][w3]
    before = api_model_uri(state, w3)
    assert before != f"models:/{settings.registered_model}/{v3}"

    shown = click_decision(driver, url, v3, "Reject", "overfits the cold snap")
    assert f"v{v3} (week {w3}) rejected by anonymous (no sign-in)" in shown
    tags = tracking.version_tags(f"models:/{settings.registered_model}/{v3}", settings.tracking_uri)
    assert tags[serving_rules.APPROVAL_TAG] == serving_rules.REJECTED
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


def test_a_model_report_opens_from_the_models_page_with_its_decisions(
    approvals: dict[str, Any],
) -> None:
    """The report link of a decided version opens its self-contained report in a new tab: every
    section, the decision recorded in it, and nothing fetched from another origin."""
    from selenium.webdriver.common.by import By

    state, driver, url = approvals, approvals["driver"], approvals["url"]
    w1, version = state["weeks"][0], state["versions"][state["weeks"][0]]
    driver.get(url + "/models")
    row = wait_for(driver, f"#model-row-{version}")
    wait_idle(driver)
    [link] = [a for a in row.find_elements(By.CSS_SELECTOR, "a") if a.text == "report"]
    assert link.get_attribute("href") == f"{url}/reports/model/{w1}/{version}"
    tabs = set(driver.window_handles)
    link.click()
    [report_tab] = set(driver.window_handles) - tabs
    driver.switch_to.window(report_tab)
    try:
        wait_for(driver, "#decisions")
        for section in ("training", "metrics", "worst-series", "residuals", "coverage",
                        "importance", "gate", "champion", "decisions"):  # fmt: skip
            assert driver.find_elements(By.ID, section), f"the report has no #{section}"
        decisions = driver.find_element(By.ID, "decisions").text
        # The first week was approved by "ana" when the fixture was built.
        assert "approve" in decisions and "ana" in decisions
        assert "first week checked by hand" in decisions
        assert driver.execute_script("return document.querySelectorAll('.js-plotly-plot').length")
        elsewhere = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".filter(n => !n.startsWith(location.origin))"
        )
        assert elsewhere == []
    finally:
        driver.close()
        driver.switch_to.window(next(iter(tabs)))
