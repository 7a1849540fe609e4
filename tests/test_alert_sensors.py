"""Sensors, schedule and automation evaluated against a real Dagster instance (SQLite)."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.domain.monitoring.alerts import Level
from energy_assets.names import (
    AUTOMATION_SENSOR,
    INGEST_SCHEDULE,
    MAPE_ALERT_SENSOR,
    RETUNE_JOB,
    RUN_FAILURE_SENSOR,
)
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.alert_log import AlertLog
from energy_assets.storage.objects import LocalStorage
from tests.asset_keys import (
    DRIFT_KEY,
    FEATURES_KEY,
    MODEL_KEY,
    MONITORING_KEY,
    PARAMS_KEY,
    PREDICTIONS_KEY,
    RAW,
)
from tests.webhook_server import WebhookServer


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        start_date="2023-01-01",
        alert_webhook_backoff_seconds=0.01,
        **overrides,
    )


def monitored(instance: dg.DagsterInstance, day: str, mape: float) -> None:
    """A forecast_monitoring materialization of `day` as the asset records it."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            MONITORING_KEY,
            partition=day,
            metadata={
                "mape": mape,
                "wape": mape * 0.8,
                "worst_series": "DK1/999",
                "mape_worst": mape * 3,
                "model_uri": "models:/m/4",
            },
        )
    )


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None) -> Any:
    with dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=cursor, resources=dict(defs.resources)
    ) as context:
        return defs.resolve_sensor_def(MAPE_ALERT_SENSOR).evaluate_tick(context)


def logged(settings: Settings) -> list[tuple[str, str]]:
    return [(a.day, a.level.value) for a in AlertLog(LocalStorage(settings.storage_dir)).read()]


def texts(server: WebhookServer) -> list[str]:
    return [str(a["body"]["text"]) for a in server.accepted]


