"""The dashboard's settings over the storage and models a test's pipeline settings name, and
stored forecasts and scores in the layout the pipeline writes them in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import LEAD, ORIGIN
from energy_assets.domain.forecasting.leads import ISSUED_AT
from energy_assets.domain.monitoring.accuracy import score_series
from energy_assets.domain.schema import TIME, VALUE, series_keys
from energy_assets.settings import CommonSettings, DashboardSettings, load_dashboard_settings

# Each lead past the first forecasts this much too high: leads are told apart by their figures.
BIAS_PER_LEAD = 0.03


def dashboard_settings(settings: CommonSettings, **extra: Any) -> DashboardSettings:
    common = {name: getattr(settings, name) for name in CommonSettings.model_fields}
    return load_dashboard_settings(**{**common, **extra})


def issue_rows(
    actuals: pd.DataFrame, day: str, leads: int, uri: str = "models:/m/2"
) -> pd.DataFrame:
    """The issue of `day` as `predictions/<day>.parquet` holds it: the forecasts of days
    day .. day + leads - 1 (actuals times seeded noise, BIAS_PER_LEAD more per lead), each with
    its origin, lead_days and issued_at (12:00 UTC on the day before its farthest day)."""
    origin = pd.Timestamp(day, tz="UTC")
    days = (actuals[TIME] - origin).dt.days
    rows = actuals[(days >= 0) & (days < leads)]
    lead = (days[rows.index] + 1).astype("int64").to_numpy()
    rng = np.random.default_rng(origin.toordinal())
    point = (
        rows[VALUE].to_numpy()
        * rng.lognormal(0, 0.05, len(rows))
        * (1 + BIAS_PER_LEAD * (lead - 1))
    )
    issued = origin + max(pd.Timedelta(0), pd.Timedelta(days=leads - 1, hours=-12))
    out = pd.DataFrame({ORIGIN: origin, LEAD: lead, ISSUED_AT: issued}, index=rows.index)
    out = pd.concat([out, rows.drop(columns=VALUE)], axis=1).assign(
        prediction_kwh=point, p10_kwh=point * 0.9, p90_kwh=point * 1.1, model_uri=uri
    )
    return out.sort_values([LEAD, TIME, *series_keys(out)], ignore_index=True)


def scores_by_lead(issues: Iterable[pd.DataFrame], actuals: pd.DataFrame, day: str) -> pd.DataFrame:
    """`forecast_monitoring/<day>.parquet` as the pipeline writes it: per series and lead, the
    scores of the day's forecast from each issue that made one."""
    rows = pd.concat(issue[issue[TIME].dt.strftime("%Y-%m-%d") == day] for issue in issues)
    return score_series(rows, actuals)
