"""Accuracy metrics that never divide by a zero actual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_assets.domain.schema import series_keys


def wape(actual: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series) -> float:
    """Pooled weighted absolute percentage error: sum|y - f| / sum|y| (NaN if sum|y| is 0)."""
    y, f = _pair(actual, forecast)
    denominator = np.abs(y).sum()
    return float(np.abs(y - f).sum() / denominator) if denominator > 0 else float("nan")


def mape(actual: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series) -> float:
    """Mean absolute percentage error over the hours whose actual is not zero."""
    y, f = _pair(actual, forecast)
    nonzero = y != 0
    if not nonzero.any():
        return float("nan")
    return float(np.mean(np.abs(y[nonzero] - f[nonzero]) / np.abs(y[nonzero])))


def bias(actual: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series) -> float:
    """Relative bias: sum(f - y) / sum|y|; positive means over-forecast."""
    y, f = _pair(actual, forecast)
    denominator = np.abs(y).sum()
    return float((f - y).sum() / denominator) if denominator > 0 else float("nan")


def mase(
    actual: np.ndarray | pd.Series,
    forecast: np.ndarray | pd.Series,
    insample: np.ndarray | pd.Series,
    season: int = 24,
) -> float:
    """MAE scaled by the in-sample MAE of the seasonal-naive forecast with lag `season`."""
    y, f = _pair(actual, forecast)
    history = np.asarray(insample, dtype="float64")
    naive_errors = np.abs(history[season:] - history[:-season])
    naive_errors = naive_errors[np.isfinite(naive_errors)]
    scale = naive_errors.mean() if len(naive_errors) else 0.0
    return float(np.abs(y - f).mean() / scale) if scale > 0 and len(y) else float("nan")


def _pair(
    actual: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype="float64")
    f = np.asarray(forecast, dtype="float64")
    if y.shape != f.shape:
        raise ValueError(f"actual has shape {y.shape}, forecast {f.shape}")
    keep = np.isfinite(y) & np.isfinite(f)
    return y[keep], f[keep]


def per_series(frame: pd.DataFrame, actual: str, forecast: str) -> pd.DataFrame:
    """MAPE, WAPE, bias and count per series, from a long frame with both columns."""
    keys = series_keys(frame)
    rows = []
    for values, group in frame.groupby(keys, sort=True):
        y, f = group[actual], group[forecast]
        rows.append(
            {
                **dict(zip(keys, values, strict=True)),
                "mape": mape(y, f),
                "wape": wape(y, f),
                "bias": bias(y, f),
                "count": int((np.isfinite(y) & np.isfinite(f)).sum()),
            }
        )
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame, actual: str, forecast: str) -> dict[str, float]:
    """Pooled WAPE and bias, and the median and mean of per-series MAPE."""
    series = per_series(frame, actual, forecast)
    return {
        "wape": wape(frame[actual], frame[forecast]),
        "bias": bias(frame[actual], frame[forecast]),
        "mape_median": float(series["mape"].median()),
        "mape_mean": float(series["mape"].mean()),
    }
