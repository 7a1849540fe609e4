"""A set of series: the key columns that identify them and, sorted, their key values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.schema import AREA, KEY_COLUMNS, key_values, series_keys


@dataclass(frozen=True)
class SeriesSet:
    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  # one tuple of key values per series, sorted

    @classmethod
    def of(cls, frame: pd.DataFrame) -> SeriesSet:
        """The series present in a frame."""
        keys = tuple(series_keys(frame))
        if frame.empty:
            return cls(keys, ())
        unique = frame[list(keys)].drop_duplicates()
        return cls.from_values(keys, unique.itertuples(index=False, name=None))

    @classmethod
    def from_values(cls, keys: Sequence[str], values: Iterable[Sequence[Any]]) -> SeriesSet:
        keys = tuple(keys)
        casts = [int if KEY_COLUMNS[k].dtype == "int64" else str for k in keys]
        typed = {tuple(cast(v) for cast, v in zip(casts, row, strict=True)) for row in values}
        return cls(keys, tuple(sorted(typed)))

    def __len__(self) -> int:
        return len(self.values)

    def labels(self) -> list[str]:
        return ["/".join(str(v) for v in row) for row in self.values]

    def column(self, key: str) -> np.ndarray:
        """The value of one key column for each series, in order."""
        i = self.keys.index(key)
        return np.array([row[i] for row in self.values], dtype=object)

    def areas(self) -> np.ndarray:
        return self.column(AREA).astype(str)

    def frame(self) -> pd.DataFrame:
        """One row per series with its typed key columns."""
        return pd.DataFrame(
            {k: key_values([row[i] for row in self.values], k) for i, k in enumerate(self.keys)}
        )

    def positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Index of each row's series in this set; -1 where it is not in the set."""
        if frame.empty or not self.values:
            return np.full(len(frame), -1, dtype="int64")
        index = pd.MultiIndex.from_tuples(self.values, names=self.keys)
        rows = pd.MultiIndex.from_arrays(
            [frame[k].astype("object").to_numpy() for k in self.keys], names=self.keys
        )
        return np.asarray(index.get_indexer(rows), dtype="int64")

    def union(self, other: SeriesSet) -> SeriesSet:
        if other.keys != self.keys:
            raise ValueError(f"series keyed by {self.keys} and {other.keys} do not mix")
        return SeriesSet(self.keys, tuple(sorted(set(self.values) | set(other.values))))
