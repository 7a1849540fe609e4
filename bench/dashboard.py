"""Dashboard latency with a year of stored data: 76 series x 365 days of actuals through the
newest published day, a daily issue of forecasts reaching `--leads` days (the newest through
tomorrow, as a current deployment stores them) and the monitoring of each day by lead, in local
storage, served by gunicorn on 127.0.0.1 the way production serves it
(`-c python:dash_app.gunicorn_config`).

Cold start: gunicorn started afresh `--cold-runs` times with one worker; from the moment its
port accepts connections, the first `/api/health`, then the first page load (the requests a
browser makes for the forecast page, which opens on tomorrow: the page, layout, dependencies and
its four callbacks),
then five more page loads; medians over the runs, and the first page load as a ratio of the
later ones. The first page load is measured twice: at once, while the worker's start-up readers
are still reading (it shares the CPU with them), and once the worker's health is no longer
`starting` and its champion is known (what a visitor routed by a readiness check meets). The
champion's MLflow store is the local SQLite one (`make dashboard`'s default).

Warm latency, over random series and issue days: the forecast-page callback (`POST
/_dash-update-component`, as the browser sends it) and `/api/predictions` (the newest forecast
of the day, every other request at a random lead), and the layout endpoint as the baseline of
the same server and client. Forecasts are simulator actuals times seeded noise; the latency does
not depend on where they came from.

    python bench/dashboard.py [--requests 400] [--workers 2] [--cold-runs 5] [--leads 14]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests


def seed(storage_dir: Path, newest: dt.date, days: int, leads: int) -> list[str]:
    """The actuals of `days` days through `newest` and the week before them; the issue of each
    of those days and of the day after (forecasting `leads` days from its own); each day's
    monitoring by lead. Returns the issue days."""
    from energy_assets import names
    from energy_assets.domain.forecasting.features import LEAD, ORIGIN
    from energy_assets.domain.forecasting.leads import ISSUED_AT, issued_after
    from energy_assets.domain.monitoring.accuracy import score_series
    from energy_assets.domain.schema import TIME, VALUE
    from energy_assets.domain.sources.simulator import SimulatorSource
    from energy_assets.storage.objects import LocalStorage, object_key

    storage = LocalStorage(storage_dir)
    end = pd.Timestamp(newest, tz="UTC") + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=days)
    simulated = SimulatorSource(seed=7).fetch(
        start - pd.Timedelta(days=7), end + pd.Timedelta(days=leads)
    )
    actuals = simulated[simulated[TIME] < end]
    for key, part in actuals.groupby(actuals[TIME].dt.strftime("%Y-%m-%d")):
        storage.write_parquet(object_key(names.RAW, str(key)), part)
    rng = np.random.default_rng(0)
    scores: dict[str, list[pd.DataFrame]] = {}
    issues = pd.date_range(start, end, freq="D")
    for origin in issues:
        ahead = (simulated[TIME] - origin).dt.days
        rows = simulated[(ahead >= 0) & (ahead < leads)]
        lead = ahead[rows.index].to_numpy() + 1
        point = rows[VALUE].to_numpy() * rng.lognormal(0, 0.05, len(rows)) * (1 + 0.03 * (lead - 1))
        issue = rows.drop(columns=VALUE).assign(
            prediction_kwh=point, p10_kwh=point * 0.9, p90_kwh=point * 1.1, model_uri="models:/m/1"
        )
        issue[ORIGIN], issue[LEAD], issue[ISSUED_AT] = origin, lead, origin + issued_after(leads)
        storage.write_parquet(object_key(names.PREDICTIONS, f"{origin:%Y-%m-%d}"), issue)
        known = issue[issue[TIME] < end]
        if len(known):
            scored = score_series(known, actuals[actuals[TIME] >= origin])
            for day, part in scored.groupby(scored["day"].dt.strftime("%Y-%m-%d")):
                scores.setdefault(str(day), []).append(part)
    for day, parts in scores.items():
        storage.write_parquet(object_key(names.MONITORING, day), pd.concat(parts))
    return [f"{origin:%Y-%m-%d}" for origin in issues]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(call: Callable[[], requests.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        response = call()
        out.append(1000 * (time.perf_counter() - t))
        assert response.status_code == 200, response.text[:300]
    return out


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def start_gunicorn(work: Path, workers: int, leads: int) -> tuple[subprocess.Popen[bytes], str]:
    """The dashboard under gunicorn with the production settings, on a free port of 127.0.0.1,
    over `work`'s storage, whose issues reach `leads` days."""
    port = free_port()
    env = {
        **os.environ,
        "ENERGY_STORAGE_DIR": str(work / "storage"),
        "ENERGY_STATE_DIR": str(work / "state"),
        "ENERGY_DASHBOARD_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "ENERGY_FORECAST_LEADS": str(leads),
        "DO_NOT_TRACK": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-c", "python:dash_app.gunicorn_config", "dash_app.app:server"]
    server = subprocess.Popen(
        [*command, "--log-level", "warning", "--access-logfile", "/dev/null"], env=env
    )
    return server, f"http://127.0.0.1:{port}"


def wait_for_port(base: str, seconds: float = 120) -> None:
    """Until the port accepts connections (gunicorn opens it once the app is preloaded)."""
    host, port = base.removeprefix("http://").split(":")
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not open its port within {seconds:.0f} s") from None
            time.sleep(0.02)


def wait_until_up(session: requests.Session, base: str, seconds: float = 120) -> None:
    wait_for_port(base, seconds)
    assert session.get(f"{base}/_dash-layout", timeout=seconds).status_code == 200


FORECAST_OUTPUTS = [
    ("forecast-graph", "figure"),
    ("forecast-version", "children"),
    ("forecast-banner", "children"),
    ("forecast-banner", "style"),
]


def forecast_callback_body(area: str, code: int, day: str) -> dict[str, Any]:
    """What the browser posts when the forecast page's selectors change."""
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in FORECAST_OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in FORECAST_OUTPUTS],
        "inputs": [
            {"id": "forecast-area", "property": "value", "value": area},
            {"id": "forecast-type", "property": "value", "value": code},
            {"id": "forecast-date", "property": "date", "value": day},
        ],
        "changedPropIds": ["forecast-area.value"],
        "state": [],
    }


