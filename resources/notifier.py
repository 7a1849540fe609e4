"""Alert delivery: a Slack-compatible webhook when configured, and always the alerts log.

The alerts log is append-only: one small JSON object per alert under `alerts/` in the same
storage as the assets, named by the alert's identity, so writing it twice is a no-op and a
restarted sensor can tell what it already sent.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlsplit

import dagster as dg
import pandas as pd
import requests

from energy_assets.http import retrying_session
from energy_assets.monitoring.alerts import Alert
from energy_assets.settings import Settings
from resources.storage import Storage

ALERTS_PREFIX = "alerts"
RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class NotificationError(RuntimeError):
    """The webhook did not accept an alert after every retry."""


class AlertLog:
    """Append-only log of alerts in asset storage (local folder or GCS)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @staticmethod
    def object_key(alert: Alert) -> str:
        return f"{ALERTS_PREFIX}/{alert.key}.json"

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
        keys = [k for k in self.storage.list_keys(ALERTS_PREFIX) if k.endswith(".json")]
        alerts = [Alert.from_json(self.storage.read_bytes(k)) for k in keys]
        return sorted(alerts, key=lambda a: (a.raised_at, a.day, a.key))

    def frame(self) -> pd.DataFrame:
        columns = ["raised_at", "day", "level", "source", "message"]
        rows = [{**asdict(a), "level": a.level.value} for a in self.read()]
        return pd.DataFrame(rows, columns=columns)


def _redacted(url: str) -> str:
    """Webhook URLs carry their secret in the path; errors show only scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


class Notifier(dg.ConfigurableResource):
    """Sends alerts to the webhook (when set) and records them in the alerts log."""

    webhook_url: str | None = None
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        return cls(
            webhook_url=settings.alert_webhook_url,
            timeout_seconds=settings.alert_webhook_timeout_seconds,
            max_retries=settings.alert_webhook_retries,
            backoff_seconds=settings.alert_webhook_backoff_seconds,
        )

    def notify(self, alert: Alert, log: AlertLog) -> bool:
        """Deliver an alert once: False, and nothing sent, when the log already holds it.

        The webhook is posted before the log entry is written, so a failed delivery is tried
        again on the next attempt; a crash between the two can repeat a message, never lose it.
        """
        if log.contains(alert):
            return False
        if self.webhook_url:
            self.post(alert)
        log.write(alert)
        return True

    def post(self, alert: Alert) -> None:
        assert self.webhook_url
        session = retrying_session(
            self.max_retries,
            self.backoff_seconds,
            methods={"POST"},
            statuses=RETRY_STATUSES,
            raise_on_status=False,
            backoff_max=30.0,
        )
        with session:
            try:
                response = session.post(
                    self.webhook_url,
                    json={"text": alert.text()},
                    timeout=self.timeout_seconds,
                )
            except requests.RequestException as exc:
                raise NotificationError(
                    f"alert webhook {_redacted(self.webhook_url)} unreachable after "
                    f"{self.max_retries} retries: {type(exc).__name__}"
                ) from None
        if not response.ok:
            raise NotificationError(
                f"alert webhook {_redacted(self.webhook_url)} answered HTTP {response.status_code} "
                f"after {self.max_retries} retries: {response.text[:200]!r}"
            )
