"""Hyperparameter search with Optuna: seeded TPE, pruning on LightGBM's validation metric,
and a persistent study so an interrupted search resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.model import PREDICTION, fit, predict
from energy_assets.domain.schema import VALUE

DEFAULT_SPACE_FILE = Path(__file__).resolve().with_name("search_space.yaml")
KINDS = {"float", "int", "categorical"}


class SearchSpaceError(ValueError):
    pass


def load_search_space(
    path: Path = DEFAULT_SPACE_FILE, overrides: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The YAML search space with overrides applied; each entry is validated."""
    space = yaml.safe_load(path.read_text()) or {}
    space.update(overrides or {})
    for name, spec in space.items():
        where = f"{path}: {name}"
        if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            raise SearchSpaceError(f"{where}: needs kind one of {sorted(KINDS)}, got {spec!r}")
        if spec["kind"] == "categorical":
            if not spec.get("choices"):
                raise SearchSpaceError(f"{where}: categorical needs non-empty choices")
        elif not ("low" in spec and "high" in spec and spec["low"] < spec["high"]):
            raise SearchSpaceError(f"{where}: needs low < high, got {spec!r}")
    return space


def suggest(trial: Any, space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec["kind"] == "float":
            params[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=spec.get("log", False)
            )
        elif spec["kind"] == "int":
            params[name] = trial.suggest_int(
                name,
                spec["low"],
                spec["high"],
                step=spec.get("step", 1),
                log=spec.get("log", False),
            )
        else:
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
    return params


# How often a trial reports its validation metric to the study. Each report and pruning
# question is a transaction on the study's storage (SQLite or PostgreSQL): every round, they
# took a third of a 400-round trial's time; every tenth round, pruning still acts within ten
# rounds of being due.
REPORT_EVERY_ROUNDS = 10


def pruning_callback(trial: Any, metric: str = "l1") -> Callable[[Any], None]:
    """Report LightGBM's validation metric to Optuna every REPORT_EVERY_ROUNDS rounds; stop the
    trial if pruned."""
    import optuna

    def callback(env: Any) -> None:
        if env.iteration % REPORT_EVERY_ROUNDS:
            return
        for data_name, name, value, _ in env.evaluation_result_list:
            if data_name == "valid" and name == metric:
                trial.report(value, step=env.iteration)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at round {env.iteration}")

    callback.order = 10  # type: ignore[attr-defined]
    return callback


@dataclass
class StudyResult:
    best_params: dict[str, Any]
    best_value: float
    trials: int
    completed: int
    pruned: int


def tune(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    space: Mapping[str, Mapping[str, Any]],
    *,
    storage: str,
    study_name: str,
    n_trials: int,
    timeout_seconds: float | None = None,
    seed: int = 0,
    on_trial: Callable[[int, dict[str, Any], float | None, str], None] | None = None,
) -> StudyResult:
    """Minimise validation WAPE; `n_trials` is the total the study should reach, so a resumed
    study only runs the trials still missing."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=50),
    )
    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = max(n_trials - len(finished), 0)
    if study.trials:
        # A resumed study gets a fresh sampler: seeded as before, it would replay the first
        # trials' parameters. Offsetting by the trials so far keeps it deterministic.
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))

    objective = _objective(train, valid, space, on_trial)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout_seconds, n_jobs=1)
    states = [t.state for t in study.trials]
    completed = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
    if completed == 0:
        raise RuntimeError(f"study {study_name!r} has no completed trial")
    return StudyResult(
        best_params={**study.best_params, "metric": "l1"},
        best_value=float(study.best_value),
        trials=len(states),
        completed=completed,
        pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
    )


def _objective(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    space: Mapping[str, Mapping[str, Any]],
    on_trial: Callable[[int, dict[str, Any], float | None, str], None] | None,
) -> Callable[[Any], float]:
    """Validation WAPE of a model with a trial's parameters; pruned on the validation L1."""
    import optuna

    def objective(trial: Any) -> float:
        params = suggest(trial, space)
        params["metric"] = "l1"
        try:
            model = fit(
                train, params, quantiles=(), valid=valid, callbacks=[pruning_callback(trial)]
            )
        except optuna.TrialPruned:
            if on_trial:
                on_trial(trial.number, params, None, "pruned")
            raise
        value = metrics.wape(valid[VALUE], predict(model, valid)[PREDICTION])
        if on_trial:
            on_trial(trial.number, params, value, "complete")
        return value

    return objective
