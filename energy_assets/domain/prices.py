"""Day-ahead prices, described once: the two Energi Data Service datasets that publish them,
their canonical hourly form, the file export reader and the data contract's rules.

`Elspotprices` publishes hourly prices up to 2025-09-30; from 2025-10-01 the market trades
15-minute products and `DayAheadPrices` publishes quarter-hour prices. Whatever the dataset,
the pipeline sees one hourly price per price area: the mean of the hour's four quarters, and no
price for an hour one of whose quarters is missing (never a mean of three). Prices may be
negative; a cleared day has every hour.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import LOCAL_TZ
from energy_assets.domain.datasets import HOURLY, QUARTER_HOURLY, TimeForm
from energy_assets.domain.quality import Outcome
from energy_assets.domain.schema import AREA, AREAS, TIME, DataFormatError, hours, to_utc

PRICE_EUR = "price_eur_mwh"
PRICE_DKK = "price_dkk_mwh"
PRICE_COLUMNS = [TIME, AREA, PRICE_EUR, PRICE_DKK]
AREA_FIELD = "PriceArea"
QUARTERS_PER_HOUR = 4
# The first day of 15-minute day-ahead products (and of the DayAheadPrices dataset).
QUARTER_HOUR_MARKET = dt.date(2025, 10, 1)
# The day-ahead auction for a Danish day clears at about 12:45 on the day before; its prices are
# taken as published at 13:00 Danish time then.
PUBLISHED_AT_LOCAL_HOUR = 13


def empty_prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            TIME: pd.Series(dtype="datetime64[ns, UTC]"),
            AREA: pd.Series(dtype="string"),
            PRICE_EUR: pd.Series(dtype="float64"),
            PRICE_DKK: pd.Series(dtype="float64"),
        }
    )[PRICE_COLUMNS]


@dataclass(frozen=True)
class PriceDataset:
    name: str
    form: TimeForm
    eur: str  # source field of the price in EUR/MWh
    dkk: str  # in DKK/MWh (may be absent from a record set)
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        after_first = self.first_day is None or day >= self.first_day
        return after_first and (self.last_day is None or day <= self.last_day)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.form.utc, AREA_FIELD, self.eur, self.dkk)


ELSPOTPRICES = PriceDataset(
    "Elspotprices",
    HOURLY,
    eur="SpotPriceEUR",
    dkk="SpotPriceDKK",
    last_day=QUARTER_HOUR_MARKET - dt.timedelta(days=1),
)
DAY_AHEAD_PRICES = PriceDataset(
    "DayAheadPrices",
    QUARTER_HOURLY,
    eur="DayAheadPriceEUR",
    dkk="DayAheadPriceDKK",
    first_day=QUARTER_HOUR_MARKET,
)
PRICE_DATASETS = (ELSPOTPRICES, DAY_AHEAD_PRICES)


def price_dataset_for(day: dt.date) -> PriceDataset:
    """The dataset that publishes the prices of `day`."""
    return next(d for d in PRICE_DATASETS if d.covers(day))


def price_dataset_of(fields: Iterable[str], *, where: str) -> PriceDataset:
    """What price records hold, recognised from their fields, not from the name they were asked
    for: a dataset may switch to quarter hours in place, keeping its name and price fields."""
    present = set(fields)
    for dataset in PRICE_DATASETS:
        if {dataset.form.utc, AREA_FIELD, dataset.eur} <= present:
            return dataset
    form = next((f for f in (HOURLY, QUARTER_HOURLY) if f.utc in present), None)
    priced = next((d for d in PRICE_DATASETS if d.eur in present), None)
    if form is not None and priced is not None and AREA_FIELD in present:
        return PriceDataset(f"{priced.name} ({form.utc} records)", form, priced.eur, priced.dkk)
    wanted = " or ".join(f"{{{d.form.utc}, {AREA_FIELD}, {d.eur}}}" for d in PRICE_DATASETS)
    raise DataFormatError(f"{where}: not price records: the fields {sorted(present)} lack {wanted}")


def _numbers(values: pd.Series, *, where: str, column: str) -> pd.Series:
    """Numbers in either decimal form of the exports: "50,869999" or "50.869999"."""
    text = values.astype("string").str.strip().str.replace(",", ".", regex=False)
    parsed = pd.to_numeric(text, errors="coerce")
    bad = parsed.isna() & text.notna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(f"{where}: row {row}: {column} is not a number: {values.iloc[row]!r}")
    return parsed.astype("float64")


def hourly_prices(records: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Price records of either dataset as canonical hourly prices per area, sorted.

    Quarter-hour records become the mean of the hour's four quarters; an hour with fewer has
    no price (its row is left out, so the contract names it missing). Hourly records must fall
    on the hour."""
    dataset = price_dataset_of(records.columns, where=where)
    times = to_utc(records[dataset.form.utc], where=where)
    frame = pd.DataFrame(
        {
            TIME: times,
            AREA: records[AREA_FIELD].astype("string").str.strip(),
            PRICE_EUR: _numbers(records[dataset.eur], where=where, column=dataset.eur),
            PRICE_DKK: (
                _numbers(records[dataset.dkk], where=where, column=dataset.dkk)
                if dataset.dkk in records.columns
                else np.nan
            ),
        }
    )
    if dataset.form == QUARTER_HOURLY:
        frame = _parts_to_hours(frame)
    else:
        off = frame[TIME] != frame[TIME].dt.floor("h")
        if off.any():
            row = int(np.flatnonzero(off.to_numpy())[0])
            raise DataFormatError(
                f"{where}: row {row}: {dataset.name} is hourly, but {frame[TIME].iloc[row]} is "
                "not on the hour"
            )
    return frame.sort_values([TIME, AREA], kind="stable").reset_index(drop=True)[PRICE_COLUMNS]


