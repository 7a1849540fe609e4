"""`energy-forecast backtest`: bad arguments end in one line on stderr and exit code 2, found
before any data is read or any model trained; good arguments still run."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from energy_assets import cli

START, END = "2023-01-29", "2023-01-30"
NOBODY = 65534


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the data or running the backtest fails the test: the arguments must be refused
    before either."""

    def forbidden(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the work started despite bad arguments")

    monkeypatch.setattr("energy_assets.domain.sources.files.read_consumption_file", forbidden)
    monkeypatch.setattr("energy_assets.domain.forecasting.backtest.backtest", forbidden)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"not read by these tests")
    return path


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[Path]:
    """A folder, and this process acting as an ordinary user while the test runs.

    Permissions bind nobody as root, so as root the effective user becomes `nobody` (65534)
    until the test ends: the command is checked as a user it can refuse."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    # pytest's own folders are private to root; the system's temporary folder is not.
    with tempfile.TemporaryDirectory(prefix="cli-") as name:
        folder = Path(name)
        os.chown(folder, NOBODY, NOBODY)
        os.setegid(NOBODY)
        os.seteuid(NOBODY)
        try:
            yield folder
        finally:
            os.seteuid(0)
            os.setegid(0)


def refused(capfd: pytest.CaptureFixture[str], *argv: str) -> str:
    """Runs the command; asserts exit code 2 and exactly one line on stderr (at the file
    descriptor, so native libraries' output counts too); returns that line."""
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (out, err)
    assert len(lines) == 1, err
    return lines[0]


def backtest_args(data: Path, *extra: str) -> list[str]:
    return ["backtest", "--data", str(data), "--start", START, "--end", END, *extra]


@pytest.mark.usefixtures("no_work")
def test_end_before_start(capfd: pytest.CaptureFixture[str], data: Path) -> None:
    line = refused(capfd, "backtest", "--data", str(data), "--start", END, "--end", START)
    assert line == f"energy-forecast backtest: error: --end {START} is before --start {END}"


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["backtest", "--data", "d", "--start", "2023-13-01", "--end", END], "--start: not a date"),
        (["backtest", "--data", "d", "--start", START], "required: --end"),
        (["backtest", "--data", "d", "--start", START, "--end", END, "--refit", "x"], "--refit"),
        (["backtest", "--data", "d", "--start", START, "--end", END, "--leads", "1,x"], "--leads"),
        (["backtest", "--data", "d", "--start", START, "--end", END, "--leads", "0,3"], "1 to 60"),
        (["backtest", "--data", "d", "--start", START, "--end", END, "--leads", "61"], "--leads"),
    ],
)  # fmt: skip
def test_argparse_errors_are_one_line(
    capfd: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    line = refused(capfd, *argv)
    assert line.startswith("energy-forecast backtest: error: ") and expected in line


def test_leads_whose_first_origin_precedes_the_data_are_refused(
    capfd: pytest.CaptureFixture[str], de35_parquet: Path
) -> None:
    # The slice starts on 2022-12-21: 2022-12-25 at lead 10 would be forecast from 12-16.
    argv = ["backtest", "--data", str(de35_parquet), "--start", "2022-12-25", "--end", "2022-12-26"]
    line = refused(capfd, *argv, "--leads", "1,10")
    assert "the farthest lead, 10, is forecast from 9 days before" in line


def test_an_unknown_command_or_option_is_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    line = refused(capfd, "bogus")
    assert line.startswith("energy-forecast: error: ") and "'bogus'" in line
    line = refused(capfd, "backtest", "--data", "d", "--start", START, "--end", END, "--bogus")
    assert line == "energy-forecast: error: unrecognized arguments: --bogus"


@pytest.mark.usefixtures("no_work")
def test_missing_data_file(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    line = refused(capfd, *backtest_args(missing))
    assert line.endswith(f"--data {missing}: no such file")


@pytest.mark.usefixtures("no_work")
def test_data_that_is_a_directory(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert refused(capfd, *backtest_args(tmp_path)).endswith(f"--data {tmp_path}: not a file")


@pytest.mark.usefixtures("no_work")
def test_unreadable_data_file(capfd: pytest.CaptureFixture[str], unprivileged: Path) -> None:
    data = unprivileged / "data.parquet"
    data.write_bytes(b"not read by these tests")
    data.chmod(0)
    assert f"--data {data}: cannot be read" in refused(capfd, *backtest_args(data))


@pytest.mark.usefixtures("no_work")
def test_missing_prices_file(capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv.gz"
    line = refused(capfd, *backtest_args(data, "--prices", str(prices)))
    assert line.endswith(f"--prices {prices}: no such file")


def test_prices_that_are_not_price_records_are_refused_by_name(
    capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("HourUTC;PriceArea;Spot\n2023-01-01 00:00;DK1;1,5\n")
    line = refused(capfd, *backtest_args(data, "--prices", str(prices)))
    assert f"--prices {prices}: not price records" in line


@pytest.mark.usefixtures("no_work")
def test_missing_params_file(capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    line = refused(capfd, *backtest_args(data, "--params", str(params)))
    assert line.endswith(f"--params {params}: no such file")


@pytest.mark.usefixtures("no_work")
def test_unreadable_params_file(capfd: pytest.CaptureFixture[str], unprivileged: Path) -> None:
    data = unprivileged / "data.parquet"
    data.write_bytes(b"not read by these tests")
    params = unprivileged / "params.yaml"
    params.write_text("num_leaves: 15\n")
    params.chmod(0)
    line = refused(capfd, *backtest_args(data, "--params", str(params)))
    assert f"--params {params}: cannot be read" in line


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- num_leaves\n- 15\n", "expected a mapping of parameter names to values, got a list"),
        ("42\n", "expected a mapping of parameter names to values, got a int"),
        ("num_leaves: [15\n", "not valid YAML at line 2"),
        ("learnig_rate: 0.1\n", "unknown parameter learnig_rate; did you mean learning_rate?"),
        ("num_leaves: 15\nfoo: 1\nbar: 2\n", "unknown parameters bar, foo"),
        ("seed: 7\n", "seed cannot be set: fixed for reproducible training"),
        ("num_boost_round: many\n", "invalid value: invalid literal for int()"),
        ("max_training_rows: 0\n", "invalid value: max_training_rows must be >= 1"),
        ("quantile_rounds_share: 1.5\n", "quantile_rounds_share in (0, 1]"),
        ("num_leaves: -3\n", "LightGBM refuses them: Check failed: (num_leaves) > (1)"),
        ("feature_fraction: 2\n", "LightGBM refuses them: Check failed: (feature_fraction) <="),
        ("bagging_freq: 1.5\n", "LightGBM refuses them: Parameter bagging_freq should be of type"),
        ("objective: bogus\n", "LightGBM refuses them: Unknown objective type name: bogus"),
        ("ensemble_objectives: l1,nonsense\n", "Unknown objective type name: nonsense"),
    ],
)
def test_bad_params_are_refused_before_training(
    capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path, text: str, expected: str
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(text)
    report = tmp_path / "report.json"
    line = refused(capfd, *backtest_args(data, "--params", str(params), "--json", str(report)))
    assert line.startswith(f"energy-forecast backtest: error: --params {params}: ")
    assert expected in line
    assert not report.exists()


def test_good_params_pass_the_check() -> None:
    cli.check_params({"num_leaves": 15, "learning_rate": 0.1, "max_depth": 6, "lambda_l1": 0.5})
    cli.check_params({"objective": "huber", "ensemble_objectives": ["l1", "l2"]})


@pytest.mark.usefixtures("no_work")
def test_report_in_a_missing_directory(
    capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    report = tmp_path / "nowhere" / "report.json"
    line = refused(capfd, *backtest_args(data, "--json", str(report)))
    assert line.endswith(f"--json {report}: directory {report.parent} does not exist")
    assert not report.parent.exists()


@pytest.mark.usefixtures("no_work")
def test_report_that_is_a_directory(
    capfd: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    line = refused(capfd, *backtest_args(data, "--json", str(tmp_path)))
    assert line.endswith(f"--json {tmp_path}: is a directory")


@pytest.mark.usefixtures("no_work")
def test_report_in_a_read_only_directory(
    capfd: pytest.CaptureFixture[str], unprivileged: Path
) -> None:
    data = unprivileged / "data.parquet"
    data.write_bytes(b"not read by these tests")
    folder = unprivileged / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    report = folder / "report.json"
    assert refused(capfd, *backtest_args(data, "--json", str(report))).endswith("not writable")


# -- with data ----------------------------------------------------------------------------------


@pytest.fixture
def history_file(tmp_path: Path) -> Path:
    """Two areas' simulated hourly consumption, 2023-01-01 .. 2023-01-31."""
    from energy_assets.domain.sources.simulator import SimulatorSource

    history = SimulatorSource(seed=3).fetch(
        pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-02-01", tz="UTC")
    )
    path = tmp_path / "history.parquet"
    history.to_parquet(path)
    return path


def test_forecast_days_outside_the_data(
    capfd: pytest.CaptureFixture[str],
    history_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*_args: object, **_kwargs: object) -> None:
        pytest.fail("the backtest ran")

    monkeypatch.setattr("energy_assets.domain.forecasting.backtest.backtest", forbidden)
    report = tmp_path / "report.json"
    argv = ["backtest", "--data", str(history_file), "--json", str(report)]
    line = refused(capfd, *argv, "--start", "2023-01-30", "--end", "2023-02-02")
    assert (
        "--end 2023-02-02: forecast days must lie" in line and "(2023-01-01 .. 2023-01-31)" in line
    )
    line = refused(capfd, *argv, "--start", "2023-01-01", "--end", "2023-01-02")
    assert "after the first day of --data" in line
    assert not report.exists()


def test_good_arguments_run_and_write_the_report(
    capfd: pytest.CaptureFixture[str], history_file: Path, tmp_path: Path
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("num_boost_round: 30\nnum_leaves: 15\n")
    report = tmp_path / "report.json"
    argv = backtest_args(history_file, "--params", str(params), "--json", str(report))
    assert cli.main(argv) == 0
    out, _ = capfd.readouterr()
    assert "2 origins, daily refit" in out and f"report: {report}" in out
    written = json.loads(report.read_text())
    assert written["params"] == {"num_boost_round": 30, "num_leaves": 15}
    assert set(written) >= {"model", "naive_24h", "naive_168h", "per_series"}


# -- progress: on a terminal only ---------------------------------------------------------------


def command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "energy_assets.cli", *argv]


@dataclass(frozen=True)
class Backtest:
    """One run of `energy-forecast backtest` as a separate process, output piped."""

    process: subprocess.CompletedProcess[str]
    report: dict[str, Any]


@pytest.fixture(scope="module")
def real_backtest(de35_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Backtest:
    """The command on the real slice, origins 2023-01-21 .. 2023-01-23, run once for the tests
    that read its report and its output: stderr is a pipe and TERM and NO_COLOR are unset, as
    in a log."""
    out = tmp_path_factory.mktemp("real-backtest") / "report.json"
    args = ["--data", str(de35_csv), "--start", "2023-01-21", "--end", "2023-01-23"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    process = subprocess.run(
        command("backtest", *args, "--json", str(out)), capture_output=True, text=True, env=env
    )
    assert process.returncode == 0, process.stderr[-2000:]
    return Backtest(process, json.loads(out.read_text()))


@pytest.mark.realdata
@pytest.mark.slow
def test_backtest_command_on_the_real_slice(real_backtest: Backtest) -> None:
    """The done-when protocol on three origins (the full ten run in bench/accuracy.py)."""
    report = real_backtest.report
    for method in ("model", "naive_24h", "naive_168h"):
        assert set(report[method]) >= {"wape", "mape_median", "mape_mean"}
    assert len(report["per_series"]) == 3 * 76
    # Beats both seasonal-naive baselines on both headline metrics.
    for key in ("wape", "mape_median"):
        assert report["model"][key] < min(report["naive_24h"][key], report["naive_168h"][key])


@pytest.mark.realdata
@pytest.mark.slow
def test_no_progress_where_stderr_is_not_a_terminal(real_backtest: Backtest) -> None:
    """Logs and pipes get the results only: no bar, no escape sequences."""
    proc = real_backtest.process
    assert "3 origins, daily refit" in proc.stdout
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream and "\r" not in stream and "\u2501" not in stream
    assert "elapsed" not in proc.stderr and "origins" not in proc.stderr


def read_terminal(fd: int, proc: subprocess.Popen[str], timeout: float = 300) -> str:
    """Everything the process writes to the terminal, until it exits."""
    shown = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
        pytest.fail("the command did not finish")
    return shown.decode(errors="replace")


@pytest.mark.slow
def test_a_terminal_shows_the_backtest_progress(history_file: Path, tmp_path: Path) -> None:
    """stderr on a terminal: origins done of the total, time elapsed and left; stdout, a pipe
    here, keeps the results alone. (Small models: the display is what is tested.)"""
    params = tmp_path / "params.yaml"
    params.write_text("num_boost_round: 30\nnum_leaves: 15\n")
    terminal, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="120")
    try:
        proc = subprocess.Popen(
            command("backtest", *backtest_args(history_file, "--params", str(params))[1:]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
            text=True,
        )
        os.close(secondary)
        shown = read_terminal(terminal, proc)
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(terminal)
    assert proc.returncode == 0, shown[-2000:]
    assert "backtest" in shown and "2/2 origins" in shown
    assert "elapsed" in shown and "0:00:00 left" in shown
    assert "2 origins, daily refit" in out and "\x1b" not in out
