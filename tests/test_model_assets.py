"""Features, hyperparameters, weekly models behind the promotion gate, and pinned predictions.

Runs go through Dagster (`execute_in_process`) with MLflow, Optuna and storage in temporary
folders. Training is kept cheap: three weeks of data, 30-60 boosting rounds, a few trials.
"""

import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from energy_assets.definitions import build_definitions
from energy_assets.domain import tracking
from energy_assets.domain.forecasting import serving_rules
from energy_assets.domain.forecasting.features import LEAD, ORIGIN, build_features
from energy_assets.domain.forecasting.gate import gate_verdict
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION, predict
from energy_assets.domain.forecasting.tuning import (
    DEFAULT_SPACE_FILE,
    SearchSpaceError,
    load_search_space,
    tune,
)
from energy_assets.domain.schema import AREA, CONSUMER_TYPE, TIME
from energy_assets.names import GATE
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.drift_store import load_reference
from energy_assets.storage.model_requests import issue_request
from energy_assets.storage.objects import LocalStorage
from tests.asset_keys import FEATURES_KEY, MODEL_KEY, PARAMS_KEY, PREDICTIONS_KEY, RAW
from tests.legacy_versions import log_booster_version

RANGE_TAGS = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# The run tag a partition key becomes. `execute_in_process(partition_key=...)` refuses a
# selection whose assets have different partitions definitions; a Monday key is valid for both
# the weekly models and the daily predictions, so the tag runs a model and its first day's
# predictions in one run, the way the blocking gate is meant to guard them.
PARTITION_TAG = "dagster/partition"
CHEAP_SPACE: dict[str, dict[str, Any]] = {
    "num_boost_round": {"kind": "int", "low": 30, "high": 60, "step": 10},
    "num_leaves": {"kind": "int", "low": 8, "high": 16},
}
N_SERIES = 76
DAY_ROWS = N_SERIES * 24
W1, W2 = "2023-02-06", "2023-02-13"  # weekly partitions (Mondays) of the simulated pipeline
W3 = "2023-02-20"  # the week of the deliberately useless model
PREDICTED_DAYS = [d.strftime("%Y-%m-%d") for d in pd.date_range(W1, "2023-02-19", freq="D")]
URI = re.compile(r"^models:/[^/@]+/\d+$")


# --- helpers -----------------------------------------------------------------------------------


def cheap_settings(base: Path, **overrides: Any) -> Settings:
    return load_settings(
        storage_dir=base / "storage", state_dir=base / "state", training_weeks=3, **overrides
    )


def run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: list[dg.AssetKey],
    *,
    partition: str | None = None,
    first: str | None = None,
    last: str | None = None,
    tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    run_tags = dict(tags or {})
    if first and last:
        run_tags.update({RANGE_TAGS[0]: first, RANGE_TAGS[1]: last})
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=selection,
        partition_key=partition,
        tags=run_tags,
        run_config={"ops": {PARAMS_KEY.path[-1]: {"config": config}}} if config else None,
        raise_on_error=False,
    )


def evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    return [
        record.get_dagster_event().asset_check_evaluation_data
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Messages of every step failure, with their causes."""
    parts = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None:
                parts.append(error.message)
                error = error.cause
    return "\n".join(parts)


def started_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        str(e.step_key) for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START
    ]


def materializations(
    result: dg.ExecuteInProcessResult, key: dg.AssetKey
) -> dict[str, dict[str, Any]]:
    """Metadata values of each materialized partition of `key` in the run."""
    return {
        str(e.partition): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key == key
    }


@contextmanager
def isolated(directory: Path) -> Iterator[None]:
    """The conftest isolation for module-scoped fixtures: no ENERGY_*/MLFLOW_* variables, no
    developer .env, working directory in tmp."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("ENERGY_", "MLFLOW_")) or name == "STORAGE_EMULATOR_HOST":
                mp.delenv(name)
        mp.chdir(directory)
        yield


@dataclass
class Pipeline:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    ingest: dg.ExecuteInProcessResult
    hyperparameters: dg.ExecuteInProcessResult
    models: dict[str, dg.ExecuteInProcessResult]
    predictions: dg.ExecuteInProcessResult | None

    @property
    def storage(self) -> Path:
        return self.settings.storage_dir

    @property
    def name(self) -> str:
        return self.settings.registered_model

    def client(self) -> Any:
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.settings.tracking_uri)

    def record(self, week: str) -> dict[str, Any]:
        return dict(json.loads((self.storage / "forecast_model" / f"{week}.json").read_text()))

    def params_record(self) -> dict[str, Any]:
        return dict(json.loads((self.storage / "model_hyperparameters.json").read_text()))

    def champion(self) -> str:
        return str(self.client().get_model_version_by_alias(self.name, tracking.CHAMPION).version)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Simulated data 2023-01-01 .. 2023-02-19: features, a 3-trial study (data up to
    2023-02-05), models of the weeks W1 and W2 (W2 in one run with its first day's predictions),
    then predictions over both weeks in one range run."""
    base = tmp_path_factory.mktemp("pipeline")
    with isolated(base):
        settings = cheap_settings(base, start_date="2023-01-01")
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        ingest = run(
            defs, instance, [RAW, FEATURES_KEY], first="2023-01-01", last=PREDICTED_DAYS[-1]
        )
        assert ingest.success, failure_text(ingest)
        config = {"n_trials": 3, "end_date": "2023-02-05", "search_space": CHEAP_SPACE}
        hyperparameters = run(defs, instance, [PARAMS_KEY], config=config)
        assert hyperparameters.success, failure_text(hyperparameters)
        models = {
            W1: run(defs, instance, [MODEL_KEY], partition=W1),
            W2: run(defs, instance, [MODEL_KEY, PREDICTIONS_KEY], tags={PARTITION_TAG: W2}),
        }
        predictions = run(
            defs, instance, [PREDICTIONS_KEY], first=PREDICTED_DAYS[0], last=PREDICTED_DAYS[-1]
        )
        yield Pipeline(settings, defs, instance, ingest, hyperparameters, models, predictions)


# --- 1. the pipeline on simulated data -----------------------------------------------------------


def test_hyperparameters_are_the_best_trial_and_the_study_is_logged_as_nested_runs(
    pipeline: Pipeline,
) -> None:
    import optuna

    value = pipeline.hyperparameters.output_for_node(PARAMS_KEY.path[-1])
    stored = pipeline.params_record()
    assert value == stored
    params = stored["params"]
    assert (stored["trials"], stored["completed"] + stored["pruned"]) == (3, 3)
    assert re.fullmatch(r"forecast-2023-02-05-[0-9a-f]{8}", stored["study"])  # end + space digest
    assert (stored["valid_start"], stored["end"]) == ("2023-01-30", "2023-02-06")
    # The config's search space replaced the YAML entries.
    assert params["num_boost_round"] in {30, 40, 50, 60}
    assert 8 <= params["num_leaves"] <= 16
    assert params["metric"] == "l1"

    study = optuna.load_study(study_name=stored["study"], storage=pipeline.settings.study_storage)
    assert len(study.trials) == 3
    assert {**study.best_params, "metric": "l1"} == params
    assert stored["valid_wape"] == pytest.approx(study.best_value)

    client = pipeline.client()
    parent = client.get_run(stored["mlflow_run_id"])
    assert parent.data.tags["study"] == stored["study"]
    assert parent.data.metrics["best_valid_wape"] == pytest.approx(stored["valid_wape"])
    assert parent.data.params["best.num_leaves"] == str(params["num_leaves"])
    trials = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(t.info.run_name for t in trials) == ["trial 0", "trial 1", "trial 2"]
    assert {t.data.tags["state"] for t in trials} == {"complete"}
    by_name = {t.info.run_name: t for t in trials}
    for trial in study.trials:
        logged = by_name[f"trial {trial.number}"]
        assert logged.data.metrics["valid_wape"] == pytest.approx(trial.value)
        assert logged.data.params["num_leaves"] == str(trial.params["num_leaves"])
    assert min(t.data.metrics["valid_wape"] for t in trials) == pytest.approx(stored["valid_wape"])


def test_each_week_registers_a_new_tagged_version_that_passes_the_gate(
    pipeline: Pipeline,
) -> None:
    client = pipeline.client()
    tuned = pipeline.params_record()["params"]
    versions = []
    for week, result in pipeline.models.items():
        assert result.success, failure_text(result)
        record = pipeline.record(week)
        assert result.output_for_node(MODEL_KEY.path[-1]) == record
        version = record["model_version"]
        assert record["model_uri"] == f"models:/{pipeline.name}/{version}"
        assert record["model_name"] == pipeline.name
        registered = client.get_model_version(pipeline.name, version)
        assert registered.tags[serving_rules.WEEK_TAG] == week
        assert registered.run_id == record["mlflow_run_id"]
        logged = client.get_run(record["mlflow_run_id"])
        assert logged.data.tags[serving_rules.WEEK_TAG] == week
        assert logged.data.metrics["valid_model_wape"] == pytest.approx(
            record["validation"]["model"]["wape"]
        )
        # Trained only on the three weeks before the week, with the tuned parameters.
        start = pd.Timestamp(week)
        assert record["train_end"] == week
        assert record["valid_start"] == str((start - pd.Timedelta(days=7)).date())
        assert str((start - pd.Timedelta(weeks=3)).date()) <= record["train_start"] < week
        assert record["params"] == tuned
        assert set(record["validation"]) == {"model", "naive_24h", "naive_168h"}
        assert record["forecasts_finite_non_negative"] is True

        [gate] = evaluations(pipeline.instance, result.run_id)
        assert (gate.check_name, str(gate.partition), gate.passed) == (GATE, week, True)
        assert gate.metadata["champion"].value is True
        assert gate.description == f"{record['model_uri']} may serve"
        versions.append(int(version))
    assert versions[1] > versions[0]
    # Both passed; the later week's version holds the alias.
    assert pipeline.champion() == pipeline.record(W2)["model_version"]


def test_each_version_records_the_pinned_packages_that_load_it(pipeline: Pipeline) -> None:
    from importlib.metadata import version

    import mlflow

    uri = pipeline.record(W2)["model_uri"]
    logged = mlflow.artifacts.load_text(f"{uri}/requirements.txt").split()
    expected = [f"{n}=={version(n)}" for n in ("mlflow", *tracking.MODEL_REQUIREMENTS)]
    assert sorted(logged) == sorted(expected)


def stored_report(storage: Path, result: dg.ExecuteInProcessResult, week: str) -> str:
    """The report the week's model run linked in its metadata: stored beside the model's
    partition, and the same page logged to the version's MLflow run."""
    import mlflow

    record = json.loads((storage / "forecast_model" / f"{week}.json").read_text())
    path = storage / "forecast_model" / week / f"report-v{record['model_version']}.html"
    assert materializations(result, MODEL_KEY)[week]["report"] == path.as_uri()
    page = path.read_text()
    logged = mlflow.artifacts.load_text(f"runs:/{record['mlflow_run_id']}/model_report.html")
    assert logged == page
    return page


def test_each_version_has_a_report_linked_stored_and_logged(pipeline: Pipeline) -> None:
    from energy_assets.domain.forecasting.report import SECTIONS, section_ids

    pages = {}
    for week, result in pipeline.models.items():
        pages[week] = page = stored_report(pipeline.storage, result, week)
        assert section_ids(page) == list(SECTIONS)
        [gate] = evaluations(pipeline.instance, result.run_id)
        verdict = "passed" if gate.passed else "failed"
        assert f'id="gate-verdict">{verdict}<' in page
    # The first version had no champion to compare with; the second is compared with it, on
    # days it never trained on.
    assert "There is no champion yet" in pages[W1]
    first_uri = pipeline.record(W1)["model_uri"]
    assert f"<code>{first_uri}</code> forecast the same validation days" in pages[W2]
    assert 'data-metric="champion-wape"' in pages[W2] and "favours it" not in pages[W2]


def test_promotion_keeps_a_later_weeks_champion(pipeline: Pipeline) -> None:
    import mlflow

    mlflow.set_tracking_uri(pipeline.settings.tracking_uri)
    older = pipeline.record(W1)["model_version"]
    champion = pipeline.champion()
    assert champion == pipeline.record(W2)["model_version"]
    assert tracking.promote(pipeline.name, older, W1) is False
    assert pipeline.champion() == champion
    tracking_uri = pipeline.settings.tracking_uri
    assert tracking.champion_uri(pipeline.name, tracking_uri) == pipeline.record(W2)["model_uri"]
    assert tracking.champion_uri("no-such-model", tracking_uri) is None


def test_predictions_use_the_model_of_each_days_week(pipeline: Pipeline) -> None:
    result = pipeline.predictions
    assert result is not None
    assert result.success, failure_text(result)
    uris = {week: pipeline.record(week)["model_uri"] for week in (W1, W2)}
    expected = {day: uris[W1] if day < W2 else uris[W2] for day in PREDICTED_DAYS}

    # One run over both weeks: each day's materialization names its own version.
    meta = materializations(result, PREDICTIONS_KEY)
    assert sorted(meta) == PREDICTED_DAYS
    assert {day: values["model_uri"] for day, values in meta.items()} == expected
    horizon = pipeline.settings.horizon_days
    assert horizon > 1
    assert {values["rows"] for values in meta.values()} == {DAY_ROWS * horizon}
    assert {values["leads"] for values in meta.values()} == {horizon}

    for day, uri in expected.items():
        issue = pd.read_parquet(pipeline.storage / "predictions" / f"{day}.parquet")
        origin = pd.Timestamp(day, tz="UTC")
        # The issue of `day` forecasts it and the horizon's further days, each at its lead.
        assert (issue[ORIGIN] == origin).all()
        assert (issue[TIME].dt.floor("D") - origin == pd.to_timedelta(issue[LEAD] - 1, "D")).all()
        assert sorted(issue[LEAD].unique()) == list(range(1, horizon + 1))
        assert (issue[ISSUED_AT] == origin + pd.Timedelta(days=horizon - 1, hours=-12)).all()
        assert not issue.duplicated([TIME, AREA, CONSUMER_TYPE]).any()
        assert set(issue["model_uri"]) == {uri}
        further = issue[issue[LEAD] > 1][[P10, PREDICTION, P90]]
        assert not further.isna().any().any()
        assert (further[P10] <= further[PREDICTION]).all()
        assert (further[PREDICTION] <= further[P90]).all()
        frame = issue[issue[LEAD] == 1]
        assert len(frame) == DAY_ROWS
        per_series = frame.groupby([AREA, CONSUMER_TYPE])[TIME].agg(["size", "nunique", "min"])
        assert len(per_series) == N_SERIES
        assert (per_series["size"] == 24).all() and (per_series["nunique"] == 24).all()
        assert (per_series["min"] == pd.Timestamp(day, tz="UTC")).all()
        bands = frame[[P10, PREDICTION, P90]]
        assert not bands.isna().any().any()
        assert (bands[P10] >= 0).all()
        assert (bands[P10] <= bands[PREDICTION]).all()
        assert (bands[PREDICTION] <= bands[P90]).all()
        assert (bands[P10] < bands[P90]).mean() > 0.9  # a band, not a line


def served_issue(pipeline: Pipeline, uri: str, day: str) -> pd.DataFrame:
    """The issue of `day` as MLflow's own loader forecasts it with `uri`, from the request
    `energy-forecast model example-request` prints."""
    import mlflow

    _, version = tracking.parse_version_uri(uri)
    frame, params = issue_request(pipeline.settings, version, dt.date.fromisoformat(day))
    return mlflow.pyfunc.load_model(uri).predict(frame, params=params)


SERVED_COLUMNS = [TIME, AREA, CONSUMER_TYPE, LEAD, PREDICTION, P10, P90]


def assert_same_forecasts(served: pd.DataFrame, stored: pd.DataFrame, rtol: float) -> None:
    """The same rows (keys, hours, leads) with the same forecasts and bands."""
    order = [TIME, AREA, CONSUMER_TYPE, LEAD]
    mine, theirs = (
        f[SERVED_COLUMNS].sort_values(order).reset_index(drop=True) for f in (served, stored)
    )
    pd.testing.assert_frame_equal(mine[order], theirs[order], check_dtype=False)
    for column in (PREDICTION, P10, P90):
        np.testing.assert_allclose(mine[column], theirs[column], rtol=rtol, err_msg=column)


def test_predictions_are_the_forecasts_of_the_named_version_as_mlflow_serves_it(
    pipeline: Pipeline,
) -> None:
    """The stored issue is what `mlflow.pyfunc.load_model` of its version forecasts from the
    stored history, at every lead; the other week's version would give different numbers."""
    for day, own, other in (("2023-02-08", W1, W2), ("2023-02-17", W2, W1)):
        stored = pd.read_parquet(pipeline.storage / "predictions" / f"{day}.parquet")
        assert set(stored["model_uri"]) == {pipeline.record(own)["model_uri"]}
        mine = served_issue(pipeline, pipeline.record(own)["model_uri"], day)
        assert sorted(mine[LEAD].unique()) == sorted(stored[LEAD].unique())
        assert_same_forecasts(mine, stored, rtol=1e-6)
        theirs = served_issue(pipeline, pipeline.record(other)["model_uri"], day)
        assert not np.allclose(theirs[PREDICTION], mine[PREDICTION], rtol=1e-6)


def test_a_passing_gate_lets_predictions_run_in_the_same_run(pipeline: Pipeline) -> None:
    """The control for the blocked case: the same run shape with a good model."""
    result = pipeline.models[W2]
    steps = started_steps(result)
    assert "predictions" in steps
    assert steps.index("forecast_model_promotion_gate") < steps.index("predictions")
    used = materializations(result, PREDICTIONS_KEY)[W2]["model_uri"]
    assert used == pipeline.record(W2)["model_uri"]


# --- 2. predictions stay pinned ------------------------------------------------------------------


def test_predictions_stay_pinned_when_the_champion_alias_moves(pipeline: Pipeline) -> None:
    day = "2023-02-15"  # in W2
    path = pipeline.storage / "predictions" / f"{day}.parquet"
    before = pd.read_parquet(path)
    first, second = (pipeline.record(w)["model_version"] for w in (W1, W2))
    assert pipeline.champion() == second
    client = pipeline.client()
    client.set_registered_model_alias(pipeline.name, tracking.CHAMPION, first)
    tracking.load_forecaster.cache_clear()  # load from the registry again, not from memory
    try:
        result = run(pipeline.defs, pipeline.instance, [PREDICTIONS_KEY], partition=day)
        assert result.success, failure_text(result)
        assert materializations(result, PREDICTIONS_KEY)[day]["model_uri"] == (
            f"models:/{pipeline.name}/{second}"
        )
        after = pd.read_parquet(path)
        pd.testing.assert_frame_equal(after, before)
        assert set(after["model_uri"]) == {f"models:/{pipeline.name}/{second}"}
        assert pipeline.champion() == first  # predicting does not touch the alias
    finally:
        client.set_registered_model_alias(pipeline.name, tracking.CHAMPION, second)


def test_predictions_refuse_a_record_that_names_an_alias(pipeline: Pipeline) -> None:
    day = "2023-02-16"
    record_path = pipeline.storage / "forecast_model" / f"{W2}.json"
    prediction_path = pipeline.storage / "predictions" / f"{day}.parquet"
    original, predicted = record_path.read_bytes(), prediction_path.read_bytes()
    tampered = {**json.loads(original), "model_uri": f"models:/{pipeline.name}@champion"}
    record_path.write_text(json.dumps(tampered))
    try:
        result = run(pipeline.defs, pipeline.instance, [PREDICTIONS_KEY], partition=day)
    finally:
        record_path.write_bytes(original)
    assert not result.success
    assert f"'models:/{pipeline.name}@champion' is not a pinned model version" in (
        failure_text(result)
    )
    assert prediction_path.read_bytes() == predicted


def model_folder(pipeline: Pipeline, uri: str) -> Path:
    """Where the registry keeps a version's MLflow model (its MLmodel and artifacts)."""
    _, version = tracking.parse_version_uri(uri)
    client = pipeline.client()
    registered = client.get_model_version(pipeline.name, version)
    model_id = registered.model_id or registered.source.removeprefix("models:/")
    location = client.get_logged_model(model_id).artifact_location
    return Path(location.removeprefix("file://"))


def test_a_version_missing_its_band_models_fails_predictions_by_name(pipeline: Pipeline) -> None:
    day = "2023-02-08"  # in W1
    uri = pipeline.record(W1)["model_uri"]
    band = model_folder(pipeline, uri) / "artifacts" / "forecaster" / "quantiles" / "0.9.txt"
    aside = band.with_suffix(".aside")
    prediction_path = pipeline.storage / "predictions" / f"{day}.parquet"
    predicted = prediction_path.read_bytes()
    band.rename(aside)
    tracking.load_forecaster.cache_clear()
    try:
        result = run(pipeline.defs, pipeline.instance, [PREDICTIONS_KEY], partition=day)
    finally:
        aside.rename(band)
        tracking.load_forecaster.cache_clear()
    assert not result.success
    assert f"{uri} lacks the artifacts ['forecaster/quantiles/0.9.txt']" in failure_text(result)
    assert prediction_path.read_bytes() == predicted  # the stored forecasts are kept


def test_a_version_in_the_former_booster_format_still_serves_predictions(
    pipeline: Pipeline,
) -> None:
    """A version registered before the forecaster was the MLflow model (the point booster in
    LightGBM's flavour, the rest as run artifacts) forecasts its issues as it did; one short of
    an artifact is refused by name."""
    day = "2023-02-16"  # in W2
    uri = pipeline.record(W2)["model_uri"]
    tracking_uri = pipeline.settings.tracking_uri
    model = tracking.load_forecaster(uri, tracking_uri).model
    legacy = log_booster_version(model, pipeline.name, W2, tracking_uri)
    tracking.record_gate(pipeline.name, legacy.version, passed=True)
    record_path = pipeline.storage / "forecast_model" / f"{W2}.json"
    prediction_path = pipeline.storage / "predictions" / f"{day}.parquet"
    original, predicted = record_path.read_bytes(), prediction_path.read_bytes()
    record = {**json.loads(original), "model_uri": legacy.uri, "model_version": legacy.version}
    record_path.write_text(json.dumps(record))
    try:
        result = run(pipeline.defs, pipeline.instance, [PREDICTIONS_KEY], partition=day)
        assert result.success, failure_text(result)
        reissued = pd.read_parquet(prediction_path)
    finally:
        record_path.write_bytes(original)
        prediction_path.write_bytes(predicted)
    assert set(reissued["model_uri"]) == {legacy.uri}
    assert_same_forecasts(reissued, pd.read_parquet(prediction_path), rtol=1e-12)

    artifacts = Path(pipeline.client().get_run(legacy.run_id).info.artifact_uri[len("file://") :])
    (artifacts / "quantiles" / "0.9.txt").unlink()
    tracking.load_forecaster.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"lacks the artifacts \['quantiles/0.9.txt'\]"):
            tracking.load_forecaster(legacy.uri, tracking_uri)
    finally:  # the week's newest version again for the tests after this one
        pipeline.client().delete_model_version(pipeline.name, legacy.version)


