"""`energy-forecast`: command-line entry points."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import io
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from energy_assets.domain.forecasting.backtest import REFITS
from energy_assets.domain.schema import TIME, DataFormatError
from energy_assets.domain.sources.base import SourceError
from energy_assets.settings import SettingsError

PROG = "energy-forecast"


class ArgumentError(Exception):
    """A command's arguments cannot work; the message names the argument."""


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _fail(prog: str, message: object) -> int:
    print(f"{prog}: error: {_one_line(str(message))}", file=sys.stderr)
    return 2


class _Parser(argparse.ArgumentParser):
    """Bad arguments end in one line on stderr, `<prog>: error: <message>`, and exit code 2;
    the usage block stays with --help."""

    def error(self, message: str) -> NoReturn:
        _fail(self.prog, message)
        raise SystemExit(2)


MAX_LEAD = 60


def _leads(text: str) -> list[int]:
    """`1,3,7,10`: whole days ahead, from 1 to MAX_LEAD."""
    try:
        leads = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of whole days: {text!r}"
        ) from None
    if not leads or leads[0] < 1 or leads[-1] > MAX_LEAD:
        raise argparse.ArgumentTypeError(f"leads are days from 1 to {MAX_LEAD}, got {text!r}")
    return leads


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


# -- backtest: every argument is checked before the data is read ----------------------------


