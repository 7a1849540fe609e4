"""The alerts log, kept as an outbox: one small JSON object per alert under `alerts/` in the
same storage as the assets, named by the alert's identity, written before anyone is told. A
delivery marker under `alert_deliveries/` records that the alert reached its channel; alerts
without one are pending and are delivered by a later tick, after any outage. The sensors write
it; the notifier delivers from it; the dashboard reads it."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict

import pandas as pd

from energy_assets.domain.monitoring.alerts import Alert
from energy_assets.names import ALERT_DELIVERIES, ALERTS
from energy_assets.storage.objects import Storage


class AlertLog:
    """Append-only log of alerts in asset storage (local folder or GCS), with delivery marks."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @staticmethod
    def object_key(alert: Alert) -> str:
        return f"{ALERTS}/{alert.key}.json"

    @staticmethod
    def delivery_key(alert: Alert) -> str:
        return f"{ALERT_DELIVERIES}/{alert.key}.json"

    def contains(self, alert: Alert) -> bool:
        return self.storage.exists(self.object_key(alert))

    def append(self, alert: Alert) -> bool:
        """Store the alert; False when an alert of the same identity is already logged."""
        if self.contains(alert):
            return False
        self.write(alert)
        return True

    def write(self, alert: Alert) -> None:
        self.storage.write_bytes(self.object_key(alert), alert.to_json(), "application/json")

    def read(self) -> list[Alert]:
        """Every logged alert, oldest first."""
        keys = [k for k in self.storage.list_keys(ALERTS) if k.endswith(".json")]
        alerts = [Alert.from_json(self.storage.read_bytes(k)) for k in keys]
        return sorted(alerts, key=lambda a: (a.raised_at, a.day, a.key))

    def pending(self) -> list[Alert]:
        """Logged alerts not yet delivered, oldest first."""
        delivered = set(self.storage.list_keys(ALERT_DELIVERIES))
        return [a for a in self.read() if self.delivery_key(a) not in delivered]

    def mark_delivered(self, alert: Alert, channel: str) -> None:
        mark = {"key": alert.key, "channel": channel,
                "delivered_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
        self.storage.write_bytes(
            self.delivery_key(alert), json.dumps(mark).encode(), "application/json"
        )

    def frame(self) -> pd.DataFrame:
        columns = ["raised_at", "day", "level", "source", "message"]
        rows = [{**asdict(a), "level": a.level.value} for a in self.read()]
        return pd.DataFrame(rows, columns=columns)
