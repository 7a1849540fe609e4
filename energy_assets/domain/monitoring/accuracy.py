"""Accuracy of served forecasts once the actuals of their day are known. Pure pandas."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.forecasting.features import LEAD
from energy_assets.domain.forecasting.model import MODEL_URI, PREDICTION
from energy_assets.domain.schema import (
    KEY_COLUMNS,
    TIME,
    VALUE,
    row_keys,
    series_keys,
    series_labels,
)

DAY = "day"
SCORE_COLUMNS = [
    "mape",
    "wape",
    "bias",
    "count",
    "mape_hours",
    "actual_kwh",
    "abs_error_kwh",
    "error_kwh",
    MODEL_URI,
]
_SUMS = {"abs_error_kwh", "error_kwh", "actual_kwh", "ape_sum", "mape_hours", "count"}


class MonitoringInputError(ValueError):
    """Predictions or actuals cannot be scored; the message names what is wrong."""


def _require(name: str, frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MonitoringInputError(f"{name} lack the columns {missing}")


def score_series(predictions: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day, lead and series: MAPE, WAPE, bias and the number of scored hours.

    An hour is scored where both a forecast and an actual exist. MAPE skips zero actuals; WAPE
    and bias divide by the summed absolute actuals, and are NaN when those are zero. Forecasts
    without a `lead_days` column are day-ahead forecasts (lead 1).
    """
    keys = series_keys(predictions)
    on = row_keys(keys)
    _require("predictions", predictions, [*on, PREDICTION, MODEL_URI])
    _require("actuals", actuals, [*on, VALUE])
    if LEAD not in predictions.columns:
        predictions = predictions.assign(**{LEAD: 1})
    if predictions.duplicated([*on, LEAD]).any():
        raise MonitoringInputError(
            "predictions hold more than one forecast for an hour, series and lead"
        )
    both = predictions[[*on, LEAD, PREDICTION, MODEL_URI]].merge(
        actuals[[*on, VALUE]].drop_duplicates(on, keep="last"), on=on, how="left"
    )
    y = both[VALUE].to_numpy(dtype="float64")
    f = both[PREDICTION].to_numpy(dtype="float64")
    scored = np.isfinite(y) & np.isfinite(f)
    nonzero = scored & (y != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(nonzero, np.abs(f - y) / np.abs(y), 0.0)
    parts = pd.DataFrame(
        {
            DAY: both[TIME].dt.floor("D"),
            LEAD: both[LEAD].astype("int64"),
            **{k: both[k] for k in keys},
            "abs_error_kwh": np.where(scored, np.abs(f - y), 0.0),
            "error_kwh": np.where(scored, f - y, 0.0),
            "actual_kwh": np.where(scored, np.abs(y), 0.0),
            "ape_sum": ape,
            "mape_hours": nonzero.astype("int64"),
            "count": scored.astype("int64"),
        }
    )
    by = [DAY, LEAD, *keys]
    grouped = parts.groupby(by, sort=True, observed=True)
    out = grouped[sorted(_SUMS)].sum()
    # A forecast comes from one model version; a mixed group lists every version's URI.
    versions = both.assign(**{DAY: parts[DAY], LEAD: parts[LEAD]}).groupby(by, observed=True)
    out[MODEL_URI] = versions[MODEL_URI].agg(lambda v: ", ".join(sorted(set(v))))
    out = _ratios(out.reset_index())
    out = out.astype({k: KEY_COLUMNS[k].dtype for k in keys})
    return out[[DAY, LEAD, *keys, *SCORE_COLUMNS]]


def _ratios(sums: pd.DataFrame) -> pd.DataFrame:
    actual = sums["actual_kwh"].to_numpy(dtype="float64")
    hours = sums["mape_hours"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums.assign(
            mape=np.where(hours > 0, sums["ape_sum"] / hours, np.nan),
            wape=np.where(actual > 0, sums["abs_error_kwh"] / actual, np.nan),
            bias=np.where(actual > 0, sums["error_kwh"] / actual, np.nan),
        )


def day_summary(series: pd.DataFrame) -> dict[str, Any]:
    """Aggregates of one day's per-series scores at one lead: pooled WAPE, MAPE and bias over
    every scored hour, the median and worst series MAPE, coverage and the model URI."""
    if series[DAY].nunique() != 1:
        raise MonitoringInputError(f"expected one day, got {series[DAY].nunique()}")
    if LEAD in series.columns and series[LEAD].nunique() != 1:
        raise MonitoringInputError(f"expected one lead, got {series[LEAD].nunique()}")
    hours = int(series["mape_hours"].sum())
    actual = float(series["actual_kwh"].sum())
    ape_sum = float((series["mape"].fillna(0) * series["mape_hours"]).sum())
    scored = series.dropna(subset=["mape"])
    worst = scored.loc[scored["mape"].idxmax()] if not scored.empty else None
    versions = sorted({v for text in series[MODEL_URI] for v in str(text).split(", ")})
    return {
        "day": str(pd.Timestamp(series[DAY].iloc[0]).date()),
        LEAD: int(series[LEAD].iloc[0]) if LEAD in series.columns else 1,
        "mape": ape_sum / hours if hours else float("nan"),
        "wape": float(series["abs_error_kwh"].sum()) / actual if actual > 0 else float("nan"),
        "bias": float(series["error_kwh"].sum()) / actual if actual > 0 else float("nan"),
        "mape_median": float(scored["mape"].median()) if not scored.empty else float("nan"),
        "mape_worst": float(worst["mape"]) if worst is not None else float("nan"),
        "worst_series": series_labels(scored.loc[[scored["mape"].idxmax()]]).iloc[0]
        if worst is not None
        else "",
        "series_scored": int((series["count"] > 0).sum()),
        "hours_scored": int(series["count"].sum()),
        MODEL_URI: ", ".join(versions),
    }


def lead_summaries(series: pd.DataFrame) -> dict[str, dict[int, dict[str, Any]]]:
    """`day_summary` of every day and lead in a per-series frame: ISO date -> lead -> summary."""
    if LEAD not in series.columns:
        series = series.assign(**{LEAD: 1})
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for _, group in series.groupby([DAY, LEAD], sort=True):
        summary = day_summary(group)
        out.setdefault(summary["day"], {})[summary[LEAD]] = summary
    return out


def day_summaries(series: pd.DataFrame, lead: int = 1) -> dict[str, dict[str, Any]]:
    """`day_summary` of every day's forecasts at `lead`, keyed by ISO date."""
    return {day: leads[lead] for day, leads in lead_summaries(series).items() if lead in leads}
