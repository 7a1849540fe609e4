"""`energy-forecast`: command-line entry points."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from energy_assets.domain.forecasting.backtest import REFITS
from energy_assets.domain.schema import TIME, DataFormatError
from energy_assets.domain.sources.base import SourceError
from energy_assets.settings import SettingsError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def demo(args: argparse.Namespace) -> int:
    from energy_assets.demo import run_demo

    started = time.perf_counter()
    ok = run_demo(start=args.start, days=args.days)
    print(f"\nfinished in {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


def backtest(args: argparse.Namespace) -> int:
    import json

    import pandas as pd
    import yaml

    from energy_assets.domain.forecasting.backtest import backtest as run_backtest
    from energy_assets.domain.sources.files import read_consumption_file

    params = yaml.safe_load(args.params.read_text()) if args.params else None
    if params is not None and not isinstance(params, dict):
        print(f"error: {args.params}: expected a mapping of parameters", file=sys.stderr)
        return 2
    history = read_consumption_file(args.data)
    started = time.perf_counter()
    result = run_backtest(
        history,
        pd.Timestamp(args.start, tz="UTC"),
        pd.Timestamp(args.end, tz="UTC"),
        params,
        refit=args.refit,
    )
    seconds = time.perf_counter() - started
    report = {
        **result.to_json_dict(),
        "data": str(args.data),
        "start": args.start.isoformat(),
        "end": args.end.isoformat(),
        "params": params or {},
        "refit": args.refit,
        "seconds": round(seconds, 1),
    }
    print(f"{'method':12s} {'WAPE':>7s} {'MAPE med':>9s} {'MAPE mean':>10s} {'bias':>7s}")
    for method, s in result.summary.items():
        print(
            f"{method:12s} {s['wape']:7.2%} {s['mape_median']:9.2%} {s['mape_mean']:10.2%} "
            f"{s['bias']:+7.2%}"
        )
    origins = result.forecasts[TIME].dt.floor("D").nunique()
    print(f"{origins} origins, {args.refit} refit, in {seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"report: {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-forecast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p_demo = commands.add_parser(
        "demo", help="materialize the main job offline on the configured source and summarize"
    )
    p_demo.add_argument("--start", type=_date, help="first day (default ENERGY_START_DATE)")
    p_demo.add_argument("--days", type=int, default=90, help="number of days (default 90)")
    p_demo.set_defaults(func=demo)

    p_bt = commands.add_parser(
        "backtest", help="rolling-origin day-ahead backtest of the model and both baselines"
    )
    p_bt.add_argument(
        "--data", type=Path, required=True, help="canonical parquet, or a dataset's CSV export"
    )
    p_bt.add_argument("--start", type=_date, required=True, help="first forecast day (UTC)")
    p_bt.add_argument("--end", type=_date, required=True, help="last forecast day (UTC)")
    p_bt.add_argument("--params", type=Path, help="YAML mapping of model parameters")
    p_bt.add_argument(
        "--refit",
        choices=REFITS,
        default="daily",
        help="a model per day (default) or per Monday-to-Sunday week, as the pipeline does",
    )
    p_bt.add_argument("--json", type=Path, help="write the report here")
    p_bt.set_defaults(func=backtest)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SettingsError, DataFormatError, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """Console entry point: `main`, then end the process without native teardown.

    About one `make demo` in four aborted *after* finishing and storing everything, with
    "terminate called without an active exception" from a native library's thread at interpreter
    shutdown. Everything is persisted by then, so output is flushed and the process ends at once.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
