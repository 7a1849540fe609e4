"""The model decisions log: append-only, one small JSON object per person's approval or
rejection of a model version, under `model_decisions/` in the same storage as the assets.

An object is named by when the decision was made, then the version
(`model_decisions/<UTC time>-v<version>.json`), so listing the folder reads the log in order,
and it is never rewritten: a version is decided once, and a second decision of it is refused.
On GCS the dashboard's service account may create objects under this prefix only, which cannot
replace an existing one either. `approve|reject` (command line and dashboard) write it; the
approval sensor reads it to re-predict an approved week; the dashboard shows it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import pandas as pd

from energy_assets.storage.objects import Storage

MODEL_DECISIONS = "model_decisions"  # storage folder of the log (not an asset)
COLUMNS = ["at", "version", "week", "decision", "by", "reason", "model"]


class DecisionExists(ValueError):
    """The version was decided already; the log keeps its first decision."""


@dataclass(frozen=True)
class Decision:
    model: str  # the registered model's name
    version: str
    week: str
    decision: str  # "approved" or "rejected"
    by: str
    at: str  # UTC, ISO 8601 with microseconds
    reason: str

    @property
    def key(self) -> str:
        stamp = dt.datetime.fromisoformat(self.at).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{MODEL_DECISIONS}/{stamp}-v{int(self.version):06d}.json"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Decision:
        fields = json.loads(data)
        return cls(**{k: str(fields[k]) for k in cls.__dataclass_fields__})


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class DecisionLog:
    """Append-only log of model decisions in asset storage (local folder or GCS)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def object_keys(self) -> list[str]:
        return [k for k in self.storage.list_keys(MODEL_DECISIONS) if k.endswith(".json")]

    def of_version(self, model: str, version: str) -> Decision | None:
        suffix = f"-v{int(version):06d}.json"
        for key in self.object_keys():
            if key.endswith(suffix):
                found = Decision.from_json(self.storage.read_bytes(key))
                if found.model == model:
                    return found
        return None

    def append(self, decision: Decision) -> str:
        """Store the decision under a new key; refuse a second decision of the same version."""
        earlier = self.of_version(decision.model, decision.version)
        if earlier is not None:
            raise DecisionExists(
                f"v{decision.version} was already {earlier.decision} by {earlier.by} "
                f"at {earlier.at}"
            )
        if self.storage.exists(decision.key):
            raise DecisionExists(f"{decision.key} is already in the decisions log")
        self.storage.write_bytes(decision.key, decision.to_json(), "application/json")
        return decision.key

    def read(self, after: str | None = None) -> list[Decision]:
        """Every logged decision (or those whose key sorts after `after`), oldest first."""
        keys = [k for k in self.object_keys() if after is None or k > after]
        return [Decision.from_json(self.storage.read_bytes(k)) for k in keys]

    def entries(self, after: str | None = None) -> list[tuple[str, Decision]]:
        """(key, decision) pairs, oldest first: the key is the sensor's cursor."""
        keys = [k for k in self.object_keys() if after is None or k > after]
        return [(k, Decision.from_json(self.storage.read_bytes(k))) for k in keys]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(d) for d in self.read()], columns=COLUMNS)
