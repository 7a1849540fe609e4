from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest

from energy_assets import names
from energy_assets.settings import SettingsError, SourceKind, load_dashboard_settings, load_settings


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
        ("ENERGY_API_BASE_URL", "api.example", "ENERGY_API_BASE_URL: must start with https://"),
        ("ENERGY_API_PAGE_SIZE", "0", "ENERGY_API_PAGE_SIZE"),
        ("ENERGY_API_COLUMNS", "{not json", "ENERGY_API_COLUMNS: must be a JSON"),
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
    proc = subprocess.run(  # as Dagster loads the location: the module, then its `defs`
        [sys.executable, "-c", "import energy_assets.definitions as d; d.defs()"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "ENERGY_SOURCE" in proc.stderr and "'nonsense'" in proc.stderr


def test_a_bad_dashboard_setting_never_stops_the_code_location(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"ENERGY_DASHBOARD_AUTH": "password", "PATH": "/usr/bin:/bin"}
    code = (
        "import energy_assets.definitions as d; print(len(list(d.defs().resolve_all_asset_keys())))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(len(names.ASSETS))
    # ...while the dashboard refuses it, naming the variable.
    with pytest.raises(SettingsError, match="ENERGY_DASHBOARD_AUTH"):
        load_dashboard_settings(dashboard_auth="password")


def test_a_bad_pipeline_setting_never_stops_the_dashboard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dash_app.app import create_app

    monkeypatch.setenv("ENERGY_SOURCE", "nonsense")
    monkeypatch.setenv("ENERGY_TRAINING_WEEKS", "1")
    with pytest.raises(SettingsError, match="ENERGY_SOURCE"):
        load_settings()
    settings = load_dashboard_settings(storage_dir=tmp_path / "storage")
    assert create_app(settings).server.test_client().get("/").status_code == 200


def test_the_two_kinds_share_only_the_common_settings() -> None:
    from energy_assets.settings import CommonSettings, DashboardSettings, Settings

    common = set(CommonSettings.model_fields)
    assert set(Settings.model_fields) & set(DashboardSettings.model_fields) == common
    assert not any(f.startswith("dashboard_") for f in Settings.model_fields)
    assert {"source", "training_weeks", "ingest_cron"}.isdisjoint(DashboardSettings.model_fields)


# -- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ENERGY_MAPE_WARN", "ENERGY_MAPE_ALERT"])
@pytest.mark.parametrize("value", ["8", "0", "-0.1", "12.5"])
def test_mape_thresholds_are_fractions(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert f"{name}: must be a fraction in (0, 1], e.g. 0.08 for 8% (got {value!r})" in str(
        info.value
    )


def test_mape_thresholds_of_one_are_allowed() -> None:
    assert load_settings(mape_warn=0.5, mape_alert=1.0).mape_alert == 1.0


@pytest.mark.parametrize(
    "cron",
    ["0 6 * * *", "*/15 * * * *", "0 6 * * mon-fri", "0 6 1,15 jan *", "30 5 * * 7", "@daily"],
)
def test_valid_cron_expressions_schedule_the_ingest(cron: str, tmp_path: Path) -> None:
    from energy_assets import names
    from energy_assets.definitions import build_definitions

    defs = build_definitions(load_settings(ingest_cron=cron, storage_dir=tmp_path))
    assert defs.resolve_schedule_def(names.INGEST_SCHEDULE).cron_schedule == cron


@pytest.mark.parametrize(
    "cron", ["0 6 * *", "0 6 * * * *", "0 60 * * *", "0 6 30 2 *", "*/0 * * * *", "daily", ""]
)
def test_invalid_cron_expressions_stop_the_location_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, cron: str
) -> None:
    from energy_assets.definitions import build_definitions

    monkeypatch.setenv("ENERGY_INGEST_CRON", cron)
    settings = load_settings()  # the dashboard, which has no schedule, is not stopped by it
    with pytest.raises(SettingsError, match=r"ENERGY_INGEST_CRON: .*invalid cron schedule"):
        build_definitions(settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/services/T0/B0/x",
        "http://127.0.0.1:8080/services/T0/B0/x",
        "http://127.9.9.9/x",
        "http://localhost:9000/x",
        "http://[::1]:9000/x",
    ],
)
def test_webhook_https_or_loopback(url: str) -> None:
    settings = load_settings(alert_webhook_url=url)
    assert settings.alert_webhook_url is not None
    assert settings.alert_webhook_url.get_secret_value() == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ftp://hooks.example/services/SECRET123", "must start with https://"),
        ("http://hooks.example/services/SECRET123", "not hooks.example"),
        ("http://user:SECRET123@10.0.0.5/x", "not 10.0.0.5"),
        ("hooks.example/SECRET123", "must start with https://"),
    ],
)
def test_a_refused_webhook_url_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    monkeypatch.setenv("ENERGY_ALERT_WEBHOOK_URL", url)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "ENERGY_ALERT_WEBHOOK_URL:" in message and shown in message
    assert "SECRET123" not in message and "services" not in message


