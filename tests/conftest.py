"""Shared fixtures. Real data comes from ../shared/data beside the checkout, never from the repo.

The suite runs on pytest-xdist, a worker per core (`-n auto --dist loadscope` in
pyproject.toml). Tests of one module share its fixtures, so a module goes to one worker whole.
Modules are handed out longest first, by the seconds each test took when `tests/durations.json`
was last written (`pytest --store-durations`): the long ones start at once and the short ones
fill in at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import free_port

REPO = Path(__file__).resolve().parents[1]
DURATIONS = Path(__file__).with_name("durations.json")
UNKNOWN_SECONDS = 1.0  # a test not in DURATIONS yet
SHARED_DATA = Path(os.environ.get("ENERGY_SHARED_DATA", REPO.parent / "shared" / "data"))
DE35_DIR = SHARED_DATA / "energidataservice_consumption_de35_hour"
API_SAMPLES_DIR = SHARED_DATA / "energidataservice_api_samples"
INDUSTRY_DIR = SHARED_DATA / "energidataservice_consumption_industry"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help=f"write each test's seconds (setup, call and teardown) to {DURATIONS.name}",
    )


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the modules longest first (xdist's loadscope hands them out in collection order);
    every worker sorts the same collection the same way."""
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    cost: dict[str, float] = {}
    for item in items:
        module = _module(item)
        cost[module] = cost.get(module, 0.0) + float(known.get(item.nodeid, UNKNOWN_SECONDS))
    position = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda i: (-cost[_module(i)], _module(i), position[id(i)]))


_seconds: dict[str, float] = {}
_HOME = pytest.StashKey[Path]()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    worker = hasattr(session.config, "workerinput")  # the controller writes, workers report
    if session.config.getoption("--store-durations") and not worker and _seconds:
        rounded = {k: round(v, 2) for k, v in sorted(_seconds.items())}
        DURATIONS.write_text(json.dumps(rounded, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    """A Dagster home of this worker's own, for anything that reads DAGSTER_HOME (the Makefile
    points it at the checkout's, which workers must not share)."""
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    home = Path(tempfile.mkdtemp(prefix=f"dagster-home-{worker}-"))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    config.stash[_HOME] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    if (home := config.stash.get(_HOME, None)) is not None:
        shutil.rmtree(home, ignore_errors=True)


def _require(path: Path) -> Path:
    if path.exists():
        return path
    reason = (
        f"real data not found at {path} (set ENERGY_SHARED_DATA or put shared/ beside the checkout)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the real-data tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def de35_dir() -> Path:
    """Folder of the real ConsumptionDE35Hour slice (76 series, 2022-12-21 .. 2023-01-24)."""
    return _require(DE35_DIR)


@pytest.fixture(scope="session")
def de35_csv(de35_dir: Path) -> Path:
    return _require(de35_dir / "consumption_de35_hour.csv.gz")


@pytest.fixture(scope="session")
def de35_parquet(de35_dir: Path) -> Path:
    return _require(de35_dir / "consumption_de35_hour_long.parquet")


@pytest.fixture(scope="session")
def api_fixtures_dir(de35_dir: Path) -> Path:
    return _require(de35_dir / "api_fixtures")


@pytest.fixture(scope="session")
def industry_csv() -> Path:
    """Real ConsumptionIndustry rows of municipality 851, branch Privat, 2021-2023 (CSV export)."""
    return _require(INDUSTRY_DIR / "consumption_industry_851_privat_2021_2023.csv.gz")


@pytest.fixture(scope="session")
def api_samples_dir() -> Path:
    return _require(API_SAMPLES_DIR)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's ENERGY_* variables, .env file or GCS emulator."""
    for name in list(os.environ):
        if name.startswith(("ENERGY_", "MLFLOW_")) or name == "STORAGE_EMULATOR_HOST":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    # The dashboards a test made read their health facts on threads: stop them with the test.
    if (store := sys.modules.get("dash_app.store")) is not None:
        store.Watched.stop_all()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound but not listening, so every connect is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """A real gcp-storage-emulator on 127.0.0.1; yields its base URL (bucket 'test-bucket')."""

    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="test-bucket")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def gcs_client(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """google.cloud.storage client bound to the emulator, through dagster-gcp's GCSResource."""
    from dagster_gcp import GCSResource

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    return GCSResource(project="test-project").get_client()


# --- Energi Data Service replay server (tests/http_replay.py) --------------------------------

from tests.http_replay import ReplayDataset, ReplayServer  # noqa: E402


@pytest.fixture(scope="session")
def api_records(de35_dir: Path) -> list[dict[str, object]]:
    """The 62,548 real `ConsumptionDE35Hour` API records, as returned (HourUTC DESC)."""
    import gzip
    import json

    with gzip.open(_require(de35_dir / "api_records_all.json.gz"), "rt", encoding="utf-8") as fh:
        records: list[dict[str, object]] = json.load(fh)
    return records


@pytest.fixture(scope="session")
def de35_replay_dataset(api_records: list[dict[str, object]]) -> ReplayDataset:
    """The real records as a replayable `ConsumptionDE35Hour` dataset (shared: never mutate)."""
    return ReplayDataset("ConsumptionDE35Hour", api_records, time_field="HourUTC")


@pytest.fixture
def replay_server(de35_replay_dataset: ReplayDataset) -> Iterator[ReplayServer]:
    """A fresh ReplayServer on 127.0.0.1 serving the real records; stopped at teardown."""
    with ReplayServer([de35_replay_dataset]) as server:
        yield server
