"""The dashboard's settings over the storage and models a test's pipeline settings name."""

from __future__ import annotations

from typing import Any

from energy_assets.settings import CommonSettings, DashboardSettings, load_dashboard_settings


def dashboard_settings(settings: CommonSettings, **extra: Any) -> DashboardSettings:
    common = {name: getattr(settings, name) for name in CommonSettings.model_fields}
    return load_dashboard_settings(**{**common, **extra})
