"""Write-audit-publish for ingested assets: each fetched day is staged by the IO manager, audited
by a blocking check, and published only when it passed; a day that failed leaves the stored day
as it was."""

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from energy_assets.defs.check_targets import run_materializations
from energy_assets.defs.dagster_internals import AssetCheckEvaluationTargetMaterializationData
from energy_assets.domain.quality import Outcome
from energy_assets.storage.objects import ConcurrentWrite, ObjectNotFound
from resources.asset_storage import AssetStorage, partition_object_key

Window = tuple[pd.Timestamp, pd.Timestamp]
#: the days' frames, by partition key, and their UTC windows -> one outcome per day, in order
Audit = Callable[[dict[str, pd.DataFrame], list[Window]], list[Outcome]]


def build_audit_check(
    asset: str,
    check: str,
    partitions_def: dg.DailyPartitionsDefinition,
    description: str,
    audit: Audit,
    empty: Callable[[], pd.DataFrame],
) -> dg.AssetChecksDefinition:
    """The blocking check that audits and publishes each staged day of `asset`; run on its
    own (from the UI) it audits what is published. `empty` is the frame of a day never stored."""
    spec = dg.AssetCheckSpec(
        check, asset=asset, description=description, blocking=True, partitions_def=partitions_def
    )
    key = dg.AssetKey(asset)

    @dg.multi_asset_check(specs=[spec], name=f"{asset}_contract")
    def audit_and_publish(
        context: dg.AssetCheckExecutionContext,
        asset_storage: AssetStorage,
    ) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        # One evaluation per day, so a bad day shows as failed on its own partition even inside
        # a single-run backfill. The rules share one check because each stored evaluation costs
        # Dagster ~15 ms: one per rule would multiply a three-year backfill's time.
        keys = context.partition_keys
        run_id = context.op_execution_context.run_id
        staged = {k: asset_storage.read_staged(key, run_id, k) for k in keys}
        audited = {
            k: frame if frame is not None else _published(asset_storage, key, k, empty)
            for k, frame in staged.items()
        }
        windows = [partitions_def.time_window_for_partition_key(k) for k in keys]
        days = [(pd.Timestamp(w.start), pd.Timestamp(w.end)) for w in windows]
        targets = run_materializations(context, key, run_id, keys)
        for day, outcome in zip(keys, audit(audited, days), strict=True):
            published = False
            if staged[day] is not None:
                if outcome.passed:
                    published = _publish(context, asset_storage, key, run_id, day)
                else:
                    asset_storage.discard(key, run_id, day)
            yield _evaluation(key, check, day, outcome, published, targets.get(day))
        # Blocking checks gate downstream steps through their outputs.
        for output in context.op_execution_context.op_def.output_defs:
            yield dg.Output(None, output_name=output.name)

    return audit_and_publish


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


def _published(
    asset_storage: AssetStorage,
    key: dg.AssetKey,
    partition: str,
    empty: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    try:
        return asset_storage.storage.read_parquet(partition_object_key(key, partition))
    except ObjectNotFound:
        return empty()


def _evaluation(
    key: dg.AssetKey,
    check: str,
    day: str,
    outcome: Outcome,
    published: bool,
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    kept = "" if outcome.passed else "; not published, the stored day is unchanged"
    return dg.AssetCheckEvaluation(
        asset_key=key,
        check_name=check,
        passed=outcome.passed,
        partition=day,
        blocking=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{day}: {outcome.description}{kept}",
        metadata={**outcome.metadata, "published": published},
        target_materialization_data=target,
    )
