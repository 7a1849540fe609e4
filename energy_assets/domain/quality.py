"""Data-quality rules for canonical consumption frames; pure, used by the blocking asset checks.

The series a day is expected to hold are the dataset's known series where its profile or the
configuration fixes them; otherwise the series the day itself holds. A series outside the known
ones is reported, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.schema import (
    AREA,
    AREAS,
    TIME,
    VALUE,
    canonical_columns,
    canonical_dtypes,
    hours,
    row_keys,
    series_keys,
    series_labels,
)
from energy_assets.domain.series import SeriesSet

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Outcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _examples(frame: pd.DataFrame) -> list[str]:
    head = frame.head(MAX_EXAMPLES)
    label = series_labels(head) if series_keys(head) else head.index.astype(str)
    if TIME in head and isinstance(head[TIME].dtype, pd.DatetimeTZDtype):
        return (label + " @ " + head[TIME].dt.strftime("%Y-%m-%d %H:%M")).tolist()
    return list(map(str, label))


def check_schema(frame: pd.DataFrame) -> Outcome:
    keys = series_keys(frame)
    expected_keys = keys if AREA in keys else [AREA, *keys]
    expected = canonical_columns(expected_keys)
    problems = []
    if list(frame.columns) != expected:
        problems.append(f"columns are {list(frame.columns)}, expected {expected}")
    for column, dtype in canonical_dtypes(expected_keys).items():
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


def _row_keys(frame: pd.DataFrame) -> list[str]:
    """The series keys of a frame and the hour; `area` is one of them in every dataset."""
    keys = series_keys(frame)
    return row_keys(keys if AREA in keys else [AREA, *keys])


def check_unique_keys(frame: pd.DataFrame) -> Outcome:
    keys = _row_keys(frame)
    if (bad := _unusable(frame, keys)) is not None:
        return bad
    dup = frame[frame.duplicated(keys, keep="first")]
    if len(dup):
        return Outcome(
            False,
            f"{len(dup)} duplicate (series, hour) keys",
            {"duplicates": len(dup), "examples": _examples(dup)},
        )
    return Outcome(True, "every (series, hour) key is unique")


def expected_series(frame: pd.DataFrame, known: SeriesSet | None) -> SeriesSet:
    return known if known is not None else SeriesSet.of(frame)


def full_grid(start: pd.Timestamp, end: pd.Timestamp, series: SeriesSet) -> pd.DataFrame:
    """Every (series, hour) key expected in [start, end)."""
    idx = hours(start, end)
    keys = series.frame()
    grid = keys.loc[keys.index.repeat(len(idx))].reset_index(drop=True)
    grid.insert(0, TIME, idx[np.tile(np.arange(len(idx)), len(series))])
    return grid


def check_complete_grid(
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    known: SeriesSet | None = None,
) -> Outcome:
    """Every expected series has every hour of [start, end), and nothing lies outside it."""
    keys = _row_keys(frame)
    if (bad := _unusable(frame, keys)) is not None:
        return bad
    series = expected_series(frame, known)
    grid = full_grid(start, end, series)
    merged = grid.merge(frame[keys].drop_duplicates(), on=keys, how="left", indicator=True)
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
    return _grid_passed(len(series), len(grid))


def _grid_passed(n_series: int, expected_rows: int) -> Outcome:
    hours_ = expected_rows // max(n_series, 1)
    return Outcome(
        True,
        f"complete hourly grid: {n_series} series x {hours_} h",
        {"expected_rows": expected_rows, "missing_hours": 0},
    )


def check_known_series(frame: pd.DataFrame, known: SeriesSet | None = None) -> Outcome:
    """Every series is one the dataset is known to have; a new one is named, not dropped."""
    keys = list(known.keys) if known is not None else _row_keys(frame)[:-1]
    if (bad := _unusable(frame, keys)) is not None:
        return bad
    if known is None:
        return Outcome(True, "no series list is fixed for this dataset")
    new = frame[known.positions(frame) < 0]
    if len(new):
        labels = sorted(series_labels(new.drop_duplicates(keys), keys).unique())
        return Outcome(
            False,
            f"{len(labels)} series not among the {len(known)} known: {', '.join(labels[:10])}",
            {"new_series": labels[:50], "rows": len(new)},
        )
    return Outcome(True, f"every series is among the {len(known)} known")


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
        names = sorted(str(a) for a in unknown[AREA].unique())
        return Outcome(
            False,
            f"{len(unknown)} rows with unknown areas {names}; known: {list(AREAS)}",
            {"rows": len(unknown), "unknown_areas": names},
        )
    return Outcome(True, f"areas within {list(AREAS)}")


def summarize(
    frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, known: SeriesSet | None = None
) -> dict[str, Any]:
    """Plain-valued facts about a canonical frame, for asset metadata."""
    values = frame[VALUE]
    keys = series_keys(frame)
    expected = len(expected_series(frame, known)) * int((end - start) / pd.Timedelta(hours=1))
    present = len(frame[row_keys(keys)].drop_duplicates())
    return {
        "rows": len(frame),
        "series": int(frame.groupby(keys).ngroups) if len(frame) and keys else 0,
        "min_kwh": float(values.min()) if len(frame) else None,
        "max_kwh": float(values.max()) if len(frame) else None,
        "missing_hours": max(expected - present, 0),
    }


HOUR_NS = 3_600_000_000_000
Rule = Callable[[pd.DataFrame, pd.Timestamp, pd.Timestamp, SeriesSet | None], Outcome]
RULES: dict[str, Rule] = {
    "schema": lambda f, s, e, k: check_schema(f),
    "unique_keys": lambda f, s, e, k: check_unique_keys(f),
    "complete_hourly_grid": check_complete_grid,
    "finite_non_negative": lambda f, s, e, k: check_values(f),
    "known_areas": lambda f, s, e, k: check_areas(f),
    "known_series": lambda f, s, e, k: check_known_series(f, k),
}
RULE_DOCS = {
    "schema": "columns and dtypes are canonical",
    "unique_keys": "no (series, hour) key appears twice",
    "complete_hourly_grid": "every expected series has every hour of the day, and no row lies "
    "outside it",
    "finite_non_negative": "every value is finite and non-negative",
    "known_areas": "areas are DK1 or DK2",
    "known_series": "every series is one the dataset is known to have (a new one is reported)",
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


def check_day(
    frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, known: SeriesSet | None = None
) -> dict[str, Outcome]:
    """Every rule on one day's rows."""
    return {name: rule(frame, start, end, known) for name, rule in RULES.items()}


