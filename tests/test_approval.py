"""Optional human approval (ENERGY_REQUIRE_APPROVAL): the states on the model version, serving
eligibility, the champion alias, the append-only decisions log, the command line, and, at the
asset level, a candidate week served by the earlier approved version until the approval
sensor's run re-predicts it with the approved one."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from energy_assets.cli import main
from energy_assets.domain import tracking
from energy_assets.domain.forecasting import serving_rules
from energy_assets.settings import Settings, load_settings
from energy_assets.storage.approvals import DecisionError, decide
from energy_assets.storage.model_decisions import MODEL_DECISIONS, DecisionExists, DecisionLog
from energy_assets.storage.objects import LocalStorage

APPROVAL = serving_rules.APPROVAL_TAG
W1, W2, W3 = "2023-02-06", "2023-02-13", "2023-02-20"


# --- a registry of cheap versions (no training) --------------------------------------------------


class Registry:
    def __init__(self, settings: Settings) -> None:
        import mlflow

        self.settings = settings
        self.name = settings.registered_model
        self.client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
        self.client.create_registered_model(self.name)
        self.storage = LocalStorage(settings.storage_dir)

    def add(self, week: str, gate: str | None = "passed", *, required: bool = True) -> str:
        """A new version of `week`, judged by the gate as the promotion gate does."""
        made = self.client.create_model_version(
            self.name, source=str(self.settings.state_dir), tags={serving_rules.WEEK_TAG: week}
        )
        version = str(made.version)
        if gate is not None:
            import mlflow

            mlflow.set_tracking_uri(self.settings.tracking_uri)
            tracking.record_gate(self.name, version, gate == "passed", require_approval=required)
            tracking.promote(self.name, version, week, require_approval=required)
        return version

    def tags(self, version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(self.name, version).tags)

    def champion(self) -> str | None:
        found = tracking.champion_uri(self.name, self.settings.tracking_uri)
        return tracking.parse_version_uri(found)[1] if found else None

    def serving(self, week: str, required: bool = True) -> serving_rules.Serving | None:
        return tracking.newest_eligible(
            self.name, week, self.settings.tracking_uri, require_approval=required
        )

    def uri(self, version: str) -> str:
        return f"models:/{self.name}/{version}"


@pytest.fixture(scope="module")
def empty_tracking_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new MLflow SQLite store, its tables made once (a second per store) for every test
    here to copy."""
    import mlflow

    path = tmp_path_factory.mktemp("tracking") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def registry(tmp_path: Path, empty_tracking_store: Path) -> Registry:
    settings = load_settings(
        storage_dir=tmp_path / "storage", state_dir=tmp_path / "state", require_approval=True
    )
    settings.state_dir.mkdir(parents=True)
    shutil.copy(empty_tracking_store, settings.state_dir / "mlflow.db")
    return Registry(settings)


def test_approval_is_off_by_default_and_the_gate_alone_promotes(tmp_path: Path) -> None:
    settings = load_settings(storage_dir=tmp_path / "s", state_dir=tmp_path / "state")
    assert settings.require_approval is False
    settings.state_dir.mkdir(parents=True)
    reg = Registry(settings)
    v1 = reg.add(W1, required=False)
    assert reg.tags(v1)[serving_rules.APPROVAL_TAG] == serving_rules.NOT_REQUIRED
    assert reg.champion() == v1
    serving = reg.serving(W1, required=False)
    assert serving is not None and serving.uri == reg.uri(v1)
    # Nothing to decide: the version is not a candidate.
    with pytest.raises(DecisionError, match="not a candidate awaiting approval"):
        decide(settings, v1, "approve", "ana", "looks fine")


def test_env_var_turns_approval_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENERGY_REQUIRE_APPROVAL", "true")
    assert load_settings().require_approval is True


def test_a_passing_version_waits_as_candidate_and_serves_only_once_approved(
    registry: Registry,
) -> None:
    reg = registry
    v1 = reg.add(W1)
    assert reg.tags(v1)[serving_rules.APPROVAL_TAG] == serving_rules.CANDIDATE
    assert reg.champion() is None  # a candidate never holds the alias
    assert reg.serving(W1) is None
    # With approval off, the same candidate would serve (the gate alone decides).
    off = reg.serving(W1, required=False)
    assert off is not None and off.uri == reg.uri(v1)

    outcome = decide(reg.settings, v1, "approve", "ana", "validated on the January slice")
    tags = reg.tags(v1)
    assert tags[serving_rules.APPROVAL_TAG] == serving_rules.APPROVED
    assert (tags[serving_rules.APPROVAL_BY_TAG], tags[serving_rules.APPROVAL_REASON_TAG]) == (
        "ana",
        "validated on the January slice",
    )
    assert tags[serving_rules.APPROVAL_AT_TAG] == outcome.decision.at
    assert pd.Timestamp(outcome.decision.at).tzinfo is not None  # UTC, ISO
    assert outcome.champion == v1 == reg.champion()
    serving = reg.serving(W1)
    assert serving is not None and serving.uri == reg.uri(v1)


