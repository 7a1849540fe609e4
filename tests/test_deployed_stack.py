"""The deployed topology, run as one system: PostgreSQL, the GCS emulator, the MLflow server,
the gRPC code server, the webserver, the daemon and the dashboard under gunicorn, each started
with the command and environment of infra/docker-compose.yml (tests/deployed_stack.py), on the
production instance configuration (infra/dagster.yaml).

Driven as an operator drives it, through the webserver's GraphQL API: a partition backfill of
the real slice (recorded Energi Data Service responses served on 127.0.0.1) from raw data to
predictions. In the middle the daemon is killed with SIGKILL and started again, and the code
server's "container" is killed under the model's run and started again. The backfill completes,
every partition is materialized once, no run is left in progress, the lost run is failed,
alerted and re-executed, and the dashboard serves the new days to an authenticated user only.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg2
import pytest
import requests

from energy_assets import names
from energy_assets.domain.forecasting.model import DEFAULT_PARAMS
from tests.deployed_stack import INFRA, Stack, compose_services, read_env_file, wait_for
from tests.http_replay import ReplayDataset, ReplayServer
from tests.postgres_server import PostgresServer, postgres_bin
from tests.webhook_server import WebhookServer

LOCATION = "energy_forecasting"
REPOSITORY = "__repository__"
START = "2022-12-22"  # the first whole day of the recorded slice
DAYS = ("2023-01-16", "2023-01-22")
WEEK = "2023-01-16"
PG_PASSWORD = "pg-superuser-7c1f9e"
DAGSTER_PASSWORD = "pg-dagster-41d2aa"
MLFLOW_PASSWORD = "pg-mlflow-93be07"
DASHBOARD_USER, DASHBOARD_PASSWORD = "operator", "correct horse battery staple"
PINNED = {k: {"kind": "categorical", "choices": [v]} for k, v in DEFAULT_PARAMS.items()}
# Deadlines for what the stack does, far above what it takes on a busy 2-core machine (the
# backfill daemon alone works in 30 s ticks): they end a hung run, never a slow one.
STARTUP, PATIENCE = 300, 600
IN_PROGRESS = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL is needed: `make postgres`"),
]


class GraphQL:
    def __init__(self, url: str) -> None:
        self.url = f"{url}/graphql"

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = requests.post(
            self.url, json={"query": query, "variables": variables}, timeout=120
        )
        body = response.json()
        assert response.ok and not body.get("errors"), body
        return body["data"]  # type: ignore[no-any-return]

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        data = self(
            """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { __typename
                ... on Runs { results { runId status runConfigYaml parentRunId rootRunId
                    startTime endTime
                    assetSelection { path } tags { key value } } } } }""",
            filter=filters,
        )
        return data["runsOrError"]["results"]  # type: ignore[no-any-return]


def asset_name(stored_key: str) -> str:
    """An asset key as the event log stores it: a JSON list, or an older JSON object."""
    key = json.loads(stored_key)
    return "/".join(key["path"] if isinstance(key, dict) else key)


def tags(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def selected(run: dict[str, Any]) -> set[str]:
    return {"/".join(a["path"]) for a in run["assetSelection"] or []}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, api_records: list[dict[str, object]]
) -> Iterator[tuple[Stack, GraphQL, WebhookServer, PostgresServer]]:
    from werkzeug.security import generate_password_hash

    root = tmp_path_factory.mktemp("deployed")
    with (
        PostgresServer(databases=(), password=PG_PASSWORD) as postgres,
        ReplayServer([ReplayDataset("ConsumptionDE35Hour", api_records)]) as api,
        WebhookServer() as webhook,
    ):
        # The operator's infra/.env: the example with this deployment's values.
        env = read_env_file(
            INFRA / ".env.example",
            {
                "POSTGRES_PASSWORD": PG_PASSWORD,
                "DAGSTER_PG_PASSWORD": DAGSTER_PASSWORD,
                "MLFLOW_PG_PASSWORD": MLFLOW_PASSWORD,
                # The database server is not the compose service here.
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": str(postgres.port),
                "ENERGY_SOURCE": "energidataservice",
                "ENERGY_API_BASE_URL": api.url,
                "ENERGY_API_DATASET": "ConsumptionDE35Hour",
                "ENERGY_START_DATE": START,
                # Ingest consumption and prices on 1 January only: the schedules stay out of
                # the runs measured here (the prices schedule ticks hourly each afternoon).
                "ENERGY_INGEST_CRON": "0 6 1 1 *",
                "ENERGY_PRICES_CRON": "30 13 1 1 *",
                "ENERGY_ALERT_WEBHOOK_URL": webhook.url,
                "ENERGY_DASHBOARD_USERS": json.dumps(
                    {DASHBOARD_USER: generate_password_hash(DASHBOARD_PASSWORD)}
                ),
                "ENERGY_DASHBOARD_SECRET_KEY": "deployed-stack-session-key-0123456789abcdef",
            },
        )
        services = compose_services(env)
        # The postgres image's first start: infra/postgres/init.sql with the service's env.
        postgres.run_sql_file(INFRA / "postgres" / "init.sql", services["postgres"].environment)
        stack = Stack(root, env, ports={"postgres": postgres.port})
        try:
            start_stack(stack, services)
            yield stack, GraphQL(stack.url("webserver")), webhook, postgres
        finally:
            stack.stop()


def start_stack(stack: Stack, services: dict[str, Any]) -> None:
    from gcp_storage_emulator.server import create_server

    # The compose stack's GCS emulator, with the bucket the pipeline writes to.
    bucket = services["code"].environment["ENERGY_GCS_BUCKET"]
    emulator = create_server("127.0.0.1", stack.ports["gcs"], in_memory=True, default_bucket=bucket)
    emulator.start()
    stack.on_stop.append(emulator.stop)
    for name in ("mlflow", "code", "webserver", "daemon"):
        stack.process(services[name]).start()
    # The port mapping of the dashboard's container: gunicorn's own override of its bind.
    bind = {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{stack.ports['dashboard']}"}
    stack.process(services["dashboard"], bind).start()
    procs = stack.processes

    def up(name: str, path: str) -> bool:
        assert procs[name].alive(), f"{name} exited:\n{procs[name].tail()}"
        # The dashboard's health is 503 until the first forecast: answering is what counts.
        return requests.get(stack.url(name) + path, timeout=5).status_code in (200, 503)

    wait_for(
        "the MLflow server", lambda: up("mlflow", "/health"), STARTUP, logs=procs["mlflow"].tail
    )
    wait_for(
        "the webserver",
        lambda: up("webserver", "/server_info"),
        STARTUP,
        logs=procs["webserver"].tail,
    )
    wait_for(
        "the dashboard",
        lambda: up("dashboard", "/api/health"),
        STARTUP,
        logs=procs["dashboard"].tail,
    )
    graphql = GraphQL(stack.url("webserver"))
    wait_for(
        "the code location", lambda: location_loaded(graphql, procs["code"]), STARTUP, interval=2
    )


def location_loaded(graphql: GraphQL, code: Any) -> bool:
    assert code.alive(), f"the code server exited:\n{code.tail()}"
    data = graphql(
        """{ workspaceOrError { ... on Workspace { locationEntries { name
            locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    )
    [entry] = data["workspaceOrError"]["locationEntries"]
    loaded = entry["locationOrLoadError"]
    if loaded and loaded["__typename"] == "RepositoryLocation":
        return True
    graphql(
        """mutation R($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
            __typename } }""",
        name=LOCATION,
    )
    return False


def test_the_deployed_stack_backfills_through_a_killed_daemon_and_a_killed_code_server(
    stack: tuple[Stack, GraphQL, WebhookServer, PostgresServer],
) -> None:
    deployed, graphql, webhook, postgres = stack
    code, daemon = deployed.processes["code"], deployed.processes["daemon"]
    logs = lambda: "\n".join(f"== {n}\n{p.tail(2500)}" for n, p in deployed.processes.items())  # noqa: E731
    day_range = {"range": {"start": START, "end": DAYS[1]}}
    began, began_epoch = time.monotonic(), time.time()

    def mark(what: str) -> None:  # the timeline, shown when the test fails
        print(f"{time.monotonic() - began:6.1f} s  {what}")

    launched = graphql(
        """mutation Backfill($params: LaunchBackfillParams!) {
            launchPartitionBackfill(backfillParams: $params) { __typename
                ... on LaunchBackfillSuccess { backfillId }
                ... on PythonError { message } ... on InvalidSubsetError { message } } }""",
        params={
            "title": "real slice, raw data to predictions",
            "partitionsByAssets": [
                {"assetKey": {"path": [names.RAW]}, "partitions": day_range},
                {"assetKey": {"path": [names.FEATURES]}, "partitions": day_range},
                {"assetKey": {"path": [names.HYPERPARAMETERS]}, "partitions": None},
                {
                    "assetKey": {"path": [names.MODEL]},
                    "partitions": {"range": {"start": WEEK, "end": WEEK}},
                },
                {
                    "assetKey": {"path": [names.PREDICTIONS]},
                    "partitions": {"range": {"start": DAYS[0], "end": DAYS[1]}},
                },
            ],
            # The study, pinned to the default parameters and one trial, as the launchpad would.
            "runConfigData": {
                "ops": {
                    names.HYPERPARAMETERS: {
                        "config": {"n_trials": 1, "end_date": "2023-01-15", "search_space": PINNED}
                    }
                }
            },
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]
    of_backfill = {"tags": [{"key": "dagster/backfill", "value": backfill}]}

    # The daemon dies while the backfill's first run is under way, and comes back.
    wait_for("the backfill's first run", lambda: graphql.runs(**of_backfill), PATIENCE, logs=logs)
    mark("first run; daemon SIGKILLed")
    daemon.kill(signal.SIGKILL)
    time.sleep(3)
    daemon.start()

    # The code server's container dies under the model's run, once it is training.
    def training() -> dict[str, Any] | None:
        for run in graphql.runs(**of_backfill):
            started = run["status"] == "STARTED" and "energy/heartbeat" in tags(run)
            if started and names.MODEL in selected(run):
                return run
        return None

    killed = wait_for("the model's run to start", training, PATIENCE, logs=logs)
    time.sleep(3)
    mark("model run training; code server killed")
    code.kill(signal.SIGKILL)
    time.sleep(2)
    code.start()

    def finished() -> str | None:
        data = graphql(
            """query B($id: String!) { partitionBackfillOrError(backfillId: $id) {
                ... on PartitionBackfill { status } } }""",
            id=backfill,
        )
        status = data["partitionBackfillOrError"]["status"]
        return None if status == "REQUESTED" else status

    assert (
        wait_for("the backfill to finish", finished, 3 * PATIENCE, interval=2, logs=logs)
        == "COMPLETED_SUCCESS"
    )

    mark("backfill completed")
    runs = graphql.runs(**of_backfill)
    for run in sorted(runs, key=lambda r: r["startTime"] or 0):
        mark(f"run {run['runId'][:8]} {sorted(selected(run))} {run['status']} "
             f"{run['startTime'] and run['startTime'] - began_epoch:.0f}..."
             f"{run['endTime'] and run['endTime'] - began_epoch:.0f} s")  # fmt: skip
    hanging = [
        (r["status"], sorted(selected(r)), tags(r))
        for r in graphql.runs()
        if r["status"] in IN_PROGRESS
    ]
    assert not hanging, f"a run hangs: {hanging}"
    assert (daemon.starts, code.starts) == (2, 2)
    by_id = {r["runId"]: r for r in runs}
    assert by_id[killed["runId"]]["status"] == "FAILURE"
    failed = [r for r in runs if r["status"] == "FAILURE"]
    assert [r["runId"] for r in failed] == [killed["runId"]], "only the killed run failed"
    retries = [r for r in runs if r["parentRunId"] == killed["runId"]]
    assert len(retries) == 1 and retries[0]["status"] == "SUCCESS", retries
    assert selected(retries[0]) == selected(killed)

    # Every partition once: exactly one materialization of each.
    with (
        psycopg2.connect(
            host="127.0.0.1",
            port=postgres.port,
            user="dagster",
            password=DAGSTER_PASSWORD,
            dbname="dagster",
        ) as db,
        db.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT asset_key, partition, count(*) FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key, partition"
        )
        counts = {(asset_name(k), p): n for k, p, n in cursor.fetchall()}
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}
    per_asset: dict[str, int] = {}
    for asset, _ in counts:
        per_asset[asset] = per_asset.get(asset, 0) + 1
    assert per_asset == {
        names.RAW: 32,
        names.FEATURES: 32,
        names.HYPERPARAMETERS: 1,
        names.MODEL: 1,
        names.PREDICTIONS: 7,
    }

    # The lost run is reported by the run-failure alert, through the webhook.
    def alerted() -> list[dict[str, Any]]:
        return [a for a in webhook.accepted if killed["runId"][:8] in a["body"]["text"]]

    [alert] = wait_for("the run-failure alert", alerted, PATIENCE, interval=2, logs=logs)
    mark("alert delivered")
    assert webhook.url.endswith(alert["path"])
    assert "heartbeat" in alert["body"]["text"]

    # The dashboard serves the new days, to its users only.
    dashboard = deployed.url("dashboard")

    def champion_known() -> requests.Response | None:
        # The dashboard reads the registry every half minute, in the background.
        answer = requests.get(f"{dashboard}/api/health", timeout=30)
        version = answer.json()["facts"]["champion version"]["value"]
        return answer if version and version.isdigit() else None

    health = wait_for("the dashboard to know the champion", champion_known, PATIENCE, logs=logs)
    assert health.status_code == 200 and health.json()["status"] in ("ok", "degraded")
    champion = health.json()["facts"]["champion version"]["value"]
    series = {"area": "DK1", "consumer_type": 111}
    for path in (
        "/",
        "/forecast",
        "/_dash-layout",
        "/api/predictions",
        "/reports/drift/" + DAYS[1],
    ):
        denied = requests.get(dashboard + path, params=series, timeout=30)
        assert denied.status_code == 401, (path, denied.status_code)
    # The probe's answer names nothing internal: no storage address, no error text.
    assert "gs://" not in health.text and str(deployed.ports["gcs"]) not in health.text
    for day in pd.date_range(*DAYS).strftime("%Y-%m-%d"):
        answer = requests.get(
            f"{dashboard}/api/predictions",
            params={**series, "date": day},
            auth=(DASHBOARD_USER, DASHBOARD_PASSWORD),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        payload = answer.json()
        assert len(payload["rows"]) == 24
        assert payload["model_uri"].endswith(f"/{champion}"), (payload["model_uri"], champion)

    # Nothing secret in what the UI reads: resources and every run's config.
    resources = graphql(
        """query R($s: RepositorySelector!) {
            allTopLevelResourceDetailsOrError(repositorySelector: $s) { ... on ResourceDetailsList {
                results { name configuredValues { key value type } } } } }""",
        s={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY},
    )
    shown = json.dumps(resources) + json.dumps(graphql.runs())
    assert "notifier" in shown
    webhook_path = webhook.url.split("/services/", 1)[1]  # a Slack webhook's secret part
    for secret in (webhook_path, PG_PASSWORD, DAGSTER_PASSWORD, MLFLOW_PASSWORD):
        assert secret not in shown
