"""The one place where configuration is read: environment variables and `.env`.

Every component (assets, resources, sensors, dashboard, benchmarks) calls `load_settings()`.
Invalid values fail here, at load time, with the variable named.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ENERGY_"

# Canonical columns (energy_assets.domain.schema), named here so settings import nothing.
TIME, VALUE, AREA = "datetime_utc", "consumption_kwh", "area"
KEY_COLUMNS = ("area", "consumer_type", "municipality", "branch")


class SourceKind(StrEnum):
    ENERGIDATASERVICE = "energidataservice"
    FILE = "file"
    SIMULATOR = "simulator"


class DashboardAuth(StrEnum):
    """Who may see the dashboard (dash_app/auth.py); /api/health is public in every mode."""

    NONE = "none"  # open, as `make dashboard` serves it on 127.0.0.1
    BASIC = "basic"  # HTTP basic auth against ENERGY_DASHBOARD_USERS
    OIDC = "oidc"  # OpenID Connect sign-in at the provider of ENERGY_DASHBOARD_OIDC_METADATA_URL


# What werkzeug.security.generate_password_hash makes: "<method>$<salt>$<hex digest>".
_PASSWORD_HASH = re.compile(r"^(scrypt|pbkdf2):[^$]+\$[^$]+\$[0-9a-f]+$")


def _user_hashes(raw: str) -> dict[str, str]:
    """ENERGY_DASHBOARD_USERS parsed; the errors name the variable and users, never a value."""
    name = f"{ENV_PREFIX}DASHBOARD_USERS"
    try:
        users = json.loads(raw)
    except json.JSONDecodeError:
        users = None
    if not isinstance(users, dict) or not all(
        isinstance(u, str) and isinstance(h, str) for u, h in users.items()
    ):
        raise ValueError(f"{name} must be a JSON object of user name -> password hash")
    if not users:
        raise ValueError(f"{name} names no user")
    for user, hashed in users.items():
        if not _PASSWORD_HASH.match(hashed):
            raise ValueError(
                f"{name}: the password of user {user!r} is not a password hash; plaintext "
                "passwords are refused: store werkzeug.security.generate_password_hash(password)"
            )
    return users


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # Source
    source: SourceKind = SourceKind.SIMULATOR
    file: Path | None = None
    api_base_url: str = "https://api.energidataservice.dk"
    # The live successor of the retired ConsumptionDE35Hour.
    api_dataset: str = "ConsumptionIndustry"
    # Source field -> canonical column, for a dataset without a profile or with renamed fields.
    # NoDecode: the validators below parse the JSON, so a bad value is reported by name.
    api_columns: Annotated[dict[str, str] | None, NoDecode] = None
    # Series to forecast: key column -> values (e.g. {"municipality": [851]}), and the key columns
    # to sum to (e.g. "area,branch" sums municipalities to price areas). Empty: everything.
    series_filter: Annotated[dict[str, list[str | int]], NoDecode] = Field(default_factory=dict)
    series_level: Annotated[tuple[str, ...] | None, NoDecode] = None
    api_page_size: int = Field(default=10_000, gt=0, le=100_000)
    api_timeout_seconds: float = Field(default=30.0, gt=0)
    api_max_retries: int = Field(default=5, ge=0, le=20)
    api_backoff_seconds: float = Field(default=1.0, ge=0)
    simulator_seed: int = 42
    simulator_anomaly_rate: float = Field(default=0.0, ge=0.0, le=0.2)
    simulator_regime_change_date: dt.date | None = None
    simulator_regime_change_factor: float = Field(default=1.3, gt=0)

    # Partitions
    start_date: dt.date = dt.date(2023, 1, 1)

    # Storage: a GCS bucket when set, else a local folder.
    storage_dir: Path = Path("storage")
    gcs_bucket: str | None = None
    gcs_prefix: str = "energy"
    gcs_project: str | None = None

    # Models: MLflow tracking and registry, Optuna studies. Local state lives in state_dir.
    state_dir: Path = Path(".state")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "ENERGY_MLFLOW_TRACKING_URI"),
    )
    mlflow_experiment: str = "energy-forecasting"
    registered_model: str = "energy-consumption-forecast"
    # Two years: the model learns the yearly pattern from them (it reads the year before, too).
    training_weeks: int = Field(default=104, ge=2, le=520)
    validation_days: int = Field(default=7, ge=1, le=60)
    optuna_storage: str | None = None

    # Monitoring and alerts. Day-ahead pooled MAPE of the model on the real Jan 2023 slice ran
    # 4.4-11.9% a day (median 6.0%): WARN flags the worst fifth of such days, ALERT lies above
    # every one of them.
    mape_warn: float = Field(default=0.08, gt=0)
    mape_alert: float = Field(default=0.12, gt=0)
    alert_webhook_url: str | None = None
    alert_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    alert_webhook_retries: int = Field(default=4, ge=0, le=20)
    alert_webhook_backoff_seconds: float = Field(default=1.0, ge=0)

    # Automation: the source publishes day D this many days after it ends (ConsumptionDE35Hour
    # came about 15 days late), so the daily run fetches day (today - delay).
    publication_delay_days: int = Field(default=15, ge=0, le=120)
    ingest_cron: str = "0 6 * * *"
    # How many days before the newest published one the schedule still fetches again while
    # they have not passed their data contract (late or partial days); older ones are given up.
    refetch_days: int = Field(default=7, ge=0, le=120)

    # --- Dashboard access (dash_app/auth.py) -------------------------------------------------
    # Secrets are SecretStr: repr() and str() of the settings show "**********" for them.
    dashboard_auth: DashboardAuth = DashboardAuth.NONE
    # A JSON object of user name -> werkzeug.security.generate_password_hash(password).
    dashboard_users: SecretStr | None = None
    # Signs the Flask session cookie: required for oidc, optional for basic (which sends the
    # password with every request). At least 32 characters; the same in every worker.
    dashboard_secret_key: SecretStr | None = None
    # The provider's discovery document (.../.well-known/openid-configuration).
    dashboard_oidc_metadata_url: str | None = None
    dashboard_oidc_client_id: str | None = None
    dashboard_oidc_client_secret: SecretStr | None = None
    # Who may sign in (comma-separated): e-mail addresses, e-mail domains; "*" as the domain lets
    # in everyone the provider signs in. One of the two is required for oidc.
    dashboard_oidc_allowed_emails: Annotated[tuple[str, ...], NoDecode] = ()
    dashboard_oidc_allowed_domains: Annotated[tuple[str, ...], NoDecode] = ()
    # An https redirect URI and a Secure session cookie (TLS ends before gunicorn on Cloud Run);
    # false only to try the sign-in over plain HTTP on 127.0.0.1.
    dashboard_oidc_https: bool = True

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("api_columns", "series_filter", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object: {exc}") from exc
        return value

    @field_validator("api_columns")
    @classmethod
    def _columns_complete(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        targets = set(value.values())
        missing = sorted({TIME, VALUE} - targets)
        if missing or not targets & set(KEY_COLUMNS):
            wanted = [*missing, *([] if targets & set(KEY_COLUMNS) else ["a key column"])]
            raise ValueError(
                f"must map source fields onto {wanted} (key columns: {', '.join(KEY_COLUMNS)})"
            )
        unknown = sorted(targets - {TIME, VALUE, *KEY_COLUMNS})
        if unknown:
            raise ValueError(f"maps onto unknown columns {unknown}")
        return value

    @field_validator("series_filter", mode="after")
    @classmethod
    def _filter_keys(cls, value: dict[str, list[Any]] | None) -> dict[str, list[Any]]:
        value = value or {}
        unknown = sorted(set(value) - set(KEY_COLUMNS))
        if unknown:
            raise ValueError(f"filters unknown key columns {unknown}; known: {list(KEY_COLUMNS)}")
        return value

    @field_validator("series_level", mode="before")
    @classmethod
    def _level_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = tuple(v.strip() for v in value.split(",") if v.strip())
            return names or None
        return value

    @field_validator("series_level")
    @classmethod
    def _level_keys(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - set(KEY_COLUMNS))
        if unknown:
            raise ValueError(f"names unknown key columns {unknown}; known: {list(KEY_COLUMNS)}")
        if AREA not in value:
            raise ValueError(f"must keep {AREA!r} (area-level features need it)")
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("gcs_bucket", "gcs_project", "alert_webhook_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("gcs_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return value.strip("/")

    @model_validator(mode="after")
    def _file_needed(self) -> Settings:
        if self.source is SourceKind.FILE and self.file is None:
            raise ValueError(f"{ENV_PREFIX}FILE must be set when {ENV_PREFIX}SOURCE=file")
        return self

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Settings:
        if not self.mape_warn < self.mape_alert:
            raise ValueError(
                f"{ENV_PREFIX}MAPE_WARN ({self.mape_warn}) must be below "
                f"{ENV_PREFIX}MAPE_ALERT ({self.mape_alert})"
            )
        return self

    # --- Dashboard access validators ---------------------------------------------------------
    @field_validator(
        "dashboard_users",
        "dashboard_secret_key",
        "dashboard_oidc_metadata_url",
        "dashboard_oidc_client_id",
        "dashboard_oidc_client_secret",
        mode="before",
    )
    @classmethod
    def _dashboard_blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "dashboard_oidc_allowed_emails", "dashboard_oidc_allowed_domains", mode="before"
    )
    @classmethod
    def _dashboard_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().lower() for v in value if str(v).strip())
        return value

    @field_validator("dashboard_oidc_metadata_url")
    @classmethod
    def _dashboard_metadata_url(cls, value: str | None) -> str | None:
        # The document names the provider's keys: plain HTTP only to a provider on this machine.
        local = ("http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/")
        if value and not value.startswith(("https://", *local)):
            raise ValueError("must start with https:// (http:// only to 127.0.0.1 or localhost)")
        return value

    @model_validator(mode="after")
    def _dashboard_access(self) -> Settings:
        """Each way in has what it needs. The errors name variables, never a secret's value."""
        if self.dashboard_users is not None:
            _user_hashes(self.dashboard_users.get_secret_value())
        key = self.dashboard_secret_key
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError(
                f"{ENV_PREFIX}DASHBOARD_SECRET_KEY must be at least 32 characters, e.g. from "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        mode = self.dashboard_auth
        if mode is DashboardAuth.BASIC and self.dashboard_users is None:
            raise ValueError(
                f"{ENV_PREFIX}DASHBOARD_USERS must be set when {ENV_PREFIX}DASHBOARD_AUTH=basic"
            )
        if mode is DashboardAuth.OIDC:
            needed = {
                "DASHBOARD_OIDC_METADATA_URL": self.dashboard_oidc_metadata_url,
                "DASHBOARD_OIDC_CLIENT_ID": self.dashboard_oidc_client_id,
                "DASHBOARD_OIDC_CLIENT_SECRET": self.dashboard_oidc_client_secret,
                "DASHBOARD_SECRET_KEY": self.dashboard_secret_key,
            }
            missing = [f"{ENV_PREFIX}{name}" for name, value in needed.items() if value is None]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)} must be set when {ENV_PREFIX}DASHBOARD_AUTH=oidc"
                )
            if not (self.dashboard_oidc_allowed_emails or self.dashboard_oidc_allowed_domains):
                raise ValueError(
                    f"{ENV_PREFIX}DASHBOARD_OIDC_ALLOWED_EMAILS or "
                    f"{ENV_PREFIX}DASHBOARD_OIDC_ALLOWED_DOMAINS must say who may sign in when "
                    f'{ENV_PREFIX}DASHBOARD_AUTH=oidc ("*" as the domain: anyone the provider '
                    "signs in)"
                )
        return self

    def dashboard_user_hashes(self) -> dict[str, str]:
        """ENERGY_DASHBOARD_USERS: user name -> werkzeug password hash (empty when unset)."""
        users = self.dashboard_users
        return _user_hashes(users.get_secret_value()) if users is not None else {}

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: MLFLOW_TRACKING_URI, else a SQLite store in state_dir."""
        return self.mlflow_tracking_uri or f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> str:
        return (self.state_dir / "mlruns").resolve().as_uri()

    @property
    def study_storage(self) -> str:
        return self.optuna_storage or f"sqlite:///{(self.state_dir / 'optuna.db').resolve()}"

    @property
    def storage_uri(self) -> str:
        """Human-readable base of the stored assets."""
        if self.gcs_bucket:
            return f"gs://{self.gcs_bucket}/{self.gcs_prefix}".rstrip("/")
        return str(self.storage_dir.resolve())


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if part != "__root__"]
        name = (
            (loc[0] if loc[0].isupper() else f"{ENV_PREFIX}{loc[0].upper()}") if loc else "settings"
        )
        got = item.get("input")
        shown = "" if loc == [] or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{name}: {item['msg']}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; keyword overrides win (for tests)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
