"""Shared fixtures. Real data comes from ../shared/data beside the checkout, never from the repo."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import free_port

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ENERGY_SHARED_DATA", REPO.parent / "shared" / "data"))
DE35_DIR = SHARED_DATA / "energidataservice_consumption_de35_hour"
API_SAMPLES_DIR = SHARED_DATA / "energidataservice_api_samples"
INDUSTRY_DIR = SHARED_DATA / "energidataservice_consumption_industry"


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
