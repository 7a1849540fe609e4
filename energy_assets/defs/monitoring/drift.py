"""`feature_drift`: each served day's per-column drift against the training window of the model
that served it, computed vectorised over the run's days; the full Evidently HTML report is
stored (compressed) for the days that drift, and for any other day by `drift_report_job`."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.forecasting.features import features_from_storage
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.forecasting.model import MODEL_URI
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.monitoring.drift import (
    DAY,
    REFERENCE_WEEKS,
    DriftReference,
    build_reference,
    day_drift,
    evidently_report,
    summarise,
)
from energy_assets.settings import Settings
from energy_assets.storage.drift_store import load_reference, save_reference, save_report
from resources.asset_storage import AssetStorage

REPORT = "report"  # the column naming the stored HTML report, empty where none is stored


def build_feature_drift(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.DRIFT,
        **daily_table(partitions.served_days, DAY),
        ins={"features": dg.AssetIn(names.FEATURES), "models": dg.AssetIn(names.MODEL)},
        group_name="monitoring",
        kinds={"evidently", "parquet"},
        description="Per-column drift (Evidently's normed Wasserstein distance) of the day's "
        "features against the newest weeks the serving model learnt from; the full Evidently "
        f"report is stored for drifting days, and for any day by `{names.DRIFT_REPORT_JOB}`.",
    )
    def feature_drift(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        models: dict[str, dict[str, Any]],
        asset_storage: AssetStorage,
    ) -> pd.DataFrame:
        start, end = run_window(context)
        wanted = pd.date_range(start, end, freq="D", inclusive="left")
        absent = wanted.difference(pd.DatetimeIndex(features[ORIGIN].unique()))
        if len(absent):
            raise dg.Failure(f"feature_drift {absent[0].date()}: no features stored for the day")
        weeks = pd.Series([partitions.week_of(day) for day in wanted], index=wanted)
        tables = []
        for week, days in weeks.groupby(weeks).groups.items():
            record = ModelRecord.from_dict(models[str(week)])
            reference = reference_of(record, asset_storage, settings)
            current = features[features[ORIGIN].isin(days)]
            table = day_drift(reference, current).assign(**{MODEL_URI: record.model_uri})
            table[REPORT] = ""
            for day, rows in table.groupby(DAY):
                key = str(day)[:10]
                summary = summarise(rows)
                meta: dict[str, Any] = {**summary.as_dict(), MODEL_URI: record.model_uri}
                if summary.dataset_drift:  # a report for every day someone will look into
                    html, _ = evidently_report(
                        reference.features, current[current[ORIGIN] == day], reference.thresholds
                    )
                    uri = save_report(asset_storage.storage, key, html)
                    table.loc[rows.index, REPORT] = uri
                    meta[REPORT] = dg.MetadataValue.path(uri)
                context.add_asset_metadata(meta, partition_key=key)
            tables.append(table)
        return pd.concat(tables, ignore_index=True)

    return feature_drift


def reference_of(
    record: ModelRecord, asset_storage: AssetStorage, settings: Settings
) -> DriftReference:
    """The drift reference the model stored when it trained; for a model trained before models
    stored one, rebuilt once from the raw days of its newest training weeks."""
    stored = load_reference(asset_storage.storage, record.week, record.model_version)
    if stored is not None:
        return stored
    end = pd.Timestamp(record.train_end, tz="UTC")
    start = max(
        pd.Timestamp(record.train_start, tz="UTC"), end - pd.Timedelta(weeks=REFERENCE_WEEKS)
    )
    rebuilt = build_reference(
        features_from_storage(
            asset_storage, settings, start, end, f"{record.model_uri}: its training window"
        )
    )
    save_reference(asset_storage.storage, record.week, record.model_version, rebuilt)
    return rebuilt


def build_drift_report_job(settings: Settings, partitions: Partitions) -> dg.JobDefinition:
    """A job an operator launches from the UI for one day's full Evidently report, for a day the
    asset stored none for (it drifted too little)."""

    @dg.op(
        name="drift_report",
        description="Renders the day's Evidently drift report against the serving model's "
        "reference and stores it beside the day's drift results.",
    )
    def drift_report(context: dg.OpExecutionContext, asset_storage: AssetStorage) -> None:
        day = context.partition_key
        start = pd.Timestamp(day, tz="UTC")
        week = partitions.week_of(start)
        try:
            record = ModelRecord.from_dict(
                asset_storage.read_record(dg.AssetKey(names.MODEL), week)
            )
        except FileNotFoundError as exc:
            raise dg.Failure(f"{day}: no model of its week {week} is stored ({exc})") from None
        try:  # the day's stored features, as the asset compared them
            current = asset_storage.read_window(dg.AssetKey(names.FEATURES), [day])
        except FileNotFoundError as exc:
            raise dg.Failure(f"{day}: no features are stored for the day ({exc})") from None
        reference = reference_of(record, asset_storage, settings)
        html, _ = evidently_report(reference.features, current, reference.thresholds)
        uri = save_report(asset_storage.storage, day, html)
        context.log.info(f"{day}: drift report stored at {uri}")
        context.log_event(
            dg.AssetObservation(
                asset_key=names.DRIFT,
                partition=day,
                metadata={REPORT: dg.MetadataValue.path(uri), MODEL_URI: record.model_uri},
            )
        )

    @dg.job(
        name=names.DRIFT_REPORT_JOB,
        partitions_def=partitions.served_days,
        description="The full Evidently drift report of one day; pick the day as the partition.",
    )
    def drift_report_job() -> None:
        drift_report()

    return drift_report_job
