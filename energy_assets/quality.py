"""Data-quality rules for canonical consumption frames; pure, used by the blocking asset checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.schema import (
    AREA,
    AREAS,
    COLUMNS,
    CONSUMER_TYPE,
    DTYPES,
    KEYS,
    SERIES,
    TIME,
    VALUE,
    full_grid,
    series_labels,
)

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Outcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _examples(frame: pd.DataFrame) -> list[str]:
    head = frame.head(MAX_EXAMPLES)
    times = head[TIME].dt.strftime("%Y-%m-%d %H:%M") if TIME in head else ""
    return (series_labels(head) + " @ " + times).tolist()


def check_schema(frame: pd.DataFrame) -> Outcome:
    problems = []
    if list(frame.columns) != COLUMNS:
        problems.append(f"columns are {list(frame.columns)}, expected {COLUMNS}")
    for column, dtype in DTYPES.items():
        if column in frame.columns and str(frame[column].dtype) != dtype:
            problems.append(f"{column} has dtype {frame[column].dtype}, expected {dtype}")
    if problems:
        return Outcome(False, "; ".join(problems), {"problems": problems})
    return Outcome(True, "columns and dtypes are canonical")


def check_unique_keys(frame: pd.DataFrame) -> Outcome:
    dup = frame[frame.duplicated(KEYS, keep="first")]
    if len(dup):
        return Outcome(
            False,
            f"{len(dup)} duplicate (series, hour) keys",
            {"duplicates": len(dup), "examples": _examples(dup)},
        )
    return Outcome(True, "every (series, hour) key is unique")


def check_complete_grid(
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    series: tuple[tuple[str, int], ...] = SERIES,
) -> Outcome:
    """Every expected series has every hour of [start, end), and nothing lies outside it."""
    grid = full_grid(start, end, series)
    keys = frame[KEYS].drop_duplicates()
    merged = grid.merge(keys, on=KEYS, how="left", indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    outside = frame[(frame[TIME] < start) | (frame[TIME] >= end)]
    meta: dict[str, Any] = {"expected_rows": len(grid), "missing_hours": len(missing)}
    problems = []
    if len(missing):
        per_series = series_labels(missing).value_counts().sort_index()
        meta["missing_by_series"] = {str(k): int(v) for k, v in per_series.head(50).items()}
        meta["missing_examples"] = _examples(missing)
        problems.append(
            f"{len(missing)} missing hours in {len(per_series)} series "
            f"(first: {', '.join(meta['missing_examples'][:3])})"
        )
    if len(outside):
        meta["rows_outside_window"] = len(outside)
        problems.append(f"{len(outside)} rows outside [{start}, {end})")
    if problems:
        return Outcome(False, "; ".join(problems), meta)
    return Outcome(True, f"complete hourly grid: {len(series)} series x {len(grid) // max(len(series), 1)} h", meta)


def check_values(frame: pd.DataFrame) -> Outcome:
    values = pd.to_numeric(frame[VALUE], errors="coerce").to_numpy(dtype="float64")
    not_finite = ~np.isfinite(values)
    negative = np.isfinite(values) & (values < 0)
    if not_finite.any() or negative.any():
        bad = frame[not_finite | negative]
        return Outcome(
            False,
            f"{int(not_finite.sum())} missing or infinite and {int(negative.sum())} negative values",
            {
                "not_finite": int(not_finite.sum()),
                "negative": int(negative.sum()),
                "examples": _examples(bad),
            },
        )
    return Outcome(True, "all values finite and non-negative")


def check_areas(frame: pd.DataFrame) -> Outcome:
    unknown = frame[~frame[AREA].isin(AREAS)]
    if len(unknown):
        names = sorted(str(a) for a in unknown[AREA].dropna().unique())
        return Outcome(
            False,
            f"{len(unknown)} rows with unknown areas {names}; known: {list(AREAS)}",
            {"rows": len(unknown), "unknown_areas": names},
        )
    return Outcome(True, f"areas within {list(AREAS)}")


def summarize(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """Plain-valued facts about a canonical frame, for asset metadata."""
    values = frame[VALUE]
    expected = len(SERIES) * int((end - start) / pd.Timedelta(hours=1))
    present = len(frame[KEYS].drop_duplicates())
    return {
        "rows": len(frame),
        "series": int(frame.groupby([AREA, CONSUMER_TYPE]).ngroups) if len(frame) else 0,
        "min_kwh": float(values.min()) if len(frame) else None,
        "max_kwh": float(values.max()) if len(frame) else None,
        "missing_hours": max(expected - present, 0),
    }
