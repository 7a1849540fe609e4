"""The interface every consumption source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import pandas as pd


class SourceError(RuntimeError):
    """A source could not deliver data; the message names the source and what went wrong."""


class ConsumptionSource(ABC):
    """Delivers canonical consumption rows for a half-open UTC interval [start, end)."""

    #: short name for logs and metadata
    name: str
    #: True where the data is generated, never measured
    synthetic: bool = False

    @abstractmethod
    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical frame (see `energy_assets.domain.schema`) of the hours in [start, end)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data comes from, for logs and metadata."""