@pytest.mark.parametrize(
    "uri",
    [
        "models:/energy-consumption-forecast@champion",
        "models:/energy-consumption-forecast/latest",
        "models:/energy-consumption-forecast",
        "models:/energy-consumption-forecast/2/",
        "runs:/0123456789abcdef/model",
    ],
)
def test_load_forecaster_refuses_anything_but_an_explicit_version(uri: str, tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    with pytest.raises(ValueError, match="is not a pinned model version") as info:
        tracking.load_forecaster(uri, f"sqlite:///{store}")
    assert repr(uri) in str(info.value)
    assert not store.exists()  # refused before MLflow was asked anything
    with pytest.raises(ValueError, match="expected models:/<name>/<version number>"):
        tracking.parse_version_uri(uri)


def test_parse_version_uri_accepts_an_explicit_version() -> None:
    assert tracking.parse_version_uri("models:/energy-consumption-forecast/12") == (
        "energy-consumption-forecast",
        "12",
    )
    assert URI.match(tracking.ModelVersion("m", "3", "run").uri)


# --- 2b. several weeks in one run ---------------------------------------------------------------


@dataclass
class WeeksRun:
    state: Pipeline
    both: dg.ExecuteInProcessResult  # W1 and W2 in one run
    records: dict[str, dict[str, Any]]  # what that run stored for each week
    alone: dg.ExecuteInProcessResult  # W2 again, alone, as a retune runs it


@pytest.fixture(scope="module")
def weeks_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeeksRun]:
    """Own storage and registry: raw data to W2, a one-trial study, then the models of W1 and
    W2 in one run (as a backfill runs several weeks), then W2 alone."""
    base = tmp_path_factory.mktemp("weeks")
    with isolated(base):
        settings = cheap_settings(base, start_date="2023-01-01")
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        ingest = run(defs, instance, [RAW], first="2023-01-01", last="2023-02-12")
        assert ingest.success, failure_text(ingest)
        config = {"n_trials": 1, "end_date": "2023-02-05", "search_space": CHEAP_SPACE}
        params = run(defs, instance, [PARAMS_KEY], config=config)
        assert params.success, failure_text(params)
        both = run(defs, instance, [MODEL_KEY], first=W1, last=W2)
        state = Pipeline(settings, defs, instance, ingest, params, {}, None)
        records = {week: state.record(week) for week in (W1, W2)}
        alone = run(defs, instance, [MODEL_KEY], partition=W2)
        yield WeeksRun(state, both, records, alone)


