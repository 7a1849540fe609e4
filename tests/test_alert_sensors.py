"""Sensors, schedule and automation evaluated against a real Dagster instance (SQLite)."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from energy_assets.definitions import build_definitions
from energy_assets.domain.monitoring.alerts import Level
from energy_assets.names import (
    ALERT_OUTBOX_SENSOR,
    AUTOMATION_SENSOR,
    CONTRACT,
    GATE,
    INGEST_JOB,
    INGEST_SCHEDULE,
    MAPE_ALERT_SENSOR,
    RETUNE_JOB,
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


def reported(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partition: str | None = None,
    *,
    passed: bool = True,
) -> None:
    """A runless materialization, with the verdict of the asset's blocking check on it (the data
    contract of raw data, the promotion gate of a model) as the check records it."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    check = {RAW: CONTRACT, MODEL_KEY: GATE}.get(key)
    if check is None:
        return
    [record] = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=key,
            check_name=check,
            passed=passed,
            partition=partition,
            blocking=True,
            severity=dg.AssetCheckSeverity.ERROR,
            target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            ),
        )
    )


def monitored(instance: dg.DagsterInstance, day: str, mape: float, hours: int = 1824) -> None:
    """A forecast_monitoring materialization of `day` as the asset records it."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            MONITORING_KEY,
            partition=day,
            metadata={
                "hours_scored": hours,
                "mape": mape,
                "wape": mape * 0.8,
                "worst_series": "DK1/999",
                "mape_worst": mape * 3,
                "model_uri": "models:/m/4",
            },
        )
    )


def tick(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cursor: str | None = None,
    sensor: str = MAPE_ALERT_SENSOR,
) -> Any:
    with dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=cursor, resources=dict(defs.resources)
    ) as context:
        return defs.resolve_sensor_def(sensor).evaluate_tick(context)


def deliver(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None) -> Any:
    """One tick of the outbox sensor."""
    return tick(defs, instance, cursor, ALERT_OUTBOX_SENSOR)


def logged(settings: Settings) -> list[tuple[str, str]]:
    return [(a.day, a.level.value) for a in AlertLog(LocalStorage(settings.storage_dir)).read()]


def pending(settings: Settings) -> list[tuple[str, str]]:
    log = AlertLog(LocalStorage(settings.storage_dir))
    return [(a.day, a.level.value) for a in log.pending()]


def texts(server: WebhookServer) -> list[str]:
    return [str(a["body"]["text"]) for a in server.accepted]


def failed_ingest(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """A real failed run: the ingest job over a file source whose file does not exist."""
    result = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, partition_key="2023-01-05", raise_on_error=False
    )
    assert not result.success
    return result


def test_warn_and_alert_are_logged_one_retune_per_week_and_the_outbox_delivers_them(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        settings = settings_for(tmp_path, alert_webhook_url=server.url)
        defs = build_definitions(settings)
        monitored(instance, "2023-02-01", 0.05)  # OK
        monitored(instance, "2023-02-02", 0.09)  # WARN
        monitored(instance, "2023-02-03", 0.20)  # ALERT
        monitored(instance, "2023-02-04", 0.25)  # ALERT, served by the same model week

        first = tick(defs, instance)
        # One retune for the week that serves 2023-02-04 and 2023-02-05, not one per day.
        [request] = first.run_requests
        assert request.run_key == "retune-2023-01-30" and request.partition_key == "2023-01-30"
        assert defs.resolve_sensor_def(MAPE_ALERT_SENSOR).job_name == RETUNE_JOB
        config = request.run_config["ops"][PARAMS_KEY.path[-1]]["config"]
        assert config == {"study_name": "retune-2023-01-30", "end_date": "2023-02-03"}
        # The alerts are in the log before anyone is told; the MAPE sensor posts nothing.
        assert server.attempts == []
        assert pending(settings) == [
            ("2023-02-02", "WARN"),
            ("2023-02-03", "ALERT"),
            ("2023-02-04", "ALERT"),
        ]

        deliver(defs, instance)
        assert [t.split(":")[0] for t in texts(server)] == [
            "[WARN] 2023-02-02",
            "[ALERT] 2023-02-03",
            "[ALERT] 2023-02-04",
        ]
        assert "pooled MAPE 9.0% (lead 1) is above the warn threshold 8.0%" in texts(server)[0]
        assert pending(settings) == []

        # The same ticks again, and after a restart: nothing new, nothing sent.
        again = tick(defs, instance, first.cursor)
        assert not again.run_requests and again.skip_message
        restarted = build_definitions(settings)
        assert not tick(restarted, instance, first.cursor).run_requests
        deliver(restarted, instance)
        assert len(server.attempts) == 3

        # The ALERT day materialized again (a rerun): no second alert; the request repeats
        # its run key, which the daemon never launches twice.
        monitored(instance, "2023-02-03", 0.21)
        rerun = tick(defs, instance, first.cursor)
        assert [r.run_key for r in rerun.run_requests] == ["retune-2023-01-30"]
        deliver(defs, instance)
        assert len(server.accepted) == 3


def test_a_day_alerted_before_a_lost_cursor_is_not_sent_again(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        defs = build_definitions(settings_for(tmp_path, alert_webhook_url=server.url))
        monitored(instance, "2023-02-03", 0.30)
        tick(defs, instance)
        deliver(defs, instance)
        tick(defs, instance)  # no cursor: every materialization is read again
        deliver(defs, instance)
    assert len(server.accepted) == 1


def test_a_webhook_down_for_three_ticks_delays_alerts_never_retunes_and_sends_each_once(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        settings = settings_for(
            tmp_path,
            source="file",
            file=tmp_path / "missing.csv",
            alert_webhook_url=server.url,
            alert_webhook_retries=1,
        )
        defs = build_definitions(settings)
        server.down = True
        monitored(instance, "2023-02-03", 0.30)  # ALERT
        failed = failed_ingest(defs, instance)

        mape_cursor: str | None = None
        requested: list[str] = []
        for _ in range(3):
            result = tick(defs, instance, mape_cursor)
            mape_cursor = result.cursor or mape_cursor
            requested += [r.run_key for r in result.run_requests or []]
            with pytest.raises(Exception, match=r"2 alerts wait for delivery.*HTTP 503"):
                deliver(defs, instance)
        # The retune was asked for on the first tick, outage or not.
        assert requested == ["retune-2023-01-30"]
        assert server.accepted == [] and len(server.attempts) == 3 * 2  # one alert per round
        assert {level for _, level in pending(settings)} == {"ALERT", "FAILURE"}

        server.down = False
        deliver(defs, instance)
        deliver(defs, instance)
    levels = sorted(t.split("]")[0].lstrip("[") for t in texts(server))
    assert levels == ["ALERT", "FAILURE"]
    [failure] = [t for t in texts(server) if t.startswith("[FAILURE]")]
    assert f"run {failed.run_id[:8]} of ingest_job failed (partition 2023-01-05)" in failure
    assert pending(settings) == []


def test_a_revoked_webhook_fails_delivery_at_once_and_never_blocks_retunes(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer(fail_first=100, fail_status=410) as server:
        settings = settings_for(tmp_path, alert_webhook_url=server.url)
        defs = build_definitions(settings)
        monitored(instance, "2023-02-03", 0.30)
        first = tick(defs, instance)
        with pytest.raises(Exception, match="answered HTTP 410"):
            deliver(defs, instance)
        monitored(instance, "2023-02-10", 0.30)
        second = tick(defs, instance, first.cursor)
    assert [r.run_key for r in first.run_requests] == ["retune-2023-01-30"]
    assert [r.run_key for r in second.run_requests] == ["retune-2023-02-06"]
    assert len(server.attempts) == 1  # 410 is final: not retried
    assert logged(settings) == [("2023-02-03", "ALERT"), ("2023-02-10", "ALERT")]


def test_a_day_with_nothing_scored_raises_no_alert_and_no_retune(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    settings = settings_for(tmp_path)
    defs = build_definitions(settings)
    monitored(instance, "2023-02-03", float("nan"), hours=0)  # no actuals matched
    result = tick(defs, instance)
    assert not result.run_requests
    assert logged(settings) == []


def test_thresholds_come_from_the_settings(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    defs = build_definitions(settings_for(tmp_path, mape_warn=0.02, mape_alert=0.04))
    monitored(instance, "2023-02-01", 0.03)
    monitored(instance, "2023-02-02", 0.05)
    result = tick(defs, instance)
    assert [r.run_key for r in result.run_requests] == ["retune-2023-01-30"]
    assert logged(settings_for(tmp_path)) == [("2023-02-01", "WARN"), ("2023-02-02", "ALERT")]


def test_failed_runs_are_alerted_through_the_outbox_once(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    with WebhookServer() as server:
        settings = settings_for(
            tmp_path, source="file", file=tmp_path / "missing.csv", alert_webhook_url=server.url
        )
        defs = build_definitions(settings)
        failed = failed_ingest(defs, instance)
        first = deliver(defs, instance)
        deliver(defs, instance, first.cursor)
        deliver(defs, instance)  # a lost cursor: the failure is read again, not sent again
    [text] = texts(server)
    assert text.startswith("[FAILURE]") and f"run {failed.run_id[:8]} of ingest_job failed" in text
    assert "(partition 2023-01-05)" in text and "missing.csv" in text
    [(_, level)] = logged(settings)
    assert level == Level.FAILURE.value


def test_without_a_webhook_the_log_is_the_channel(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    settings = settings_for(tmp_path)
    defs = build_definitions(settings)
    monitored(instance, "2023-02-03", 0.30)
    tick(defs, instance)
    assert pending(settings) == [("2023-02-03", "ALERT")]
    deliver(defs, instance)
    assert pending(settings) == []
    assert logged(settings) == [("2023-02-03", "ALERT")]


def test_sensors_schedule_and_automation_run_by_default(tmp_path: Path) -> None:
    defs = build_definitions(settings_for(tmp_path))
    for name in (MAPE_ALERT_SENSOR, ALERT_OUTBOX_SENSOR, AUTOMATION_SENSOR):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def(INGEST_SCHEDULE)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    for key in (RAW, PREDICTIONS_KEY):
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        assert spec.freshness_policy is not None


def schedule_tick(defs: dg.Definitions, at: dt.datetime) -> Any:
    schedule = defs.resolve_schedule_def(INGEST_SCHEDULE)
    with dg.build_schedule_context(
        scheduled_execution_time=at,
        repository_def=defs.get_repository_def(),
        resources=dict(defs.resources),
    ) as context:
        return schedule.evaluate_tick(context)


def test_the_schedule_fetches_the_newest_day_and_again_each_recent_day_not_yet_published(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, publication_delay_days=15, refetch_days=7)
    defs = build_definitions(settings)
    at = dt.datetime(2023, 2, 20, 6, tzinfo=dt.UTC)  # the newest published day is 2023-02-04
    # Published (passed their contract): 2023-01-20 .. 2023-02-02 except 2023-01-30, which came
    # partial and was refused; 2023-01-26 is older than the give-up age of 7 days.
    storage = LocalStorage(settings.storage_dir)
    for day in pd.date_range("2023-01-20", "2023-02-02").date:
        if day not in (dt.date(2023, 1, 30), dt.date(2023, 1, 26)):
            storage.write_bytes(f"raw_consumption/{day}.parquet", b"")

    requests = schedule_tick(defs, at).run_requests

    assert [r.partition_key for r in requests] == ["2023-02-04", "2023-02-03", "2023-01-30"]
    assert [r.run_key for r in requests] == [
        f"ingest-{day}-20230220T0600" for day in ("2023-02-04", "2023-02-03", "2023-01-30")
    ]
    # The next tick asks again for what is still not published, under new run keys.
    for day in ("2023-02-04", "2023-02-03"):
        storage.write_bytes(f"raw_consumption/{day}.parquet", b"")
    later = schedule_tick(defs, at + dt.timedelta(days=1)).run_requests
    assert [r.partition_key for r in later] == ["2023-02-05", "2023-01-30"]
    assert later[1].run_key == "ingest-2023-01-30-20230221T0600"
    # Once the refused day has aged past ENERGY_REFETCH_DAYS, it is given up.
    assert "2023-01-30" not in {
        r.partition_key for r in schedule_tick(defs, at + dt.timedelta(days=4)).run_requests
    }
    early = dt.datetime(2023, 1, 10, 6, tzinfo=dt.UTC)
    assert "before ENERGY_START_DATE" in str(schedule_tick(defs, early).skip_message)


def test_a_newly_published_day_sets_off_the_days_downstream_of_it(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """Delay 15 days; raw up to 2023-01-20 and the models exist; 2023-01-21 is published."""
    defs = build_definitions(settings_for(tmp_path, publication_delay_days=15))

    for day in range(1, 21):
        reported(instance, RAW, f"2023-01-{day:02d}")
    reported(instance, PARAMS_KEY)
    for week in ("2023-01-16",):
        reported(instance, MODEL_KEY, week)
    reported(instance, FEATURES_KEY, "2023-01-21")
    reported(instance, PREDICTIONS_KEY, "2023-01-21")
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

    reported(instance, RAW, "2023-01-21")
    second = evaluate(first.cursor)
    # Monitoring of the published day, and the issue and features of the next (the issue reads
    # the history itself); drift has another partitions definition than the features, so it
    # follows on the tick after they land.
    assert requested(second) == {
        "consumption_features": ["2023-01-22"],
        "forecast_monitoring": ["2023-01-21"],
        "predictions": ["2023-01-22"],
    }
    reported(instance, FEATURES_KEY, "2023-01-22")
    reported(instance, MONITORING_KEY, "2023-01-21")
    third = evaluate(second.cursor)
    assert requested(third) == {"feature_drift": ["2023-01-22"]}
    reported(instance, PREDICTIONS_KEY, "2023-01-22")
    reported(instance, DRIFT_KEY, "2023-01-22")
    assert requested(evaluate(third.cursor)) == {}


def test_new_hyperparameters_retrain_no_week_by_automation(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """A retune rewrites `model_hyperparameters`; only its own run retrains a week."""
    defs = build_definitions(settings_for(tmp_path, publication_delay_days=15))

    for day in range(1, 32):
        reported(instance, RAW, f"2023-01-{day:02d}")
    reported(instance, PARAMS_KEY)
    for week in ("2023-01-16", "2023-01-23", "2023-01-30"):
        reported(instance, MODEL_KEY, week)
    at = dt.datetime(2023, 2, 16, 7, tzinfo=dt.UTC)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=at)

    reported(instance, PARAMS_KEY)  # a retune's study
    after = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=at, cursor=first.cursor
    )
    assert after.get_requested_partitions(MODEL_KEY) == set()

    for day in range(1, 6):  # new data still trains the week it comes before
        reported(instance, RAW, f"2023-02-{day:02d}")
    later = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=at, cursor=after.cursor
    )
    assert later.get_requested_partitions(MODEL_KEY) == {"2023-02-06"}


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
        "retune-2023-02-06",
        "2023-02-09",
        2,
    )
    model = json.loads((storage / "forecast_model" / f"{request.partition_key}.json").read_text())
    assert request.partition_key == "2023-02-06" and model["params"] == params["params"]
    assert model["train_end"] == "2023-02-06"
