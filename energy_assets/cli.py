"""`energy-forecast`: command-line entry points."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-forecast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p_demo = commands.add_parser(
        "demo", help="materialize the main job offline on the configured source and summarize"
    )
    p_demo.add_argument("--start", type=_date, help="first day (default ENERGY_START_DATE)")
    p_demo.add_argument("--days", type=int, default=90, help="number of days (default 90)")
    p_demo.set_defaults(func=demo)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
