"""What every backfill benchmark starts from: its options, and a throwaway simulator workspace."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chain import local_workspace


@dataclass(frozen=True)
class Workspace:
    root: Path
    start: dt.date
    end: dt.date  # inclusive
    env: dict[str, str]


def backfill_workspace(description: str, prefix: str, sample: int) -> tuple[Workspace, int]:
    """Parse --years/--sample/--start; point settings and DAGSTER_HOME at a new temp folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--sample", type=int, default=sample, help="single-partition runs to time")
    parser.add_argument("--start", default="2021-01-01")
    args = parser.parse_args()
    start = dt.date.fromisoformat(args.start)
    end = start.replace(year=start.year + args.years) - dt.timedelta(days=1)
    work = simulator_workspace(prefix, start, end)
    os.environ.update(work.env)
    return work, args.sample


def simulator_workspace(prefix: str, start: dt.date, end: dt.date) -> Workspace:
    """A new temp folder with its own storage and Dagster home, on simulator data from `start`
    (the environment a process run in it needs; this process's own is left alone)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    return Workspace(
        root, start, end, {"ENERGY_SOURCE": "simulator", **local_workspace(root, start)}
    )