def run_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [record.user_message for record in instance.all_logs(run_id)]


def test_a_run_of_several_weeks_registers_judges_and_reports_each_week(
    weeks_run: WeeksRun,
) -> None:
    state, result = weeks_run.state, weeks_run.both
    assert result.success, failure_text(result)
    client = state.client()
    stored = materializations(result, MODEL_KEY)
    assert sorted(stored) == [W1, W2]
    versions = []
    for week, record in weeks_run.records.items():
        # Each week: its own MLflow run and version, tagged with its week, and its own metadata.
        registered = client.get_model_version(state.name, record["model_version"])
        assert registered.tags[serving_rules.WEEK_TAG] == week
        assert registered.run_id == record["mlflow_run_id"]
        assert stored[week]["model_uri"] == record["model_uri"]
        assert stored[week]["valid_wape"] == record["validation"]["model"]["wape"]
        assert record["train_end"] == week
        report = state.storage / "forecast_model" / week / f"report-v{record['model_version']}.html"
        assert stored[week]["report"] == report.as_uri() and report.exists()
        assert load_reference(LocalStorage(state.storage), week, record["model_version"])
        versions.append(int(record["model_version"]))
    assert versions[1] == versions[0] + 1
    # One gate evaluation per week, on its own partition, judged in week order.
    gates = evaluations(state.instance, result.run_id)
    assert [(str(g.partition), g.passed) for g in gates] == [(W1, True), (W2, True)]
    assert [g.metadata["model_uri"].value for g in gates] == [
        weeks_run.records[W1]["model_uri"],
        weeks_run.records[W2]["model_uri"],
    ]
    # The first week fitted its checked model; the second reused the first week's served one.
    messages = run_messages(state.instance, result.run_id)
    assert f"week {W1}: checked model fitted" in messages
    assert f"week {W2}: checked model the week before" in messages


