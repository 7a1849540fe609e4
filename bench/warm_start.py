"""The served model warm-started from the checked one, against a full refit: time and accuracy.

A weekly model is judged on the validation days by a model of the days before them (the checked
model), then served. The served model is either refitted on every day before the week (a second
full fit) or the checked model boosted some rounds more on its own sample and the validation
days (recency-weighted as a fit is). On real
`ConsumptionIndustry` data (Aalborg households, with DK1 day-ahead prices), for every `--every`
th week of 2023, both are trained in this process from the same data and each forecasts its
week at lead 1; printed: training time and pooled WAPE of each, and the ratios.

    python bench/warm_start.py [--every 4] [--rounds 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "energidataservice_consumption_industry"
CONSUMPTION = DATA / "consumption_industry_851_privat_2021_2023.csv.gz"
PRICES = DATA / "elspotprices_dk1_2021_2023.csv.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4, help="every Nth week of 2023")
    parser.add_argument("--rounds", type=int, default=40, help="warm-start boosting rounds")
    args = parser.parse_args()
    if not CONSUMPTION.exists():
        print(f"skipped: the real data is not at {DATA}", file=sys.stderr)
        return 0
    sys.path.insert(0, str(REPO))
    from energy_assets.domain.forecasting.baselines import BASELINES, seasonal_naive
    from energy_assets.domain.forecasting.features import build_features
    from energy_assets.domain.forecasting.model import PREDICTION, predict
    from energy_assets.domain.forecasting.training import train_weekly_model
    from energy_assets.domain.prices import read_price_file
    from energy_assets.domain.schema import TIME, VALUE, row_keys, series_keys
    from energy_assets.domain.sources.files import read_consumption_file
    from energy_assets.settings import load_settings

    history, prices = read_consumption_file(CONSUMPTION), read_price_file(PRICES)
    settings = load_settings()
    weeks = pd.date_range("2023-01-02", "2023-12-25", freq="7D", tz="UTC")[:: args.every]
    seconds = {"refit": 0.0, "warm": 0.0}
    scored: dict[str, list[pd.DataFrame]] = {"refit": [], "warm": []}
    for week in weeks:
        days = pd.date_range(week, periods=7, freq="D")
        actual = build_features(history, days, prices)
        keys = row_keys(series_keys(actual))
        for name, warm in (("refit", None), ("warm", args.rounds)):
            started = time.perf_counter()
            trained = train_weekly_model(
                history[history[TIME] < week],
                week,
                training_weeks=settings.training_weeks,
                validation_days=settings.validation_days,
                params={},
                prices=prices,
                warm_rounds=warm,
            )
            seconds[name] += time.perf_counter() - started
            forecast = predict(trained.model, actual)[[*keys, PREDICTION]]
            scored[name].append(actual[[*keys, VALUE]].merge(forecast, on=keys))
        print(f"  week {week.date()}: done", flush=True)
    naive = seasonal_naive(history, list(pd.concat(scored["refit"])[TIME].dt.floor("D").unique()))
    print(f"\n{len(weeks)} weeks of 2023, Aalborg households with prices, lead 1, "
          f"{args.rounds} warm rounds\n")  # fmt: skip
    print("| served model | training s / week | WAPE | x better naive |\n|---|---|---|---|")
    wapes = {}
    for name, frames in scored.items():
        frame = pd.concat(frames).merge(naive, on=row_keys(series_keys(frames[0])))
        error = float(np.abs(frame[PREDICTION] - frame[VALUE]).sum() / frame[VALUE].abs().sum())
        best = min(
            float(np.abs(frame[col] - frame[VALUE]).sum() / frame[VALUE].abs().sum())
            for col in BASELINES
        )
        wapes[name] = error
        print(f"| {name} | {seconds[name] / len(weeks):.1f} | {100 * error:.2f}% | "
              f"{error / best:.3f} |")  # fmt: skip
    print(f"\nwarm / refit: time {seconds['warm'] / seconds['refit']:.2f}x, "
          f"WAPE {wapes['warm'] / wapes['refit']:.3f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
