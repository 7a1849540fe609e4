"""Consumption and day-ahead price sources behind one interface each, picked by `ENERGY_SOURCE`
and `ENERGY_PRICES`."""

from __future__ import annotations

from energy_assets.domain.sources.base import ConsumptionSource, Selection, SourceError
from energy_assets.domain.sources.eds_api import EnergiDataServiceClient
from energy_assets.domain.sources.energidataservice import EnergiDataServiceSource
from energy_assets.domain.sources.files import FileSource
from energy_assets.domain.sources.prices import (
    EnergiDataServicePrices,
    PriceFileSource,
    PriceSource,
    SimulatedPrices,
)
from energy_assets.domain.sources.simulator import SimulatorSource
from energy_assets.settings import PriceSourceKind, Settings, SourceKind

__all__ = [
    "ConsumptionSource",
    "EnergiDataServiceSource",
    "FileSource",
    "PriceSource",
    "Selection",
    "SimulatorSource",
    "SourceError",
    "price_source_from_settings",
    "source_from_settings",
]


def source_from_settings(settings: Settings) -> ConsumptionSource:
    selection = Selection(only=settings.series_filter, keys=settings.series_level)
    if settings.source is SourceKind.FILE:
        assert settings.file is not None  # enforced by Settings
        return FileSource(settings.file, selection)
    if settings.source is SourceKind.ENERGIDATASERVICE:
        return EnergiDataServiceSource(
            base_url=settings.api_base_url,
            dataset=settings.api_dataset,
            columns=settings.api_columns,
            page_size=settings.api_page_size,
            timeout_seconds=settings.api_timeout_seconds,
            max_retries=settings.api_max_retries,
            backoff_seconds=settings.api_backoff_seconds,
            selection=selection,
        )
    return SimulatorSource(
        seed=settings.simulator_seed,
        anomaly_rate=settings.simulator_anomaly_rate,
        regime_change_date=settings.simulator_regime_change_date,
        regime_change_factor=settings.simulator_regime_change_factor,
        selection=selection,
    )


def price_source_from_settings(settings: Settings) -> PriceSource | None:
    """The day-ahead price source, None where the deployment forecasts without prices."""
    kind, areas = settings.price_source, settings.price_areas
    if kind is PriceSourceKind.FILE:
        assert settings.prices_file is not None  # enforced by Settings
        return PriceFileSource(settings.prices_file, areas)
    if kind is PriceSourceKind.ENERGIDATASERVICE:
        client = EnergiDataServiceClient(
            settings.api_base_url,
            page_size=settings.api_page_size,
            timeout_seconds=settings.api_timeout_seconds,
            max_retries=settings.api_max_retries,
            backoff_seconds=settings.api_backoff_seconds,
        )
        return EnergiDataServicePrices(client, areas)
    if kind is PriceSourceKind.SIMULATOR:
        return SimulatedPrices(settings.simulator_seed, areas)
    return None
