"""Several weekly models trained in turn (each week's checked model the week before's served
model) against the same weeks trained alone (each fitting its checked model): time and results.

Simulator data (76 series, as a new deployment's backfill has it) and its simulated day-ahead
prices from 2021-01-01, the weeks' plans as the pipeline makes them (leads to `--horizon`), both
ways in this process, alternating week by week so that both see the same machine. Prints the
training time per week of each, their ratio, the rows of raw data each week reads, and whether
every week's validation metrics and served forecasts came out identical.

    python bench/weekly_runs.py [--weeks 4] [--last 2023-12-25] [--horizon 14]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
FIRST = pd.Timestamp("2021-01-01", tz="UTC")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--last", type=dt.date.fromisoformat, default=dt.date(2023, 12, 25))
    parser.add_argument("--horizon", type=int, default=14)
    args = parser.parse_args()
    if args.last.weekday() != 0 or args.weeks < 2:
        parser.error("--last must be a Monday and --weeks at least 2")
    sys.path.insert(0, str(REPO))
    from energy_assets.domain.forecasting.model import DEFAULT_PARAMS, predict
    from energy_assets.domain.forecasting.request_form import rows_of_days
    from energy_assets.domain.forecasting.training import (
        WeeklyModel,
        plan_week,
        reusable_checked,
        train_week,
    )
    from energy_assets.domain.schema import TIME, series_keys
    from energy_assets.domain.sources.prices import SimulatedPrices
    from energy_assets.domain.sources.simulator import SimulatorSource

    last = pd.Timestamp(args.last, tz="UTC")
    weeks = [last - pd.Timedelta(weeks=k) for k in range(args.weeks - 1, -1, -1)]
    raw = SimulatorSource().fetch(FIRST, last)
    prices = SimulatedPrices().fetch(FIRST, last)
    n_series = len(raw.drop_duplicates(series_keys(raw)))
    params = dict(DEFAULT_PARAMS)
    seconds = {"alone": 0.0, "in turn": 0.0}
    identical, previous = True, None
    print(f"{args.weeks} weeks {weeks[0].date()} .. {last.date()}, {n_series} series, "
          f"leads to {args.horizon}\n")  # fmt: skip
    print("| week | raw days read | alone | in turn | checked model |\n|---|---|---|---|---|")
    for i, week in enumerate(weeks):
        plan = plan_week(FIRST, week, n_series, training_weeks=104, validation_days=7,
                         params=params, horizon=args.horizon)  # fmt: skip
        days = plan.raw_days()
        week_raw = rows_of_days(raw[raw[TIME] < week], days)
        week_prices = rows_of_days(prices, plan.price_days())
        results: dict[str, WeeklyModel] = {}
        took: dict[str, float] = {}
        for way in ("alone", "in turn") if i % 2 == 0 else ("in turn", "alone"):
            checked = reusable_checked(previous, plan) if way == "in turn" else None
            started = time.perf_counter()
            results[way] = train_week(week_raw, plan, params, week_prices, checked=checked,
                                      keep_checkable=way == "in turn")  # fmt: skip
            took[way] = time.perf_counter() - started
            seconds[way] += took[way]
        turn = results["in turn"]
        reused = "the week before's" if i and reusable_checked(previous, plan) else "fitted"
        previous = turn.reusable()
        a, b = (predict(r.model, r.validation_features) for r in (results["alone"], turn))
        same = results["alone"].validation == turn.validation and a.reset_index(drop=True).equals(
            b.reset_index(drop=True)
        )
        identical &= same
        read = int(days.isin(pd.DatetimeIndex(raw[TIME].dt.floor("D").unique())).sum())
        print(f"| {week.date()} | {read} of {(week - FIRST).days} | {took['alone']:.1f} s | "
              f"{took['in turn']:.1f} s | {reused} |", flush=True)  # fmt: skip
    n = args.weeks
    print(f"\nalone {seconds['alone'] / n:.1f} s a week, in turn {seconds['in turn'] / n:.1f} s "
          f"a week: ratio {seconds['in turn'] / seconds['alone']:.2f} (the first week of a run "
          f"fits its checked model either way); identical results: {identical}")  # fmt: skip
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
