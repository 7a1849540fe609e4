"""Alert delivery from the alerts log (`energy_assets.storage.alert_log`, the outbox) to a
Slack-compatible webhook when one is configured."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class Delivery:
    """What one delivery round did."""

    sent: list[str] = field(default_factory=list)  # alert keys delivered
    error: str | None = None  # why the round stopped early
    waiting: int = 0  # alerts still pending after a failed round


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

    def deliver_pending(self, log: AlertLog) -> Delivery:
        """Send every logged alert not yet delivered, oldest first, marking each once sent.

        The first alert the webhook refuses (after its retries) stops the round: the rest wait,
        in order, for the next round. A crash between sending and marking sends that one alert
        again: at least once, never lost. Without a webhook the log is the channel, and alerts
        are marked as they are found, so a webhook configured later starts from new alerts."""
        delivery = Delivery()
        for alert in log.pending():
            if self.webhook_url:
                try:
                    self.post(alert)
                except NotificationError as exc:
                    delivery.error = str(exc)
                    delivery.waiting = len(log.pending())
                    return delivery
            log.mark_delivered(alert, "webhook" if self.webhook_url else "log")
            delivery.sent.append(alert.key)
        return delivery

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
