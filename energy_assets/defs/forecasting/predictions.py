"""`predictions`: each day's hourly forecasts with P10/P90, from the model of the day's week."""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.forecasting.features import PRICE_KNOWN, WITHOUT_PRICES
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import utc_days
from energy_assets.domain.forecasting import serving_rules
from energy_assets.domain.forecasting.features import ORIGIN
from energy_assets.domain.forecasting.model import MODEL_URI, PRICE_KNOWN_COLUMN, predict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings
from resources.mlflow_resource import MlflowResource


def build_predictions(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    require_approval = settings.require_approval

    @dg.asset(
        key=names.PREDICTIONS,
        **daily_table(partitions.served_days, TIME),
        ins={"features": dg.AssetIn(names.FEATURES), "models": dg.AssetIn(names.MODEL)},
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        description="Hourly forecasts with P10/P90 per series, from the model of the day's week.",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        models: dict[str, dict[str, Any]],
        mlflow_tracking: MlflowResource,
    ) -> dg.Output:
        start, end = run_window(context)
        parts = []
        serving: dict[str, str] = {}  # week -> the version that serves it, chosen once per run
        notes: dict[str, str] = {}
        for day in utc_days(start, end):
            week = partitions.week_of(day)
            if week not in serving:
                record = ModelRecord.from_dict(models[week])
                serving[week], note = serving_uri(record, mlflow_tracking, require_approval)
                if note:
                    context.log.warning(note)
                    notes[week] = note
            model = mlflow_tracking.load_model(serving[week])
            day_features = features[features[ORIGIN] == day]
            part = predict(model, day_features).assign(**{MODEL_URI: serving[week]})
            day_metadata: dict[str, Any] = {
                MODEL_URI: serving[week],
                "fallback": notes.get(week),
                "rows": len(part),
            }
            if PRICE_KNOWN in day_features.columns:
                # Which rows knew their hour's price; a day none did was made without prices.
                part[PRICE_KNOWN_COLUMN] = day_features[PRICE_KNOWN].notna().to_numpy()
                day_metadata[WITHOUT_PRICES] = not part[PRICE_KNOWN_COLUMN].any()
            parts.append(part)
            # Each day names its own version on its own materialization, also when a
            # single-run backfill spans several model weeks.
            context.add_asset_metadata(day_metadata, partition_key=str(day.date()))
        return dg.Output(pd.concat(parts, ignore_index=True))

    return predictions


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
