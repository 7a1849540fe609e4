"""Data drift of each day's features against a model's training window.

The statistics are Evidently's normed Wasserstein distances, computed here directly and
vectorised (a millisecond or so a day); Evidently renders the full HTML report only for the days
someone will read it for.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import ORIGIN, VALUE_FEATURES

# Calendar and horizon columns differ between one day and a training window by construction
# (one weekday against seven); drift is watched on the columns made from consumption values.
DRIFT_COLUMNS = VALUE_FEATURES
METHOD = "wasserstein"  # normed Wasserstein distance: scale-free, stable on large samples
# One day against weeks is never alike under a fixed threshold (Evidently's default 0.1):
# day-level features take one value per series a day. A column drifts when the day lies
# further from the reference than any reference day lies from the rest of it, with a margin.
MARGIN = 1.1
MIN_THRESHOLD = 0.1
DATASET_DRIFT_SHARE = 0.5  # the day drifts when at least this share of columns does
REFERENCE_ROWS = 20_000  # a seeded sample keeps a run's cost flat in the window's length
# A day is compared with the last weeks its model learnt from: the regime it was fitted to most
# recently, not a year of seasons it has also seen.
REFERENCE_WEEKS = 8
# Evidently normalises by the reference's standard deviation, but never by less than this.
MIN_SCALE = 0.001
DAY = "day"


class DriftInputError(ValueError):
    """Reference or current data cannot be compared; the message says why."""


@dataclass(frozen=True)
class DriftReference:
    """A model's reference sample (the drift columns and the day of each row) and the
    threshold of each column, calibrated on it."""

    features: pd.DataFrame
    thresholds: dict[str, float]


@dataclass(frozen=True)
class DaySummary:
    columns: list[str]
    drifted: list[str]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.share >= DATASET_DRIFT_SHARE

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift_share": self.share,
            "drifted_count": len(self.drifted),
            "columns_checked": len(self.columns),
            "drifted_columns": ", ".join(self.drifted),
            "dataset_drift": self.dataset_drift,
            "method": f"normed {METHOD} above the reference's own day-to-day maximum",
        }


@functools.lru_cache(maxsize=64)
def _grid(m: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For samples of sizes m and n: the steps of the union of their quantile levels and, per
    step, the index of each sorted sample's value there. Cached: the sizes repeat every day."""
    u = np.union1d(np.arange(1, m + 1) / m, np.arange(1, n + 1) / n)
    du = np.diff(u, prepend=0.0)
    return (
        du,
        np.minimum(np.ceil(u * m - 1e-9).astype(int) - 1, m - 1),
        np.minimum(np.ceil(u * n - 1e-9).astype(int) - 1, n - 1),
    )


