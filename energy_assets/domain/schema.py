"""Canonical long format of consumption data (DESIGN section 2) and conversion into it.

One representation serves every dataset: `datetime_utc`, the key columns that identify a series,
and `consumption_kwh`. Which key columns a frame has is declared by its dataset's profile
(`energy_assets.domain.datasets`) and read back from the frame itself: they are the columns of
`KEY_COLUMNS` it holds, always in that order. `area` (the price area) is always one of them, so
area-level features and views work whatever else identifies a series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TIME = "datetime_utc"
VALUE = "consumption_kwh"
AREA = "area"
CONSUMER_TYPE = "consumer_type"
MUNICIPALITY = "municipality"
BRANCH = "branch"
SERIES = "series"  # a series' label in derived frames, e.g. "DK1/111"

AREAS = ("DK1", "DK2")
TIME_DTYPE = "datetime64[ns, UTC]"
VALUE_DTYPE: Any = "float64"


@dataclass(frozen=True)
class KeyColumn:
    name: str
    dtype: str  # "string" or "int64"
    what: str  # how messages name a value of it
    example: str


# Every column a dataset may use to identify its series, in canonical order.
KEY_COLUMNS: dict[str, KeyColumn] = {
    column.name: column
    for column in (
        KeyColumn(AREA, "string", "price area", "DK1"),
        KeyColumn(CONSUMER_TYPE, "int64", "DE35 code", "111"),
        KeyColumn(MUNICIPALITY, "int64", "municipality number", "851"),
        KeyColumn(BRANCH, "string", "branch", "Privat"),
    )
}


class DataFormatError(ValueError):
    """Input data cannot be read into the canonical format; the message says where."""


def series_keys(frame: pd.DataFrame | Iterable[str]) -> list[str]:
    """The key columns a frame (or a list of column names) holds, in canonical order."""
    names = set(frame.columns if isinstance(frame, pd.DataFrame) else frame)
    return [key for key in KEY_COLUMNS if key in names]


def row_keys(keys: Sequence[str]) -> list[str]:
    """What identifies one row of a long frame: the series keys and the hour."""
    return [*keys, TIME]


def canonical_columns(keys: Sequence[str]) -> list[str]:
    return [TIME, *keys, VALUE]


def canonical_dtypes(keys: Sequence[str]) -> dict[str, str]:
    return {TIME: TIME_DTYPE, **{k: KEY_COLUMNS[k].dtype for k in keys}, VALUE: VALUE_DTYPE}


def key_values(values: Any, key: str) -> Any:
    """Values of a key column as an array of its canonical dtype."""
    dtype: Any = KEY_COLUMNS[key].dtype
    return pd.array(values, dtype=dtype)


def empty_frame(keys: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in canonical_dtypes(keys).items()})


# DE35 groups by the code's first digit; the official code-to-label table is not published
# with the dataset, so labels name the group only.
CONSUMER_GROUPS = {1: "household", 2: "agriculture", 3: "industry", 4: "services"}


def consumer_group(code: int) -> str:
    return CONSUMER_GROUPS.get(int(code) // 100, "mixed")


def key_label(key: str, value: Any) -> str:
    """A key value as people read it: DE35 codes carry their group."""
    if key == CONSUMER_TYPE:
        return f"{int(value)} · {'other' if int(value) == 999 else consumer_group(value)}"
    return str(value)


def to_utc(values: pd.Series, *, where: str, fmt: str | None = None) -> pd.Series:
    """Parse timestamps as UTC; naive values are taken to be UTC already."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(TIME_DTYPE)
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


def _to_codes(values: pd.Series, *, where: str, column: str) -> pd.Series:
    codes = to_numbers(values, where=where, column=column)
    if codes.isna().any() or (codes.round() != codes).any():
        idx = int(np.flatnonzero((codes.isna() | (codes.round() != codes)).to_numpy())[0])
        raise DataFormatError(f"{where}: row {idx}: {column} {float(codes.iloc[idx])!r} is no code")
    return codes.astype("int64")


def to_canonical(
    frame: pd.DataFrame, *, where: str, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """Coerce a frame with canonical column names to canonical dtypes and order; `keys` are the
    key columns expected (default: those the frame has, `area` always among them).

    Only unreadable values raise; semantically wrong values (negative, unknown area,
    gaps) pass through so that the data checks report them against their partition.
    """
    keys = list(keys) if keys is not None else series_keys(frame)
    required = canonical_columns(keys if AREA in keys else [AREA, *keys])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{where}: missing columns {missing}; has {list(frame.columns)}")
    out = {TIME: to_utc(frame[TIME], where=where)}
    for key in series_keys(keys):
        if KEY_COLUMNS[key].dtype == "int64":
            out[key] = _to_codes(frame[key], where=where, column=key)
        else:
            out[key] = frame[key].astype("string").str.strip()
    out[VALUE] = to_numbers(frame[VALUE], where=where, column=VALUE).astype(VALUE_DTYPE)
    return sort_canonical(pd.DataFrame(out))


def sort_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([TIME, *series_keys(frame)], kind="stable").reset_index(drop=True)


def series_labels(frame: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.Series:
    """ "DK1/111"-style labels of each row's series."""
    keys = list(keys) if keys is not None else series_keys(frame)
    labels = frame[keys[0]].astype(str)
    for key in keys[1:]:
        labels = labels + "/" + frame[key].astype(str)
    return labels


def hours(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Hour starts in [start, end), UTC."""
    return pd.date_range(start, end, freq="h", inclusive="left", tz="UTC", unit="ns")


def summed(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The canonical frame summed to the given keys per hour; a missing value in a sum makes
    the sum missing, so nothing is summed short."""
    keys = list(keys)
    grouped = frame.groupby([TIME, *keys], sort=True, observed=True)[VALUE]
    out = grouped.sum(min_count=1).to_frame()
    out[VALUE] = out[VALUE].where(grouped.count() == grouped.size())
    return sort_canonical(out.reset_index()[canonical_columns(keys)])
