"""The source datasets, each described once: its time columns, the fields that identify a series
and the canonical key columns they become, its value field, and when it was retired.

The API source, the file source and the data contract read these profiles; nothing else in the
code knows which dataset it runs on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from energy_assets.domain.schema import AREA, AREAS, BRANCH, CONSUMER_TYPE, MUNICIPALITY
from energy_assets.domain.series import SeriesSet


@dataclass(frozen=True)
class TimeForm:
    """The columns a dataset's records give time in: UTC and Danish local time. Whether the
    records are hourly or finer is read from the times themselves."""

    utc: str
    local: str


HOURLY = TimeForm("HourUTC", "HourDK")
# Energinet moved several datasets to 15-minute resolution in 2025, some under a new name and
# some possibly in place, with these columns.
QUARTER_HOURLY = TimeForm("TimeUTC", "TimeDK")


@dataclass(frozen=True)
class DatasetProfile:
    name: str
    keys: Mapping[str, str]  # source field -> canonical key column
    value: str  # source field of the consumption in the hour (or quarter), kWh
    forms: tuple[TimeForm, ...] = (HOURLY, QUARTER_HOURLY)  # in the order they are tried
    retired: dt.date | None = None  # the last day with data, for a dataset no longer updated
    successor: str | None = None
    publication_delay_days: int = 15  # days after its end that a day is published
    known_series: SeriesSet | None = None  # every series the dataset has, where it is fixed
    description: str = ""

    @property
    def canonical_keys(self) -> tuple[str, ...]:
        """The key columns of the canonical frame, `area` included (derived where needed)."""
        from energy_assets.domain.schema import series_keys

        return tuple(series_keys({AREA, *self.keys.values()}))

    def field_of(self, key: str) -> str | None:
        """The source field of a canonical key column, None for a derived one."""
        return next((f for f, k in self.keys.items() if k == key), None)

    def retirement_problem(self, start: pd.Timestamp, end: pd.Timestamp) -> str | None:
        """Why [start, end) cannot be asked of this dataset, or None."""
        if self.retired is None:
            return None
        last = pd.Timestamp(self.retired, tz="UTC") + pd.Timedelta(days=1)
        if end <= last:
            return None
        successor = f"; its successor is {self.successor}" if self.successor else ""
        return (
            f"{self.name} was retired: it has no data after {self.retired}, and "
            f"{start.date()} .. {(end - pd.Timedelta(seconds=1)).date()} asks for days after "
            f"that{successor} (set ENERGY_API_DATASET)"
        )


# The 38 DE35 consumer-type codes of ConsumptionDE35Hour.
CONSUMER_TYPES = (
    111, 112, 119, 121, 122, 123, 130, 211, 212, 215, 220, 310, 320, 330, 340, 350, 360, 370,
    381, 382, 390, 410, 421, 422, 431, 432, 433, 441, 442, 443, 444, 445, 446, 447, 450, 461,
    462, 999,
)  # fmt: skip
DE35_SERIES = SeriesSet.from_values(
    (AREA, CONSUMER_TYPE), ((a, c) for a in AREAS for c in CONSUMER_TYPES)
)

# Danish municipality numbers and the price area each lies in: east of the Great Belt
# (Zealand, Lolland-Falster, Møn, Bornholm; 101-400) is DK2, Jutland and Funen (410 and above)
# DK1. Christiansø (411) lies by Bornholm, in DK2.
_DK2 = (
    101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190,
    201, 210, 217, 219, 223, 230, 240, 250, 253, 259, 260, 265, 269, 270, 306, 316, 320, 326,
    329, 330, 336, 340, 350, 360, 370, 376, 390, 400, 411,
)  # fmt: skip
_DK1 = (
    410, 420, 430, 440, 450, 461, 479, 480, 482, 492, 510, 530, 540, 550, 561, 563, 573, 575,
    580, 607, 615, 621, 630, 657, 661, 665, 671, 706, 707, 710, 727, 730, 740, 741, 746, 751,
    756, 760, 766, 773, 779, 787, 791, 810, 813, 820, 825, 840, 846, 849, 851, 860,
)  # fmt: skip
MUNICIPALITY_AREAS: dict[int, str] = {
    **{number: "DK2" for number in _DK2},
    **{number: "DK1" for number in _DK1},
}

CONSUMPTION_DE35_HOUR = DatasetProfile(
    name="ConsumptionDE35Hour",
    keys={"PriceArea": AREA, "ConsumerType_DE35": CONSUMER_TYPE},
    value="TotalCon",
    retired=dt.date(2023, 6, 30),
    successor="ConsumptionIndustry",
    publication_delay_days=15,
    known_series=DE35_SERIES,
    description="price area x DE35 consumer type, 76 series (retired in mid-2023)",
)
CONSUMPTION_INDUSTRY = DatasetProfile(
    name="ConsumptionIndustry",
    keys={"MunicipalityNo": MUNICIPALITY, "Branche": BRANCH},
    value="ConsumptionkWh",
    # Exports taken on 2024-11-19 and 2024-12-11 ended 9 and 12 days behind.
    publication_delay_days=12,
    description="municipality x branch (Privat, Offentligt, Erhverv, ...)",
)
PROFILES: dict[str, DatasetProfile] = {
    p.name: p for p in (CONSUMPTION_DE35_HOUR, CONSUMPTION_INDUSTRY)
}
LIVE = CONSUMPTION_INDUSTRY


def profile_of(name: str) -> DatasetProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; profiles exist for {sorted(PROFILES)}"
        ) from None


def custom_profile(name: str, columns: Mapping[str, str], base: DatasetProfile) -> DatasetProfile:
    """A profile for a dataset published under another name or with renamed fields:
    `columns` maps source fields onto canonical columns, the time field onto `datetime_utc`."""
    from energy_assets.domain.schema import KEY_COLUMNS, TIME, VALUE

    by_target = {target: source for source, target in columns.items()}
    time_field = by_target[TIME]
    form = next((f for f in base.forms if f.utc == time_field), TimeForm(time_field, ""))
    keys = {source: target for source, target in columns.items() if target in KEY_COLUMNS}
    return DatasetProfile(
        name=name,
        keys=keys,
        value=by_target[VALUE],
        forms=(form,),
        retired=base.retired if name == base.name else None,
        successor=base.successor if name == base.name else None,
        publication_delay_days=base.publication_delay_days,
        known_series=base.known_series if set(keys.values()) == set(base.keys.values()) else None,
    )


def with_areas(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the price area of each municipality where a frame has municipalities but no area;
    an unknown municipality gets no area, which the data contract reports."""
    if AREA in frame.columns or MUNICIPALITY not in frame.columns:
        return frame
    numbers = pd.to_numeric(frame[MUNICIPALITY], errors="coerce")
    areas = numbers.map(MUNICIPALITY_AREAS)
    return frame.assign(**{AREA: areas.astype("string")})