def test_a_week_trained_in_a_run_of_several_is_the_week_trained_alone(
    weeks_run: WeeksRun,
) -> None:
    """W2 alone fits its own checked model: the same verdict and the same served forecasts as
    in the run of two weeks, where the checked model was W1's served model."""
    state, alone = weeks_run.state, weeks_run.alone
    assert alone.success, failure_text(alone)
    assert f"week {W2}: checked model fitted" in run_messages(state.instance, alone.run_id)
    in_run, single = weeks_run.records[W2], state.record(W2)
    assert single["model_version"] != in_run["model_version"]
    assert single["validation"] == in_run["validation"]
    client = state.client()
    metrics = [client.get_run(r["mlflow_run_id"]).data.metrics for r in (in_run, single)]
    assert metrics[0] == metrics[1]
    raw = pd.concat(
        pd.read_parquet(f) for f in sorted((state.storage / "raw_consumption").glob("*.parquet"))
    )
    features = build_features(raw, pd.date_range(W2, periods=1, freq="D", tz="UTC"))
    models = [
        tracking.load_forecaster(r["model_uri"], state.settings.tracking_uri).model
        for r in (in_run, single)
    ]
    pd.testing.assert_frame_equal(predict(models[0], features), predict(models[1], features))


def test_a_run_of_several_weeks_stops_before_training_when_a_week_has_no_data(
    weeks_run: WeeksRun,
) -> None:
    state = weeks_run.state
    late = W3  # raw data ends 2023-02-12: nothing in its validation days
    before = state.record(W2)
    registered = len(state.client().search_model_versions(f"name='{state.name}'"))
    result = run(state.defs, state.instance, [MODEL_KEY], first=W2, last=late)
    assert not result.success
    message = failure_text(result)
    assert f"weeks {late}: no raw data stored for the 7 days before the week" in message
    # Nothing of the run's weeks was registered or overwritten.
    assert state.record(W2) == before
    assert len(state.client().search_model_versions(f"name='{state.name}'")) == registered
    assert not (state.storage / "forecast_model" / f"{late}.json").exists()