def callback_body(
    outputs: list[tuple[str, str]],
    inputs: list[tuple[str, str, Any]],
    changed: str,
    state: list[tuple[str, str, Any]] | None = None,
) -> dict[str, Any]:
    """A Dash callback request as the browser posts it."""
    described = [{"id": i, "property": p} for i, p in outputs]
    return {
        "output": f"{outputs[0][0]}.{outputs[0][1]}"
        if len(outputs) == 1
        else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": described[0] if len(outputs) == 1 else described,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": [changed],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
    }


def page_load(session: requests.Session, base: str, day: str) -> float:
    """ms for the requests a browser makes to open the forecast page (scripts aside, which it
    caches): the page, its layout and dependencies, then the page's content, the status cards,
    the series selector and the forecasts of the first series through `day` (tomorrow)."""
    url = [("url", "pathname", "/")]
    posts = [
        callback_body([("page", "children")], url, "url.pathname"),
        callback_body(
            [("status-cards", "children")],
            [*url, ("status-refresh", "n_intervals", None)],
            "url.pathname",
        ),
        callback_body(
            [("forecast-type", "options"), ("forecast-type", "value")],
            [("forecast-area", "value", "DK1")],
            "forecast-area.value",
            [("forecast-type", "value", None)],
        ),
        forecast_callback_body("DK1", 111, day),
    ]
    started = time.perf_counter()
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        assert session.get(f"{base}{path}", timeout=120).status_code == 200
    for body in posts:
        response = session.post(f"{base}/_dash-update-component", json=body, timeout=120)
        assert response.status_code == 200, response.text[:300]
    return 1000 * (time.perf_counter() - started)


def settled(session: requests.Session, base: str) -> float:
    """Seconds until the worker's start-up readers have read everything /api/health shows."""
    started = time.perf_counter()
    while True:
        facts = session.get(f"{base}/api/health", timeout=120).json()
        if facts["status"] != "starting" and all(
            f["ok"] is not None for f in facts["facts"].values()
        ):
            return time.perf_counter() - started
        time.sleep(0.05)


