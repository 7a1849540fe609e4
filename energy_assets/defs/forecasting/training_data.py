"""What a run of `forecast_model` reads: the plan of each of its weeks, and the stored raw days
and prices those plans need, read once for every week of the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import dagster as dg
import pandas as pd

from energy_assets import names
from energy_assets.domain.calendar import day_keys, utc_days
from energy_assets.domain.forecasting.training import WeekPlan, plan_week
from energy_assets.domain.schema import series_keys
from energy_assets.settings import Settings
from resources.asset_storage import AssetStorage

RAW = dg.AssetKey(names.RAW)


@dataclass(frozen=True)
class RunWeeks:
    plans: dict[str, WeekPlan]  # by week, oldest first
    stored_raw: frozenset[str]  # the raw days in storage

    def raw_keys(self) -> list[str]:
        """The stored raw days any week of the run reads."""
        days = _union([plan.raw_days() for plan in self.plans.values()])
        return [k for k in day_keys(days) if k in self.stored_raw]

    def price_days(self) -> pd.DatetimeIndex:
        return _union([plan.price_days() for plan in self.plans.values()])


def _union(indexes: Sequence[pd.DatetimeIndex]) -> pd.DatetimeIndex:
    return reduce(pd.DatetimeIndex.union, indexes, pd.DatetimeIndex([], tz="UTC"))


def plan_weeks(
    asset_storage: AssetStorage,
    settings: Settings,
    weeks: Sequence[str],
    params: Mapping[str, Any],
) -> RunWeeks:
    """Each week's plan, from what storage holds: the data's first day, and the series of the
    week's validation days (whose count sets the row budget). A week whose validation days have
    no stored raw data stops the run before any week is trained."""
    stored = asset_storage.stored_partitions(RAW)
    present = frozenset(stored)
    plans: dict[str, WeekPlan] = {}
    missing: list[str] = []
    for week in sorted(weeks):
        week_start = pd.Timestamp(week, tz="UTC")
        valid_start = week_start - pd.Timedelta(days=settings.validation_days)
        keys = [k for k in day_keys(utc_days(valid_start, week_start)) if k in present]
        if not keys:
            missing.append(week)
            continue
        valid = asset_storage.read_window(RAW, keys)
        plans[week] = plan_week(
            pd.Timestamp(stored[0], tz="UTC"),
            week_start,
            len(valid.drop_duplicates(series_keys(valid))),
            training_weeks=settings.training_weeks,
            validation_days=settings.validation_days,
            params=params,
            horizon=settings.horizon_days,
        )
    if missing:
        raise dg.Failure(
            f"weeks {', '.join(missing)}: no raw data stored for the {settings.validation_days} "
            "days before the week (the validation days); materialize raw_consumption first"
        )
    return RunWeeks(plans, present)
