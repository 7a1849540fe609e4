"""`forecast_monitoring`: per-series accuracy of every forecast of a served day, by lead, once
the day's actuals are in.

Day D was forecast by each issue from D - H + 1 to D (at leads H .. 1); it reads those issues
and the actuals of D only, so any set of days can be backfilled in one run or in parallel runs,
in any order, with identical results.
"""

from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.calendar import day_keys, utc_days
from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.monitoring.accuracy import DAY, lead_summaries, score_series
from energy_assets.domain.schema import TIME
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage

# Per lead, the figures a partition's metadata keeps (its top level is the alert lead's).
LEAD_FIGURES = ("mape", "wape", "bias", "mape_median", "hours_scored")


def build_forecast_monitoring(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    horizon, judged = settings.horizon_days, settings.alert_lead

    @dg.asset(
        key=names.MONITORING,
        **daily_table(partitions.served_days, DAY),
        # Every issue that forecast the day, read from storage a few weeks at a time (a
        # backfill's issues at once would not fit in memory); one not stored is a lead not
        # scored.
        deps=[
            dg.AssetDep(
                names.PREDICTIONS,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-(horizon - 1), end_offset=0
                ),
            )
        ],
        ins={"actuals": dg.AssetIn(names.RAW)},
        group_name="monitoring",
        kinds={"pandas", "parquet"},
        description="Per-series MAPE, WAPE, bias and hours scored of every forecast of the day "
        f"(one row per series and lead) against its actuals; the day's pooled figures at lead "
        f"{judged} (ENERGY_ALERT_LEAD), which the alert sensor judges, and at every lead are in "
        "the metadata of each partition.",
    )
    def forecast_monitoring(
        context: dg.AssetExecutionContext, actuals: pd.DataFrame, asset_storage: AssetStorage
    ) -> pd.DataFrame:
        start, end = run_window(context)
        series = _scores(asset_storage, actuals, start, end, horizon)
        summaries = lead_summaries(series)
        for key in context.partition_keys:
            by_lead = summaries.get(key)
            if not by_lead:
                raise dg.Failure(f"forecast_monitoring {key}: no predictions to score")
            if not any(s["hours_scored"] for s in by_lead.values()):
                # A day is scored once its actuals are in; until then it waits, and an empty
                # score never reaches the alert sensor as a NaN.
                raise dg.Failure(
                    f"forecast_monitoring {key}: no actual matches a forecast yet; the day "
                    "waits for its raw_consumption to be published"
                )
            # Each day's own figures on its own materialization, so the UI charts them over
            # time and the alert sensor reads them, even from a single-run backfill.
            context.add_asset_metadata(_metadata(key, by_lead, judged), partition_key=key)
        context.log.info(f"scored {len(summaries)} days from {start.date()} to {end.date()}")
        return series

    return forecast_monitoring


CHUNK = pd.Timedelta(days=28)  # days scored at a time: each issue is read about twice


def _scores(
    asset_storage: AssetStorage,
    actuals: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    horizon: int,
) -> pd.DataFrame:
    """`score_series` of every stored forecast of the days in [start, end)."""
    key = dg.AssetKey(names.PREDICTIONS)
    stored = set(asset_storage.stored_partitions(key))
    parts = []
    for first in pd.date_range(start, end, freq=CHUNK, inclusive="left"):
        last = min(first + CHUNK, end)
        issues = utc_days(first - pd.Timedelta(days=horizon - 1), last)
        keys = [k for k in day_keys(issues) if k in stored]
        if not keys:
            continue
        forecasts = asset_storage.read_window(key, keys)
        forecasts = forecasts[(forecasts[TIME] >= first) & (forecasts[TIME] < last)]
        day_actuals = actuals[(actuals[TIME] >= first) & (actuals[TIME] < last)]
        if len(forecasts):
            parts.append(score_series(forecasts, day_actuals))
    if not parts:
        return pd.DataFrame(columns=[DAY, LEAD])
    return pd.concat(parts, ignore_index=True)


def _metadata(day: str, by_lead: dict[int, dict[str, Any]], judged: int) -> dict[str, Any]:
    """The judged lead's summary at the top level (no hour scored where that lead was never
    forecast), and every lead's figures under `leads`."""
    top = by_lead.get(judged, {"day": day, LEAD: judged, "hours_scored": 0})
    leads = {
        str(lead): {figure: _plain(summary[figure]) for figure in LEAD_FIGURES}
        for lead, summary in sorted(by_lead.items())
    }
    return {**top, "leads": dg.MetadataValue.json(leads)}


def _plain(value: Any) -> Any:
    """JSON has no NaN: an unscored figure is null."""
    return None if isinstance(value, float) and value != value else value
