"""File source: a dataset's own `;` CSV export (optionally gzipped), or a canonical parquet.

Which dataset a CSV holds is read from its header, so the exports of `ConsumptionDE35Hour` and
`ConsumptionIndustry` (decimal comma, `HourUTC` or 15-minute `TimeUTC`) are read as they are.
"""

from __future__ import annotations

import csv
import gzip
from functools import cached_property
from pathlib import Path

import pandas as pd

from energy_assets.domain.datasets import PROFILES, DatasetProfile, TimeForm, profile_of
from energy_assets.domain.schema import TIME, DataFormatError, series_keys, to_canonical
from energy_assets.domain.sources.base import ConsumptionSource, Selection, SourceError
from energy_assets.domain.sources.records import field_map, to_hourly_canonical


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
            header = next(csv.reader(handle, delimiter=";"), [])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{path}: not a readable ';' CSV: {exc}") from exc
    if not header:
        raise DataFormatError(f"{path}: not a readable ';' CSV: the file is empty")
    return header


def csv_profile(path: Path, header: list[str]) -> tuple[DatasetProfile, TimeForm]:
    """The dataset and time form whose fields a CSV header holds."""
    columns = set(header)
    for profile in PROFILES.values():
        for form in profile.forms:
            if set(field_map(profile, form)) <= columns:
                return profile, form
    expected = " or ".join(
        ";".join([form.utc, form.local, *p.keys, p.value])
        for p in PROFILES.values()
        for form in p.forms[:1]
    )
    default = profile_of("ConsumptionDE35Hour")
    fields = field_map(default, default.forms[0])
    missing = sorted(set(fields) - columns)
    raise DataFormatError(
        f"{path}: missing columns {missing}; the header is {';'.join(header)!r}, expected "
        f"the export of a known dataset: {expected}"
    )


def read_consumption_file(path: Path) -> pd.DataFrame:
    """The whole file in canonical form; errors name the file and the offending row."""
    return _read(path)[0]


def _read(path: Path) -> tuple[pd.DataFrame, DatasetProfile | None]:
    if not path.is_file():
        raise SourceError(f"{path} does not exist or is not a file")
    where = str(path)
    if _is_parquet(path):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataFormatError(f"{where}: not a readable parquet file: {exc}") from exc
        return to_canonical(frame, where=where), None
    profile, form = csv_profile(path, _header(path))
    try:
        records = pd.read_csv(
            path,
            sep=";",
            usecols=lambda c: c in field_map(profile, form),
            dtype="string",
            compression="infer",
        )
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFormatError(f"{where}: not a readable ';' CSV: {exc}") from exc
    # "2023-01-01 00:00" in the download format; "2023-01-01T00:00:00" parses too.
    return to_hourly_canonical(records, profile, form, where=where), profile


class FileSource(ConsumptionSource):
    name = "file"

    def __init__(self, path: Path | str, selection: Selection | None = None) -> None:
        self.path = Path(path)
        self.selection = selection or Selection()

    def describe(self) -> str:
        return f"file {self.path}"

    @cached_property
    def _loaded(self) -> tuple[pd.DataFrame, DatasetProfile | None]:
        return _read(self.path)

    @cached_property
    def profile(self) -> DatasetProfile:  # type: ignore[override]
        """The dataset whose export the file is, from its header alone."""
        if not self.path.is_file():
            raise SourceError(f"{self.path} does not exist or is not a file")
        if not _is_parquet(self.path):
            return csv_profile(self.path, _header(self.path))[0]
        # A canonical parquet: the dataset whose key columns it has, or one of its own.
        import pyarrow.parquet as pq

        try:
            keys = tuple(series_keys(pq.read_schema(self.path).names))
        except Exception as exc:
            raise DataFormatError(f"{self.path}: not a readable parquet file: {exc}") from exc
        for known in PROFILES.values():
            if known.canonical_keys == keys:
                return known
        return DatasetProfile(name=self.path.name, keys={k: k for k in keys}, value="")

    def newest_hour(self) -> pd.Timestamp | None:
        frame, _ = self._loaded
        return None if frame.empty else pd.Timestamp(frame[TIME].max())

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        data = self._loaded[0]
        window = data[(data[TIME] >= start) & (data[TIME] < end)]
        return window.reset_index(drop=True)
