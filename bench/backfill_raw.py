"""Backfill cost of `raw_consumption`: one single-run backfill vs one run per partition.

All run on simulator data against a persistent SQLite Dagster instance and local parquet
storage in a temporary folder. The single run is timed twice, each in a fresh workspace: in
this process (`execute_in_process` of the ingest job, from the run's creation to its end), and
as an operator starts it, `dagster asset materialize --partition-range` in a new process (its
whole wall time: start-up, loading the code location, the run). The per-partition figure is the
mean of a sample of real runs, each a fresh `dagster asset materialize` process as a
per-partition backfill would launch, extrapolated to the whole range.

    python bench/backfill_raw.py [--years 3] [--sample 3]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from chain import tree_rss
from workspace import Workspace, backfill_workspace, simulator_workspace

REPO = Path(__file__).resolve().parents[1]
# The code location as the CLI loads it (workspace.yaml), from this checkout.
CLI = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "energy_assets.definitions"]


def main() -> None:
    work, samples = backfill_workspace(__doc__.splitlines()[0], "bench-backfill-", sample=3)
    start, end = work.start, work.end
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
    assert stored_days(work, RAW) == n_days, f"{stored_days(work, RAW)} files for {n_days} days"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cli_work = simulator_workspace("bench-backfill-cli-", start, end)
    cli = cli_run(cli_work, ["--select", RAW, "--partition-range", f"{start}...{end}"])
    assert stored_days(cli_work, RAW) == n_days, f"{stored_days(cli_work, RAW)} files (CLI)"

    step = max(n_days // max(samples, 1), 1)
    sample_days = [start + dt.timedelta(days=i * step) for i in range(samples)]
    per_run = [
        cli_run(work, ["--select", RAW, "--partition", d.isoformat()])[0] for d in sample_days
    ]
    report(f"{start} .. {end}", n_days, single, per_run, peak_mb, cli)


def stored_days(work: Workspace, asset: str) -> int:
    return len(list((work.root / "storage" / asset).glob("*.parquet")))


def cli_run(work: Workspace, args: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MB, sampled from /proc) of one `dagster asset materialize`
    process in `work`. (The children's ru_maxrss would count the fork of this process, as
    large as its own in-process run, before the exec.)"""
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [*CLI, *args],
        cwd=REPO,
        env={**os.environ, **work.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(child.pid))
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=0.25)  # returns as soon as the process ends
    seconds = time.perf_counter() - t0
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    return seconds, peak / 2**20


def report(
    window: str,
    n_days: int,
    single: float,
    per_run: list[float],
    peak_mb: float,
    cli: tuple[float, float],
) -> None:
    mean_run = statistics.mean(per_run)
    extrapolated = mean_run * n_days
    cli_single, cli_peak_mb = cli
    print(f"raw_consumption backfill, simulator, {window} ({n_days} daily partitions)")
    print(f"  single run (one vectorised run):   {single:8.1f} s wall, peak RSS {peak_mb:.0f} MB")
    print(
        f"  single run from the CLI:           {cli_single:8.1f} s wall, peak RSS "
        f"{cli_peak_mb:.0f} MB (one `dagster asset materialize --partition-range` process, "
        "start-up included)"
    )
    print(f"  ratio CLI / in-process single run: {cli_single / single:8.2f}x")
    print(
        f"  one run per partition:             {extrapolated:8.1f} s wall, extrapolated from "
        f"{len(per_run)} runs of {mean_run:.2f} s (min {min(per_run):.2f}, max {max(per_run):.2f})"
    )
    print(f"  ratio per-partition / single-run:  {extrapolated / single:8.1f}x")
    print(f"  per partition in the single run:   {1000 * single / n_days:8.1f} ms")


if __name__ == "__main__":
    main()
