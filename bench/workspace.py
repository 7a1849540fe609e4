"""What every backfill benchmark starts from: its options, and a throwaway simulator workspace."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
    root = Path(tempfile.mkdtemp(prefix=prefix))
    start = dt.date.fromisoformat(args.start)
    end = start.replace(year=start.year + args.years) - dt.timedelta(days=1)
    env = {
        "ENERGY_SOURCE": "simulator",
        "ENERGY_START_DATE": start.isoformat(),
        "ENERGY_STORAGE_DIR": str(root / "storage"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    os.environ.update(env)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return Workspace(root, start, end, env), args.sample
