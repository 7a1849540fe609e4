"""Dashboard latency with a year of stored data: 76 series x 365 days of forecasts, actuals and
monitoring in local storage, served by gunicorn on 127.0.0.1 the way production serves it.

Measures, over random series and days, the forecast-page callback (`POST
/_dash-update-component`, as the browser sends it) and `/api/predictions`, and the layout
endpoint as the baseline of the same server and client. Forecasts are simulator actuals times
seeded noise; the latency does not depend on where they came from.

    python bench/dashboard.py [--requests 400] [--workers 2]
"""

from __future__ import annotations

import argparse
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


def seed(storage_dir: Path, first: str, days: int) -> list[str]:
    from energy_assets import names
    from energy_assets.domain.monitoring.accuracy import score_series
    from energy_assets.domain.sources.simulator import SimulatorSource
    from energy_assets.storage.objects import LocalStorage, object_key

    storage = LocalStorage(storage_dir)
    start = pd.Timestamp(first, tz="UTC")
    actuals = SimulatorSource(seed=7).fetch(
        start - pd.Timedelta(days=7), start + pd.Timedelta(days=days)
    )
    noise = np.random.default_rng(0).lognormal(0, 0.05, len(actuals))
    point = actuals["consumption_kwh"].to_numpy() * noise
    forecast = actuals.drop(columns="consumption_kwh").assign(
        prediction_kwh=point, p10_kwh=point * 0.9, p90_kwh=point * 1.1, model_uri="models:/m/1"
    )
    day_of = actuals["datetime_utc"].dt.strftime("%Y-%m-%d")
    keys = sorted(day_of.unique())
    for key, part in actuals.groupby(day_of):
        storage.write_parquet(object_key(names.RAW, key), part)
    predicted = keys[7:]
    for key in predicted:
        part = forecast[day_of == key]
        storage.write_parquet(object_key(names.PREDICTIONS, key), part)
        scores = score_series(part, actuals[day_of == key])
        storage.write_parquet(object_key(names.MONITORING, key), scores)
    return predicted


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


def start_gunicorn(work: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """The dashboard under gunicorn on a free port of 127.0.0.1, over `work`'s storage."""
    port = free_port()
    env = {
        **os.environ,
        "ENERGY_STORAGE_DIR": str(work / "storage"),
        "ENERGY_STATE_DIR": str(work / "state"),
        "DO_NOT_TRACK": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "dash_app.app:server", "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "-w", str(workers), "--log-level", "warning"], env=env)
    return server, f"http://127.0.0.1:{port}"


def wait_until_up(session: requests.Session, base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if session.get(f"{base}/_dash-layout", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn did not answer within {seconds:.0f} s")
        time.sleep(0.2)


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


def measure(
    session: requests.Session, base: str, days: list[str], n: int
) -> dict[str, list[float]]:
    """Latencies (ms) of the layout (baseline), the API and the forecast callback."""
    from energy_assets.domain.datasets import DE35_SERIES

    rng = random.Random(0)
    # Separate samples, so one measurement does not warm the caches of the other.
    api_picks = iter([(rng.choice(DE35_SERIES.values), rng.choice(days)) for _ in range(n)])
    callback_picks = iter([(rng.choice(DE35_SERIES.values), rng.choice(days)) for _ in range(n)])

    def api() -> requests.Response:
        (area, code), day = next(api_picks)
        params = {"area": area, "consumer_type": code, "date": day}
        return session.get(f"{base}/api/predictions", params=params)

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
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    t0 = time.perf_counter()
    days = seed(work / "storage", "2022-01-01", args.days)
    print(f"seeded {len(days)} days x 76 series in {time.perf_counter() - t0:.1f} s under {work}")
    server, base = start_gunicorn(work, args.workers)
    try:
        session = requests.Session()
        wait_until_up(session, base)
        latencies = measure(session, base, days, args.requests)
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