def cold_start(work: Path, day: str, settle: bool, leads: int) -> dict[str, float]:
    """One fresh gunicorn with one worker: seconds until the port opens, then ms of the first
    /api/health, of the first page load (at once, or once the start-up reads are done:
    `settle`) and (median) of the five after it."""
    started = time.perf_counter()
    server, base = start_gunicorn(work, workers=1, leads=leads)
    try:
        wait_for_port(base)
        opened = time.perf_counter() - started
        session = requests.Session()
        t = time.perf_counter()
        health = session.get(f"{base}/api/health", timeout=120)
        first_health = 1000 * (time.perf_counter() - t)
        assert health.status_code in (200, 503), health.text[:300]
        figures = {"port open (s)": opened, "first /api/health (ms)": first_health}
        if settle:
            figures["start-up reads done (s)"] = settled(session, base)
        first_page = page_load(session, base, day)
        later = statistics.median(page_load(session, base, day) for _ in range(5))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return figures | {"first page load (ms)": first_page, "later page loads (ms)": later}


def measure(
    session: requests.Session, base: str, days: list[str], n: int, leads: int
) -> dict[str, list[float]]:
    """Latencies (ms) of the layout (baseline), the API and the forecast callback."""
    from energy_assets.domain.datasets import DE35_SERIES

    rng = random.Random(0)
    # Separate samples, so one measurement does not warm the caches of the other. Every other
    # API request asks for a lead, of a day late enough for an issue to have made it.
    api_picks = iter(
        [
            (rng.choice(DE35_SERIES.values), rng.choice(days[leads - 1 :]), rng.randint(1, leads))
            if i % 2
            else (rng.choice(DE35_SERIES.values), rng.choice(days), None)
            for i in range(n)
        ]
    )
    callback_picks = iter([(rng.choice(DE35_SERIES.values), rng.choice(days)) for _ in range(n)])

    def api() -> requests.Response:
        (area, code), day, lead = next(api_picks)
        params = {"area": area, "consumer_type": code, "date": day}
        return session.get(
            f"{base}/api/predictions", params=params | ({"lead": lead} if lead else {})
        )

    def callback() -> requests.Response:
        (area, code), day = next(callback_picks)
        body = forecast_callback_body(area, code, day)
        return session.post(f"{base}/_dash-update-component", json=body)

    return {
        "layout (baseline)": timed(lambda: session.get(f"{base}/_dash-layout"), n),
        "/api/predictions": timed(api, n),
        "forecast callback": timed(callback, n),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cold-runs", type=int, default=5)
    # The default horizon: the publication delay (12 days), the day being published, tomorrow.
    parser.add_argument("--leads", type=int, default=14)
    args = parser.parse_args()

    from energy_assets.domain.calendar import published_day

    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    # The newest actuals are the newest published day, so the newest issue reaches tomorrow.
    newest = published_day(now, args.leads - 2)
    days = seed(work / "storage", newest, args.days, args.leads)
    print(
        f"seeded {args.days} days x 76 series and {len(days)} issues of {args.leads} days in "
        f"{time.perf_counter() - t0:.1f} s under {work}"
    )
    tomorrow = (now.date() + dt.timedelta(days=1)).isoformat()
    for settle in (False, True) if args.cold_runs else ():
        runs = [cold_start(work, tomorrow, settle, args.leads) for _ in range(args.cold_runs)]
        when = "once the start-up reads are done" if settle else "at once"
        print(
            f"cold start, first page {when}: a fresh gunicorn with one worker, "
            f"{args.cold_runs} runs"
        )
        print("| figure | median | min | max |")
        print("|---|---|---|---|")
        for name in runs[0]:
            values = [r[name] for r in runs]
            print(
                f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | "
                f"{max(values):.2f} |"
            )
        ratio = statistics.median(
            r["first page load (ms)"] / r["later page loads (ms)"] for r in runs
        )
        print(f"first page load / later page loads: {ratio:.2f}x (median over runs)")
    server, base = start_gunicorn(work, args.workers, args.leads)
    try:
        session = requests.Session()
        wait_until_up(session, base)
        latencies = measure(session, base, days, args.requests, args.leads)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"{args.requests} requests each, random series and days, gunicorn -w {args.workers}, "
        f"one client on 127.0.0.1 (ms)"
    )
    print("| request | p50 | p95 | mean | p95 / baseline p95 |")
    print("|---|---|---|---|---|")
    baseline = latencies["layout (baseline)"]
    for name, values in latencies.items():
        print(
            f"| {name} | {p(values, 50):.1f} | {p(values, 95):.1f} | "
            f"{statistics.mean(values):.1f} | {p(values, 95) / p(baseline, 95):.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
