"""Alert delivery: a Slack-compatible webhook when configured, and always the alerts log
(`energy_assets.storage.alert_log`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import dagster as dg
import requests

from energy_assets.domain.http import retrying_session
from energy_assets.domain.monitoring.alerts import Alert
from energy_assets.settings import Settings
from energy_assets.storage.alert_log import AlertLog

RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class NotificationError(RuntimeError):
    """The webhook did not accept an alert after every retry."""


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
