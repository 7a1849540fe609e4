"""Re-predict a week once a person approves its model (ENERGY_REQUIRE_APPROVAL).

While a week's version awaits approval its days are served by the newest approved earlier
version, and those predictions are stored. This sensor reads new entries of the decisions log
(cursor: the newest log key it has handled; keys sort by decision time) and, for each approval,
requests one run (run key `approval-<log entry>`, so never twice for one decision) that
materializes `predictions` again for the week's stored days, with `forecast_monitoring` in the
same run when those days were monitored: the approved version then serves and is named. It also
re-stores the version's model report with its decisions, which the dashboard's account may not
write on GCS. A rejection needs no run: the earlier version keeps serving."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from energy_assets import names
from energy_assets.settings import Settings
from energy_assets.storage.approvals import update_report
from energy_assets.storage.model_decisions import Decision, DecisionLog
from energy_assets.storage.objects import Storage
from resources.asset_storage import AssetStorage

RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def stored_days(storage: Storage, asset: str, week: str) -> list[str]:
    """The days of the model week (Monday to Sunday) stored for `asset`, in order."""
    monday = dt.date.fromisoformat(week)
    days = {(monday + dt.timedelta(days=i)).isoformat() for i in range(7)}
    keys = storage.list_keys(asset)
    found = {k[len(asset) + 1 : -len(".parquet")] for k in keys if k.endswith(".parquet")}
    return sorted(days & found)


def repredict_request(storage: Storage, key: str, decision: Decision) -> dg.RunRequest | None:
    """The run that re-predicts the approved week's stored days; None when none is stored."""
    days = stored_days(storage, names.PREDICTIONS, decision.week)
    if not days:
        return None
    selection = [dg.AssetKey(names.PREDICTIONS)]
    if set(days) <= set(stored_days(storage, names.MONITORING, decision.week)):
        selection.append(dg.AssetKey(names.MONITORING))
    entry = key.rsplit("/", 1)[-1].removesuffix(".json")
    return dg.RunRequest(
        run_key=f"approval-{entry}",
        asset_selection=selection,
        tags={
            RANGE_TAGS[0]: days[0],
            RANGE_TAGS[1]: days[-1],
            "energy/reason": "model_approval",
            "energy/model_version": decision.version,
            "energy/approved_by": decision.by,
        },
    )


def build_model_approval_sensor(settings: Settings) -> dg.SensorDefinition:
    registered_model = settings.registered_model

    @dg.sensor(
        name=names.MODEL_APPROVAL_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=[names.PREDICTIONS, names.MONITORING],
        description="Each new approval in the model decisions log: predictions (and their "
        "monitoring) again for the week's stored days, so the approved version serves them.",
    )
    def model_approval_sensor(
        context: dg.SensorEvaluationContext,
        asset_storage: AssetStorage,
    ) -> dg.SensorResult:
        storage = asset_storage.storage
        log = DecisionLog(storage)
        entries = log.entries(after=context.cursor or None)
        if not entries:
            return dg.SensorResult(skip_reason="no new model decisions")
        requests: list[dg.RunRequest] = []
        for key, decision in entries:
            if decision.model != registered_model:
                continue
            decided = [d for _, d in log.entries() if d.version == decision.version]
            update_report(storage, decision.week, decision.version, decided)
            if decision.decision != "approved":
                context.log.info(f"v{decision.version} rejected: week {decision.week} unchanged")
                continue
            request = repredict_request(storage, key, decision)
            if request is None:
                context.log.info(f"v{decision.version} approved; week {decision.week} has no "
                                 "stored predictions yet")  # fmt: skip
                continue
            context.log.info(f"v{decision.version} approved: re-predicting week {decision.week}")
            requests.append(request)
        return dg.SensorResult(run_requests=requests, cursor=entries[-1][0])

    return model_approval_sensor
