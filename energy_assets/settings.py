"""The one place where configuration is read: environment variables and `.env`.

Every component (assets, resources, sensors, dashboard, benchmarks) calls `load_settings()`.
Invalid values fail here, at load time, with the variable named.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
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


class PriceSourceKind(StrEnum):
    """Where day-ahead prices come from; `none` forecasts without them."""

    ENERGIDATASERVICE = "energidataservice"
    FILE = "file"
    SIMULATOR = "simulator"
    NONE = "none"


PRICE_AREAS = ("DK1", "DK2")


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


# Secret settings -> the environment variables that carry them, the canonical name first.
# Dagster resources take them as `EnvVar(name)` (see `secret_env_var`), which the UI and GraphQL
# show by name only.
SECRET_ENV_VARS: dict[str, tuple[str, ...]] = {
    "alert_webhook_url": (f"{ENV_PREFIX}ALERT_WEBHOOK_URL",),
    "mlflow_tracking_uri": ("MLFLOW_TRACKING_URI", f"{ENV_PREFIX}MLFLOW_TRACKING_URI"),
    "optuna_storage": (f"{ENV_PREFIX}OPTUNA_STORAGE",),
}
# Errors echo a field's input only when its name says nothing secret (dashboard_users,
# dashboard_secret_key, alert_webhook_url, ... are never echoed); URL-like fields show their
# input without credentials.
_SECRET_NAME = re.compile(r"secret|password|passw|token|key|users|webhook|credential|auth", re.I)
_URL_NAME = re.compile(r"url|uri|storage|dsn", re.I)
_SECRET_QUERY = re.compile(
    r"([?&;][^=&#;]*(?:pass|secret|token|key|sig|auth|cred|session)[^=&#;]*=)[^&#;]*", re.I
)


def redact_url(url: str, *, keep_path: bool = True) -> str:
    """`url` as it may be shown: any userinfo (user, password, or a token in the user part) and
    the values of query parameters named like secrets replaced by ***; with `keep_path=False`
    only scheme and host remain (a webhook URL carries its secret in the path)."""
    if not keep_path:
        try:
            parts = urlsplit(url)
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return "<unparsable URL>"
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}{port}/…" if parts.scheme else "<not a URL>"
    shown = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1***@", url)
    return _SECRET_QUERY.sub(r"\1***", shown)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(url: str) -> str:
    """`url` if it is https://, or http:// to a loopback host; else an error that shows at
    most the scheme and host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("must start with https:// (http:// only for a loopback host)")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(
            "must use https://; plain http:// is allowed only to a loopback host "
            f"(127.0.0.0/8, ::1, localhost), not {host}"
        )
    return url