def test_a_candidate_week_falls_back_to_the_newest_approved_earlier_version_and_says_so(
    registry: Registry,
) -> None:
    reg = registry
    v1 = reg.add(W1)
    decide(reg.settings, v1, "approve", "ana", "ok")
    v2 = reg.add(W2)
    serving = reg.serving(W2)
    assert serving is not None and (serving.uri, serving.week) == (reg.uri(v1), W1)
    assert serving.fallback_note(W2, reg.uri(v2), "awaits approval") == (
        f"week {W2} has no approved version ({reg.uri(v2)} awaits approval); "
        f"served by {reg.uri(v1)} of week {W1}"
    )
    assert reg.champion() == v1

    decide(reg.settings, v2, "approve", "bo", "better than v1 on validation")
    serving = reg.serving(W2)
    assert serving is not None and serving.uri == reg.uri(v2)
    assert reg.champion() == v2


def test_rejecting_keeps_the_earlier_version_serving_and_never_serves_the_rejected(
    registry: Registry,
) -> None:
    reg = registry
    v1 = reg.add(W1)
    decide(reg.settings, v1, "approve", "ana", "ok")
    v2 = reg.add(W2)
    outcome = decide(reg.settings, f"v{v2}", "reject", "bo", "drifted on holidays")
    assert reg.tags(v2)[serving_rules.APPROVAL_TAG] == serving_rules.REJECTED
    assert outcome.champion == v1
    for required in (True, False):  # a rejection stands even with approval switched off
        serving = reg.serving(W2, required)
        assert serving is not None and serving.uri == reg.uri(v1)
    # A retrain of the week is a new candidate; once approved it serves.
    v3 = reg.add(W2)
    decide(reg.settings, v3, "approve", "bo", "retrained")
    serving = reg.serving(W2)
    assert serving is not None and serving.uri == reg.uri(v3)


def test_rejecting_the_champion_moves_the_alias_back_or_removes_it(tmp_path: Path) -> None:
    """A version promoted by the gate alone, then approval switched on and the version marked
    candidate: rejecting it must not leave it champion."""
    settings = load_settings(
        storage_dir=tmp_path / "s", state_dir=tmp_path / "state", require_approval=True
    )
    settings.state_dir.mkdir(parents=True)
    reg = Registry(settings)
    v1 = reg.add(W1, required=False)
    v2 = reg.add(W2, required=False)
    assert reg.champion() == v2
    for version in (v1, v2):
        reg.client.set_model_version_tag(
            reg.name, version, serving_rules.APPROVAL_TAG, serving_rules.CANDIDATE
        )
    decide(settings, v1, "approve", "ana", "ok")
    assert decide(settings, v2, "reject", "ana", "bad").champion == v1
    assert reg.champion() == v1
    # Now the only one left: reject a candidate that holds the alias with nothing else eligible.
    v3 = reg.add(W3, required=False)
    reg.client.set_model_version_tag(
        reg.name, v1, serving_rules.APPROVAL_TAG, serving_rules.REJECTED
    )
    reg.client.set_model_version_tag(
        reg.name, v3, serving_rules.APPROVAL_TAG, serving_rules.CANDIDATE
    )
    assert reg.champion() == v3
    assert decide(settings, v3, "reject", "ana", "bad too").champion is None
    assert reg.champion() is None


def test_versions_legacy_without_an_approval_tag_keep_serving_when_approval_is_switched_on(
    registry: Registry,
) -> None:
    reg = registry
    v1 = reg.add(W1, gate=None)
    reg.client.set_model_version_tag(reg.name, v1, serving_rules.GATE_TAG, "passed")
    serving = reg.serving(W2)
    assert serving is not None and serving.uri == reg.uri(v1)


