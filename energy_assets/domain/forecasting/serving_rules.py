"""Which registered version may serve, and which serves a week: pure rules over a version's
tags (the promotion gate's verdict, a person's approval), no MLflow and no Dagster. The
registry's reads and writes are in energy_assets/domain/tracking.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WEEK_TAG = "week"
GATE_TAG = "promotion_gate"

# Human approval (ENERGY_REQUIRE_APPROVAL). The state lives in tags on the model version, next
# to the gate's verdict, so every run and the dashboard read the same answer:
#   approval = candidate     passed its gate while approval was required; awaits a person
#            = approved      a person approved it (approval_by, approval_at, approval_reason)
#            = rejected      a person rejected it; it never serves, whatever the setting
#            = not_required  passed its gate while approval was off: the gate alone promoted it
# A version that passed its gate before approval existed has no approval tag and counts as
# not_required: switching approval on never stops a version that already serves.
APPROVAL_TAG = "approval"
APPROVAL_BY_TAG = "approval_by"
APPROVAL_AT_TAG = "approval_at"
APPROVAL_REASON_TAG = "approval_reason"
CANDIDATE, APPROVED, REJECTED, NOT_REQUIRED = "candidate", "approved", "rejected", "not_required"


def eligible(tags: Mapping[str, str], require_approval: bool) -> bool:
    """May the version serve: its gate passed, no person rejected it and, when approval is
    required, it is not still waiting for one."""
    if tags.get(GATE_TAG) != "passed":
        return False
    approval = tags.get(APPROVAL_TAG)
    if approval == REJECTED:
        return False
    return not (require_approval and approval == CANDIDATE)


def why_not(tags: Mapping[str, str], require_approval: bool) -> str | None:
    """Why a version may not serve, in a few words ('did not pass its gate', 'awaits
    approval', 'was rejected'); None when it may."""
    if tags.get(GATE_TAG) != "passed":
        return "did not pass its gate"
    if tags.get(APPROVAL_TAG) == REJECTED:
        return "was rejected"
    if require_approval and tags.get(APPROVAL_TAG) == CANDIDATE:
        return "awaits approval"
    return None


@dataclass(frozen=True)
class VersionInfo:
    """A registered version as the registry lists it: its week, verdicts and decision."""

    name: str
    version: str
    week: str
    gate: str | None
    approval: str | None
    approval_by: str | None
    approval_at: str | None
    approval_reason: str | None
    run_id: str | None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def tags(self) -> dict[str, str]:
        pairs = {GATE_TAG: self.gate, APPROVAL_TAG: self.approval}
        return {k: v for k, v in pairs.items() if v is not None}

    @classmethod
    def of(cls, registered: Any) -> VersionInfo:
        tags = registered.tags or {}
        return cls(
            name=str(registered.name),
            version=str(registered.version),
            week=str(tags.get(WEEK_TAG, "")),
            gate=tags.get(GATE_TAG),
            approval=tags.get(APPROVAL_TAG),
            approval_by=tags.get(APPROVAL_BY_TAG),
            approval_at=tags.get(APPROVAL_AT_TAG),
            approval_reason=tags.get(APPROVAL_REASON_TAG),
            run_id=registered.run_id,
        )


@dataclass(frozen=True)
class Serving:
    """The version that serves a week: its own newest eligible one, else an earlier week's."""

    uri: str
    week: str  # the week the version was trained for

    def fallback_note(
        self, week: str, candidate: str, why: str = "did not pass its gate"
    ) -> str | None:
        """Why `candidate` (the week's newest version) does not serve, and what does."""
        if self.uri == candidate:
            return None
        if why == "did not pass its gate":
            if self.week == week:
                return f"{candidate} did not pass its gate; week {week} stays on {self.uri}"
            return (
                f"week {week} has no version that passed its gate ({candidate} did not); "
                f"served by {self.uri} of week {self.week}"
            )
        if self.week == week:
            return f"{candidate} {why}; week {week} stays on {self.uri}"
        return (
            f"week {week} has no approved version ({candidate} {why}); "
            f"served by {self.uri} of week {self.week}"
        )


def serving_of(
    versions: list[VersionInfo], week: str, require_approval: bool, *, exclude: str | None = None
) -> Serving | None:
    """The newest eligible version of `week`; without one, the newest eligible version of the
    latest earlier week. None when no version up to `week` may serve."""
    ok = [
        (v.week, int(v.version), v)
        for v in versions
        if v.week <= week and v.version != exclude and eligible(v.tags, require_approval)
    ]
    if not ok:
        return None
    best_week, _, best = max(ok, key=lambda item: (item[0], item[1]))
    return Serving(best.uri, best_week)