def test_warn_notifies_alert_requests_one_retune_and_ticks_after_do_nothing(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        settings = settings_for(tmp_path, alert_webhook_url=server.url)
        defs = build_definitions(settings)
        monitored(instance, "2023-02-01", 0.05)  # OK
        monitored(instance, "2023-02-02", 0.09)  # WARN
        monitored(instance, "2023-02-03", 0.20)  # ALERT

        first = tick(defs, instance)
        assert [r.run_key for r in first.run_requests] == ["retune-2023-02-03"]
        [request] = first.run_requests
        assert defs.resolve_sensor_def(MAPE_ALERT_SENSOR).job_name == RETUNE_JOB
        assert request.partition_key == "2023-01-30"  # the week that serves 2023-02-04
        config = request.run_config["ops"][PARAMS_KEY.path[-1]]["config"]
        assert config == {"study_name": "retune-2023-02-03", "end_date": "2023-02-03"}
        assert [t.split(":")[0] for t in texts(server)] == [
            "[WARN] 2023-02-02",
            "[ALERT] 2023-02-03",
        ]
        assert "pooled MAPE 9.0% is above the warn threshold 8.0%" in texts(server)[0]
        assert logged(settings) == [("2023-02-02", "WARN"), ("2023-02-03", "ALERT")]

        # The same tick again, with the cursor it returned: nothing new, nothing sent.
        again = tick(defs, instance, first.cursor)
        assert not again.run_requests and again.skip_message
        # A restart: new definitions and resources, the saved cursor.
        restarted = tick(build_definitions(settings), instance, first.cursor)
        assert not restarted.run_requests
        assert len(server.attempts) == 2

        # A WARN day later on: a message, no run.
        monitored(instance, "2023-02-04", 0.10)
        warn_only = tick(defs, instance, first.cursor)
        assert not warn_only.run_requests
        assert texts(server)[-1].startswith("[WARN] 2023-02-04")

        # The ALERT day materialized again (a rerun): no second message; the request repeats
        # its run key, which the daemon never launches twice.
        monitored(instance, "2023-02-03", 0.21)
        rerun = tick(defs, instance, warn_only.cursor)
        assert [r.run_key for r in rerun.run_requests] == ["retune-2023-02-03"]
        assert len(server.accepted) == 3
    assert logged(settings) == [
        ("2023-02-02", "WARN"),
        ("2023-02-03", "ALERT"),
        ("2023-02-04", "WARN"),
    ]


def test_a_day_alerted_before_a_lost_cursor_is_not_sent_again(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        defs = build_definitions(settings_for(tmp_path, alert_webhook_url=server.url))
        monitored(instance, "2023-02-03", 0.30)
        tick(defs, instance)
        tick(defs, instance)  # no cursor: every materialization is read again
    assert len(server.accepted) == 1


def test_a_webhook_failing_twice_still_delivers_in_one_tick(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer(fail_first=2) as server:
        defs = build_definitions(settings_for(tmp_path, alert_webhook_url=server.url))
        monitored(instance, "2023-02-03", 0.30)
        result = tick(defs, instance)
    assert len(server.attempts) == 3 and len(server.accepted) == 1
    assert [r.run_key for r in result.run_requests] == ["retune-2023-02-03"]


def test_a_dead_webhook_fails_the_tick_and_the_next_tick_delivers(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer(fail_first=3) as server:
        settings = settings_for(tmp_path, alert_webhook_url=server.url, alert_webhook_retries=2)
        defs = build_definitions(settings)
        monitored(instance, "2023-02-03", 0.30)
        with pytest.raises(Exception, match="answered HTTP 503 after 2 retries"):
            tick(defs, instance)
        assert logged(settings) == []
        retried = tick(defs, instance)  # the cursor did not move
        assert [r.run_key for r in retried.run_requests] == ["retune-2023-02-03"]
    assert len(server.accepted) == 1
    assert logged(settings) == [("2023-02-03", "ALERT")]


def test_thresholds_come_from_the_settings(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    defs = build_definitions(settings_for(tmp_path, mape_warn=0.02, mape_alert=0.04))
    monitored(instance, "2023-02-01", 0.03)
    monitored(instance, "2023-02-02", 0.05)
    result = tick(defs, instance)
    assert [r.run_key for r in result.run_requests] == ["retune-2023-02-02"]
    assert logged(settings_for(tmp_path)) == [("2023-02-01", "WARN"), ("2023-02-02", "ALERT")]


def test_the_run_failure_sensor_notifies_through_the_same_channel(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        settings = settings_for(
            tmp_path, source="file", file=tmp_path / "missing.csv", alert_webhook_url=server.url
        )
        defs = build_definitions(settings)
        failed = defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, partition_key="2023-01-05", raise_on_error=False
        )
        assert not failed.success
        [event] = [
            record.get_dagster_event()
            for record in instance.all_logs(failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        ]
        sensor = defs.resolve_sensor_def(RUN_FAILURE_SENSOR)
        with dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR,
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=failed.dagster_run,
            resources=dict(defs.resources),
        ) as context:
            sensor(context.for_run_failure())
            sensor(context.for_run_failure())  # the same failure twice: one message
    [text] = texts(server)
    assert text.startswith("[FAILURE]") and f"run {failed.run_id[:8]} of ingest_job failed" in text
    assert "(partition 2023-01-05)" in text
    [(_, level)] = logged(settings)
    assert level == Level.FAILURE.value


def test_sensors_schedule_and_automation_run_by_default(tmp_path: Path) -> None:
    defs = build_definitions(settings_for(tmp_path))
    for name in (MAPE_ALERT_SENSOR, RUN_FAILURE_SENSOR, AUTOMATION_SENSOR):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def(INGEST_SCHEDULE)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    for key in (RAW, PREDICTIONS_KEY):
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        assert spec.freshness_policy is not None


def test_the_schedule_fetches_the_day_the_publication_delay_allows(tmp_path: Path) -> None:
    defs = build_definitions(settings_for(tmp_path, publication_delay_days=15))
    schedule = defs.resolve_schedule_def(INGEST_SCHEDULE)
    at = dt.datetime(2023, 2, 20, 6, tzinfo=dt.UTC)
    repository = defs.get_repository_def()
    with dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=repository
    ) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert (request.partition_key, request.run_key) == ("2023-02-04", "ingest-2023-02-04")
    early = dt.datetime(2023, 1, 10, 6, tzinfo=dt.UTC)
    with dg.build_schedule_context(
        scheduled_execution_time=early, repository_def=repository
    ) as context:
        assert "before ENERGY_START_DATE" in str(schedule.evaluate_tick(context).skip_message)


def test_a_newly_published_day_sets_off_the_days_downstream_of_it(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """Delay 15 days; raw up to 2023-01-20 and the models exist; 2023-01-21 is published."""
    defs = build_definitions(settings_for(tmp_path, publication_delay_days=15))

    def report(key: dg.AssetKey, partition: str | None = None) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))

    for day in range(1, 21):
        report(RAW, f"2023-01-{day:02d}")
    report(PARAMS_KEY)
    for week in ("2023-01-16",):
        report(MODEL_KEY, week)
    report(FEATURES_KEY, "2023-01-21")
    report(PREDICTIONS_KEY, "2023-01-21")
    at = dt.datetime(2023, 2, 6, 7, tzinfo=dt.UTC)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=at)
    assert first.total_requested == 0  # the first evaluation only takes stock

    def evaluate(cursor: Any) -> Any:
        return dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=at, cursor=cursor
        )

    def requested(result: Any) -> dict[str, list[str]]:
        keys = (FEATURES_KEY, PREDICTIONS_KEY, MONITORING_KEY, DRIFT_KEY, MODEL_KEY)
        return {
            k.to_user_string(): sorted(result.get_requested_partitions(k))
            for k in keys
            if result.get_requested_partitions(k)
        }

    report(RAW, "2023-01-21")
    second = evaluate(first.cursor)
    # Monitoring of the published day, and the features of the next; predictions and drift
    # have another partitions definition, so they follow on the tick after the features land.
    assert requested(second) == {
        "consumption_features": ["2023-01-22"],
        "forecast_monitoring": ["2023-01-21"],
    }
    report(FEATURES_KEY, "2023-01-22")
    report(MONITORING_KEY, "2023-01-21")
    third = evaluate(second.cursor)
    assert requested(third) == {"predictions": ["2023-01-22"], "feature_drift": ["2023-01-22"]}
    report(PREDICTIONS_KEY, "2023-01-22")
    report(DRIFT_KEY, "2023-01-22")
    assert requested(evaluate(third.cursor)) == {}


def test_the_retune_request_runs_a_new_study_then_the_weeks_model(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    import json

    from energy_assets.defs.partitions import Partitions
    from sensors.mape_alert import retune_request

    settings = settings_for(tmp_path, training_weeks=3)
    defs = build_definitions(settings)
    ingest = defs.resolve_job_def("ingest_job").execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2023-01-01",
            "dagster/asset_partition_range_end": "2023-02-08",
        },
    )
    assert ingest.success
    request = retune_request("2023-02-08", Partitions.from_settings(settings).weeks)
    config = request.run_config
    # The request's study, kept small here: two trials of few rounds.
    config["ops"][PARAMS_KEY.path[-1]]["config"].update(
        {"n_trials": 2, "search_space": {"num_boost_round": {"kind": "int", "low": 30, "high": 60}}}
    )
    result = defs.resolve_job_def(RETUNE_JOB).execute_in_process(
        instance=instance, partition_key=request.partition_key, run_config=config, tags=request.tags
    )
    assert result.success
    storage = settings.storage_dir
    params = json.loads((storage / "model_hyperparameters.json").read_text())
    assert (params["study"], params["end"], params["trials"]) == (
        "retune-2023-02-08",
        "2023-02-09",
        2,
    )
    model = json.loads((storage / "forecast_model" / f"{request.partition_key}.json").read_text())
    assert request.partition_key == "2023-02-06" and model["params"] == params["params"]
    assert model["train_end"] == "2023-02-06"