def test_decisions_are_refused_with_a_reason_for_each_bad_input(registry: Registry) -> None:
    reg = registry
    failed = reg.add(W1, gate="failed")
    unjudged = reg.add(W1, gate=None)
    candidate = reg.add(W1)
    cases = {
        ("99", "approve", "ana", "ok"): "has no version 99",
        ("abc", "approve", "ana", "ok"): "version must be a version number",
        (failed, "approve", "ana", "ok"): "did not pass its promotion gate (gate: failed)",
        (unjudged, "approve", "ana", "ok"): "(gate: not run)",
        (candidate, "approve", "ana", "   "): "a reason must be given",
        (candidate, "approve", "", "ok"): "who decides must be given",
        (candidate, "promote", "ana", "ok"): "decision must be approve or reject",
    }
    for args, message in cases.items():
        with pytest.raises(DecisionError, match=re.escape(message)):
            decide(reg.settings, *args)
    assert DecisionLog(reg.storage).read() == []
    decide(reg.settings, candidate, "approve", "ana", "ok")
    with pytest.raises(
        DecisionError, match=re.escape("not a candidate awaiting approval (approved by ana")
    ):
        decide(reg.settings, candidate, "reject", "bo", "changed my mind")


def test_the_decisions_log_is_append_only(registry: Registry) -> None:
    reg = registry
    v1, v2 = reg.add(W1), reg.add(W2)
    decide(reg.settings, v1, "approve", "ana", "first")
    decide(reg.settings, v2, "reject", "bo", "second, with\nnewlines  squashed")
    log = DecisionLog(reg.storage)
    keys = log.object_keys()
    assert len(keys) == 2 and all(k.startswith(f"{MODEL_DECISIONS}/") for k in keys)
    before = {k: reg.storage.read_bytes(k) for k in keys}
    frame = log.frame()
    assert list(frame["version"]) == [v1, v2]
    assert list(frame["decision"]) == ["approved", "rejected"]
    assert list(frame["by"]) == ["ana", "bo"]
    assert list(frame["week"]) == [W1, W2]
    assert list(frame["reason"]) == ["first", "second, with newlines squashed"]
    [first] = log.read()[:1]
    with pytest.raises(DecisionExists):
        log.append(first)  # never a second entry for a decided version
    assert {k: reg.storage.read_bytes(k) for k in log.object_keys()} == before
    stored = json.loads(before[keys[0]])
    assert set(stored) == {"model", "version", "week", "decision", "by", "at", "reason"}


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Registry:
    monkeypatch.setenv("ENERGY_STORAGE_DIR", str(registry.settings.storage_dir))
    monkeypatch.setenv("ENERGY_STATE_DIR", str(registry.settings.state_dir))
    monkeypatch.setenv("ENERGY_REQUIRE_APPROVAL", "true")
    monkeypatch.setenv("USER", "cli-user")
    return registry