class _EnergySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )
    # The names given to load_settings as keyword overrides (tests): never exported.
    _overridden: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator(
        "gcs_bucket",
        "gcs_project",
        "alert_webhook_url",
        "mlflow_tracking_uri",
        "optuna_storage",
        "dashboard_users",
        "dashboard_secret_key",
        "dashboard_oidc_metadata_url",
        "dashboard_oidc_client_id",
        "dashboard_oidc_client_secret",
        "forecast_leads",
        mode="before",
        check_fields=False,
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class CommonSettings(_EnergySettings):
    """What the pipeline and the dashboard both read: where the assets and the models are,
    the alert thresholds and the publication delay."""

    # Storage: a GCS bucket when set, else a local folder.
    storage_dir: Path = Path("storage")
    gcs_bucket: str | None = None
    gcs_prefix: str = "energy"
    gcs_project: str | None = None

    # Models: MLflow tracking and registry, Optuna studies. Local state lives in state_dir.
    state_dir: Path = Path(".state")
    # Secrets (SecretStr: repr and errors never show them): a tracking URI or storage URL may
    # carry a password, a webhook URL carries its token in the path.
    mlflow_tracking_uri: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "ENERGY_MLFLOW_TRACKING_URI"),
    )
    mlflow_experiment: str = "energy-forecasting"
    registered_model: str = "energy-consumption-forecast"
    # A version that passes its gate also needs a person's approval (dashboard or CLI) to serve.
    require_approval: bool = False
    # Monitoring and alerts. Day-ahead pooled MAPE of the model on the real Jan 2023 slice ran
    # 4.4-11.9% a day (median 6.0%): WARN flags the worst fifth of such days, ALERT lies above
    # every one of them.
    mape_warn: float = 0.08
    mape_alert: float = 0.12
    # The source is expected to publish day D this many days after it ends; the schedule asks it
    # for its newest day, and a later one raises a freshness alert. ConsumptionIndustry's
    # exports taken on 2024-11-19 and 2024-12-11 ended 9 and 12 days behind: the slower, so
    # that a source at its usual lateness raises no alert (ConsumptionDE35Hour came ~15 late).
    publication_delay_days: int = Field(default=12, ge=0, le=120)
    # Days each daily issue forecasts, from the day after the newest published one: by default
    # through tomorrow (the delay, the day being published and tomorrow).
    forecast_leads: int | None = Field(default=None, ge=1, le=60)
    # The lead whose pooled MAPE the alert sensor judges (the day-ahead forecast by default).
    alert_lead: int = Field(default=1, ge=1, le=60)

    @field_validator("mape_warn", "mape_alert")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("must be a fraction in (0, 1], e.g. 0.08 for 8%")
        return value

    @field_validator("gcs_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return value.strip("/")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if not self.mape_warn < self.mape_alert:
            raise ValueError(
                f"{ENV_PREFIX}MAPE_WARN ({self.mape_warn}) must be below "
                f"{ENV_PREFIX}MAPE_ALERT ({self.mape_alert})"
            )
        if self.alert_lead > self.horizon_days:
            raise ValueError(
                f"{ENV_PREFIX}ALERT_LEAD ({self.alert_lead}) must be at most the forecast "
                f"horizon, {self.horizon_days} days ({ENV_PREFIX}FORECAST_LEADS, by default "
                f"{ENV_PREFIX}PUBLICATION_DELAY_DAYS + 2)"
            )
        return self

    @property
    def horizon_days(self) -> int:
        """How many days each issue forecasts (leads 1 .. horizon_days)."""
        if self.forecast_leads is not None:
            return self.forecast_leads
        return min(60, self.publication_delay_days + 2)

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: MLFLOW_TRACKING_URI, else a SQLite store in state_dir."""
        if self.mlflow_tracking_uri is not None:
            return self.mlflow_tracking_uri.get_secret_value()
        return f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> str:
        return (self.state_dir / "mlruns").resolve().as_uri()

    @property
    def storage_uri(self) -> str:
        """Human-readable base of the stored assets."""
        if self.gcs_bucket:
            return f"gs://{self.gcs_bucket}/{self.gcs_prefix}".rstrip("/")
        return str(self.storage_dir.resolve())


class Settings(CommonSettings):
    """The pipeline's settings (the code location, the CLI, the benchmarks): the common ones,
    the source, training, alerting and scheduling. The dashboard never reads these."""

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

    # Day-ahead prices. Unset: the source's own kind (the API's price datasets, the simulator's
    # synthetic prices, ENERGY_PRICES_FILE beside a consumption file), else none.
    prices: PriceSourceKind | None = None
    prices_file: Path | None = None
    price_areas: Annotated[tuple[str, ...], NoDecode] = PRICE_AREAS
    # Danish time: hourly from just after the auction's results until tomorrow's are stored.
    prices_cron: str = "30 13-23 * * *"

    # Partitions
    start_date: dt.date = dt.date(2023, 1, 1)

    # Two years: the model learns the yearly pattern from them (it reads the year before, too).
    training_weeks: int = Field(default=104, ge=2, le=520)
    validation_days: int = Field(default=7, ge=1, le=60)
    # How many weekly models a backfill trains per run: one process start and one read of the
    # data for them all, and each week's checked model is the week before's served model.
    model_weeks_per_run: int = Field(default=8, ge=1, le=52)
    optuna_storage: SecretStr | None = None

    alert_webhook_url: SecretStr | None = None
    alert_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    alert_webhook_retries: int = Field(default=4, ge=0, le=20)
    alert_webhook_backoff_seconds: float = Field(default=1.0, ge=0)

    # Checked where it is used, by Dagster's schedule (sensors/ingest_schedule.py).
    ingest_cron: str = "0 6 * * *"
    # How many days before the newest published one the schedule still fetches again while
    # they have not passed their data contract (late or partial days); older ones are given up.
    refetch_days: int = Field(default=7, ge=0, le=120)

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Plain http only to a loopback host (tests replay the API on 127.0.0.1).
        return _https_url(value).rstrip("/")

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

    @field_validator("price_areas", mode="before")
    @classmethod
    def _area_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip().upper() for v in value.split(",") if v.strip())
        return value

    @field_validator("price_areas")
    @classmethod
    def _known_areas(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PRICE_AREAS))
        if unknown or not value:
            raise ValueError(f"must list price areas among {list(PRICE_AREAS)}, got {list(value)}")
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        # The webhook's token travels in the URL: never in clear text past the loopback host.
        if value is not None:
            _https_url(value.get_secret_value())
        return value

    @field_validator("optuna_storage")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"[A-Za-z][\w+.-]*://", value.get_secret_value()):
            raise ValueError(
                "must be a database URL, e.g. sqlite:///path/optuna.db or "
                "postgresql://user:password@host/db"
            )
        return value

    @model_validator(mode="after")
    def _file_needed(self) -> Settings:
        if self.source is SourceKind.FILE and self.file is None:
            raise ValueError(f"{ENV_PREFIX}FILE must be set when {ENV_PREFIX}SOURCE=file")
        if self.prices is PriceSourceKind.FILE and self.prices_file is None:
            raise ValueError(f"{ENV_PREFIX}PRICES_FILE must be set when {ENV_PREFIX}PRICES=file")
        return self

    @property
    def price_source(self) -> PriceSourceKind:
        """Where prices come from, the default resolved."""
        if self.prices is not None:
            return self.prices
        if self.prices_file is not None:
            return PriceSourceKind.FILE
        return {
            SourceKind.ENERGIDATASERVICE: PriceSourceKind.ENERGIDATASERVICE,
            SourceKind.SIMULATOR: PriceSourceKind.SIMULATOR,
        }.get(self.source, PriceSourceKind.NONE)

    @property
    def uses_prices(self) -> bool:
        return self.price_source is not PriceSourceKind.NONE

    @property
    def study_storage(self) -> str:
        """Optuna storage URL (may carry a password: show it only through `redact_url`)."""
        if self.optuna_storage is not None:
            return self.optuna_storage.get_secret_value()
        return f"sqlite:///{(self.state_dir / 'optuna.db').resolve()}"


class DashboardSettings(CommonSettings):
    """The dashboard's settings: the common ones and who may see it. The code location never
    reads these, so a bad ENERGY_DASHBOARD_* value cannot stop it."""

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

    # --- Dashboard access validators ---------------------------------------------------------
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
    def _dashboard_access(self) -> Self:
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


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ()) if part != "__root__"]
        name = (
            (loc[0] if loc[0].isupper() else f"{ENV_PREFIX}{loc[0].upper()}") if loc else "settings"
        )
        got = item.get("input")
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}{_shown(name, got) if loc else ''}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def _shown(name: str, got: Any) -> str:
    """The input as an error may echo it: never for a field named like a secret (so a secret
    field added later is covered without a list to keep) or typed SecretStr, a URL-like
    field's without credentials, nothing for a whole mapping."""
    field = name.lower().removeprefix(ENV_PREFIX.lower())
    fields = {**Settings.model_fields, **DashboardSettings.model_fields}
    annotation = fields[field].annotation if field in fields else None
    secret_type = "SecretStr" in repr(annotation)
    if secret_type or _SECRET_NAME.search(name) or isinstance(got, dict | SecretStr):
        return ""
    if _URL_NAME.search(name):
        return f" (got {redact_url(got)!r})" if isinstance(got, str) else ""
    return f" (got {got!r})"


def secret_env_var(settings: Settings, field: str) -> str | None:
    """The environment variable of this process that holds the secret setting `field`
    (a key of SECRET_ENV_VARS), or None when the value was not read from the environment or
    `.env` (a keyword override, or unset). Resources pass such a value as `EnvVar(name)`."""
    secret = getattr(settings, field)
    if secret is None:
        return None
    value = secret.get_secret_value()
    return next((n for n in SECRET_ENV_VARS[field] if os.environ.get(n) == value), None)


def export_dotenv_secrets(settings: Settings) -> None:
    """Put secrets read from `.env` into os.environ under their own names, for the code
    location's resources, which take secrets as `EnvVar(name)` so that the Dagster UI shows
    names, not values. Called by the code location as it builds its resources, never while
    settings load (the dashboard and the CLI leave the environment alone).

    pydantic-settings reads `.env` without touching os.environ, and Dagster loads the working
    directory's `.env` only in some processes: `dagster dev`, `dagster-daemon run` and CLI
    commands that open an instance, but not `dagster code-server start` / `dagster api grpc`
    started without one, nor a process started in another directory. A value already in the
    environment wins over `.env`, and a keyword override (tests) is not exported."""
    for field, names in SECRET_ENV_VARS.items():
        secret = getattr(settings, field)
        given = field in settings._overridden or any(n in settings._overridden for n in names)
        if secret is None or given or any(name in os.environ for name in names):
            continue
        os.environ[names[0]] = secret.get_secret_value()


_S = TypeVar("_S", bound=_EnergySettings)


def _load(kind: type[_S], overrides: dict[str, Any]) -> _S:
    try:
        settings = kind(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    settings._overridden = frozenset(overrides)
    return settings


def load_settings(**overrides: Any) -> Settings:
    """The pipeline's settings from the environment and `.env`; keyword overrides win (tests)."""
    return _load(Settings, overrides)


def load_dashboard_settings(**overrides: Any) -> DashboardSettings:
    """The dashboard's settings from the environment and `.env`; keyword overrides win."""
    return _load(DashboardSettings, overrides)
