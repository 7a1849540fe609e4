"""Data-quality rules for canonical consumption frames; pure, used by the blocking asset checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.schema import (
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
    label = series_labels(head) if set(KEYS[:2]) <= set(head.columns) else head.index.astype(str)
    if TIME in head and isinstance(head[TIME].dtype, pd.DatetimeTZDtype):
        return (label + " @ " + head[TIME].dt.strftime("%Y-%m-%d %H:%M")).tolist()
    return list(map(str, label))


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


def _unusable(frame: pd.DataFrame, columns: list[str]) -> Outcome | None:
    """A failed outcome when the columns a rule needs are missing or of the wrong kind."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return Outcome(False, f"cannot check: missing columns {missing}", {"missing": missing})
    if TIME in columns and not isinstance(frame[TIME].dtype, pd.DatetimeTZDtype):
        return Outcome(False, f"cannot check: {TIME} has dtype {frame[TIME].dtype}, not UTC time")
    return None


def check_unique_keys(frame: pd.DataFrame) -> Outcome:
    if (bad := _unusable(frame, KEYS)) is not None:
        return bad
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
    if (bad := _unusable(frame, KEYS)) is not None:
        return bad
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
    hours_ = len(grid) // max(len(series), 1)
    return Outcome(True, f"complete hourly grid: {len(series)} series x {hours_} h", meta)


def check_values(frame: pd.DataFrame) -> Outcome:
    if (bad := _unusable(frame, [VALUE])) is not None:
        return bad
    values = pd.to_numeric(frame[VALUE], errors="coerce").to_numpy(dtype="float64")
    not_finite = ~np.isfinite(values)
    negative = np.isfinite(values) & (values < 0)
    if not_finite.any() or negative.any():
        bad = frame[not_finite | negative]
        return Outcome(
            False,
            f"{int(not_finite.sum())} missing or infinite and "
            f"{int(negative.sum())} negative values",
            {
                "not_finite": int(not_finite.sum()),
                "negative": int(negative.sum()),
                "examples": _examples(bad),
            },
        )
    return Outcome(True, "all values finite and non-negative")


def check_areas(frame: pd.DataFrame) -> Outcome:
    if (bad := _unusable(frame, [AREA])) is not None:
        return bad
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


HOUR_NS = 3_600_000_000_000
RULES: dict[str, Callable[[pd.DataFrame, pd.Timestamp, pd.Timestamp], Outcome]] = {
    "schema": lambda f, s, e: check_schema(f),
    "unique_keys": lambda f, s, e: check_unique_keys(f),
    "complete_hourly_grid": check_complete_grid,
    "finite_non_negative": lambda f, s, e: check_values(f),
    "known_areas": lambda f, s, e: check_areas(f),
}
RULE_DOCS = {
    "schema": "columns and dtypes are canonical",
    "unique_keys": "no (series, hour) key appears twice",
    "complete_hourly_grid": "all 76 series have all hours of the day, and no row lies outside it",
    "finite_non_negative": "every value is finite and non-negative",
    "known_areas": "areas are DK1 or DK2",
}
Window = tuple[pd.Timestamp, pd.Timestamp]


def contract(outcomes: dict[str, Outcome]) -> Outcome:
    """All rules as one outcome: failing rules are named in the description, every rule's
    verdict and the failing rules' details are in the metadata."""
    failed = {rule: o for rule, o in outcomes.items() if not o.passed}
    meta: dict[str, Any] = {
        rule: "passed" if o.passed else f"FAILED: {o.description}" for rule, o in outcomes.items()
    }
    for rule, outcome in failed.items():
        meta.update({f"{rule}.{k}": v for k, v in outcome.metadata.items()})
    if failed:
        text = "; ".join(f"{rule}: {o.description}" for rule, o in failed.items())
        return Outcome(False, f"{len(failed)} of {len(outcomes)} rules failed: {text}", meta)
    return Outcome(True, f"all {len(outcomes)} rules passed", meta)


def check_day(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Outcome]:
    """Every rule on one day's rows."""
    return {name: rule(frame, start, end) for name, rule in RULES.items()}


def check_days(frame: pd.DataFrame, days: list[Window]) -> list[dict[str, Outcome]]:
    """Every rule for each day window of a multi-day frame, in the order given.

    Per-day counts over the whole frame find the failing days in one vectorised pass; only
    those days are sliced and examined in detail, so a three-year range stays fast.
    """
    if len(days) == 1:
        return [check_day(frame, *days[0])]
    if _unusable(frame, [*KEYS, VALUE]) is not None:
        # Cannot place rows in days; every day reports the same structural problem.
        return [check_day(frame, s, e) for s, e in days]

    n = len(days)
    starts = np.array([s.value for s, _ in days], dtype="int64")
    ends = np.array([e.value for _, e in days], dtype="int64")
    times = frame[TIME].to_numpy(dtype="datetime64[ns]").astype("int64")
    day = np.searchsorted(starts, times, side="right") - 1
    day = np.where((day >= 0) & (times < ends[np.clip(day, 0, n - 1)]), day, -1)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(day[mask & (day >= 0)], minlength=n)

    duplicated = frame.duplicated(KEYS).to_numpy()
    values = pd.to_numeric(frame[VALUE], errors="coerce").to_numpy(dtype="float64")
    known_series = pd.MultiIndex.from_frame(frame[[AREA, CONSUMER_TYPE]].astype(object)).isin(
        list(SERIES)
    )
    expected = (ends - starts) // HOUR_NS * len(SERIES)
    present = count(~duplicated & known_series & (times % HOUR_NS == 0))
    failing = {
        "unique_keys": count(duplicated) > 0,
        "complete_hourly_grid": present != expected,
        "finite_non_negative": count(~np.isfinite(values) | (values < 0)) > 0,
        "known_areas": count(~frame[AREA].isin(AREAS).to_numpy()) > 0,
    }
    schema = check_schema(frame)  # one frame: the same dtypes for every day
    results = []
    for i, (start, end) in enumerate(days):
        bad = [rule for rule, fails in failing.items() if fails[i]]
        sliced = frame[day == i] if bad else frame.iloc[:0]
        outcomes = {"schema": schema}
        for rule in failing:
            if rule in bad:
                outcomes[rule] = RULES[rule](sliced, start, end)
            else:
                outcomes[rule] = _passed(rule, int(expected[i]))
        results.append(outcomes)
    return results


def _passed(rule: str, expected_rows: int) -> Outcome:
    return {
        "unique_keys": Outcome(True, "every (series, hour) key is unique"),
        "complete_hourly_grid": Outcome(
            True,
            f"complete hourly grid: {len(SERIES)} series x {expected_rows // len(SERIES)} h",
            {"expected_rows": expected_rows, "missing_hours": 0},
        ),
        "finite_non_negative": Outcome(True, "all values finite and non-negative"),
        "known_areas": Outcome(True, f"areas within {list(AREAS)}"),
    }[rule]
