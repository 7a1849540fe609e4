"""`raw_consumption`: daily partitions of canonical consumption, with blocking data checks."""


from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from energy_assets import quality
from energy_assets.metadata import metadata_values
from energy_assets.partitions import window
from energy_assets.schema import TIME
from energy_assets.settings import Settings
from energy_assets.sources import source_from_settings
from resources.parquet_io_manager import PARTITION_COLUMN

RAW = dg.AssetKey("raw_consumption")

DayRule = Callable[[pd.DataFrame, pd.Timestamp, pd.Timestamp], quality.Outcome]

# Check name -> rule on one day's rows; each failing day is reported against its own partition.
RAW_RULES: dict[str, tuple[str, DayRule]] = {
    "schema": ("Columns and dtypes are canonical.", lambda f, s, e: quality.check_schema(f)),
    "unique_keys": (
        "No (series, hour) key appears twice.",
        lambda f, s, e: quality.check_unique_keys(f),
    ),
    "complete_hourly_grid": (
        "All 76 series have all 24 hours of the day, and no row lies outside it.",
        quality.check_complete_grid,
    ),
    "finite_non_negative": (
        "Every value is finite and non-negative.",
        lambda f, s, e: quality.check_values(f),
    ),
    "known_areas": ("Areas are DK1 or DK2.", lambda f, s, e: quality.check_areas(f)),
}


def build_ingestion(
    settings: Settings, daily: dg.DailyPartitionsDefinition
) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    @dg.asset(
        key=RAW,
        partitions_def=daily,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="parquet_io_manager",
        metadata={PARTITION_COLUMN: TIME},
        group_name="ingestion",
        kinds={"pandas", "parquet"},
        description="Hourly consumption per series for each UTC day, in the canonical format.",
    )
    def raw_consumption(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
        start, end = window(context)
        source = source_from_settings(settings)
        if source.synthetic:
            context.log.warning(f"SYNTHETIC data from {source.describe()}; not real consumption")
        context.log.info(f"fetching {start} .. {end} from {source.describe()}")
        frame = source.fetch(start, end)
        meta = quality.summarize(frame, start, end)
        meta.update(
            source=source.describe(),
            synthetic=source.synthetic,
            partitions=len(context.partition_keys),
        )
        return dg.Output(frame, metadata=metadata_values(meta))

    specs = [
        dg.AssetCheckSpec(name, asset=RAW, description=doc, blocking=True, partitions_def=daily)
        for name, (doc, _) in RAW_RULES.items()
    ]

    @dg.multi_asset_check(specs=specs, name="raw_consumption_checks")
    def raw_consumption_checks(
        context: dg.AssetCheckExecutionContext, raw_consumption: pd.DataFrame
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per check and day, so a bad day shows as failed on its own partition
        # even inside a single-run backfill.
        times = raw_consumption[TIME] if TIME in raw_consumption else None
        for key in context.partition_keys:
            tw = daily.time_window_for_partition_key(key)
            start, end = pd.Timestamp(tw.start), pd.Timestamp(tw.end)
            day = (
                raw_consumption[(times >= start) & (times < end)]
                if times is not None and len(context.partition_keys) > 1
                else raw_consumption
            )
            for name, (_, rule) in RAW_RULES.items():
                outcome = rule(day, start, end)
                yield dg.AssetCheckEvaluation(
                    asset_key=RAW,
                    check_name=name,
                    passed=outcome.passed,
                    partition=key,
                    blocking=True,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=f"{key}: {outcome.description}",
                    metadata=metadata_values(outcome.metadata),
                )
        # Blocking checks gate downstream steps through their outputs.
        for output in context.op_execution_context.op_def.output_defs:
            yield dg.Output(None, output_name=output.name)

    return raw_consumption, raw_consumption_checks