# --- 3. the gate ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def degenerate(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A model of week W3 (after the champion's week) trained with one boosting round at a
    learning rate of 1e-4: it predicts about the same ratio for every hour. Own storage, the
    pipeline's MLflow registry, so a champion of an earlier week exists."""
    base = tmp_path_factory.mktemp("degenerate")
    with isolated(base):
        settings = load_settings(
            start_date="2023-01-01",
            storage_dir=base / "storage",
            state_dir=pipeline.settings.state_dir,
            training_weeks=3,
        )
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        ingest = run(defs, instance, [RAW, FEATURES_KEY], first="2023-01-01", last=W3)
        assert ingest.success, failure_text(ingest)
        useless = {
            "num_boost_round": {"kind": "categorical", "choices": [1]},
            "learning_rate": {"kind": "categorical", "choices": [1e-4]},
        }
        config = {"n_trials": 1, "study_name": "degenerate", "search_space": useless}
        params = run(defs, instance, [PARAMS_KEY], config={**config, "end_date": "2023-02-12"})
        assert params.success, failure_text(params)
        # The model and the predictions of its first day in one run, as for W2 in `pipeline`.
        result = run(defs, instance, [MODEL_KEY, PREDICTIONS_KEY], tags={PARTITION_TAG: W3})
        yield Pipeline(settings, defs, instance, ingest, params, {W3: result}, None)


def test_the_gate_fails_a_useless_model_keeps_the_champion_and_it_never_serves(
    pipeline: Pipeline, degenerate: Pipeline
) -> None:
    state, week = degenerate, W3
    result = state.models[week]
    assert not result.success
    record = state.record(week)  # the model is materialized and registered ...
    assert (record["params"]["num_boost_round"], record["params"]["learning_rate"]) == (1, 1e-4)
    registered = state.client().get_model_version(state.name, record["model_version"])
    assert registered.tags[serving_rules.WEEK_TAG] == week

    [gate] = evaluations(state.instance, result.run_id)  # ... but does not pass the gate
    assert (gate.check_name, str(gate.partition), gate.passed) == (GATE, week, False)
    for baseline in ("naive_24h", "naive_168h"):
        for metric in ("wape", "mape_median"):
            model, other = (
                record["validation"]["model"][metric],
                record["validation"][baseline][metric],
            )
            assert f"{metric} {model:.4f} does not beat {baseline} {other:.4f}" in str(
                gate.description
            )
    assert gate.metadata["champion"].value is False
    assert gate_verdict(record["validation"], record["forecasts_finite_non_negative"]) == (
        False,
        gate.metadata["problems"].value,
    )

    # The version is not champion although its week is later than the champion's.
    assert pipeline.champion() == pipeline.record(W2)["model_version"]
    assert state.champion() != record["model_version"]
    # The blocking check stopped the predictions step of the same run.
    assert "predictions" not in started_steps(result)
    assert materializations(result, PREDICTIONS_KEY) == {}
    assert not (state.storage / "predictions").exists()

    # The verdict stays on the version, so a later, separate run does not serve it either:
    # with no passing version of its own week, the newest passing earlier one serves.
    registered = state.client().get_model_version(state.name, record["model_version"])
    assert registered.tags[serving_rules.GATE_TAG] == "failed"
    later = run(state.defs, state.instance, [PREDICTIONS_KEY], partition=W3)
    assert later.success, failure_text(later)
    served = materializations(later, PREDICTIONS_KEY)[W3]
    earlier = pipeline.record(W2)["model_uri"]
    assert served["model_uri"] == earlier
    assert served["fallback"] == (
        f"week {W3} has no version that passed its gate ({record['model_uri']} did not); "
        f"served by {earlier} of week {W2}"
    )
    stored = pd.read_parquet(state.storage / "predictions" / f"{W3}.parquet")
    assert set(stored["model_uri"]) == {earlier}


def test_a_retune_that_fails_its_gate_leaves_the_week_on_its_passing_version(
    pipeline: Pipeline, degenerate: Pipeline
) -> None:
    """W2 retrained with the useless parameters: the new version fails its gate, and the
    week's predictions keep coming from the version that passed."""
    state, day = degenerate, "2023-02-15"
    passing = pipeline.record(W2)["model_uri"]
    retune = run(state.defs, state.instance, [MODEL_KEY], partition=W2)
    assert not retune.success  # the blocking gate failed the run
    candidate = state.record(W2)["model_uri"]
    assert candidate != passing
    _, version = tracking.parse_version_uri(candidate)
    tags = state.client().get_model_version(state.name, version).tags
    assert tags[serving_rules.GATE_TAG] == "failed"

    result = run(state.defs, state.instance, [PREDICTIONS_KEY], partition=day)

    assert result.success, failure_text(result)
    served = materializations(result, PREDICTIONS_KEY)[day]
    assert served["model_uri"] == passing
    assert served["fallback"] == f"{candidate} did not pass its gate; week {W2} stays on {passing}"
    ours = pd.read_parquet(state.storage / "predictions" / f"{day}.parquet")
    theirs = pd.read_parquet(pipeline.storage / "predictions" / f"{day}.parquet")
    assert set(ours["model_uri"]) == {passing}
    np.testing.assert_allclose(ours[PREDICTION], theirs[PREDICTION], rtol=1e-12)


def verdict_record(
    model: tuple[float, float] = (0.03, 0.05),
    naive_24h: tuple[float, float] = (0.08, 0.15),
    naive_168h: tuple[float, float] = (0.04, 0.06),
    finite: bool = True,
) -> dict[str, Any]:
    """A forecast_model record with (wape, mape_median) per forecaster."""

    def stats(values: tuple[float, float]) -> dict[str, float]:
        return {"wape": values[0], "mape_median": values[1], "bias": 0.0, "mape_mean": values[1]}

    return {
        "validation": {
            "model": stats(model),
            "naive_24h": stats(naive_24h),
            "naive_168h": stats(naive_168h),
        },
        "forecasts_finite_non_negative": finite,
    }


