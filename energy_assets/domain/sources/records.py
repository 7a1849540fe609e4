"""Records of a dataset, as its API or its CSV export gives them, into the hourly canonical frame.

The profile says which field holds what; the times say whether the records are hourly or finer.
Finer records (Energinet's 15-minute data) are summed to hours; an hour that lacks any of its
parts is left without a value, which the data contract reports, rather than summed short.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pandas as pd

from energy_assets.domain.datasets import DatasetProfile, TimeForm, with_areas
from energy_assets.domain.schema import (
    TIME,
    VALUE,
    DataFormatError,
    series_keys,
    sort_canonical,
    to_canonical,
)


def field_map(profile: DatasetProfile, form: TimeForm) -> dict[str, str]:
    """Source field -> canonical column, for records in `form`."""
    return {form.utc: TIME, **profile.keys, profile.value: VALUE}


def numbers_with_decimal_comma(values: pd.Series) -> pd.Series:
    """Text numbers in either decimal style ('37842,849' or '37842.849'); numbers unchanged."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return values.astype("string").str.replace(",", ".", regex=False)
    return values


def to_hourly_canonical(
    records: pd.DataFrame, profile: DatasetProfile, form: TimeForm, *, where: str
) -> pd.DataFrame:
    fields = field_map(profile, form)
    missing = [f for f in fields if f not in records.columns]
    if missing:
        raise DataFormatError(
            f"{where}: missing columns {missing}; {profile.name} records carry {', '.join(fields)}"
        )
    frame = records[list(fields)].rename(columns=fields)
    frame[VALUE] = numbers_with_decimal_comma(frame[VALUE])
    frame = with_areas(frame)
    canonical = to_canonical(frame, where=where, keys=profile.canonical_keys)
    return to_hours(canonical)


def to_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum records finer than an hour into hours; an hour missing any part gets no value."""
    minutes = frame[TIME].dt.minute.to_numpy()
    if frame.empty or not minutes.any():
        return frame
    step = reduce(math.gcd, np.unique(minutes[minutes > 0]).tolist(), 60)
    parts = 60 // step
    keys = series_keys(frame)
    hourly = frame.assign(**{TIME: frame[TIME].dt.floor("h")})
    grouped = hourly.groupby([TIME, *keys], sort=True, observed=True)[VALUE]
    sums = grouped.sum(min_count=1)
    complete = (grouped.count() == parts) & (grouped.size() == parts)
    out = sums.where(complete).rename(VALUE).reset_index()
    out = out[[TIME, *keys, VALUE]]
    return sort_canonical(out.astype(frame.dtypes.to_dict()))
