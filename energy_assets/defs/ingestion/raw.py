"""`raw_consumption`: daily partitions of canonical consumption, and its blocking data contract."""

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.ingestion.audit import Window, build_audit_check
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain import quality
from energy_assets.domain.schema import TIME, VALUE
from energy_assets.domain.sources import source_from_settings
from energy_assets.settings import Settings
from resources.parquet_io_manager import WRITE_AUDIT_PUBLISH


def build_raw_consumption(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    table = daily_table(partitions.days, TIME)
    # Written, audited, published: a fetched day becomes visible only once its contract passed.
    table["metadata"] = {**table["metadata"], WRITE_AUDIT_PUBLISH: True}

    @dg.asset(
        key=names.RAW,
        **table,
        group_name="ingestion",
        pool=names.RAW,  # limited by the instance's `concurrency: pools` (infra/dagster.yaml)
        kinds={"pandas", "parquet"},
        description="Hourly consumption per series for each UTC day, in the canonical format; "
        "each fetched day is staged and published only when its data contract passes.",
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
        return dg.Output(frame, metadata=meta)

    return raw_consumption


def build_data_contract(settings: Settings, partitions: Partitions) -> dg.AssetChecksDefinition:
    rules = "\n".join(f"- {rule}: {doc}" for rule, doc in quality.RULE_DOCS.items())

    def audit(frames: dict[str, pd.DataFrame], days: list[Window]) -> list[quality.Outcome]:
        known = source_from_settings(settings).known_series()
        checked = quality.check_days(pd.concat(frames.values(), ignore_index=True), days, known)
        return [quality.contract(outcomes) for outcomes in checked]

    return build_audit_check(
        names.RAW,
        names.CONTRACT,
        partitions.days,
        f"Every rule holds for the day:\n{rules}",
        audit,
        empty=lambda: pd.DataFrame(columns=[TIME, VALUE]),
    )