def test_gate_verdict_passes_a_model_that_beats_both_baselines() -> None:
    assert gate_verdict(**verdict_record()) == (True, [])
    # As stored (JSON) it reads the same.
    assert gate_verdict(**json.loads(json.dumps(verdict_record()))) == (True, [])


@pytest.mark.parametrize(
    ("record", "problems"),
    [
        (
            verdict_record(model=(0.05, 0.05)),
            ["wape 0.0500 does not beat naive_168h 0.0400"],
        ),
        (  # a tie is not a win
            verdict_record(model=(0.03, 0.06)),
            ["mape_median 0.0600 does not beat naive_168h 0.0600"],
        ),
        (
            verdict_record(model=(0.09, 0.2)),
            [
                "wape 0.0900 does not beat naive_24h 0.0800",
                "mape_median 0.2000 does not beat naive_24h 0.1500",
                "wape 0.0900 does not beat naive_168h 0.0400",
                "mape_median 0.2000 does not beat naive_168h 0.0600",
            ],
        ),
        (
            verdict_record(model=(math.nan, 0.05)),
            [
                "wape nan does not beat naive_24h 0.0800",
                "wape nan does not beat naive_168h 0.0400",
            ],
        ),
        (
            verdict_record(model=(math.inf, math.inf)),
            [
                "wape inf does not beat naive_24h 0.0800",
                "mape_median inf does not beat naive_24h 0.1500",
                "wape inf does not beat naive_168h 0.0400",
                "mape_median inf does not beat naive_168h 0.0600",
            ],
        ),
        (  # a baseline that could not be computed is nothing the model has been shown to beat
            verdict_record(naive_168h=(math.nan, 0.06)),
            ["wape 0.0300 does not beat naive_168h nan"],
        ),
        (
            verdict_record(finite=False),
            ["forecasts are not all finite and non-negative"],
        ),
    ],
)
def test_gate_verdict_names_what_the_model_does_not_beat(
    record: dict[str, Any], problems: list[str]
) -> None:
    assert gate_verdict(**record) == (False, problems)
    assert gate_verdict(**json.loads(json.dumps(record))) == (False, problems)


# --- 4. the study: resume, determinism, search space ---------------------------------------------