def test_cli_approves_rejects_and_lists(
    cli_registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = cli_registry
    v1, v2 = reg.add(W1), reg.add(W2)
    assert main(["model", "approve", v1, "--reason", "good on validation"]) == 0
    out = capsys.readouterr().out
    assert f"v{v1} (week {W1}) approved by cli-user at " in out
    assert f"champion: v{v1}" in out
    assert main(["model", "reject", v2, "--reason", "holiday drift", "--by", "ops lead"]) == 0
    assert reg.tags(v2)[serving_rules.APPROVAL_BY_TAG] == "ops lead"
    capsys.readouterr()
    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "approval required"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows[v1] == [v1, W1, "passed", "approved", "yes"]
    assert rows[v2] == [v2, W2, "passed", "rejected", "no"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["model", "approve", "99", "--reason", "x"], "has no version 99"),
        (["model", "approve", "1", "--reason", " "], "a reason must be given"),
        (["model", "approve", "1"], "the following arguments are required: --reason"),
        (["model", "approve", "1", "--reason", "x", "--by", ""], "who decides must be given"),
        (["model", "approve", "two", "--reason", "x"], "version must be a version number"),
        (["model", "frobnicate"], "invalid choice"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    cli_registry: Registry, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    cli_registry.add(W1)
    assert main(argv) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("energy-forecast model") and message in line
    assert "Traceback" not in captured.err


# --- assets: a candidate week, the fallback, the approval sensor's run ---------------------------


class Approved:
    """A pipeline with approval required: W1 approved, W2 a candidate, W2's days predicted."""

    def __init__(self, settings: Settings, defs: dg.Definitions, instance: Any) -> None:
        self.settings, self.defs, self.instance = settings, defs, instance
        self.versions: dict[str, str] = {}
        self.runs: dict[str, dg.ExecuteInProcessResult] = {}

    def uri(self, week: str) -> str:
        return f"models:/{self.settings.registered_model}/{self.versions[week]}"


W2_DAYS = [d.strftime("%Y-%m-%d") for d in pd.date_range(W2, periods=7, freq="D")]


@pytest.fixture(scope="module")
def approved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Approved]:
    from energy_assets.definitions import build_definitions
    from tests.asset_keys import FEATURES_KEY, MODEL_KEY, PARAMS_KEY, PREDICTIONS_KEY, RAW
    from tests.test_model_assets import CHEAP_SPACE, cheap_settings, failure_text, isolated, run

    base = tmp_path_factory.mktemp("approval")
    with isolated(base):
        settings = cheap_settings(base, start_date="2023-01-01", require_approval=True)
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        state = Approved(settings, defs, instance)
        ingest = run(defs, instance, [RAW, FEATURES_KEY], first="2023-01-01", last=W2_DAYS[-1])
        assert ingest.success, failure_text(ingest)
        config = {"n_trials": 2, "end_date": "2023-02-05", "search_space": CHEAP_SPACE}
        params = run(defs, instance, [PARAMS_KEY], config=config)
        assert params.success, failure_text(params)
        for week in (W1, W2):
            state.runs[week] = run(defs, instance, [MODEL_KEY], partition=week)
            assert state.runs[week].success, failure_text(state.runs[week])
            record = json.loads(
                (settings.storage_dir / "forecast_model" / f"{week}.json").read_text()
            )
            state.versions[week] = str(record["model_version"])
        state.runs["unapproved"] = run(defs, instance, [PREDICTIONS_KEY], partition=W1)
        decide(settings, state.versions[W1], "approve", "ana", "first week checked by hand")
        state.runs["fallback"] = run(
            defs, instance, [PREDICTIONS_KEY], first=W2_DAYS[0], last=W2_DAYS[-1]
        )
        yield state


def test_assets_a_candidate_never_serves_and_its_week_falls_back_and_says_so(
    approved: Approved,
) -> None:
    from tests.asset_keys import PREDICTIONS_KEY
    from tests.test_model_assets import failure_text, materializations

    state = approved
    # The gate passed, but with approval required the version waits and is not champion.
    assert not state.runs["unapproved"].success
    assert "approve a version" in failure_text(state.runs["unapproved"])
    assert not (state.settings.storage_dir / "predictions" / f"{W1}.parquet").exists()

    result = state.runs["fallback"]
    assert result.success, failure_text(result)
    metas = materializations(result, PREDICTIONS_KEY)
    assert sorted(metas) == W2_DAYS
    for meta in metas.values():
        assert meta["model_uri"] == state.uri(W1)
        assert meta["fallback"] == (
            f"week {W2} has no approved version ({state.uri(W2)} awaits approval); "
            f"served by {state.uri(W1)} of week {W1}"
        )
    for day in W2_DAYS:
        stored = pd.read_parquet(state.settings.storage_dir / "predictions" / f"{day}.parquet")
        assert set(stored["model_uri"]) == {state.uri(W1)}


def test_assets_after_approval_the_sensors_run_serves_the_week_with_the_approved_version(
    approved: Approved,
) -> None:
    from energy_assets.names import MODEL_APPROVAL_SENSOR
    from sensors.approval import RANGE_TAGS
    from tests.test_model_assets import failure_text, isolated

    state = approved
    with isolated(state.settings.storage_dir.parent):
        decide(state.settings, state.versions[W2], "approve", "bo", "holiday weeks look right")
        sensor = state.defs.resolve_sensor_def(MODEL_APPROVAL_SENSOR)
        resources = dict(state.defs.resources)
        with dg.build_sensor_context(
            instance=state.instance, definitions=state.defs, resources=resources
        ) as context:
            tick = sensor.evaluate_tick(context)
        [request] = tick.run_requests or []
        assert request.run_key and request.run_key.startswith("approval-")
        assert (request.tags[RANGE_TAGS[0]], request.tags[RANGE_TAGS[1]]) == (
            W2_DAYS[0],
            W2_DAYS[-1],
        )
        result = state.defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=state.instance,
            asset_selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )
        assert result.success, failure_text(result)
        for event in result.get_asset_materialization_events():
            meta = {k: v.value for k, v in event.materialization.metadata.items()}
            assert meta["model_uri"] == state.uri(W2)
            assert meta.get("fallback") is None
        for day in W2_DAYS:
            stored = pd.read_parquet(state.settings.storage_dir / "predictions" / f"{day}.parquet")
            assert set(stored["model_uri"]) == {state.uri(W2)}
        # One run per decision: the next tick, with the cursor, asks for nothing.
        with dg.build_sensor_context(
            instance=state.instance,
            definitions=state.defs,
            cursor=tick.cursor,
            resources=resources,
        ) as context:
            again = sensor.evaluate_tick(context)
        assert not again.run_requests
        assert tracking.champion_uri(
            state.settings.registered_model, state.settings.tracking_uri
        ) == state.uri(W2)
