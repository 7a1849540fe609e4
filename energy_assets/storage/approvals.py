"""A person's approval or rejection of a model version (ENERGY_REQUIRE_APPROVAL): one service
that the command line (`energy-forecast model approve|reject`) and the dashboard's Models page
both call, with no Dagster import.

A decision is checked first (the version exists, passed its gate, awaits approval; who and why
are given), then recorded where every reader looks: the append-only decisions log in storage
(first: it is the durable record and refuses a second decision of the version), the version's
MLflow tags (`approval`, `approval_by`, `approval_at`, `approval_reason`, which serving reads),
the champion alias, and the decisions block of the version's stored model report. An approval
takes effect for predictions made from then on; `model_approval_sensor` re-predicts the days of
the approved week that are already stored."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from energy_assets.domain import tracking

from energy_assets.domain.forecasting import serving_rules
from energy_assets.settings import CommonSettings
from energy_assets.storage.model_decisions import Decision, DecisionLog, now_utc
from energy_assets.storage.objects import Storage, StorageError, storage_from_settings

log = logging.getLogger(__name__)

ACTIONS = {"approve": serving_rules.APPROVED, "reject": serving_rules.REJECTED}
MAX_REASON = 1000  # characters: a reason is a sentence or two, not a document
MAX_BY = 200


class DecisionError(ValueError):
    """The decision cannot be made; the message says why in one line."""


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    champion: str | None  # the champion's version afterwards
    report_updated: bool  # whether the model report's decisions block was re-stored


def _checked(version: str, action: str, by: str, reason: str) -> tuple[str, str, str, str]:
    if action not in ACTIONS and action not in ACTIONS.values():
        raise DecisionError(f"decision must be approve or reject, not {action!r}")
    decision = ACTIONS.get(action, action)
    version = str(version).strip().removeprefix("v")
    if not version.isdigit():
        raise DecisionError(f"version must be a version number such as 7, not {version!r}")
    by, reason = " ".join(str(by).split()), " ".join(str(reason).split())
    if not by:
        raise DecisionError("who decides must be given (--by)")
    if not reason:
        raise DecisionError("a reason must be given (--reason)")
    if len(reason) > MAX_REASON:
        raise DecisionError(f"the reason is {len(reason)} characters; at most {MAX_REASON}")
    if len(by) > MAX_BY:
        raise DecisionError(f"who decides is {len(by)} characters; at most {MAX_BY}")
    return str(int(version)), decision, by, reason


def decide(
    settings: CommonSettings,
    version: str,
    decision: str,
    by: str,
    reason: str,
    *,
    storage: Storage | None = None,
) -> Outcome:
    """Approve or reject the candidate `version` of the settings' registered model; raises
    DecisionError (a one-line message) when it cannot be decided."""
    version, decision, by, reason = _checked(version, decision, by, reason)
    model, tracking_uri = settings.registered_model, settings.tracking_uri
    info = tracking.get_version(model, version, tracking_uri)
    if info is None:
        raise DecisionError(f"{model} has no version {version}")
    if info.gate != "passed":
        raise DecisionError(
            f"v{version} (week {info.week}) did not pass its promotion gate "
            f"(gate: {info.gate or 'not run'}); only a candidate can be decided"
        )
    storage = storage or storage_from_settings(settings)
    decisions = DecisionLog(storage)
    logged = decisions.of_version(model, version)
    if info.approval != serving_rules.CANDIDATE:
        state = info.approval or serving_rules.NOT_REQUIRED
        done = f" by {info.approval_by} at {info.approval_at}" if info.approval_by else ""
        raise DecisionError(f"v{version} is not a candidate awaiting approval ({state}{done})")
    if logged is not None and logged.decision != decision:
        raise DecisionError(
            f"v{version} was already {logged.decision} by {logged.by} at {logged.at}"
        )
    if logged is None:
        entry = Decision(model, version, info.week, decision, by, now_utc(), reason)
        decisions.append(entry)
    else:
        # Logged by an earlier call that failed before its tags: finish that decision.
        entry = logged
    champion = tracking.record_decision(
        model,
        version,
        entry.decision,
        by=entry.by,
        at=entry.at,
        reason=entry.reason,
        tracking_uri=tracking_uri,
    )
    updated = update_report(storage, entry.week, version, decisions.read())
    log.info("v%s %s by %s: %s", version, entry.decision, entry.by, entry.reason)
    return Outcome(entry, champion, updated)


def update_report(storage: Storage, week: str, version: str, decisions: list[Decision]) -> bool:
    """Re-store the version's model report with its decisions block up to date; False (and
    nothing written) when the version has no stored report."""
    # Rendering pulls in plotly: only when a decision is made.
    from energy_assets.domain.forecasting.report import with_decisions
    from energy_assets.storage import model_reports

    mine = [asdict(d) for d in decisions if d.version == version and d.week == week]
    try:
        html = model_reports.load_report(storage, week, version)
        if html is None:
            return False
        updated = with_decisions(html, mine)
        model_reports.save_report(storage, week, version, updated)
    except (StorageError, ValueError) as exc:  # ValueError: a report without a decisions block
        # The dashboard's account may only create decisions on GCS: the approval sensor,
        # which runs as the pipeline, re-stores the report from the log.
        log.warning("the report of v%s was not updated here: %s", version, exc)
        return False
    return True
