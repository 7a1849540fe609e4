"""Drift threshold calibration of one weekly model: every reference day against the others.

A reference as each model stores it (20,000 rows over 8 weeks of days, every drift column),
calibrated by `calibrate_thresholds` (one sort per column, a cumulative sum per day) and by the
per-day baseline it replaced (the day and the rest as two samples, W1 on their quantile grid),
in this process; the two must agree.

    python bench/drift_calibration.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.monitoring.drift import (
    DRIFT_COLUMNS,
    MARGIN,
    MIN_THRESHOLD,
    REFERENCE_ROWS,
    REFERENCE_WEEKS,
    _scale,
    calibrate_thresholds,
    wasserstein,
)


def baseline(reference: pd.DataFrame) -> dict[str, float]:
    days = reference[ORIGIN].to_numpy()
    thresholds = {}
    for column in DRIFT_COLUMNS:
        values = reference[column].to_numpy(dtype="float64")
        order = np.argsort(values, kind="stable")
        ordered, ordered_days = values[order], days[order]
        scale = _scale(ordered)
        worst = 0.0
        for day in np.unique(ordered_days):
            mine = ordered_days == day
            worst = max(worst, wasserstein(ordered[~mine], ordered[mine]) / scale)
        thresholds[column] = max(MIN_THRESHOLD, MARGIN * worst)
    return thresholds


def best_of(runs: int, work: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    n_days = REFERENCE_WEEKS * 7
    days = pd.date_range("2023-01-01", periods=n_days, tz="UTC")
    rows = rng.integers(0, n_days, REFERENCE_ROWS)
    drift = rng.normal(0, 0.3, (n_days, len(DRIFT_COLUMNS)))[rows]
    reference = pd.DataFrame(rng.gamma(2.0, 1.0, (REFERENCE_ROWS, len(DRIFT_COLUMNS))) + drift,
                             columns=list(DRIFT_COLUMNS)).astype("float32")  # fmt: skip
    reference[ORIGIN] = days[rows]

    new, old = calibrate_thresholds(reference), baseline(reference)
    worst = max(abs(new[c] - old[c]) / old[c] for c in DRIFT_COLUMNS)
    assert worst < 1e-9, f"the two calibrations differ by {worst:.2e}"
    t_new = best_of(3, lambda: calibrate_thresholds(reference))
    t_old = best_of(3, lambda: baseline(reference))
    print(f"{REFERENCE_ROWS:,} rows, {n_days} days, {len(DRIFT_COLUMNS)} columns; "
          f"largest relative difference {worst:.1e}")  # fmt: skip
    print("| calibration | best of 3 |")
    print("|---|---|")
    print(f"| per-day quantile grid (baseline) | {t_old:.3f} s |")
    print(f"| one sort per column, a cumulative sum per day | {t_new:.3f} s |")
    print(f"| ratio | {t_old / t_new:.1f}x |")


if __name__ == "__main__":
    main()
