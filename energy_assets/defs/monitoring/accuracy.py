"""`forecast_monitoring`: per-series accuracy of each served day once its actuals are in.

It reads only partition D of its inputs, so any set of days can be backfilled in one run or in
parallel runs, in any order, with identical results.
"""

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.defs.partitions import Partitions, daily_table, run_window
from energy_assets.domain.monitoring.accuracy import DAY, day_summaries, score_series
from energy_assets.settings import Settings


def build_forecast_monitoring(settings: Settings, partitions: Partitions) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.MONITORING,
        **daily_table(partitions.served_days, DAY),
        ins={"predictions": dg.AssetIn(names.PREDICTIONS), "actuals": dg.AssetIn(names.RAW)},
        group_name="monitoring",
        kinds={"pandas", "parquet"},
        description="Per-series MAPE, WAPE, bias and hours scored of the day's forecasts against "
        "its actuals; the day's pooled figures are in the metadata of each partition.",
    )
    def forecast_monitoring(
        context: dg.AssetExecutionContext, predictions: pd.DataFrame, actuals: pd.DataFrame
    ) -> pd.DataFrame:
        start, end = run_window(context)
        series = score_series(predictions, actuals)
        summaries = day_summaries(series)
        for key in context.partition_keys:
            summary = summaries.get(key)
            if summary is None:
                raise dg.Failure(f"forecast_monitoring {key}: no predictions to score")
            if not summary["hours_scored"]:
                # A day is scored once its actuals are in; until then it waits, and an empty
                # score never reaches the alert sensor as a NaN.
                raise dg.Failure(
                    f"forecast_monitoring {key}: no actual matches a forecast yet; the day "
                    "waits for its raw_consumption to be published"
                )
            # Each day's own figures on its own materialization, so the UI charts them over
            # time and the alert sensor reads them, even from a single-run backfill.
            context.add_asset_metadata(summary, partition_key=key)
        context.log.info(f"scored {len(summaries)} days from {start.date()} to {end.date()}")
        return series

    return forecast_monitoring
