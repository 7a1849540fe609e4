"""`day_ahead_prices`: daily partitions of canonical hourly prices per price area, and their
blocking data contract."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.ingestion.audit import Window, build_audit_check
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain import quality
from energy_assets.domain.prices import PRICE_EUR, PRICE_RULES, check_prices, empty_prices
from energy_assets.domain.schema import AREA, TIME
from energy_assets.domain.sources import price_source_from_settings
from energy_assets.settings import Settings
from resources.parquet_io_manager import WRITE_AUDIT_PUBLISH


def build_day_ahead_prices(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    table = daily_table(partitions.price_days, TIME)
    table["metadata"] = {**table["metadata"], WRITE_AUDIT_PUBLISH: True}
    areas = ", ".join(settings.price_areas)

    @dg.asset(
        key=names.PRICES,
        **table,
        group_name="ingestion",
        pool=names.PRICES,
        kinds={"pandas", "parquet"},
        description=f"Day-ahead prices (EUR/MWh, and DKK/MWh where given) of {areas} for each "
        "hour of the UTC day, as the market published them; each fetched day is staged and "
        "published only when its data contract passes.",
    )
    def day_ahead_prices(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
        start, end = run_window(context)
        source = price_source_from_settings(settings)
        assert source is not None  # the asset exists only where prices are used
        if source.synthetic:
            context.log.warning(f"{source.describe()}: generated, not real market prices")
        context.log.info(f"fetching prices {start} .. {end} from {source.describe()}")
        frame = source.fetch(start, end)
        eur = frame[PRICE_EUR]
        meta: dict[str, Any] = {
            "source": source.describe(),
            "synthetic": source.synthetic,
            "partitions": len(context.partition_keys),
            "rows": len(frame),
            "areas": sorted(frame[AREA].astype(str).unique()),
            "negative_hours": int((eur < 0).sum()),
            "mean_eur_mwh": float(eur.mean()) if len(frame) else None,
        }
        return dg.Output(frame, metadata=meta)

    return day_ahead_prices


def build_price_contract(settings: Settings, partitions: Partitions) -> dg.AssetChecksDefinition:
    rules = "\n".join(f"- {rule}: {doc}" for rule, doc in PRICE_RULES.items())
    areas = settings.price_areas

    def audit(frames: dict[str, pd.DataFrame], days: list[Window]) -> list[quality.Outcome]:
        # A UTC day's last hours belong to the next Danish day, auctioned a day later: a day
        # fetched before that auction passes with the hours already auctioned, and is fetched
        # again until it is whole (sensors/prices_schedule.py).
        now = pd.Timestamp.now(tz="UTC")
        return [
            quality.contract(check_prices(frame, start, end, areas, now=now))
            for frame, (start, end) in zip(frames.values(), days, strict=True)
        ]

    return build_audit_check(
        names.PRICES,
        names.CONTRACT,
        partitions.price_days,
        f"Every rule holds for the day's prices of {', '.join(areas)}:\n{rules}",
        audit,
        empty=empty_prices,
    )
