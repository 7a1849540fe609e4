"""The whole forecaster of a weekly version: from hourly history (and the prices known when an
issue is made) to the issue's hourly forecasts with their P10/P90 band at every lead.

The pipeline's `predictions` asset and MLflow serving both forecast through `Forecaster.forecast`:
the features are built here from the history, not read from elsewhere, so what a served version
answers is what the pipeline stores. Pure pandas."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from energy_assets.domain.forecasting.features import (
    LEAD,
    ORIGIN,
    PRICE_KNOWN,
    build_origin_features,
)
from energy_assets.domain.forecasting.leads import issue_frame, issued_after
from energy_assets.domain.forecasting.model import PRICE_KNOWN_COLUMN, ForecastModel, predict
from energy_assets.domain.prices import empty_prices
from energy_assets.domain.schema import series_keys


@dataclass(frozen=True)
class Forecaster:
    model: ForecastModel

    @property
    def reach(self) -> int:
        """The farthest lead it forecasts; an issue forecasts leads 1 .. reach by default."""
        return self.model.horizon

    @property
    def keys(self) -> list[str]:
        """The key columns of the series it was trained on."""
        return series_keys(self.model.point.feature_name())

    @property
    def uses_prices(self) -> bool:
        return PRICE_KNOWN in self.model.point.feature_name()

    def leads(self, asked: Iterable[int] | None = None) -> list[int]:
        """The leads of an issue: `asked` (checked against the reach), by default 1 .. reach."""
        if asked is None:
            return list(range(1, self.reach + 1))
        leads = sorted({int(lead) for lead in asked})
        if not leads or leads[0] < 1 or leads[-1] > self.reach:
            raise ValueError(f"leads must be whole days in 1 .. {self.reach}, not {leads}")
        return leads

    def forecast(
        self,
        history: pd.DataFrame,
        prices: pd.DataFrame | None,
        origins: pd.DatetimeIndex,
        leads: Iterable[int] | None = None,
    ) -> pd.DataFrame:
        """The issues made at `origins` (00:00 UTC of each issue's first day), ordered by origin,
        lead, hour and series: `origin`, `lead_days`, `issued_at`, `datetime_utc`, the keys,
        `prediction_kwh`, `p10_kwh`, `p90_kwh` and, for a model with prices, `price_known`.

        `history` is canonical long consumption; only its hours before each origin are read.
        `prices` are canonical hourly prices; each issue reads those published by the time it
        is made (12:00 UTC on the day before its farthest day). Lead 1 is the day-ahead model's,
        with the prices published by its origin, as it was trained."""
        origins = _checked_origins(origins)
        chosen = self.leads(leads)
        if self.uses_prices and prices is None:
            prices = empty_prices()  # forecast without them, as on a day whose prices are late
        used = prices if self.uses_prices else None
        parts = []
        if chosen[0] == 1:
            parts.append(self._predict(build_origin_features(history, origins, used)))
        further = chosen[1:] if chosen[0] == 1 else chosen
        if further:
            after = issued_after(chosen[-1])
            features = build_origin_features(history, origins, used, further, after)
            parts.append(self._predict(features))
        frame = pd.concat(parts, ignore_index=True).sort_values(ORIGIN, kind="stable")
        frame = frame.reset_index(drop=True)
        return issue_frame(frame.drop(columns=[ORIGIN]), frame[ORIGIN], chosen[-1])

    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        out = predict(self.model, features)
        if LEAD not in out.columns and LEAD in features.columns:
            out[LEAD] = features[LEAD].to_numpy()
        if self.uses_prices:
            out[PRICE_KNOWN_COLUMN] = features[PRICE_KNOWN].notna().to_numpy()
        out[ORIGIN] = features[ORIGIN].to_numpy()
        return out


def _checked_origins(origins: pd.DatetimeIndex) -> pd.DatetimeIndex:
    origins = pd.DatetimeIndex(origins)
    if len(origins) == 0:
        raise ValueError("no origin to forecast from")
    if origins.tz is None:
        raise ValueError("origins must be UTC times with their zone")
    origins = origins.tz_convert("UTC")
    off = origins[origins != origins.floor("D")]
    if len(off):
        raise ValueError(f"an origin is 00:00 UTC of the first day forecast, not {off[0]}")
    return origins
