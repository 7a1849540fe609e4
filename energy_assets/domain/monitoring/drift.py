"""Data drift of a day's features against a model's training window, with Evidently."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
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


@dataclass
class DriftResult:
    columns: list[str]
    distances: dict[str, float]
    thresholds: dict[str, float]
    drifted: list[str]
    html: bytes = field(repr=False)

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return self.share >= DATASET_DRIFT_SHARE

    def summary(self) -> dict[str, Any]:
        return {
            "drift_share": self.share,
            "drifted_count": len(self.drifted),
            "columns_checked": len(self.columns),
            "drifted_columns": ", ".join(self.drifted),
            "dataset_drift": self.dataset_drift,
            "method": f"normed {METHOD} above the reference's own day-to-day maximum",
        }


class DriftInputError(ValueError):
    """Reference or current data cannot be compared; the message says why."""


def _normed_wasserstein(reference: np.ndarray, current: np.ndarray, scale: float) -> float:
    from scipy.stats import wasserstein_distance

    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0 or scale <= 0:
        return 0.0
    return float(wasserstein_distance(reference, current) / scale)


def calibrate_thresholds(
    reference: pd.DataFrame, columns: list[str], day_column: str = ORIGIN
) -> dict[str, float]:
    """Per column: MARGIN x the largest distance of one reference day from the other days."""
    days = reference[day_column].to_numpy()
    thresholds = {}
    for column in columns:
        values = reference[column].to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        scale = float(finite.std()) if finite.size else 0.0  # no values: nothing to compare
        worst = max(
            (_normed_wasserstein(values[days != d], values[days == d], scale)
             for d in np.unique(days)),
            default=0.0,
        )  # fmt: skip
        thresholds[column] = max(MIN_THRESHOLD, MARGIN * worst)
    return thresholds


def measure_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str] | None = None,
    *,
    thresholds: dict[str, float] | None = None,
    seed: int = 0,
) -> DriftResult:
    """Per-column drift of `current` against `reference` and the full Evidently HTML report.

    `thresholds` default to `calibrate_thresholds` of the reference, which needs its `origin`
    column; pass them to compare many days against one reference at the cost of one.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
    columns = list(columns or DRIFT_COLUMNS)
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DriftInputError(f"{name} features lack the columns {missing}")
        if frame.empty:
            raise DriftInputError(f"{name} features are empty")
    # Columns with no value on one side (a lag before the data began) cannot be compared.
    usable = [c for c in columns if reference[c].notna().any() and current[c].notna().any()]
    if len(reference) > REFERENCE_ROWS:
        reference = reference.sample(REFERENCE_ROWS, random_state=seed)
    if thresholds is None:
        thresholds = calibrate_thresholds(reference, usable)
    limits = {c: thresholds.get(c, MIN_THRESHOLD) for c in usable}
    ref = reference[usable].astype("float64").replace([np.inf, -np.inf], np.nan)
    cur = current[usable].astype("float64").replace([np.inf, -np.inf], np.nan)
    html, distances = _evidently_report(ref, cur, limits)
    drifted = [c for c in usable if distances.get(c, 0.0) >= limits[c]]
    return DriftResult(
        columns=usable, distances=distances, thresholds=limits, drifted=drifted, html=html
    )


def _evidently_report(
    reference: pd.DataFrame, current: pd.DataFrame, limits: dict[str, float]
) -> tuple[bytes, dict[str, float]]:
    """Evidently's HTML report and its per-column distances, with our thresholds."""
    columns = list(limits)
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
            current_data=Dataset.from_pandas(current, data_definition=definition),
            reference_data=Dataset.from_pandas(reference, data_definition=definition),
        )
        html = snapshot.get_html_str(as_iframe=False).encode()
    distances = {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            distances[config["column"]] = float(metric["value"])
    return html, distances
