"""Where one weekly model run spends its time, inside Dagster: a pyinstrument profile.

Sets up what a week's model reads, as a new deployment's backfill leaves it (simulator, 76
series, raw consumption and simulated day-ahead prices from 2021-01-01 to the week, a pinned
one-trial study), then materializes the `forecast_model` partition of `--week` (with `--weeks
N`, the N weeks through it in one run, as a backfill runs them) in this process under
pyinstrument, the way a run worker does (the asset, its reads, its promotion gate). Prints the
run's time by part (reading, features, each fit, MLflow logging, the drift reference, the
report, the gate, the rest), a week's share of each, and the import time a run process pays
before any of it; writes the full profile as text (and HTML with --html).

    python bench/profile_model_run.py [--week 2023-12-25] [--weeks 1] [--html profile.html]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chain import local_workspace, materialize, pinned_study

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY = dt.date(2021, 1, 1)
# Function name -> the part of the run it is; the outermost match owns its time.
PARTS = {
    "load_input": "read the study through the IO manager",
    "plan_weeks": "plan the weeks (their validation days read)",
    "read_window": "read the raw days the samples need",
    "prices_of_days": "read prices",
    "rows_of_days": "each week's days out of the run's",
    "build_features": "training: features (day-ahead)",
    "train_further_leads": "training: further leads (features and fit)",
    "fit": "training: fits (checked, served)",
    "band_widening": "training: band calibration and validation forecasts",
    "predict": "training: band calibration and validation forecasts",
    "validation_metrics": "training: band calibration and validation forecasts",
    "_validation_frame": "training: band calibration and validation forecasts",
    "log_forecast_model": "MLflow: log run, register version",
    "build_reference": "drift reference",
    "save_reference": "drift reference",
    "publish_report": "report (render, store, log)",
    "promotion_gate": "promotion gate (check, tags, alias)",
    "handle_output": "store the record",
}


def parts(frame: Any, out: dict[str, float]) -> None:
    label = PARTS.get(frame.function)
    if label is not None:
        out[label] = out.get(label, 0.0) + frame.time
        return
    for child in frame.children:
        parts(child, out)


def import_seconds() -> float:
    """A fresh process importing the code location and what a model run loads."""
    code = (
        "import time; t = time.perf_counter(); import energy_assets.definitions, lightgbm, "
        "mlflow, evidently; print(time.perf_counter() - t)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return float(done.stdout.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", type=dt.date.fromisoformat, default=dt.date(2023, 12, 25))
    parser.add_argument("--weeks", type=int, default=1, help="weeks through --week in one run")
    parser.add_argument("--html", type=Path, help="also write the profile as HTML here")
    parser.add_argument("--text", type=Path, default=Path("model-run-profile.txt"))
    args = parser.parse_args()
    if args.week.weekday() != 0:
        parser.error(f"--week must be a Monday, not {args.week}")
    root = Path(tempfile.mkdtemp(prefix="bench-profile-model-"))
    os.environ.update({"ENERGY_SOURCE": "simulator", **local_workspace(root, FIRST_DAY)})
    from pyinstrument import Profiler

    from energy_assets import names

    first_week = args.week - dt.timedelta(weeks=args.weeks - 1)
    last = args.week - dt.timedelta(days=1)
    started = time.perf_counter()
    for asset in (names.RAW, names.PRICES):
        assert materialize(asset, days=(FIRST_DAY, last)), asset
    study_end = first_week - dt.timedelta(days=8)
    assert materialize(names.HYPERPARAMETERS, config=pinned_study(study_end))
    print(f"set up {FIRST_DAY} .. {last} in {time.perf_counter() - started:.0f} s ({root})")

    profiler = Profiler(interval=0.002)
    profiler.start()
    began = time.perf_counter()
    if args.weeks > 1:
        os.environ["ENERGY_MODEL_WEEKS_PER_RUN"] = str(args.weeks)
        ok = materialize(names.MODEL, days=(first_week, args.week))
    else:
        ok = materialize(names.MODEL, partition=args.week.isoformat())
    wall = time.perf_counter() - began
    session = profiler.stop()
    assert ok, "the model run failed"
    found: dict[str, float] = {}
    parts(session.root_frame(), found)
    n = args.weeks
    print(f"\nforecast_model {first_week} .. {args.week}, {n} week(s) in one run: {wall:.1f} s "
          f"in process (profiled), {wall / n:.1f} s a week; by part:\n")  # fmt: skip
    print("| part | seconds | a week | share |\n|---|---|---|---|")
    for label, seconds in sorted(found.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {seconds:.1f} | {seconds / n:.1f} | {seconds / wall:.0%} |")
    rest = wall - sum(found.values())
    print(f"| Dagster and the rest | {rest:.1f} | {rest / n:.1f} | {rest / wall:.0%} |")
    print(
        f"\na run process first imports the code location and libraries: {import_seconds():.1f} s"
    )
    args.text.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"profile: {args.text}")
    if args.html:
        args.html.write_text(profiler.output_html())
        print(f"profile: {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
