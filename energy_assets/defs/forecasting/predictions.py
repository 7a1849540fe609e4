"""`predictions`: each day's issue, the hourly forecasts with P10/P90 of every day from the one
after the newest published day (lead 1) through the horizon, from the model of the issue's week.

Partition O is the issue made once day O - 1 is published: its rows are days O .. O + H - 1,
each with its `lead_days` and `issued_at`. A later issue forecasts a day again at a shorter lead
in its own partition, so no forecast is ever overwritten and accuracy is measured by lead."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.forecasting.features import WITHOUT_PRICES, prices_from_storage
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting import serving_rules
from energy_assets.domain.forecasting.features import (
    LEAD,
    LOOKBACK_DAYS,
    ORIGIN,
    PRICE_LOOKBACK_DAYS,
)
from energy_assets.domain.forecasting.forecaster import Forecaster
from energy_assets.domain.forecasting.model import MODEL_URI, PRICE_KNOWN_COLUMN
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage
from resources.mlflow_resource import MlflowResource
from resources.parquet_io_manager import ALLOW_MISSING

KEY = dg.AssetKey(names.PREDICTIONS)


def _inputs() -> dict[str, dg.AssetIn]:
    # The history an issue's features read; the forecaster builds them itself, as MLflow
    # serving does.
    return {
        "models": dg.AssetIn(names.MODEL),
        "raw": dg.AssetIn(
            names.RAW,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-LOOKBACK_DAYS, end_offset=-1
            ),
            metadata={ALLOW_MISSING: True},
        ),
    }


def _price_deps(settings: Settings) -> list[dg.AssetDep]:
    """The prices an issue reads: the week before its origin through its farthest day (those
    published by the time it is issued). Read from storage: a missing day is forecast without."""
    if not settings.uses_prices:
        return []
    window = dg.TimeWindowPartitionMapping(
        start_offset=-PRICE_LOOKBACK_DAYS, end_offset=settings.horizon_days - 1
    )
    return [dg.AssetDep(names.PRICES, partition_mapping=window)]


def build_predictions(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    approval = settings.require_approval
    horizon = settings.horizon_days

    @dg.asset(
        key=names.PREDICTIONS,
        **daily_table(partitions.served_days, ORIGIN),
        ins=_inputs(),
        deps=_price_deps(settings),
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        description=f"The day's issue: hourly forecasts with P10/P90 per series of the {horizon} "
        "days from the day after the newest published one (lead 1), each with its lead_days and "
        "issued_at, from the model of the issue's week.",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        models: dict[str, dict[str, Any]],
        mlflow_tracking: MlflowResource,
        asset_storage: AssetStorage,
        raw: pd.DataFrame,
    ) -> None:
        start, end = run_window(context)
        reach = end + pd.Timedelta(days=horizon - 1)
        prices = prices_from_storage(asset_storage, settings, start, reach)
        days = utc_days(start, end)
        weeks = pd.Series([partitions.week_of(day) for day in days], index=days)
        # Every week's serving version first: a week none may serve stops the run before any
        # issue is written.
        serving = {
            week: serving_uri(ModelRecord.from_dict(models[str(week)]), mlflow_tracking, approval)
            for week in weeks.unique()
        }
        # One model week at a time: one model load and one feature build for its issues, which
        # are stored before the next week's are made (three years of issues at every lead would
        # not fit in memory as one frame).
        for week, week_days in weeks.groupby(weeks, sort=True):
            uri, note = serving[week]
            if note:
                context.log.warning(note)
            forecaster = mlflow_tracking.load_forecaster(uri)
            leads = _issue_leads(context, forecaster, uri, horizon)
            origins = pd.DatetimeIndex(week_days.index)
            issues = forecaster.forecast(raw, prices, origins, leads)
            issues[MODEL_URI] = uri
            for origin in origins:
                day = str(origin.date())
                issue = issues[issues[ORIGIN] == origin].reset_index(drop=True)
                where = asset_storage.write_frame(KEY, day, issue)
                # Each issue names its own version and file on its own materialization.
                context.add_asset_metadata(
                    {**_issue_metadata(issue, uri, note), "uri": where}, partition_key=day
                )

    return predictions


def _issue_metadata(issue: pd.DataFrame, uri: str, fallback: str | None) -> dict[str, Any]:
    """What the UI shows of an issue: its version, size, reach and the days it made without
    prices (the flag is its first day's)."""
    metadata: dict[str, Any] = {
        MODEL_URI: uri,
        "fallback": fallback,
        "rows": len(issue),
        "leads": int(issue[LEAD].max()) if len(issue) else 0,
        "through": str(issue[TIME].max().date()) if len(issue) else None,
    }
    if PRICE_KNOWN_COLUMN in issue.columns:
        priced = issue.groupby(issue[TIME].dt.date)[PRICE_KNOWN_COLUMN].any()
        metadata[WITHOUT_PRICES] = not bool(priced.iloc[0])
        metadata["days_without_prices"] = [str(d) for d in priced.index[~priced]]
    return metadata


def _issue_leads(
    context: dg.AssetExecutionContext, forecaster: Forecaster, uri: str, horizon: int
) -> list[int]:
    """Leads 1 .. horizon, or as far as a version trained for fewer reaches."""
    if forecaster.reach < horizon:
        context.log.warning(
            f"{uri} forecasts leads up to {forecaster.reach} only: its issues reach that far; "
            f"retrain the week for leads up to {horizon}"
        )
    return list(range(1, min(horizon, forecaster.reach) + 1))


def serving_uri(
    record: ModelRecord, mlflow_tracking: MlflowResource, require_approval: bool = False
) -> tuple[str, str | None]:
    """The explicit version that serves the record's week, and a note when it is not the
    record's own: the week's model is used once its promotion gate passed and, when approval is
    required, a person approved it; a version that failed, was never judged, awaits approval or
    was rejected gives way to the week's newest eligible version, else an earlier week's."""
    tags = mlflow_tracking.version_tags(record.model_uri)
    why = serving_rules.why_not(tags, require_approval)
    if why is None:
        return record.model_uri, None
    serving = mlflow_tracking.serving(record.week, require_approval=require_approval)
    if serving is None:
        state = f"promotion gate status {tags.get(serving_rules.GATE_TAG)!r}"
        if why != "did not pass its gate":
            state = f"approval {tags.get(serving_rules.APPROVAL_TAG)!r}"
        raise dg.Failure(
            f"week {record.week}: {record.model_uri} has {state} and no earlier version may "
            "serve; "
            + (
                "retrain the week before predicting with it"
                if why == "did not pass its gate"
                else "approve a version (energy-forecast model approve VERSION --reason ...)"
            )
        )
    return serving.uri, serving.fallback_note(record.week, record.model_uri, why)
