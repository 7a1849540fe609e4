"""Canonical long format of consumption data (DESIGN section 2) and conversion into it."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

TIME = "datetime_utc"
AREA = "area"
CONSUMER_TYPE = "consumer_type"
VALUE = "consumption_kwh"
SERIES_KEYS = [AREA, CONSUMER_TYPE]
KEYS = [AREA, CONSUMER_TYPE, TIME]
COLUMNS = [TIME, AREA, CONSUMER_TYPE, VALUE]

AREAS = ("DK1", "DK2")
# The 38 DE35 consumer-type codes of ConsumptionDE35Hour.
CONSUMER_TYPES = (
    111, 112, 119, 121, 122, 123, 130, 211, 212, 215, 220, 310, 320, 330, 340, 350, 360, 370,
    381, 382, 390, 410, 421, 422, 431, 432, 433, 441, 442, 443, 444, 445, 446, 447, 450, 461,
    462, 999,
)  # fmt: skip
SERIES: tuple[tuple[str, int], ...] = tuple((a, c) for a in AREAS for c in CONSUMER_TYPES)

DTYPES: dict[str, str] = {
    TIME: "datetime64[ns, UTC]",
    AREA: "string",
    CONSUMER_TYPE: "int64",
    VALUE: "float64",
}


class DataFormatError(ValueError):
    """Input data cannot be read into the canonical format; the message says where."""


# DE35 groups by the code's first digit; the official code-to-label table is not published
# with the dataset, so labels name the group only.
CONSUMER_GROUPS = {1: "household", 2: "agriculture", 3: "industry", 4: "services"}


def consumer_group(code: int) -> str:
    return CONSUMER_GROUPS.get(int(code) // 100, "mixed")


def consumer_type_label(code: int) -> str:
    return f"{int(code)} · {'other' if int(code) == 999 else consumer_group(code)}"


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DTYPES.items()})


def to_utc(values: pd.Series, *, where: str, fmt: str | None = None) -> pd.Series:
    """Parse timestamps as UTC; naive values are taken to be UTC already."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(DTYPES[TIME])
    parsed = pd.to_datetime(values, format=fmt or "ISO8601", errors="coerce", utc=True)
    bad = parsed.isna()  # a missing time is as unusable as an unreadable one
    if bad.any():
        idx = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(
            f"{where}: row {idx}: missing or unreadable time {values.iloc[idx]!r}"
        )
    return parsed.astype(pd.DatetimeTZDtype(unit="ns", tz="UTC"))


def to_numbers(values: pd.Series, *, where: str, column: str) -> pd.Series:
    parsed = pd.to_numeric(values, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        idx = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(f"{where}: row {idx}: {column} is not a number: {values.iloc[idx]!r}")
    return parsed


def to_canonical(frame: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Coerce a frame with the canonical column names to canonical dtypes and order.

    Only unreadable values raise; semantically wrong values (negative, unknown area,
    gaps) pass through so that the data checks report them against their partition.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{where}: missing columns {missing}; has {list(frame.columns)}")
    out = pd.DataFrame(
        {
            TIME: to_utc(frame[TIME], where=where),
            AREA: frame[AREA].astype("string").str.strip(),
            CONSUMER_TYPE: to_numbers(frame[CONSUMER_TYPE], where=where, column=CONSUMER_TYPE),
            VALUE: to_numbers(frame[VALUE], where=where, column=VALUE).astype("float64"),
        }
    )
    codes = out[CONSUMER_TYPE]
    if codes.isna().any() or (codes.round() != codes).any():
        idx = int(np.flatnonzero((codes.isna() | (codes.round() != codes)).to_numpy())[0])
        raise DataFormatError(
            f"{where}: row {idx}: consumer_type {float(codes.iloc[idx])!r} is no code"
        )
    out[CONSUMER_TYPE] = codes.astype("int64")
    return sort_canonical(out)


def sort_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([TIME, AREA, CONSUMER_TYPE], kind="stable").reset_index(drop=True)


def series_labels(frame: pd.DataFrame) -> pd.Series:
    return frame[AREA].astype(str) + "/" + frame[CONSUMER_TYPE].astype(str)


def hours(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Hour starts in [start, end), UTC."""
    return pd.date_range(start, end, freq="h", inclusive="left", tz="UTC", unit="ns")


def full_grid(
    start: pd.Timestamp, end: pd.Timestamp, series: Iterable[tuple[str, int]] = SERIES
) -> pd.DataFrame:
    """Every (series, hour) key expected in [start, end)."""
    idx = hours(start, end)
    series = list(series)
    grid = pd.DataFrame(
        {
            TIME: idx[np.tile(np.arange(len(idx)), len(series))],
            AREA: pd.array(np.repeat([s[0] for s in series], len(idx)), dtype="string"),
            CONSUMER_TYPE: np.repeat([s[1] for s in series], len(idx)).astype("int64"),
        }
    )
    return grid
