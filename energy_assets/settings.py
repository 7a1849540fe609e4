"""The one place where configuration is read: environment variables and `.env`.

Every component (assets, resources, sensors, dashboard, benchmarks) calls `load_settings()`.
Invalid values fail here, at load time, with the variable named.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ENERGY_"

# Canonical columns (energy_assets.domain.schema), named here so settings import nothing.
TIME, VALUE, AREA = "datetime_utc", "consumption_kwh", "area"
KEY_COLUMNS = ("area", "consumer_type", "municipality", "branch")


class SourceKind(StrEnum):
    ENERGIDATASERVICE = "energidataservice"
    FILE = "file"
    SIMULATOR = "simulator"


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
