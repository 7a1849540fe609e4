"""`raw_consumption`: daily partitions of canonical consumption, and its blocking data contract."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.automation import DAILY_FRESHNESS
from energy_assets.defs.metadata import metadata_values
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain import quality
from energy_assets.domain.schema import TIME
from energy_assets.domain.sources import source_from_settings
from energy_assets.settings import Settings


def build_raw_consumption(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.RAW,
        **daily_table(partitions.days, TIME),
        group_name="ingestion",
        kinds={"pandas", "parquet"},
        freshness_policy=DAILY_FRESHNESS,
        description="Hourly consumption per series for each UTC day, in the canonical format.",
    )
    def raw_consumption(context: dg.AssetExecutionContext) -> dg.Output[pd.DataFrame]:
        start, end = run_window(context)
        source = source_from_settings(settings)
        if source.synthetic:
            context.log.warning(f"{source.describe()}: generated data, not real consumption")
        context.log.info(f"fetching {start} .. {end} from {source.describe()}")
        frame = source.fetch(start, end)
        meta = quality.summarize(frame, start, end, source.known_series())
        meta.update(
            source=source.describe(),
            synthetic=source.synthetic,
            partitions=len(context.partition_keys),
        )
        return dg.Output(frame, metadata=metadata_values(meta))

    return raw_consumption


def build_data_contract(settings: Settings, partitions: Partitions) -> dg.AssetChecksDefinition:
    rules = "\n".join(f"- {rule}: {doc}" for rule, doc in quality.RULE_DOCS.items())
    spec = dg.AssetCheckSpec(
        names.CONTRACT,
        asset=names.RAW,
        description=f"Every rule holds for the day:\n{rules}",
        blocking=True,
        partitions_def=partitions.days,
    )

    @dg.multi_asset_check(specs=[spec], name="raw_consumption_contract")
    def raw_consumption_contract(
        context: dg.AssetCheckExecutionContext, raw_consumption: pd.DataFrame
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per day, so a bad day shows as failed on its own partition even inside
        # a single-run backfill. The rules share one check because each stored evaluation costs
        # Dagster ~15 ms: five per day would double a three-year backfill.
        keys = context.partition_keys
        windows = [partitions.days.time_window_for_partition_key(k) for k in keys]
        days = [(pd.Timestamp(w.start), pd.Timestamp(w.end)) for w in windows]
        known = source_from_settings(settings).known_series()
        checked = quality.check_days(raw_consumption, days, known)
        for key, outcomes in zip(keys, checked, strict=True):
            yield _evaluation(key, quality.contract(outcomes))
        # Blocking checks gate downstream steps through their outputs.
        for output in context.op_execution_context.op_def.output_defs:
            yield dg.Output(None, output_name=output.name)

    return raw_consumption_contract


def _evaluation(key: str, outcome: quality.Outcome) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(names.RAW),
        check_name=names.CONTRACT,
        passed=outcome.passed,
        partition=key,
        blocking=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{key}: {outcome.description}",
        metadata=metadata_values(outcome.metadata),
    )
