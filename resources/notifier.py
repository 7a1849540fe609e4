"""Alert delivery from the alerts log (`energy_assets.storage.alert_log`, the outbox) to a
Slack-compatible webhook when one is configured."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import requests
from pydantic import Field

from energy_assets.domain.http import retrying_session
from energy_assets.domain.monitoring.alerts import Alert
from energy_assets.settings import Settings, redact_url, secret_env_var
from energy_assets.storage.alert_log import AlertLog

RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)


class NotificationError(RuntimeError):
    """The webhook did not accept an alert after every retry."""


def _redacted(url: str) -> str:
    """Webhook URLs carry their secret in the path; errors show only scheme and host."""
    return redact_url(url, keep_path=False)


@dataclass
class Delivery:
    """What one delivery round did."""

    sent: list[str] = field(default_factory=list)  # alert keys delivered
    error: str | None = None  # why the round stopped early
    waiting: int = 0  # alerts still pending after a failed round


class Notifier(dg.ConfigurableResource):
    """Sends alerts to the webhook (when set) and records them in the alerts log.

    The webhook URL is a secret (its path is the token): `from_settings` passes it as
    `EnvVar("ENERGY_ALERT_WEBHOOK_URL")`, so the Dagster UI and GraphQL show only that name.
    The field is marked secret as well: a value given directly shows masked in the resource
    view (though not in the launchpad's default config, hence the EnvVar)."""

    webhook_url: str | None = Field(default=None, json_schema_extra={"dagster__is_secret": True})
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        # From the environment (or .env, which load_settings exports) it goes by name;
        # a keyword override (tests) goes as the value itself.
        env_var = secret_env_var(settings, "alert_webhook_url")
        secret = settings.alert_webhook_url
        value = secret.get_secret_value() if secret is not None else None
        return cls(
            webhook_url=dg.EnvVar(env_var) if env_var else value,
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
