"""Serve the dashboard on 127.0.0.1 and drive it with Debian's headless Chromium.

Used by the browser tests and by `make screenshots`, which writes a PNG of every page of the
dashboard over the configured storage (after `make demo`: the demo's) into a folder:

    python -m dash_app.screenshots docs
"""

from __future__ import annotations

import sys
import tempfile
import threading
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


def wait_for(driver: Any, css: str, timeout: float = 20.0) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def wait_idle(driver: Any, timeout: float = 20.0) -> None:
    """Until Dash has no callback in flight (its loading marker is gone)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return document.querySelector('[data-dash-is-loading=\"true\"]') === null"
        )
    )


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def open_page(driver: Any, base_url: str, name: str) -> None:
    """Load one page of PAGES and wait until its content and charts have rendered."""
    driver.get(base_url + PAGES[name].path)
    wait_for(driver, "#page > div")
    if name in ("forecast", "accuracy"):
        wait_for(driver, ".js-plotly-plot .main-svg")
    wait_idle(driver)


def capture(base_url: str, folder: Path) -> dict[str, Path]:
    """A PNG of every page, once its content has rendered; raises on browser console errors."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = {}
    errors: dict[str, list[str]] = {}
    with chromium() as driver:
        for name in PAGES:
            open_page(driver, base_url, name)
            shots[name] = folder / f"dashboard-{name}.png"
            driver.save_screenshot(str(shots[name]))
            if found := console_errors(driver):
                errors[name] = found
    if errors:
        raise RuntimeError(f"browser console errors: {errors}")
    return shots


def main(argv: list[str]) -> int:
    from dash_app.app import create_app

    folder = Path(argv[0] if argv else "docs")
    with serve(create_app()) as url:
        for name, path in capture(url, folder).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
