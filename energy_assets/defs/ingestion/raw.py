"""`raw_consumption`: daily partitions of canonical consumption, and its blocking data contract."""

from collections.abc import Iterator, Sequence

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.dagster_internals import AssetCheckEvaluationTargetMaterializationData
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain import quality
from energy_assets.domain.schema import TIME, VALUE
from energy_assets.domain.sources import source_from_settings
from energy_assets.settings import Settings
from energy_assets.storage.objects import ConcurrentWrite, ObjectNotFound
from resources.asset_storage import AssetStorage, partition_object_key
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
    spec = dg.AssetCheckSpec(
        names.CONTRACT,
        asset=names.RAW,
        description=f"Every rule holds for the day:\n{rules}",
        blocking=True,
        partitions_def=partitions.days,
    )

    @dg.multi_asset_check(specs=[spec], name="raw_consumption_contract")
    def raw_consumption_contract(
        context: dg.AssetCheckExecutionContext,
        asset_storage: AssetStorage,
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per day, so a bad day shows as failed on its own partition even inside
        # a single-run backfill. The rules share one check because each stored evaluation costs
        # Dagster ~15 ms: one per rule would multiply a three-year backfill's time.
        keys = context.partition_keys
        key = dg.AssetKey(names.RAW)
        run_id = context.op_execution_context.run_id
        staged = {k: asset_storage.read_staged(key, run_id, k) for k in keys}
        # Run on its own (from the UI), the check audits what is published.
        audited = [
            frame if frame is not None else _published(asset_storage, key, k)
            for k, frame in staged.items()
        ]
        windows = [partitions.days.time_window_for_partition_key(k) for k in keys]
        days = [(pd.Timestamp(w.start), pd.Timestamp(w.end)) for w in windows]
        known = source_from_settings(settings).known_series()
        frame = pd.concat(audited, ignore_index=True)
        checked = quality.check_days(frame, days, known)
        targets = _materializations(context, run_id, keys)
        for day, outcomes in zip(keys, checked, strict=True):
            outcome = quality.contract(outcomes)
            published = False
            if staged[day] is not None:
                if outcome.passed:
                    published = _publish(context, asset_storage, key, run_id, day)
                else:
                    asset_storage.discard(key, run_id, day)
            yield _evaluation(day, outcome, published=published, target=targets.get(day))
        # Blocking checks gate downstream steps through their outputs.
        for output in context.op_execution_context.op_def.output_defs:
            yield dg.Output(None, output_name=output.name)

    return raw_consumption_contract


def _publish(
    context: dg.AssetCheckExecutionContext,
    asset_storage: AssetStorage,
    key: dg.AssetKey,
    run_id: str,
    day: str,
) -> bool:
    """Publish a day that passed; False when another run published it first (its version,
    which passed too, stays)."""
    try:
        asset_storage.publish(key, run_id, day)
    except ConcurrentWrite as exc:
        context.log.warning(f"{day}: passed, not published: {exc}")
        return False
    return True


def _materializations(
    context: dg.AssetCheckExecutionContext, run_id: str, keys: Sequence[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The materialization each day's evaluation judges, by partition: declarative automation
    counts a check as passed only for the materialization it names."""
    instance = context.instance
    run = instance.get_run_record_by_id(run_id)
    after = run.start_time if run is not None and run.start_time is not None else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(names.RAW), asset_partitions=list(keys), after_timestamp=after
        ),
        limit=len(keys) + 1,
        ascending=False,
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:
        if record.run_id == run_id and record.partition_key and record.partition_key not in out:
            out[record.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=run_id, timestamp=record.timestamp
            )
    return out


def _published(asset_storage: AssetStorage, key: dg.AssetKey, partition: str) -> pd.DataFrame:
    try:
        return asset_storage.storage.read_parquet(partition_object_key(key, partition))
    except ObjectNotFound:
        return pd.DataFrame(columns=[TIME, VALUE])


def _evaluation(
    key: str,
    outcome: quality.Outcome,
    *,
    published: bool,
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    kept = "" if outcome.passed else "; not published, the stored day is unchanged"
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(names.RAW),
        check_name=names.CONTRACT,
        passed=outcome.passed,
        partition=key,
        blocking=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{key}: {outcome.description}{kept}",
        metadata={**outcome.metadata, "published": published},
        target_materialization_data=target,
    )
