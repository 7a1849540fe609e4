"""`raw_consumption`: daily partitions of canonical consumption, with blocking data checks."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from energy_assets import quality
from energy_assets.automation import DAILY_FRESHNESS
from energy_assets.metadata import metadata_values
from energy_assets.partitions import window
from energy_assets.schema import TIME
from energy_assets.settings import Settings
from energy_assets.sources import source_from_settings
from resources.parquet_io_manager import PARTITION_COLUMN

RAW = dg.AssetKey("raw_consumption")

CONTRACT = "data_contract"


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
        freshness_policy=DAILY_FRESHNESS,
        description="Hourly consumption per series for each UTC day, in the canonical format.",
    )
    def raw_consumption(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
        start, end = window(context)
        source = source_from_settings(settings)
        if source.synthetic:
            context.log.warning(f"{source.describe()}: generated data, not real consumption")
        context.log.info(f"fetching {start} .. {end} from {source.describe()}")
        frame = source.fetch(start, end)
        meta = quality.summarize(frame, start, end)
        meta.update(
            source=source.describe(),
            synthetic=source.synthetic,
            partitions=len(context.partition_keys),
        )
        return dg.Output(frame, metadata=metadata_values(meta))

    rules = "\n".join(f"- {rule}: {doc}" for rule, doc in quality.RULE_DOCS.items())
    spec = dg.AssetCheckSpec(
        CONTRACT,
        asset=RAW,
        description=f"Every rule holds for the day:\n{rules}",
        blocking=True,
        partitions_def=daily,
    )

    @dg.multi_asset_check(specs=[spec], name="raw_consumption_contract")
    def raw_consumption_contract(
        context: dg.AssetCheckExecutionContext, raw_consumption: pd.DataFrame
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per day, so a bad day shows as failed on its own partition even inside
        # a single-run backfill. The rules share one check because each stored evaluation costs
        # Dagster ~15 ms: five per day would double a three-year backfill.
        keys = context.partition_keys
        windows = [daily.time_window_for_partition_key(k) for k in keys]
        days = [(pd.Timestamp(w.start), pd.Timestamp(w.end)) for w in windows]
        for key, outcomes in zip(keys, quality.check_days(raw_consumption, days), strict=True):
            outcome = quality.contract(outcomes)
            yield dg.AssetCheckEvaluation(
                asset_key=RAW,
                check_name=CONTRACT,
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

    return raw_consumption, raw_consumption_contract
