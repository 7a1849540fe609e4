"""Backfill cost of `raw_consumption`: one single-run backfill vs one run per partition.

Both run on simulator data against a persistent SQLite Dagster instance and local parquet
storage in a temporary folder. The per-partition figure is the mean of a sample of real runs,
each a fresh `dagster asset materialize` process as a per-partition backfill would launch,
extrapolated to the whole range.

    python bench/backfill_raw.py [--years 3] [--sample 3]
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import time

from workspace import backfill_workspace


def main() -> None:
    work, samples = backfill_workspace(__doc__.splitlines()[0], "bench-backfill-", sample=3)
    start, end, env = work.start, work.end, work.env
    n_days = (end - start).days + 1

    import dagster as dg

    from energy_assets.definitions import build_definitions
    from energy_assets.names import INGEST_JOB, RAW

    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    t0 = time.perf_counter()
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        run_config=quiet,
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
    )
    single = time.perf_counter() - t0
    assert result.success
    files = len(list((work.root / "storage" / RAW).glob("*.parquet")))
    assert files == n_days, f"{files} files for {n_days} days"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    step = max(n_days // max(samples, 1), 1)
    sample_days = [start + dt.timedelta(days=i * step) for i in range(samples)]
    cli = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "energy_assets.definitions",
    ]
    per_run = []
    for day in sample_days:
        t0 = time.perf_counter()
        subprocess.run(
            [*cli, "--select", RAW, "--partition", day.isoformat()],
            check=True,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        per_run.append(time.perf_counter() - t0)
    report(f"{start} .. {end}", n_days, single, per_run, peak_mb)


def report(window: str, n_days: int, single: float, per_run: list[float], peak_mb: float) -> None:
    mean_run = statistics.mean(per_run)
    extrapolated = mean_run * n_days
    print(f"raw_consumption backfill, simulator, {window} ({n_days} daily partitions)")
    print(f"  single run (one vectorised run):   {single:8.1f} s wall, peak RSS {peak_mb:.0f} MB")
    print(
        f"  one run per partition:             {extrapolated:8.1f} s wall, extrapolated from "
        f"{len(per_run)} runs of {mean_run:.2f} s (min {min(per_run):.2f}, max {max(per_run):.2f})"
    )
    print(f"  ratio per-partition / single-run:  {extrapolated / single:8.1f}x")
    print(f"  per partition in the single run:   {1000 * single / n_days:8.1f} ms")


if __name__ == "__main__":
    main()
