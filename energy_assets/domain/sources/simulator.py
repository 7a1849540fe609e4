"""Deterministic, seeded generator of DE35-like hourly consumption for all 76 series. SYNTHETIC.

Every value is a pure function of (seed, series, hour): a day generated alone equals the same
day inside a multi-year range, so partitions can be generated in any order or in parallel.
Shapes: per-sector daily profiles in Danish local time, weekly cycle, yearly (heating) cycle,
Danish public holidays and the Christmas lull, day-level and hour-level noise, and optional
injected anomalies and a regime change.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import LOCAL_TZ, is_christmas_lull, is_holiday
from energy_assets.domain.datasets import CONSUMER_TYPES, CONSUMPTION_DE35_HOUR, DatasetProfile
from energy_assets.domain.schema import (
    AREA,
    CONSUMER_TYPE,
    TIME,
    VALUE,
    consumer_group,
    empty_frame,
    hours,
)
from energy_assets.domain.sources.base import ConsumptionSource, Selection

# Mean winter level per series, kWh/h, rounded to two significant figures; DE35 order.
LEVELS = {
    "DK1": (84000, 3000, 30000, 310000, 68000, 32000, 39000, 120000, 21000, 2300, 15000, 62000,
            6500, 9500, 8900, 41000, 43000, 10000, 7100, 33000, 8400, 18000, 86000, 45000, 23000,
            37000, 33000, 130000, 25000, 28000, 14000, 23000, 27000, 20000, 8900, 3700, 2800,
            1100000),
    "DK2": (62000, 3300, 39000, 170000, 68000, 9400, 33000, 27000, 5700, 470, 1200, 23000, 2200,
            2100, 5000, 24000, 11000, 1600, 940, 34000, 2200, 8100, 50000, 23000, 14000, 42000,
            50000, 55000, 7900, 28000, 25000, 18000, 24000, 22000, 4500, 30000, 15000, 610000),
}  # fmt: skip

_H = np.arange(24)


def _bump(center: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((_H - center) / width) ** 2)


# Relative hourly shapes by sector (first digit of the DE35 code), local time.
PROFILES = {
    "household": 0.55 + 0.35 * _bump(7.5, 1.2) + 0.3 * _bump(12, 3) + 0.8 * _bump(18.5, 1.8),
    "agriculture": 0.8 + 0.3 * _bump(6, 1.5) + 0.25 * _bump(12, 4) + 0.3 * _bump(17, 1.5),
    "industry": 0.75 + 0.45 * ((_H >= 6) & (_H < 22)) + 0.1 * _bump(10, 2),
    "services": 0.55 + 0.75 * _bump(12, 3.2) + 0.1 * _bump(18, 2),
    "mixed": 0.6 + 0.25 * _bump(8, 1.5) + 0.35 * _bump(12, 4) + 0.45 * _bump(18, 1.8),
}
# Weekend and holiday factor per sector.
REST_DAY = {
    "household": 1.06,
    "agriculture": 0.97,
    "industry": 0.72,
    "services": 0.62,
    "mixed": 0.85,
}
# Amplitude of the yearly cycle (peak in mid-January).
YEARLY = {"household": 0.28, "agriculture": 0.12, "industry": 0.08, "services": 0.18, "mixed": 0.2}


def _mix(seed: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised; uint64 arithmetic wraps by design."""
    z = seed + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: int, *keys: np.ndarray) -> np.ndarray:
    """Uniform (0, 1) values, a pure function of the seed, the stream and the integer keys."""
    with np.errstate(over="ignore"):
        acc = np.full(
            np.broadcast_shapes(*(k.shape for k in keys)),
            _mix(np.array([seed * 1_000_003 + stream], dtype=np.uint64))[0],
            dtype=np.uint64,
        )
        for key in keys:
            acc = _mix(acc ^ key.astype(np.int64).astype(np.uint64))
    return ((acc >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(seed: int, stream: int, *keys: np.ndarray) -> np.ndarray:
    u1 = uniform(seed, 2 * stream, *keys)
    u2 = uniform(seed, 2 * stream + 1, *keys)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class SimulatorSource(ConsumptionSource):
    name = "simulator"
    synthetic = True

    def __init__(
        self,
        seed: int = 42,
        anomaly_rate: float = 0.0,
        regime_change_date: dt.date | None = None,
        regime_change_factor: float = 1.3,
        selection: Selection | None = None,
    ) -> None:
        self.seed = seed
        self.selection = selection or Selection()
        self.anomaly_rate = anomaly_rate
        self.regime_change_date = regime_change_date
        self.regime_change_factor = regime_change_factor
        self._series_params()

    @property
    def profile(self) -> DatasetProfile:
        """The simulator imitates the series layout of ConsumptionDE35Hour."""
        return CONSUMPTION_DE35_HOUR

    def describe(self) -> str:
        parts = [f"SYNTHETIC simulator (seed {self.seed}"]
        if self.anomaly_rate:
            parts.append(f", anomaly rate {self.anomaly_rate:g}")
        if self.regime_change_date:
            parts.append(
                f", regime change x{self.regime_change_factor:g} from {self.regime_change_date}"
            )
        return "".join(parts) + ")"

    def _series_params(self) -> None:
        series = CONSUMPTION_DE35_HOUR.known_series
        assert series is not None
        idx = np.arange(len(series), dtype=np.int64)
        self.codes = series.column(CONSUMER_TYPE).astype("int64")
        self.areas = series.areas()
        sectors = [consumer_group(int(c)) for c in self.codes]
        jitter = uniform(self.seed, 1, idx)
        levels = np.array(
            [
                LEVELS[a][CONSUMER_TYPES.index(c)]
                for a, c in zip(self.areas, self.codes, strict=True)
            ],
            dtype=float,
        )
        # Each series blends its sector's profile with the mixed one, and has its own noise.
        weight = 0.6 + 0.4 * jitter
        self.profiles = np.stack(
            [
                w * PROFILES[s] + (1 - w) * PROFILES["mixed"]
                for w, s in zip(weight, sectors, strict=True)
            ]
        )
        self.profiles /= self.profiles.mean(axis=1, keepdims=True)
        self.rest = np.array([REST_DAY[s] for s in sectors])
        self.yearly = np.array([YEARLY[s] for s in sectors]) * (
            0.7 + 0.6 * uniform(self.seed, 2, idx)
        )
        self.levels = levels / (1 + self.yearly)  # table holds winter levels
        # Small series are noisier, as in the real data.
        self.day_sigma = 0.02 + 0.04 * (np.log10(levels.max()) - np.log10(levels)) / 3.4
        self.hour_sigma = 0.01 + 0.05 * (np.log10(levels.max()) - np.log10(levels)) / 3.4
        self.series_index = idx

    def _fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        stamps = hours(start, end)
        if len(stamps) == 0:
            return empty_frame(self.profile.canonical_keys)
        local = stamps.tz_convert(LOCAL_TZ)
        local_dates = pd.Index(local.date)
        rest_day = (local.dayofweek.to_numpy() >= 5) | is_holiday(local_dates)
        christmas = is_christmas_lull(local_dates)

        epoch_ns = np.asarray(stamps.tz_convert("UTC").tz_localize(None), dtype="datetime64[ns]")
        hour_key = (epoch_ns.astype("int64") // 3_600_000_000_000)[:, None]  # hours since epoch
        day_key = hour_key // 24
        series = self.series_index[None, :]  # (1, S)

        profile = self.profiles[:, local.hour.to_numpy()].T  # (T, S)
        weekly = np.where(rest_day[:, None], self.rest[None, :], 1.0)
        lull = np.where(christmas[:, None], np.where(self.rest < 0.9, 0.85, 1.0)[None, :], 1.0)
        doy = local.dayofyear.to_numpy()[:, None]
        yearly = 1 + self.yearly[None, :] * np.cos(2 * np.pi * (doy - 15) / 365.25)
        noise = np.exp(
            self.day_sigma[None, :] * normal(self.seed, 3, series, day_key)
            + self.hour_sigma[None, :] * normal(self.seed, 4, series, hour_key)
        )
        values = self.levels[None, :] * profile * weekly * lull * yearly * noise

        if self.anomaly_rate > 0:
            hit = uniform(self.seed, 10, series, hour_key) < self.anomaly_rate
            factor = np.where(uniform(self.seed, 11, series, hour_key) < 0.5, 0.3, 2.5)
            values = np.where(hit, values * factor, values)
        if self.regime_change_date is not None:
            after = np.asarray(local_dates >= self.regime_change_date)
            values = np.where(after[:, None], values * self.regime_change_factor, values)

        n_hours, n_series = values.shape
        # Time-major layout in series order is already the canonical sort order.
        return pd.DataFrame(
            {
                TIME: np.repeat(stamps, n_series),
                AREA: pd.array(np.tile(self.areas, n_hours), dtype="string"),
                CONSUMER_TYPE: np.tile(self.codes, n_hours).astype("int64"),
                VALUE: np.round(values.ravel(), 0),
            }
        )
