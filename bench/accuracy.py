"""Day-ahead accuracy on the real ConsumptionDE35Hour slice: the model against the baselines.

Protocol: origins at 00:00 UTC on each day 2023-01-14 .. 2023-01-23, each model trained on
everything before its origin, forecasting the 24 hours of that day (76 series). Runs the
backtest twice to show the figures are reproducible. Needs ../shared/data beside the checkout
(or ENERGY_SHARED_DATA).

    python bench/accuracy.py [--data PATH] [--start 2023-01-14] [--end 2023-01-23]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from energy_assets.domain.forecasting.backtest import backtest
from energy_assets.domain.sources.files import read_consumption_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (
    Path(os.environ.get("ENERGY_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "energidataservice_consumption_de35_hour"
    / "consumption_de35_hour_long.parquet"
)
# Peer figures on the same protocol, as reported in the project's REFERENCE notes (not run here).
PEERS = {"statsforecast MSTL (24, 168) + AutoETS (reported)": (0.084, 0.055, 0.075)}
LABELS = {
    "model": "LightGBM global model (this project)",
    "naive_24h": "seasonal naive, same hour yesterday",
    "naive_168h": "seasonal naive, same hour last week",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--start", default="2023-01-14")
    parser.add_argument("--end", default="2023-01-23")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"real data not found at {args.data}; set ENERGY_SHARED_DATA", file=sys.stderr)
        return 2

    history = read_consumption_file(args.data)
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        result = backtest(history, start, end)
        runs.append((result, time.perf_counter() - started))
    (first, seconds), (second, _) = runs
    identical = first.forecasts.equals(second.forecasts)

    print(f"day-ahead backtest, origins {args.start} .. {args.end}, 76 series, {args.data.name}")
    print("| method | pooled WAPE | median per-series MAPE | mean per-series MAPE |")
    print("|---|---|---|---|")
    for method, s in first.summary.items():
        print(
            f"| {LABELS[method]} | {s['wape']:.1%} | {s['mape_median']:.1%} "
            f"| {s['mape_mean']:.1%} |"
        )
    for name, (wape, median, mean) in PEERS.items():
        print(f"| {name} | {wape:.1%} | {median:.1%} | {mean:.1%} |")
    print(
        f"\nbacktest wall time {seconds:.1f} s; "
        f"second run identical: {'yes' if identical else 'NO'}"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