def check_days(
    frame: pd.DataFrame, days: list[Window], known: SeriesSet | None = None
) -> list[dict[str, Outcome]]:
    """Every rule for each day window of a multi-day frame, in the order given.

    Per-day counts over the whole frame find the failing days in one vectorised pass; only
    those days are sliced and examined in detail, so a three-year range stays fast.
    """
    keys = _row_keys(frame)
    if len(days) == 1:
        return [check_day(frame, *days[0], known)]
    if _unusable(frame, [*keys, VALUE, AREA]) is not None:
        # Cannot place rows in days; every day reports the same structural problem.
        return [check_day(frame, s, e, known) for s, e in days]
    failing, series_per_day, day = _failing_days(frame, days, known)
    schema = check_schema(frame)  # one frame: the same dtypes for every day
    results = []
    for i, (start, end) in enumerate(days):
        bad = [rule for rule, fails in failing.items() if fails[i]]
        sliced = frame[day == i] if bad else frame.iloc[:0]
        outcomes = {"schema": schema}
        for rule in failing:
            if rule in bad:
                outcomes[rule] = RULES[rule](sliced, start, end, known)
            else:
                expected_rows = int(series_per_day[i] * ((end - start) // pd.Timedelta(hours=1)))
                outcomes[rule] = _passed(rule, int(series_per_day[i]), expected_rows, known)
        results.append(outcomes)
    return results


def _passed(rule: str, n_series: int, expected_rows: int, known: SeriesSet | None) -> Outcome:
    """The outcome a rule gives a day that passes it, as the detailed rule words it."""
    if rule == "complete_hourly_grid":
        return _grid_passed(n_series, expected_rows)
    if rule == "known_series":
        if known is None:
            return Outcome(True, "no series list is fixed for this dataset")
        return Outcome(True, f"every series is among the {len(known)} known")
    return {
        "unique_keys": Outcome(True, "every (series, hour) key is unique"),
        "finite_non_negative": Outcome(True, "all values finite and non-negative"),
        "known_areas": Outcome(True, f"areas within {list(AREAS)}"),
    }[rule]


def _failing_days(
    frame: pd.DataFrame, days: list[Window], known: SeriesSet | None
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per rule, whether each day fails it; the series each day expects; each row's day (-1:
    none)."""
    n = len(days)
    starts = np.array([s.value for s, _ in days], dtype="int64")
    ends = np.array([e.value for _, e in days], dtype="int64")
    times = frame[TIME].to_numpy(dtype="datetime64[ns]").astype("int64")
    day = np.searchsorted(starts, times, side="right") - 1
    day = np.where((day >= 0) & (times < ends[np.clip(day, 0, n - 1)]), day, -1)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(day[mask & (day >= 0)], minlength=n)

    keys = _row_keys(frame)
    duplicated = frame.duplicated(keys).to_numpy()
    values = pd.to_numeric(frame[VALUE], errors="coerce").to_numpy(dtype="float64")
    on_hour = times % HOUR_NS == 0
    if known is not None:
        in_known = known.positions(frame) >= 0
        per_day_series = np.full(n, len(known))
    else:
        in_known = np.ones(len(frame), dtype=bool)
        per_day_series = _distinct_per_day(day, frame[keys[:-1]], n)
    expected = (ends - starts) // HOUR_NS * per_day_series
    present = count(~duplicated & in_known & on_hour)
    failing = {
        "unique_keys": count(duplicated) > 0,
        "complete_hourly_grid": (present != expected) | (count(~on_hour) > 0),
        "finite_non_negative": count(~np.isfinite(values) | (values < 0)) > 0,
        "known_areas": count(~frame[AREA].isin(AREAS).to_numpy()) > 0,
        "known_series": count(~in_known) > 0,
    }
    return failing, per_day_series, day


def _distinct_per_day(day: np.ndarray, keys: pd.DataFrame, n: int) -> np.ndarray:
    """The number of distinct series on each day."""
    series, _ = pd.factorize(pd.MultiIndex.from_frame(keys.astype(object)))
    pairs = pd.DataFrame({"day": day, "series": series})
    pairs = pairs[pairs["day"] >= 0].drop_duplicates()
    return np.bincount(pairs["day"].to_numpy(), minlength=n)
