"""Day-ahead price sources behind one interface: the Energi Data Service API, a price dataset's
export file, and the simulator's synthetic prices. Each yields canonical hourly prices per price
area (energy_assets/domain/prices.py) for a half-open UTC interval."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import LOCAL_TZ
from energy_assets.domain.datasets import HOURLY, QUARTER_HOURLY
from energy_assets.domain.prices import (
    AREA_FIELD,
    DAY_AHEAD_PRICES,
    ELSPOTPRICES,
    PRICE_DKK,
    PRICE_EUR,
    QUARTER_HOUR_MARKET,
    PriceDataset,
    empty_prices,
    hourly_prices,
    read_price_file,
)
from energy_assets.domain.schema import AREA, AREAS, TIME, DataFormatError, hours
from energy_assets.domain.sources.base import SourceError
from energy_assets.domain.sources.eds_api import (
    ApiResponseError,
    EnergiDataServiceClient,
    FormRejected,
    api_time,
)
from energy_assets.domain.sources.simulator import SimulatorSource, normal

# The first hour of the first Danish day of 15-minute products, in UTC.
QUARTER_HOUR_START = pd.Timestamp(QUARTER_HOUR_MARKET).tz_localize(LOCAL_TZ).tz_convert("UTC")
EUR_DKK = 7.46  # the krone's peg to the euro, for synthetic DKK prices


class PriceSource(ABC):
    """Delivers canonical hourly prices of the requested areas for [start, end)."""

    name: str
    synthetic: bool = False

    def __init__(self, areas: Sequence[str] = AREAS) -> None:
        self.areas = tuple(areas)

    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        frame = self._fetch(start, end)
        inside = (frame[TIME] >= start) & (frame[TIME] < end) & frame[AREA].isin(self.areas)
        return frame[inside].reset_index(drop=True)

    @abstractmethod
    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical hourly prices covering [start, end), of these areas or more."""

    @abstractmethod
    def describe(self) -> str:
        """Where the prices come from, for logs and metadata."""


class EnergiDataServicePrices(PriceSource):
    """`Elspotprices` for the hours before the 15-minute market, `DayAheadPrices` from it. The
    records say which form they are in (a dataset may switch in place): a form the server
    refuses (HTTP 400), or answers without, is asked for again in the other."""

    name = "energidataservice"

    def __init__(self, client: EnergiDataServiceClient, areas: Sequence[str] = AREAS) -> None:
        super().__init__(areas)
        self.client = client

    def describe(self) -> str:
        shown = ", ".join(self.client.shown_url(d.name) for d in (ELSPOTPRICES, DAY_AHEAD_PRICES))
        return f"Energi Data Service {shown}"

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        spans = [
            (ELSPOTPRICES, start, min(end, QUARTER_HOUR_START)),
            (DAY_AHEAD_PRICES, max(start, QUARTER_HOUR_START), end),
        ]
        parts = [self._dataset(d, s, e) for d, s, e in spans if s < e]
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def _dataset(
        self, dataset: PriceDataset, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        forms = [dataset.form, *(f for f in (HOURLY, QUARTER_HOURLY) if f != dataset.form)]
        shown = self.client.shown_url(dataset.name)
        first_error: SourceError | None = None
        while forms:
            form = forms.pop(0)
            # No `columns`: the DKK field is not always there, and the records name their form.
            params: dict[str, Any] = {
                "start": api_time(start),
                "end": api_time(end),
                "timezone": "utc",
                "sort": f"{form.utc} ASC,{AREA_FIELD} ASC",
                "filter": json.dumps({AREA_FIELD: list(self.areas)}, separators=(",", ":")),
            }
            try:
                records = self.client.records(dataset.name, params)
            except FormRejected as exc:
                first_error = first_error or exc
                continue
            if not records:
                return empty_prices()
            if forms and isinstance(records[0], dict) and form.utc not in records[0]:
                first_error = first_error or ApiResponseError(
                    f"{shown}: record 0 lacks [{form.utc!r}]: {json.dumps(records[0])[:200]}"
                )
                forms.sort(key=lambda f: f.utc not in records[0])
                continue
            return self._to_frame(records, f"{shown} start={start} end={end}")
        assert first_error is not None
        raise first_error

    @staticmethod
    def _to_frame(records: list[Any], where: str) -> pd.DataFrame:
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise ApiResponseError(f"{where}: record {index} is not an object: {record!r}")
        try:
            return hourly_prices(pd.DataFrame.from_records(records), where=where)
        except DataFormatError as exc:
            raise ApiResponseError(str(exc)) from None


class PriceFileSource(PriceSource):
    """A price dataset's `;` CSV export (optionally `.gz`) or a canonical parquet, read once."""

    name = "file"

    def __init__(self, path: Path, areas: Sequence[str] = AREAS) -> None:
        super().__init__(areas)
        self.path = Path(path)

    def describe(self) -> str:
        return f"price file {self.path}"

    @cached_property
    def _all(self) -> pd.DataFrame:
        try:
            return read_price_file(self.path)
        except DataFormatError as exc:
            raise SourceError(f"ENERGY_PRICES_FILE: {exc}") from None

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self._all


class SimulatedPrices(PriceSource):
    """Plausible day-ahead prices, a pure function of (seed, area, hour). SYNTHETIC.

    Dear when the simulator's consumption of the area is high, cheap (now and then negative) on
    windy days, with hourly noise; so they carry what real prices carry about demand."""

    name = "simulator"
    synthetic = True

    def __init__(self, seed: int = 42, areas: Sequence[str] = AREAS) -> None:
        super().__init__(areas)
        self.seed = seed
        self.demand = SimulatorSource(seed=seed)

    def describe(self) -> str:
        return f"SYNTHETIC simulated prices (seed {self.seed})"

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        stamps = hours(start, end)
        if len(stamps) == 0:
            return empty_prices()
        load = self.demand.fetch(start, end).groupby([TIME, AREA], observed=True)
        total = load["consumption_kwh"].sum().unstack(AREA).reindex(columns=list(AREAS))
        # Relative to the area's mean level: about 1, higher on winter evenings.
        mean = pd.Series(self.demand.levels).groupby(np.asarray(self.demand.areas)).sum()
        ratio = total.to_numpy() / mean.reindex(list(AREAS)).to_numpy()[None, :]
        epoch_ns = np.asarray(stamps.tz_convert("UTC").tz_localize(None), dtype="datetime64[ns]")
        epoch_hours = epoch_ns.astype("int64") // 3_600_000_000_000
        hour_key = epoch_hours[:, None]
        area_key = np.arange(len(AREAS))[None, :]
        wind = normal(self.seed, 30, area_key * 0, hour_key // 24)  # shared across areas
        noise = normal(self.seed, 31, area_key, hour_key)
        eur = 20.0 + 110.0 * (ratio - 0.55) - 28.0 * wind + 6.0 * noise + 4.0 * area_key
        eur = np.round(eur, 2)
        n_hours, n_areas = eur.shape
        return pd.DataFrame(
            {
                TIME: np.repeat(stamps, n_areas),
                AREA: pd.array(np.tile(list(AREAS), n_hours), dtype="string"),
                PRICE_EUR: eur.ravel(),
                PRICE_DKK: np.round(eur.ravel() * EUR_DKK, 2),
            }
        )
