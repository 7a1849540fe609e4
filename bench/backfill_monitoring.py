"""Backfill cost of `forecast_monitoring`: one single-run backfill vs one run per partition.

Three years of simulator actuals are written straight to local storage, with each day's issue
(the day and the horizon's further days, at their leads) made from them by multiplying each hour
by seeded noise (the monitoring step scores whatever forecasts it finds, so their origin does not
change its cost; each day reads the horizon's issues that forecast it). Both runs go through Dagster
against a persistent SQLite instance in a temporary folder; the per-partition figure is the
mean of a sample of in-process single-partition runs in the same process, extrapolated to the
whole range.

    python bench/backfill_monitoring.py [--years 3] [--sample 5]
"""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
from workspace import backfill_workspace


def seed_storage(storage: Any, source: Any, first: dt.date, end: dt.date, horizon: int) -> None:
    """Actuals of [first, end] and, for each day, the issue that forecasts it and the horizon's
    further days, made from the actuals with seeded noise growing with the lead."""
    from energy_assets import names
    from energy_assets.domain.forecasting.features import LEAD, ORIGIN
    from energy_assets.domain.forecasting.leads import issue_frame
    from energy_assets.storage.objects import object_key

    actuals = source.fetch(
        pd.Timestamp(first, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    )
    for day, part in actuals.groupby(actuals["datetime_utc"].dt.floor("D")):
        storage.write_parquet(object_key(names.RAW, str(day.date())), part)
    days = actuals["datetime_utc"].dt.floor("D")
    rng = np.random.default_rng(0)
    for origin in pd.date_range(first, end, tz="UTC"):
        rows = actuals[(days >= origin) & (days < origin + pd.Timedelta(days=horizon))]
        lead = ((rows["datetime_utc"].dt.floor("D") - origin).dt.days + 1).to_numpy()
        noise = rng.lognormal(0.0, 0.04 + 0.005 * lead)
        forecasts = rows.drop(columns="consumption_kwh").assign(
            prediction_kwh=rows["consumption_kwh"].to_numpy() * noise,
            model_uri="models:/bench/1",
            **{LEAD: lead},
        )
        issue = issue_frame(forecasts, pd.Series(origin, index=forecasts.index), horizon)
        assert (issue[ORIGIN] == origin).all()
        storage.write_parquet(object_key(names.PREDICTIONS, str(origin.date())), issue)


def main() -> None:
    work, samples = backfill_workspace(__doc__.splitlines()[0], "bench-monitoring-", sample=5)
    end = work.end

    import dagster as dg

    from energy_assets import names
    from energy_assets.definitions import build_definitions
    from energy_assets.defs.partitions import first_model_week
    from energy_assets.domain.sources import source_from_settings
    from energy_assets.settings import load_settings
    from energy_assets.storage.objects import LocalStorage

    settings = load_settings()
    first = first_model_week(settings)
    n_days = (end - first).days + 1

    t0 = time.perf_counter()
    seed_storage(
        LocalStorage(settings.storage_dir),
        source_from_settings(settings),
        first,
        end,
        settings.horizon_days,
    )
    setup = time.perf_counter() - t0

    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    def materialize(tags: dict[str, str]) -> float:
        t = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(names.MONITORING)],
            run_config=quiet,
            tags=tags,
        )
        assert result.success
        return time.perf_counter() - t

    step = max(n_days // max(samples, 1), 1)
    sample = [first + dt.timedelta(days=i * step) for i in range(samples)]
    per_run = [materialize({"dagster/partition": d.isoformat()}) for d in sample]
    single = materialize(
        {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
    )
    files = len(list((settings.storage_dir / names.MONITORING).glob("*.parquet")))
    assert files == n_days, f"{files} files for {n_days} days"
    events = instance.fetch_materializations(
        dg.AssetKey(names.MONITORING), limit=n_days + len(sample)
    )
    assert len(events.records) == n_days + len(sample)
    assert all("mape" in r.asset_materialization.metadata for r in events.records)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(f"{first} .. {end}", n_days, setup, single, per_run, peak_mb)


def report(
    window: str, n_days: int, setup: float, single: float, per_run: list[float], peak_mb: float
) -> None:
    mean_run = statistics.mean(per_run)
    print(f"forecast_monitoring backfill, simulator, {window} ({n_days} daily partitions)")
    print(f"  setup (actuals and forecasts written): {setup:7.1f} s")
    print(
        f"  single run (one vectorised run):       {single:7.1f} s wall, peak RSS {peak_mb:.0f} MB"
    )
    print(
        f"  one run per partition:                 {mean_run * n_days:7.1f} s wall, extrapolated "
        f"from {len(per_run)} in-process runs of {mean_run:.3f} s"
    )
    print(f"  ratio per-partition / single-run:      {mean_run * n_days / single:7.1f}x")
    print(f"  per partition in the single run:       {1000 * single / n_days:7.1f} ms")


if __name__ == "__main__":
    main()
