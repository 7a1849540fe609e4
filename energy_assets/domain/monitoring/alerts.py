"""Alert levels of a monitored day and the alert record that notifiers send and logs keep."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Level(str, Enum):
    OK = "OK"
    WARN = "WARN"
    ALERT = "ALERT"
    FAILURE = "FAILURE"  # a pipeline run failed


def classify(mape: float, warn: float, alert: float) -> Level:
    """OK, WARN (MAPE above `warn`) or ALERT (above `alert`); an unscorable day is an ALERT."""
    if not warn < alert:
        raise ValueError(f"warn threshold {warn} must be below alert threshold {alert}")
    if mape is None or not math.isfinite(mape):
        return Level.ALERT
    if mape > alert:
        return Level.ALERT
    if mape > warn:
        return Level.WARN
    return Level.OK


@dataclass(frozen=True)
class Alert:
    level: Level
    day: str  # ISO date the alert is about
    source: str  # what raised it: "mape" or "run"
    message: str
    subject: str = ""  # distinguishes alerts of one day and source, e.g. a run id
    details: dict[str, Any] = field(default_factory=dict)
    raised_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    @property
    def key(self) -> str:
        """Identity in the alerts log: one entry per day, source, subject and level."""
        subject = f"_{self.subject}" if self.subject else ""
        return f"{self.day}_{self.source}{subject}_{self.level.value}"

    def text(self) -> str:
        return f"[{self.level.value}] {self.day}: {self.message}"

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "level": self.level.value}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Alert:
        raw = json.loads(data)
        return cls(**{**raw, "level": Level(raw["level"])})


def mape_alert(level: Level, summary: dict[str, Any], warn: float, alert: float) -> Alert:
    """The alert of a monitored day from its `day_summary`."""
    limit = alert if level is Level.ALERT else warn
    mape = summary.get("mape", float("nan"))
    return Alert(
        level=level,
        day=str(summary["day"]),
        source="mape",
        message=(
            f"pooled MAPE {mape:.1%} (lead {summary.get('lead_days', 1)}) is above the "
            f"{level.value.lower()} threshold {limit:.1%}; "
            f"WAPE {summary.get('wape', float('nan')):.1%}, worst series "
            f"{summary.get('worst_series', '?')} at {summary.get('mape_worst', float('nan')):.1%}, "
            f"model {summary.get('model_uri', '?')}"
        ),
        details={"mape": mape, "warn": warn, "alert": alert, **summary},
    )