def test_api_base_url_needs_https_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(api_base_url="http://127.0.0.1:8000/").api_base_url.endswith(":8000")
    monkeypatch.setenv("ENERGY_API_BASE_URL", "http://api.example/")
    with pytest.raises(SettingsError, match="ENERGY_API_BASE_URL: must use https://"):
        load_settings()


# -- secrets ------------------------------------------------------------------------------------

SECRET = "S3CRET-VALUE-42"
WEBHOOK = f"https://hooks.example/services/T0/B0/{SECRET}"
TRACKING = f"postgresql://mlflow:{SECRET}@db.example:5432/mlflow"
STUDIES = f"postgresql://optuna:{SECRET}@db.example/optuna"


def test_repr_and_str_of_settings_show_no_secret() -> None:
    settings = load_settings(
        alert_webhook_url=WEBHOOK, mlflow_tracking_uri=TRACKING, optuna_storage=STUDIES
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    # The code that needs them reads them in full.
    assert settings.tracking_uri == TRACKING and settings.study_storage == STUDIES


def test_a_bad_value_of_a_secret_field_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", f"optuna:{SECRET}@db.example/optuna")
    with pytest.raises(SettingsError, match="ENERGY_OPTUNA_STORAGE: must be a database URL") as e:
        load_settings()
    assert SECRET not in str(e.value)


def test_no_field_named_like_a_secret_echoes_its_input() -> None:
    """Every field whose name says secret, password, users, key, webhook... (today's and any
    added later, such as the dashboard's) keeps a refused input out of the message."""
    from energy_assets.settings import Settings

    secret_like = re.compile(r"secret|password|token|key|users|webhook|credential", re.I)
    names = [name for name in Settings.model_fields if secret_like.search(name)]
    assert {"alert_webhook_url"} <= set(names)
    for name in names:
        try:
            load_settings(**{name: [SECRET, 42]})  # no field takes a list of these
        except SettingsError as exc:
            assert f"ENERGY_{name.upper()}" in str(exc) and SECRET not in str(exc), name
        else:
            pytest.fail(f"{name} accepted a list")


def test_url_fields_echo_their_input_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_API_BASE_URL", f"ftp://user:{SECRET}@api.example/x?token={SECRET}")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "'ftp://***@api.example/x?token=***'" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (TRACKING, "postgresql://***@db.example:5432/mlflow"),
        (f"https://u:{SECRET}@h/x?a=1&api_key={SECRET}", "https://***@h/x?a=1&api_key=***"),
        (f"https://{SECRET}@h/x", "https://***@h/x"),  # a token as the user name
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    from energy_assets.settings import redact_url

    assert redact_url(url) == shown
    assert redact_url(WEBHOOK, keep_path=False) == "https://hooks.example/…"


def test_secrets_from_dotenv_reach_the_environment_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Resources take secrets as EnvVar(name); a value only in .env is exported under its own
    name when the code location builds its resources (never while settings load), so Dagster
    resolves it in every process that loads the location."""
    from energy_assets.definitions import build_definitions
    from resources.mlflow_resource import MlflowResource
    from resources.notifier import Notifier

    for name in ("ENERGY_ALERT_WEBHOOK_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "")  # so that teardown removes what loading exports
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(
        f"ENERGY_ALERT_WEBHOOK_URL={WEBHOOK}\nMLFLOW_TRACKING_URI={TRACKING}\n"
    )
    settings = load_settings(storage_dir=tmp_path)
    assert "ENERGY_ALERT_WEBHOOK_URL" not in os.environ  # loading settings writes nothing
    assert "MLFLOW_TRACKING_URI" not in os.environ
    build_definitions(settings)
    assert os.environ["ENERGY_ALERT_WEBHOOK_URL"] == WEBHOOK
    assert os.environ["MLFLOW_TRACKING_URI"] == TRACKING
    webhook = Notifier.from_settings(settings).webhook_url
    tracking = MlflowResource.from_settings(settings).tracking_uri
    assert isinstance(webhook, dg.EnvVar) and webhook == "ENERGY_ALERT_WEBHOOK_URL"
    assert isinstance(tracking, dg.EnvVar) and tracking == "MLFLOW_TRACKING_URI"


def test_the_environment_wins_and_overrides_are_not_exported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from energy_assets.definitions import build_definitions
    from resources.mlflow_resource import MlflowResource
    from resources.notifier import Notifier

    (tmp_path / ".env").write_text("MLFLOW_TRACKING_URI=sqlite:///from-dotenv.db\n")
    monkeypatch.setenv("ENERGY_MLFLOW_TRACKING_URI", TRACKING)  # the second name it goes by
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # so that teardown removes any export
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    settings = load_settings(
        alert_webhook_url=WEBHOOK, mlflow_tracking_uri=TRACKING, storage_dir=tmp_path
    )
    build_definitions(settings)
    assert "ENERGY_ALERT_WEBHOOK_URL" not in os.environ
    assert "MLFLOW_TRACKING_URI" not in os.environ
    # A keyword override (tests) is passed as itself; a value from the environment by name.
    assert Notifier.from_settings(settings).webhook_url == WEBHOOK
    tracking = MlflowResource.from_settings(settings).tracking_uri
    assert isinstance(tracking, dg.EnvVar) and tracking == "ENERGY_MLFLOW_TRACKING_URI"


GRAPHQL_RESOURCES = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results { name configuredValues { key value type } configFields { name defaultValueAsJson } }
    }
  }
}"""
GRAPHQL_RESOURCE = """
query Resource($selector: ResourceSelector!) {
  topLevelResourceDetailsOrError(resourceSelector: $selector) {
    __typename
    ... on ResourceDetails { name configuredValues { key value type } }
  }
}"""
GRAPHQL_RUN_CONFIG_SCHEMA = """
query Schema($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) {
    __typename
    ... on RunConfigSchema {
      rootDefaultYaml
      allConfigTypes { key ... on CompositeConfigType { fields { name defaultValueAsJson } } }
    }
  }
}"""
GRAPHQL_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runConfigYaml tags { key value } }
  }
}"""


def test_the_ui_and_graphql_never_show_the_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The code location as Dagster serves it to the UI: resources (as the resource page and
    GraphQL show their configured values), each job's run-config schema (the launchpad's
    scaffold) and a run launched with that config hold the secrets' names, never their values."""
    import yaml
    from dagster._core.test_utils import create_run_for_test, in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_graphql.test.utils import (
        execute_dagster_graphql,
        infer_job_selector,
        infer_repository_selector,
        infer_resource_selector,
    )

    monkeypatch.setenv("ENERGY_ALERT_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", TRACKING)
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", STUDIES)
    location = tmp_path / "secret_location.py"
    location.write_text(
        "from energy_assets.definitions import build_definitions\ndefs = build_definitions()\n"
    )
    origin = LoadableTargetOrigin(
        python_file=str(location), attribute="defs", working_directory=str(tmp_path)
    )
    responses = []
    with dg.instance_for_test() as instance, in_process_test_workspace(instance, origin) as ctx:
        selector = infer_repository_selector(ctx)
        resources = execute_dagster_graphql(ctx, GRAPHQL_RESOURCES, {"selector": selector}).data
        responses.append(resources)
        details = resources["allTopLevelResourceDetailsOrError"]["results"]
        values = {r["name"]: {v["key"]: v for v in r["configuredValues"]} for r in details}
        assert values["notifier"]["webhook_url"] == {
            "key": "webhook_url", "value": "ENERGY_ALERT_WEBHOOK_URL", "type": "ENV_VAR"
        }  # fmt: skip
        assert values["mlflow_tracking"]["tracking_uri"]["value"] == "MLFLOW_TRACKING_URI"
        for name in values:
            selector_r = infer_resource_selector(ctx, name)
            responses.append(
                execute_dagster_graphql(ctx, GRAPHQL_RESOURCE, {"selector": selector_r}).data
            )
        [repository] = ctx.code_locations[0].get_repositories().values()
        for job in repository.get_all_jobs():
            schema = execute_dagster_graphql(
                ctx, GRAPHQL_RUN_CONFIG_SCHEMA, {"selector": infer_job_selector(ctx, job.name)}
            ).data
            responses.append(schema)
            scaffold = yaml.safe_load(schema["runConfigSchemaOrError"]["rootDefaultYaml"])
            run = create_run_for_test(instance, job_name=job.name, run_config=scaffold or {})
            responses.append(execute_dagster_graphql(ctx, GRAPHQL_RUN, {"runId": run.run_id}).data)
    assert len(responses) > 5
    text = json.dumps(responses)
    assert "MLFLOW_TRACKING_URI" in text  # the retune job's scaffold names it
    for secret in (SECRET, WEBHOOK, TRACKING, STUDIES, "hooks.example", "db.example"):
        assert secret not in text


def test_the_horizon_reaches_tomorrow_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # Newest published day: today - 1 - delay; tomorrow is delay + 2 days after it.
    assert load_settings(publication_delay_days=12).horizon_days == 14
    assert load_settings(publication_delay_days=3).horizon_days == 5
    monkeypatch.setenv("ENERGY_FORECAST_LEADS", " ")
    assert load_settings(publication_delay_days=3).horizon_days == 5
    monkeypatch.setenv("ENERGY_FORECAST_LEADS", "7")
    assert load_settings(publication_delay_days=3).horizon_days == 7
    monkeypatch.setenv("ENERGY_FORECAST_LEADS", "0")
    with pytest.raises(SettingsError, match="ENERGY_FORECAST_LEADS"):
        load_settings()


def test_the_alert_lead_must_be_forecast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_FORECAST_LEADS", "3")
    monkeypatch.setenv("ENERGY_ALERT_LEAD", "3")
    assert load_settings().alert_lead == 3
    monkeypatch.setenv("ENERGY_ALERT_LEAD", "4")
    with pytest.raises(SettingsError, match=r"ENERGY_ALERT_LEAD \(4\) must be at most"):
        load_settings()
