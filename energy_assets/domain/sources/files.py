"""File source: the Energi Data Service `;` CSV download (optionally gzipped), or parquet."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from energy_assets.domain.schema import (
    AREA,
    COLUMNS,
    CONSUMER_TYPE,
    TIME,
    VALUE,
    DataFormatError,
    to_canonical,
    to_utc,
)
from energy_assets.domain.sources.base import ConsumptionSource, SourceError

CSV_COLUMNS = {
    "HourUTC": TIME,
    "PriceArea": AREA,
    "ConsumerType_DE35": CONSUMER_TYPE,
    "TotalCon": VALUE,
}


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def read_consumption_file(path: Path) -> pd.DataFrame:
    """The whole file in canonical form; errors name the file and the offending row."""
    if not path.is_file():
        raise SourceError(f"{path} does not exist or is not a file")
    where = str(path)
    if _is_parquet(path):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataFormatError(f"{where}: not a readable parquet file: {exc}") from exc
        return to_canonical(frame[[c for c in COLUMNS if c in frame.columns]], where=where)
    try:
        frame = pd.read_csv(
            path,
            sep=";",
            usecols=lambda c: c in CSV_COLUMNS,
            dtype={"PriceArea": "string", "HourUTC": "string"},
            compression="infer",
        )
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFormatError(f"{where}: not a readable ';' CSV: {exc}") from exc
    missing = sorted(set(CSV_COLUMNS) - set(frame.columns))
    if missing:
        raise DataFormatError(
            f"{where}: missing columns {missing}; expected header "
            "HourUTC;HourDK;PriceArea;ConsumerType_DE35;TotalCon"
        )
    frame = frame.rename(columns=CSV_COLUMNS)
    # "2023-01-01 00:00" in the download format; "2023-01-01T00:00:00" parses too.
    frame[TIME] = to_utc(frame[TIME], where=where)
    return to_canonical(frame, where=where)


class FileSource(ConsumptionSource):
    name = "file"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"file {self.path}"

    @cached_property
    def _data(self) -> pd.DataFrame:
        return read_consumption_file(self.path)

    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        data = self._data
        window = data[(data[TIME] >= start) & (data[TIME] < end)]
        return window.reset_index(drop=True)