def wasserstein(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """The 1-Wasserstein distance of two sorted finite samples: the area between their quantile
    functions, exact (the same value as scipy's)."""
    m, n = len(reference_sorted), len(current_sorted)
    du, i, j = _grid(m, n)
    return float(np.abs(reference_sorted[i] - current_sorted[j]) @ du)


def _finite_sorted(values: np.ndarray) -> np.ndarray:
    return np.sort(values[np.isfinite(values)])


def _scale(values: np.ndarray) -> float:
    return max(float(values.std()), MIN_SCALE) if values.size else 0.0


def reference_sample(features: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The drift columns and days of the last REFERENCE_WEEKS of `features`, at most
    REFERENCE_ROWS rows of them (a seeded sample)."""
    missing = [c for c in (ORIGIN, *DRIFT_COLUMNS) if c not in features.columns]
    if missing:
        raise DriftInputError(f"reference features lack the columns {missing}")
    newest = features[ORIGIN].max()
    recent = features[features[ORIGIN] > newest - pd.Timedelta(weeks=REFERENCE_WEEKS)]
    if len(recent) > REFERENCE_ROWS:
        recent = recent.sample(REFERENCE_ROWS, random_state=seed).sort_index()
    frame = recent[[ORIGIN, *DRIFT_COLUMNS]].reset_index(drop=True)
    # Single precision halves what each model stores; distances need no more digits.
    frame[DRIFT_COLUMNS] = frame[DRIFT_COLUMNS].astype("float32")
    return frame


def calibrate_thresholds(
    reference: pd.DataFrame, columns: list[str] | None = None, day_column: str = ORIGIN
) -> dict[str, float]:
    """Per column: MARGIN x the largest distance of one reference day from the other days."""
    # Days as small integers: comparing timestamps object by object would cost more than W1.
    days, _ = pd.factorize(reference[day_column])
    thresholds = {}
    for column in columns or DRIFT_COLUMNS:
        values = reference[column].to_numpy(dtype="float64")
        finite = np.isfinite(values)
        order = np.argsort(values[finite], kind="stable")
        ordered, ordered_days = values[finite][order], days[finite][order]
        scale = _scale(ordered)
        distances = _day_vs_rest(ordered, ordered_days) if scale > 0 else np.zeros(0)
        worst = float(distances.max()) / scale if distances.size else 0.0
        thresholds[column] = max(MIN_THRESHOLD, MARGIN * worst)
    return thresholds


def _day_vs_rest(ordered: np.ndarray, days: np.ndarray) -> np.ndarray:
    """W1 of each day's values against all the other days', for values sorted once and their
    days as integer codes.

    W1 is the area between the two samples' CDFs, and both are step functions over the one
    sorted array: a day's CDF counts its own values so far, the rest's counts the others. So all
    days together cost one cumulative sum over an N x days table instead of a sort per day (ties
    are exact: their steps have zero width). A day that is the whole sample has no rest."""
    if ordered.size < 2:
        return np.zeros(0)
    mine = np.cumsum(days[:, None] == np.arange(days.max() + 1), axis=0)
    sizes = mine[-1]
    partial = (sizes > 0) & (sizes < len(ordered))
    mine, sizes = mine[:-1, partial], sizes[partial]
    seen = np.arange(1, len(ordered))[:, None]  # values up to each step's left end
    gap = np.abs(mine / sizes - (seen - mine) / (len(ordered) - sizes))
    return gap.T @ np.diff(ordered)


def build_reference(features: pd.DataFrame, seed: int = 0) -> DriftReference:
    """A model's drift reference from the features it trained on."""
    sample = reference_sample(features, seed)
    return DriftReference(sample, calibrate_thresholds(sample))


def day_drift(
    reference: DriftReference, current: pd.DataFrame, day_column: str = ORIGIN
) -> pd.DataFrame:
    """Each day of `current` against the reference: per day and column the distance, the
    threshold and whether it drifted. Columns with no value on one side (a lag before the data
    began) are left out of that day."""
    missing = [c for c in DRIFT_COLUMNS if c not in current.columns]
    if missing:
        raise DriftInputError(f"current features lack the columns {missing}")
    if reference.features.empty:
        raise DriftInputError("reference features are empty")
    prepared = {}
    for column in DRIFT_COLUMNS:
        ordered = _finite_sorted(reference.features[column].to_numpy(dtype="float64"))
        if ordered.size:
            prepared[column] = (ordered, _scale(ordered))
    rows = []
    for day, group in current.groupby(day_column, sort=True):
        for column, (ordered, scale) in prepared.items():
            today = _finite_sorted(group[column].to_numpy(dtype="float64"))
            if not today.size:
                continue
            distance = wasserstein(ordered, today) / scale
            threshold = reference.thresholds.get(column, MIN_THRESHOLD)
            rows.append((day, column, distance, threshold, distance >= threshold))
    return pd.DataFrame(rows, columns=[DAY, "column", "distance", "threshold", "drifted"])


def summarise(table: pd.DataFrame) -> DaySummary:
    """The verdict of one day's rows of a `day_drift` table."""
    return DaySummary(list(table["column"]), list(table.loc[table["drifted"], "column"]))


def evidently_report(
    reference: pd.DataFrame, current: pd.DataFrame, thresholds: dict[str, float]
) -> tuple[bytes, dict[str, float]]:
    """Evidently's full HTML report of `current` against `reference` with our thresholds,
    gzip-compressed, and the per-column distances Evidently found."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
    columns = [c for c in DRIFT_COLUMNS if reference[c].notna().any() and current[c].notna().any()]
    limits = {c: thresholds.get(c, MIN_THRESHOLD) for c in columns}
    ref = reference[columns].astype("float64").replace([np.inf, -np.inf], np.nan)
    cur = current[columns].astype("float64").replace([np.inf, -np.inf], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Evidently's imports warn about their own deprecations
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=columns)
        report = Report(
            [
                DataDriftPreset(
                    columns=columns,
                    num_method=METHOD,
                    per_column_threshold=limits,
                    drift_share=DATASET_DRIFT_SHARE,
                )
            ]
        )
        snapshot = report.run(
            current_data=Dataset.from_pandas(cur, data_definition=definition),
            reference_data=Dataset.from_pandas(ref, data_definition=definition),
        )
        html = snapshot.get_html_str(as_iframe=False).encode()
    distances = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            distances[config["column"]] = float(metric["value"])
    return gzip.compress(html, mtime=0), distances