@pytest.fixture(scope="module")
def tuning_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of two simulated weeks: the first to train on, the second to validate."""
    from energy_assets.domain.sources.simulator import SimulatorSource

    raw = SimulatorSource().fetch(
        pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-01-29", tz="UTC")
    )
    features = build_features(raw, pd.date_range("2023-01-15", "2023-01-28", freq="D", tz="UTC"))
    split = pd.Timestamp("2023-01-22", tz="UTC")
    return features[features[ORIGIN] < split], features[features[ORIGIN] >= split]


def trial_table(storage: str, name: str) -> list[tuple[int, dict[str, Any], float | None]]:
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    return [(t.number, t.params, t.value) for t in study.trials]


def test_a_resumed_study_keeps_its_trials_and_runs_only_the_missing_ones(
    tuning_data: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    train, valid = tuning_data
    space = load_search_space(overrides=CHEAP_SPACE)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    ran: list[int] = []

    def study(n_trials: int) -> Any:
        return tune(
            train,
            valid,
            space,
            storage=storage,
            study_name="resume",
            n_trials=n_trials,
            on_trial=lambda number, *_: ran.append(number),
        )

    first = study(3)
    earlier = trial_table(storage, "resume")
    second = study(5)
    trials = trial_table(storage, "resume")

    assert (first.trials, second.trials) == (3, 5)
    assert second.completed + second.pruned == 5
    assert ran == [0, 1, 2, 3, 4]  # the resumed study ran trials 3 and 4 only
    assert len(trials) == 5
    assert trials[:3] == earlier
    # The new trials explore; they do not replay the first ones.
    replayed = [n for n, params, _ in trials[3:] if params in [old for _, old, _ in earlier]]
    assert replayed == []
    assert second.best_value <= first.best_value

    third = study(5)  # the total is reached: nothing runs
    assert ran == [0, 1, 2, 3, 4]
    assert (third.trials, third.best_params) == (5, second.best_params)


def test_the_same_seed_and_data_give_the_same_trials_in_a_fresh_storage(
    tuning_data: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    train, valid = tuning_data
    space = load_search_space(overrides=CHEAP_SPACE)
    tables = []
    for folder, seed in (("a", 0), ("b", 0), ("c", 1)):
        storage = f"sqlite:///{tmp_path / f'{folder}.db'}"
        n_trials = 3 if seed == 0 else 1
        tune(train, valid, space, storage=storage, study_name="s", n_trials=n_trials, seed=seed)
        tables.append(trial_table(storage, "s"))
    same_a, same_b, other_seed = tables
    assert same_a == same_b
    assert len({json.dumps(p, sort_keys=True) for _, p, _ in same_a}) == 3
    assert other_seed[0][1] != same_a[0][1]


def test_trials_report_every_tenth_round_and_stop_when_pruned() -> None:
    import optuna

    from energy_assets.domain.forecasting.tuning import REPORT_EVERY_ROUNDS, pruning_callback

    class Trial:
        def __init__(self, prune_at: int | None) -> None:
            self.reported: list[int] = []
            self.prune_at = prune_at

        def report(self, value: float, step: int) -> None:
            self.reported.append(step)

        def should_prune(self) -> bool:
            return self.prune_at is not None and self.reported[-1] >= self.prune_at

    def rounds(callback: Any, n: int) -> None:
        for i in range(n):
            env = type("Env", (), {"iteration": i, "evaluation_result_list": []})()
            env.evaluation_result_list = [("valid", "l1", 1.0 / (i + 1), False)]
            callback(env)

    kept = Trial(prune_at=None)
    rounds(pruning_callback(kept), 35)
    assert kept.reported == [0, 10, 20, 30] and REPORT_EVERY_ROUNDS == 10
    pruned = Trial(prune_at=20)
    with pytest.raises(optuna.TrialPruned, match="pruned at round 20"):
        rounds(pruning_callback(pruned), 35)
    assert pruned.reported == [0, 10, 20]


def test_the_default_search_space_loads_and_overrides_replace_entries() -> None:
    space = load_search_space(overrides=CHEAP_SPACE)
    assert set(load_search_space()) == set(space)
    assert space["num_leaves"] == CHEAP_SPACE["num_leaves"]
    assert space["learning_rate"]["kind"] == "float"


@pytest.mark.parametrize(
    ("entry", "spec", "message"),
    [
        ("num_leaves", "{kind: integer, low: 8, high: 16}", "needs kind one of"),
        ("objective", "l1", "needs kind one of"),
        ("num_leaves", "{kind: int, low: 16, high: 16}", "needs low < high"),
        ("learning_rate", "{kind: float, low: 0.2, high: 0.1, log: true}", "needs low < high"),
        ("lambda_l2", "{kind: float, low: 0.1}", "needs low < high"),
        ("objective", "{kind: categorical, choices: []}", "categorical needs non-empty choices"),
    ],
)
def test_search_space_errors_name_the_entry(
    entry: str, spec: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(
        f"num_boost_round: {{kind: int, low: 30, high: 60, step: 10}}\n{entry}: {spec}\n"
    )
    with pytest.raises(SearchSpaceError) as info:
        load_search_space(path)
    assert str(info.value).startswith(f"{path}: {entry}: {message}")


def test_a_bad_override_names_the_entry() -> None:
    with pytest.raises(SearchSpaceError, match=r": num_leaves: needs low < high") as info:
        load_search_space(overrides={"num_leaves": {"kind": "int", "low": 16, "high": 8}})
    assert str(DEFAULT_SPACE_FILE) in str(info.value)


def test_a_bad_search_space_in_run_config_fails_the_step_and_keeps_the_stored_params(
    pipeline: Pipeline,
) -> None:
    stored = (pipeline.storage / "model_hyperparameters.json").read_bytes()
    config = {
        "n_trials": 1,
        "study_name": "bad-space",
        "end_date": "2023-02-05",
        "search_space": {"num_leaves": {"kind": "int", "low": 16, "high": 8}},
    }
    result = run(pipeline.defs, pipeline.instance, [PARAMS_KEY], config=config)
    assert not result.success
    assert "num_leaves: needs low < high" in failure_text(result)
    assert (pipeline.storage / "model_hyperparameters.json").read_bytes() == stored


def test_the_week_in_progress_has_a_model_partition(tmp_path: Path) -> None:
    """On a Wednesday the current week's model partition exists (it trains on the days before
    Monday), and every served day up to today maps onto an existing week."""
    import datetime as dt

    from energy_assets.defs.partitions import Partitions
    from energy_assets.settings import load_settings

    settings = load_settings(start_date="2023-01-01", storage_dir=tmp_path, state_dir=tmp_path)
    partitions = Partitions.from_settings(settings)
    now = dt.datetime(2023, 3, 15, 9, 0, tzinfo=dt.UTC)  # a Wednesday
    weeks = partitions.weeks.get_partition_keys(current_time=now)
    assert weeks[-1] == "2023-03-13"
    today = partitions.served_days.get_partition_keys(current_time=now + dt.timedelta(days=1))[-1]
    assert partitions.week_of(pd.Timestamp(today, tz="UTC")) in weeks


# --- 3. the registered model is the forecaster: MLflow serves it ---------------------------------


def test_mlflow_models_serve_answers_the_example_request_with_the_stored_issue(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlflow models serve --env-manager local` on 127.0.0.1, answering the body that
    `energy-forecast model example-request V --date D` prints: the issue the pipeline stored
    for D with V, every lead, to a relative 1e-6."""
    import subprocess
    import sys

    import requests

    from energy_assets.cli import main
    from tests.loopback import free_port

    day = "2023-02-17"  # in W2
    uri = pipeline.record(W2)["model_uri"]
    _, version = tracking.parse_version_uri(uri)
    with isolated(pipeline.storage.parent):
        monkeypatch.setenv("ENERGY_STORAGE_DIR", str(pipeline.settings.storage_dir))
        monkeypatch.setenv("ENERGY_STATE_DIR", str(pipeline.settings.state_dir))
        assert main(["model", "example-request", version, "--date", day]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["params"]["origin"] == f"{day}T00:00:00Z"

    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": pipeline.settings.tracking_uri,
        # The serving command starts uvicorn from PATH, as it does in an activated venv.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    log = pipeline.storage.parent / "serve.log"
    with log.open("w") as out:
        # Its own process group: the command runs uvicorn as a child, stopped with it.
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=5).ok:
                    break
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping"
            time.sleep(1)
        response = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=300)
        noon = {**body, "params": {**body["params"], "origin": f"{day}T12:00:00Z"}}
        refused = requests.post(f"http://127.0.0.1:{port}/invocations", json=noon, timeout=300)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=60)
    assert response.ok, response.text[:2000]
    # The version carries its code: loaded in a fresh process, the forecaster is the model's
    # own copy, with nothing of Dagster (what an image of `mlflow models build-docker` runs).
    probe = (
        "import sys, mlflow; mlflow.pyfunc.load_model(sys.argv[1]); import energy_assets; "
        "print(energy_assets.__file__, 'dagster' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, uri],
        env=env,
        cwd=pipeline.storage.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    where, dagster = loaded.stdout.split()[-2:]
    assert "/code/energy_assets/" in where and dagster == "False", loaded.stdout
    assert refused.status_code == 400
    assert "is 00:00 UTC of the first day forecast" in refused.json()["message"]
    served = pd.DataFrame(response.json()["predictions"])
    served[TIME] = pd.to_datetime(served[TIME], utc=True)
    stored = pd.read_parquet(pipeline.storage / "predictions" / f"{day}.parquet")
    assert len(served) == len(stored) and served[LEAD].max() == stored[LEAD].max() > 1
    assert_same_forecasts(served, stored, rtol=1e-6)