def _readable_file(option: str, path: Path) -> None:
    if not path.exists():
        raise ArgumentError(f"{option} {path}: no such file")
    if not path.is_file():
        raise ArgumentError(f"{option} {path}: not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ArgumentError(f"{option} {path}: cannot be read ({exc.strerror})") from None


def _writable_report(path: Path) -> None:
    """The report is written only when the backtest has finished, so a failed run leaves no
    empty or half-written file behind (nor replaces an older report); whether it could be
    written is checked now, before hours of work."""
    parent = path.parent
    if path.is_dir():
        raise ArgumentError(f"--json {path}: is a directory")
    if not parent.is_dir():
        raise ArgumentError(f"--json {path}: directory {parent} does not exist")
    # The effective user is the one that will open the file (they differ under setuid/sudo -E).
    writable = os.access(parent, os.W_OK | os.X_OK, effective_ids=True) and (
        not path.exists() or os.access(path, os.W_OK, effective_ids=True)
    )
    if not writable:
        raise ArgumentError(f"--json {path}: not writable")


def _lightgbm_names() -> set[str]:
    """Every LightGBM parameter name and alias, as the library lists them (through an internal
    helper: without it, only the model's own names are accepted)."""
    try:
        from lightgbm.basic import _ConfigAliases

        listed = _ConfigAliases._get_all_param_aliases()
    except (ImportError, AttributeError):
        return set()
    return {name for names in listed.values() for name in names}


def _aliases(names: set[str]) -> set[str]:
    try:
        from lightgbm.basic import _ConfigAliases

        return set(_ConfigAliases.get(*names)) | names
    except (ImportError, AttributeError):
        return names


@contextlib.contextmanager
def _native_output_dropped() -> Iterator[None]:
    """Nothing written to stdout or stderr meanwhile, by Python or by native code (LightGBM
    prints its log through Python, and `[Fatal]` lines straight to file descriptor 2)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(io.StringIO()):
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse parameters the model would not train with, before any training: names neither
    the model's (DEFAULT_PARAMS) nor LightGBM's, names fixed for reproducibility, values the
    model's own `split_params` or LightGBM itself refuses. Raises ValueError."""
    import lightgbm as lgb
    import numpy as np

    from energy_assets.domain.forecasting.model import DEFAULT_PARAMS, DETERMINISTIC, split_params

    names = {str(name) for name in params}
    known = set(DEFAULT_PARAMS) | _lightgbm_names()
    unknown = sorted(names - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}{hint} "
            f"(the model's are {', '.join(DEFAULT_PARAMS)}; any LightGBM parameter works too)"
        )
    fixed = sorted(names & _aliases(set(DETERMINISTIC)))
    if fixed:
        raise ValueError(f"{', '.join(fixed)} cannot be set: fixed for reproducible training")
    try:
        training = split_params(params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid value: {exc}") from None
    # LightGBM checks types and ranges when a booster is made: one on a few rows, per
    # objective of the ensemble, costs milliseconds. What its native code prints is dropped:
    # the refusal is reported once, in the command's own error line.
    rows = np.arange(64.0).reshape(32, 2)
    for objective in [training.booster.get("objective"), *training.extra_objectives]:
        booster = {**training.booster, "objective": objective}
        try:
            with _native_output_dropped():
                lgb.Booster(params=booster, train_set=lgb.Dataset(rows, label=rows[:, 0]))
        except lgb.basic.LightGBMError as exc:
            reason = re.sub(r" at \S+, line \d+\s*\.?", "", str(exc)).strip()
            raise ValueError(f"LightGBM refuses them: {reason}") from None


def _params(path: Path) -> dict[str, Any] | None:
    import yaml

    _readable_file("--params", path)
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ArgumentError(f"--params {path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ArgumentError(f"--params {path}: not valid YAML{where}: {problem}") from None
    if params is None:
        return None
    if not isinstance(params, dict):
        raise ArgumentError(
            f"--params {path}: expected a mapping of parameter names to values, "
            f"got a {type(params).__name__}"
        )
    try:
        check_params(params)
    except ValueError as exc:
        raise ArgumentError(f"--params {path}: {exc}") from None
    return params


def check_backtest_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """Every problem with the arguments, before any data is read; the parameters."""
    if args.end < args.start:
        raise ArgumentError(f"--end {args.end} is before --start {args.start}")
    _readable_file("--data", args.data)
    if args.prices:
        _readable_file("--prices", args.prices)
    params = _params(args.params) if args.params else None
    if args.json:
        _writable_report(args.json)
    return params


def _within_data(history: Any, start: dt.date, end: dt.date, data: Path, lead: int) -> None:
    """The forecast days must lie inside the data, and the origin of the farthest lead after
    its first day (nothing to train on before it)."""
    first, last = history[TIME].min().date(), history[TIME].max().date()
    if not first < start - dt.timedelta(days=lead - 1) <= end <= last:
        reach = f" (the farthest lead, {lead}, is forecast from {lead - 1} days before)"
        raise ArgumentError(
            f"--start {start} .. --end {end}: forecast days must lie after the first day of "
            f"--data {data} and within it ({first} .. {last})" + (reach if lead > 1 else "")
        )


def _print_by_lead(by_lead: dict[int, dict[str, dict[str, float]]]) -> None:
    if not by_lead:
        return
    names = list(next(iter(by_lead.values())))
    print(f"\n{'lead':>4s} " + " ".join(f"{n:>16s}" for n in names) + "  model / better naive")
    for lead, scores in by_lead.items():
        wapes = [scores[n]["wape"] for n in names]
        ratio = wapes[0] / min(wapes[1:])
        print(f"{lead:4d} " + " ".join(f"{w:16.2%}" for w in wapes) + f"  {ratio:.3f}")


def _prices_of(path: Path) -> Any:
    from energy_assets.domain.prices import read_price_file
    from energy_assets.domain.schema import DataFormatError

    try:
        return read_price_file(path)
    except DataFormatError as exc:
        raise ArgumentError(f"--prices {exc}") from None


def backtest(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from energy_assets.domain.forecasting.backtest import backtest as run_backtest
    from energy_assets.domain.sources.files import read_consumption_file
    from energy_assets.progress import steps

    params = check_backtest_args(args)
    prices = _prices_of(args.prices) if args.prices else None  # the smaller file first
    history = read_consumption_file(args.data)
    _within_data(history, args.start, args.end, args.data, max(args.leads or [1]))
    started = time.perf_counter()
    days = (args.end - args.start).days + 1
    with steps("backtest", days, "origins") as progress:  # on a terminal only, on stderr
        result = run_backtest(
            history,
            pd.Timestamp(args.start, tz="UTC"),
            pd.Timestamp(args.end, tz="UTC"),
            params,
            refit=args.refit,
            on_origin=progress.update,
            prices=prices,
            leads=args.leads or (1,),
        )
    seconds = time.perf_counter() - started
    report = {
        **result.to_json_dict(),
        "data": str(args.data),
        "start": args.start.isoformat(),
        "end": args.end.isoformat(),
        "params": params or {},
        "refit": args.refit,
        "prices": prices is not None,
        "leads": sorted({1, *(args.leads or [])}),
        "seconds": round(seconds, 1),
    }
    print(f"{'method':12s} {'WAPE':>7s} {'MAPE med':>9s} {'MAPE mean':>10s} {'bias':>7s}")
    for method, s in result.summary.items():
        print(
            f"{method:12s} {s['wape']:7.2%} {s['mape_median']:9.2%} {s['mape_mean']:10.2%} "
            f"{s['bias']:+7.2%}"
        )
    _print_by_lead(result.by_lead)
    origins = result.forecasts[TIME].dt.floor("D").nunique()
    print(f"{origins} origins, {args.refit} refit, in {seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"report: {args.json}")
    return 0


# -- model: the registry's versions, and a person's approval of a candidate ----------------


def _login() -> str:
    """Who runs the command: $USER, else the login name."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError):
        return ""


def _unreachable(prog: str, exc: Exception) -> int:
    """Storage or the MLflow server failed: one line, exit 1 (the input was fine)."""
    _fail(prog, f"{type(exc).__name__}: {exc}")
    return 1


def model_decide(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from energy_assets.settings import load_settings
    from energy_assets.storage.approvals import decide
    from energy_assets.storage.objects import StorageError

    settings = load_settings()
    by = args.by if args.by is not None else _login()
    try:
        outcome = decide(settings, args.version, args.action, by, args.reason)
    except (StorageError, MlflowException) as exc:
        return _unreachable(args.prog, exc)
    entry = outcome.decision
    print(f"v{entry.version} (week {entry.week}) {entry.decision} by {entry.by} at {entry.at}")
    champion = f"v{outcome.champion}" if outcome.champion else "none"
    print(f"champion: {champion}")
    return 0


def model_list(args: argparse.Namespace) -> int:
    from energy_assets.domain import tracking
    from energy_assets.domain.forecasting import serving_rules
    from energy_assets.settings import load_settings

    settings = load_settings()
    versions = tracking.list_versions(settings.registered_model, settings.tracking_uri)
    required = settings.require_approval
    serving = {
        w: s.uri
        for w in {v.week for v in versions}
        if (s := serving_rules.serving_of(versions, w, required)) is not None
    }
    print(f"approval {'required' if required else 'not required'}")
    print(f"{'version':>7s}  {'week':10s}  {'gate':7s}  {'approval':12s}  serving")
    for v in versions:
        approval = v.approval or ("-" if v.gate != "passed" else serving_rules.NOT_REQUIRED)
        served = "yes" if serving.get(v.week) == v.uri else "no"
        print(f"{v.version:>7s}  {v.week:10s}  {v.gate or '-':7s}  {approval:12s}  {served}")
    return 0


def model_example_request(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from energy_assets.settings import load_settings
    from energy_assets.storage.model_requests import example_request
    from energy_assets.storage.objects import StorageError

    try:
        body = example_request(load_settings(), args.version, args.date, args.leads)
    except (StorageError, MlflowException) as exc:
        return _unreachable(args.prog, exc)
    json.dump(body, sys.stdout)
    sys.stdout.write("\n")
    return 0


def _add_backtest(commands: Any) -> None:
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
        "--prices",
        type=Path,
        help="day-ahead prices: a price dataset's CSV export (Elspotprices or DayAheadPrices, "
        "optionally .gz) or a canonical parquet",
    )
    p_bt.add_argument(
        "--refit",
        choices=REFITS,
        default="daily",
        help="a model per day (default) or per Monday-to-Sunday week, as the pipeline does",
    )
    p_bt.add_argument(
        "--leads",
        type=_leads,
        help="forecast each day also from further back: comma-separated days ahead, e.g. "
        "1,3,7,10 (one model over every lead; the report adds 'by_lead')",
    )
    p_bt.add_argument(
        "--json", type=Path, help="write the report here (only once the backtest has finished)"
    )
    p_bt.set_defaults(func=backtest, prog=p_bt.prog)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p_demo = commands.add_parser(
        "demo", help="materialize the main job offline on the configured source and summarize"
    )
    p_demo.add_argument("--start", type=_date, help="first day (default ENERGY_START_DATE)")
    p_demo.add_argument("--days", type=int, default=90, help="number of days (default 90)")
    p_demo.set_defaults(func=demo)

    _add_backtest(commands)

    p_model = commands.add_parser("model", help="registered model versions and their approval")
    model_commands = p_model.add_subparsers(dest="model_command", required=True)
    p_list = model_commands.add_parser(
        "list", help="versions with their week, gate verdict, approval and whether they serve"
    )
    p_list.set_defaults(func=model_list, prog=p_list.prog)
    p_request = model_commands.add_parser(
        "example-request",
        help="the JSON body that `mlflow models serve` answers with VERSION's issue of --date",
    )
    p_request.add_argument("version", help="the version number, e.g. 7")
    p_request.add_argument(
        "--date", type=_date, required=True, help="the issue's first day (its lead 1), UTC"
    )
    p_request.add_argument(
        "--leads", type=_leads, help="comma-separated leads (default: every lead it forecasts)"
    )
    p_request.set_defaults(func=model_example_request, prog=p_request.prog)
    for action in ("approve", "reject"):
        p_decide = model_commands.add_parser(
            action, help=f"{action} a candidate version (ENERGY_REQUIRE_APPROVAL)"
        )
        p_decide.add_argument("version", help="the version number, e.g. 7")
        p_decide.add_argument("--reason", required=True, help="why; kept with the decision")
        p_decide.add_argument("--by", help="who decides (default $USER or the login name)")
        p_decide.set_defaults(func=model_decide, action=action, prog=p_decide.prog)

    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or an error already reported in one line
        return exc.code if isinstance(exc.code, int) else 2
    prog = getattr(args, "prog", f"{PROG} {args.command}")
    try:
        return int(args.func(args))
    except ArgumentError as exc:
        return _fail(prog, exc)
    except (SettingsError, DataFormatError, SourceError, ValueError) as exc:
        return _fail(prog, exc)


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
