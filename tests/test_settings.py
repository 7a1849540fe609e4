from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from energy_assets.settings import SettingsError, SourceKind, load_settings


def test_defaults_run_offline_on_local_storage() -> None:
    settings = load_settings()
    assert settings.source is SourceKind.SIMULATOR
    assert settings.gcs_bucket is None
    assert settings.storage_uri == str(Path("storage").resolve())
    assert settings.api_dataset == "ConsumptionIndustry"  # the live successor of DE35
    assert settings.api_columns is None  # the dataset's profile names its fields


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENERGY_START_DATE=2022-06-01\nENERGY_GCS_BUCKET=from-dotenv\n")
    monkeypatch.setenv("ENERGY_GCS_BUCKET", "from-env")  # the environment wins over .env
    monkeypatch.setenv("ENERGY_GCS_PREFIX", "/a/b/")
    settings = load_settings()
    assert settings.start_date == dt.date(2022, 6, 1)
    assert settings.gcs_bucket == "from-env"
    assert settings.storage_uri == "gs://from-env/a/b"


def test_api_columns_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = '{"T": "datetime_utc", "A": "area", "C": "consumer_type", "V": "consumption_kwh"}'
    monkeypatch.setenv("ENERGY_API_COLUMNS", mapping)
    assert load_settings().api_columns["V"] == "consumption_kwh"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ENERGY_SOURCE", "ftp", "ENERGY_SOURCE"),
        ("ENERGY_START_DATE", "2023-02-30", "ENERGY_START_DATE"),
        ("ENERGY_API_BASE_URL", "api.example", "ENERGY_API_BASE_URL: Value error, must start"),
        ("ENERGY_API_PAGE_SIZE", "0", "ENERGY_API_PAGE_SIZE"),
        ("ENERGY_API_COLUMNS", "{not json", "ENERGY_API_COLUMNS: Value error, must be a JSON"),
        ("ENERGY_API_COLUMNS", '{"HourUTC": "datetime_utc"}', "must map source fields onto"),
        ("ENERGY_SIMULATOR_ANOMALY_RATE", "0.9", "ENERGY_SIMULATOR_ANOMALY_RATE"),
    ],
)
def test_invalid_values_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as info:
        load_settings()
    assert repr(value) in str(info.value) or name == "ENERGY_API_COLUMNS"


def test_file_source_needs_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_SOURCE", "file")
    with pytest.raises(SettingsError, match="ENERGY_FILE must be set when ENERGY_SOURCE=file"):
        load_settings()


def test_code_location_fails_at_load_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    env = {"ENERGY_SOURCE": "nonsense", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", "import energy_assets.definitions"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "ENERGY_SOURCE" in proc.stderr and "'nonsense'" in proc.stderr
