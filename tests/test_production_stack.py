"""The production Dagster configuration, for real: `infra/dagster.yaml` over a PostgreSQL server
from Debian's packages on 127.0.0.1, and an MLflow tracking server on 127.0.0.1 whose backend
store is the same PostgreSQL. The real slice is backfilled from raw data to monitoring."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from energy_assets.definitions import build_definitions
from energy_assets.domain.forecasting.model import DEFAULT_PARAMS
from energy_assets.settings import load_settings
from tests.asset_keys import (
    FEATURES_KEY,
    MODEL_KEY,
    MONITORING_KEY,
    PARAMS_KEY,
    PREDICTIONS_KEY,
    RAW,
)
from tests.loopback import free_port
from tests.postgres_server import PostgresServer, postgres_bin
from tests.test_model_assets import failure_text, run

REPO = Path(__file__).resolve().parents[1]
WEEK = "2023-01-16"
DAYS = ("2023-01-16", "2023-01-22")
PINNED = {k: {"kind": "categorical", "choices": [v]} for k, v in DEFAULT_PARAMS.items()}

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL is needed: `make postgres`"),
]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def mlflow_server(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    artifacts = tmp_path_factory.mktemp("mlflow-artifacts")
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow),
            "server",
            "--backend-store-uri",
            postgres.url("mlflow"),
            "--artifacts-destination",
            artifacts.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # generous: a busy machine starts it slowly
    while True:
        try:
            if requests.get(f"{url}/health", timeout=10).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"mlflow server did not start: {process.stderr.read()[-2000:]!r}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def instance(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "infra" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USER": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_DB": "dagster",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with dg.DagsterInstance.get() as instance:
            yield instance


def test_the_real_slice_backfills_into_postgres_and_registers_in_the_mlflow_server(
    de35_csv: Path, tmp_path: Path, instance: Any, postgres: PostgresServer, mlflow_server: str
) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"

    settings = load_settings(
        source="file",
        file=de35_csv,
        start_date="2022-12-21",
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_server,
    )
    defs = build_definitions(settings)
    run(defs, instance, [RAW], partition="2022-12-21")  # partial day: fails its contract
    steps = [
        dict(selection=[RAW, FEATURES_KEY], first="2022-12-22", last=DAYS[1]),
        dict(
            selection=[PARAMS_KEY],
            config={"n_trials": 1, "end_date": "2023-01-15", "search_space": PINNED},
        ),
        dict(selection=[MODEL_KEY], partition=WEEK),
        dict(selection=[PREDICTIONS_KEY], first=DAYS[0], last=DAYS[1]),
        dict(selection=[MONITORING_KEY], first=DAYS[0], last=DAYS[1]),
    ]
    for step in steps:
        result = run(defs, instance, step.pop("selection"), **step)
        assert result.success, failure_text(result)

    with postgres.connect("dagster") as db, db.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM runs GROUP BY status")
        statuses = dict(cursor.fetchall())
        cursor.execute(
            "SELECT asset_key, count(DISTINCT partition) FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key"
        )
        partitions = {
            json.loads(k)["path"][0] if k.startswith("{") else k: n for k, n in cursor.fetchall()
        }
    assert statuses == {"SUCCESS": 5, "FAILURE": 1}
    materialized = {k.strip('[]"'): n for k, n in partitions.items()}
    assert materialized["raw_consumption"] == 33  # 2022-12-21 .. 2023-01-22
    assert materialized["forecast_model"] == 1
    assert materialized["predictions"] == 7 and materialized["forecast_monitoring"] == 7
    records = instance.fetch_materializations(MONITORING_KEY, limit=10).records
    assert len(records) == 7 and all("mape" in r.asset_materialization.metadata for r in records)

    record = json.loads((settings.storage_dir / "forecast_model" / f"{WEEK}.json").read_text())
    with postgres.connect("mlflow") as db, db.cursor() as cursor:
        cursor.execute("SELECT name, version, run_id FROM model_versions")
        versions = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM runs")
        (mlflow_runs,) = cursor.fetchone()
    assert versions == [
        (settings.registered_model, int(record["model_version"]), record["mlflow_run_id"])
    ]
    assert mlflow_runs >= 3  # the study, its trial and the week's model
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    champion = client.get_model_version_by_alias(settings.registered_model, "champion")
    assert champion.version == record["model_version"]
    # The version's MLflow model is the whole forecaster, its boosters kept by the server.
    model = mlflow.artifacts.download_artifacts(
        artifact_uri=record["model_uri"], dst_path=str(tmp_path), tracking_uri=mlflow_server
    )
    assert os.listdir(Path(model) / "artifacts" / "forecaster" / "quantiles")
