"""Serve the dashboard on 127.0.0.1 and drive it with Debian's headless Chromium.

Used by the browser tests and by `make screenshots`, which writes a PNG of every page of the
dashboard over the configured storage (after `make demo`: the demo's) into a folder, at a
laptop's width, and of the forecast page at a phone's width too (`dashboard-forecast-phone.png`):

    python -m dash_app.screenshots docs
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dash import Dash

from dash_app.pages import PAGES

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Chromium's own background traffic is refused on a closed network; keep it off.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]
LAPTOP = (1280, 800)
PHONE = (390, 844)
# Screenshots hold the whole page, up to this height.
MAX_SHOT_HEIGHT = 2400
# Pages also shot at a phone's width: name -> its file's suffix.
PHONE_SHOTS = {"forecast": "phone"}


@contextmanager
def serve(app: Dash) -> Iterator[str]:
    """The app's Flask server on a free port of 127.0.0.1, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium WebDriver with browser console logging, and a throwaway profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(driver: Any, css: str, timeout: float = 120.0) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def wait_idle(driver: Any, timeout: float = 120.0) -> None:
    """Until Dash has no callback in flight (its loading marker is gone)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return document.querySelector('[data-dash-is-loading=\"true\"]') === null"
        )
    )


def viewport(driver: Any, width: int, height: int, mobile: bool | None = None) -> None:
    """Make the page's viewport `width` x `height` CSS pixels (a phone's when narrower than
    600 px): what a device of that size shows, whatever the window's own limits."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": width < 600 if mobile is None else mobile,
        },
    )


def horizontal_overflow(driver: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scrolling)."""
    return int(
        driver.execute_script(
            "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth;"
        )
    )


def foreign_requests(driver: Any, base_url: str) -> list[str]:
    """Every resource the page loaded from anywhere but the dashboard itself."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(Array.from(document.querySelectorAll('link[href],script[src]'))"
        ".map(e => e.href || e.src));"
    )
    return [n for n in names if not n.startswith(base_url + "/")]


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver: Any, base_url: str, name: str) -> None:
    """Load one page of PAGES and wait until its content and charts have rendered."""
    driver.get(base_url + PAGES[name].path)
    wait_for(driver, "#page > div")
    wait_for(driver, "#status-row")
    if name in ("forecast", "accuracy"):
        wait_for(driver, ".js-plotly-plot .main-svg")
    wait_idle(driver)


def shoot(driver: Any, base_url: str, name: str, size: tuple[int, int], path: Path) -> None:
    """A PNG of one page, whole (up to MAX_SHOT_HEIGHT), at a viewport `size[0]` wide."""
    width, height = size
    viewport(driver, width, height)
    open_page(driver, base_url, name)
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    viewport(driver, width, max(height, min(full, MAX_SHOT_HEIGHT)))
    time.sleep(0.5)  # the charts follow the resize
    wait_idle(driver)
    driver.save_screenshot(str(path))


def capture(base_url: str, folder: Path) -> dict[str, Path]:
    """A PNG of every page at a laptop's width, and of the PHONE_SHOTS pages at a phone's, once
    its content has rendered; raises on browser console errors. Keys: the page's name, and
    `<name>-<suffix>` for the phone shots."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = {}
    errors: dict[str, list[str]] = {}
    wanted = [(name, name, LAPTOP) for name in PAGES]
    wanted += [(name, f"{name}-{suffix}", PHONE) for name, suffix in PHONE_SHOTS.items()]
    with chromium() as driver:
        for name, shot, size in wanted:
            shots[shot] = folder / f"dashboard-{shot}.png"
            shoot(driver, base_url, name, size, shots[shot])
            if found := console_errors(driver):
                errors[shot] = found
    if errors:
        raise RuntimeError(f"browser console errors: {errors}")
    return shots


def main(argv: list[str]) -> int:
    from dash_app import health
    from dash_app.app import create_app
    from dash_app.store import store_of

    folder = Path(argv[0] if argv else "docs")
    app = create_app()
    health.refresh(store_of(app.server))  # the health page shows facts, not "not yet known"
    with serve(app) as url:
        for name, path in capture(url, folder).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