def _parts_to_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """Sub-hourly records (quarter hours, or finer where the times say so) as hourly means."""
    minutes = frame[TIME].dt.minute.to_numpy()
    step = reduce(math.gcd, np.unique(minutes[minutes > 0]).tolist(), 60 // QUARTERS_PER_HOUR)
    parts = 60 // step
    hour = frame[TIME].dt.floor("h")
    grouped = frame.groupby([hour, AREA], observed=True, sort=True)
    means = grouped[[PRICE_EUR, PRICE_DKK]].mean()
    # An hour with a quarter missing has no price; a DKK quarter missing drops only DKK.
    whole = (grouped[PRICE_EUR].count() == parts) & (grouped.size() == parts)
    means[PRICE_DKK] = means[PRICE_DKK].where(grouped[PRICE_DKK].count() == parts)
    return means[whole].reset_index()


def read_price_file(path: Path | str) -> pd.DataFrame:
    """A price dataset's own `;` CSV export (optionally `.gz`; decimal comma or point; hourly
    `HourUTC` or 15-minute `TimeUTC` records) or a canonical parquet, as canonical hourly
    prices. Errors name the file and the row."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DataFormatError(f"{where} does not exist or is not a file")
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataFormatError(f"{where}: not a readable parquet file: {exc}") from exc
        missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
        if missing:
            raise DataFormatError(f"{where}: a canonical price file lacks the columns {missing}")
        return frame.assign(**{TIME: to_utc(frame[TIME], where=where)})[PRICE_COLUMNS]
    try:
        records = pd.read_csv(path, sep=";", dtype="string", compression="infer")
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFormatError(f"{where}: not a readable ';' CSV: {exc}") from exc
    return hourly_prices(records, where=where)


def published_at(hours: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """When the day-ahead price of each UTC hour is public: 13:00 Danish time on the day
    before the hour's Danish day (the auction clears at about 12:45)."""
    local_day = hours.tz_convert(LOCAL_TZ).normalize().tz_localize(None)
    day_before = local_day - pd.Timedelta(days=1) + pd.Timedelta(hours=PUBLISHED_AT_LOCAL_HOUR)
    return day_before.tz_localize(LOCAL_TZ).tz_convert("UTC")


def auctioned_hours(start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp) -> pd.DatetimeIndex:
    """The hours of [start, end) whose prices are published at `now`. A UTC day's last hour
    or two belong to the next Danish day, auctioned a day later than the rest."""
    grid = hours(start, end)
    return grid[published_at(grid) <= now]


PRICE_RULES = {
    "canonical_schema": f"columns {PRICE_COLUMNS}, UTC hours, text areas, float prices",
    "known_areas": f"every area is one of {list(AREAS)}",
    "unique_keys": "one row per (hour, area)",
    "finite_prices": "every EUR price is a finite number (negative prices are real)",
    "complete_hourly_grid": "every expected area has a price for every hour already auctioned",
}


def check_prices(
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    areas: Sequence[str],
    now: pd.Timestamp | None = None,
) -> dict[str, Outcome]:
    """The data contract of the prices of [start, end) for the expected price areas, rule by
    rule (PRICE_RULES). With `now`, only hours auctioned by then are expected."""
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        return {"canonical_schema": Outcome(False, f"lacks the columns {missing}")}
    out = {"canonical_schema": _schema(frame)}
    unknown = sorted(set(frame[AREA].dropna().astype(str)) - set(AREAS))
    out["known_areas"] = (
        Outcome(False, f"unknown price areas {unknown} (known: {list(AREAS)})")
        if unknown
        else Outcome(True, "known")
    )
    duplicated = frame.duplicated([TIME, AREA])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        out["unique_keys"] = Outcome(
            False,
            f"{int(duplicated.sum())} duplicate (hour, area) rows, first {first[AREA]} "
            f"{first[TIME]}",
        )
    else:
        out["unique_keys"] = Outcome(True, "unique")
    eur = pd.to_numeric(frame[PRICE_EUR], errors="coerce").to_numpy(dtype="float64")
    bad = int((~np.isfinite(eur)).sum())
    out["finite_prices"] = Outcome(
        bad == 0, f"{bad} prices are missing or not finite" if bad else "finite"
    )
    grid = hours(start, end) if now is None else auctioned_hours(start, end, now)
    gaps = []
    for area in areas:
        have = pd.DatetimeIndex(frame.loc[frame[AREA] == area, TIME])
        lacking = grid.difference(have)
        if len(lacking):
            gaps.append(
                f"{area}: {len(lacking)} of {len(grid)} hours have no price, first {lacking[0]}"
            )
    out["complete_hourly_grid"] = (
        Outcome(False, "; ".join(gaps), {"expected_hours": len(grid)})
        if gaps
        else Outcome(True, f"{len(grid)} hours x {len(areas)} areas", {"expected_hours": len(grid)})
    )
    return out


def _schema(frame: pd.DataFrame) -> Outcome:
    problems = []
    if list(frame.columns) != PRICE_COLUMNS:
        problems.append(f"columns are {list(frame.columns)}, expected {PRICE_COLUMNS}")
    if not isinstance(frame[TIME].dtype, pd.DatetimeTZDtype) or str(frame[TIME].dt.tz) != "UTC":
        problems.append(f"{TIME} has dtype {frame[TIME].dtype}, expected datetime64[ns, UTC]")
    for column in (PRICE_EUR, PRICE_DKK):
        if frame[column].dtype != "float64":
            problems.append(f"{column} has dtype {frame[column].dtype}, expected float64")
    if problems:
        return Outcome(False, "; ".join(problems))
    return Outcome(True, "canonical")


def price_problems(
    frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, areas: Sequence[str]
) -> list[str]:
    """What breaks the contract for the prices of [start, end), one line per failing rule."""
    return [o.description for o in check_prices(frame, start, end, areas).values() if not o.passed]
