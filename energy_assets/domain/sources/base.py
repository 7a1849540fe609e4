"""The interface every consumption source implements, and the selection of series it serves."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from energy_assets.domain.datasets import DatasetProfile, with_areas
from energy_assets.domain.schema import AREA, KEY_COLUMNS, series_keys, summed
from energy_assets.domain.series import SeriesSet


class SourceError(RuntimeError):
    """A source could not deliver data; the message names the source and what went wrong."""


@dataclass(frozen=True)
class Selection:
    """Which series a deployment forecasts: the rows whose key columns hold one of the values in
    `only`, summed to `keys` (for example municipality series summed to price areas)."""

    only: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    keys: tuple[str, ...] | None = None  # None: the dataset's own keys

    def typed_only(self) -> dict[str, list[Any]]:
        cast = {k: int if KEY_COLUMNS[k].dtype == "int64" else str for k in self.only}
        return {k: [cast[k](v) for v in values] for k, values in self.only.items()}

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame
        for key, values in self.typed_only().items():
            rows = rows[rows[key].isin(values)]
        if self.keys is not None and list(self.keys) != series_keys(frame):
            return summed(rows, series_keys(list(self.keys)))
        return rows.reset_index(drop=True) if rows is not frame else frame

    def known(self, profile: DatasetProfile) -> SeriesSet | None:
        """The series this selection expects of a dataset: its fixed list filtered, or the
        values `only` lists where it names every key; None where neither fixes them."""
        keys = profile.canonical_keys
        known = profile.known_series
        only = self.typed_only()
        if known is None:
            named = [k for k in keys if k != AREA]
            if not named or not all(k in only for k in named):
                return None
            frame = pd.DataFrame(list(itertools.product(*(only[k] for k in named))), columns=named)
            frame = with_areas(frame.astype({k: KEY_COLUMNS[k].dtype for k in named}))
            known = SeriesSet.of(frame[[k for k in keys if k in frame.columns]])
        frame = known.frame()
        for key, values in only.items():
            frame = frame[frame[key].isin(values)]
        out_keys = series_keys(list(self.keys)) if self.keys is not None else list(keys)
        return SeriesSet.of(frame[out_keys])


class ConsumptionSource(ABC):
    """Delivers canonical consumption rows for a half-open UTC interval [start, end)."""

    #: short name for logs and metadata
    name: str
    #: True where the data is generated, never measured
    synthetic: bool = False
    selection: Selection = Selection()

    @property
    @abstractmethod
    def profile(self) -> DatasetProfile:
        """The dataset the source reads."""

    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical frame (see `energy_assets.domain.schema`) of the hours in [start, end), of
        the selected series."""
        return self.selection.apply(self._fetch(start, end))

    def known_series(self) -> SeriesSet | None:
        return self.selection.known(self.profile)

    def newest_hour(self) -> pd.Timestamp | None:
        """The newest hour the source has published (UTC), None where it cannot tell (the
        simulator has no publication clock)."""
        return None

    @abstractmethod
    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical frame of every series of the dataset in [start, end)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data comes from, for logs and metadata."""
