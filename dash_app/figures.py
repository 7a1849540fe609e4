"""Plotly figures of the dashboard, from plain frames. Pure: no storage, no Dash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from energy_assets.domain.calendar import LOCAL_TZ

ACTUAL = "#1f2937"
FORECAST = "#2563eb"
BAND = "rgba(37, 99, 235, 0.18)"


def forecast_figure(actuals: pd.DataFrame, forecast: pd.DataFrame, title: str) -> go.Figure:
    """The last days of actuals, the day's actuals if known, and the forecast with its band.

    Frames carry `datetime_utc` and, for actuals, `consumption_kwh`; for the forecast,
    `prediction_kwh`, `p10_kwh`, `p90_kwh`. Times are shown in Danish local time."""
    fig = go.Figure()
    if not forecast.empty:
        t = forecast["datetime_utc"].dt.tz_convert(LOCAL_TZ)
        fig.add_trace(
            go.Scatter(
                x=t,
                y=forecast["p90_kwh"],
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name="P90",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=forecast["p10_kwh"],
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND,
                name="P10-P90",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=t,
                y=forecast["prediction_kwh"],
                name="forecast",
                line={"color": FORECAST, "width": 2},
            )
        )
    if not actuals.empty:
        fig.add_trace(
            go.Scatter(
                x=actuals["datetime_utc"].dt.tz_convert(LOCAL_TZ),
                y=actuals["consumption_kwh"],
                name="actual",
                line={"color": ACTUAL, "width": 1.5},
            )
        )
    fig.update_layout(
        title=title,
        yaxis_title="kWh per hour",
        xaxis_title="Danish local time",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return fig


def accuracy_figure(daily: pd.DataFrame, warn: float, alert: float) -> go.Figure:
    """Pooled WAPE and median series MAPE per day, with the warn and alert thresholds of the
    pooled MAPE the alerts use. `daily` has `day`, `wape`, `mape`, `mape_median`."""
    fig = go.Figure()
    for column, name in (
        ("mape", "pooled MAPE"),
        ("wape", "pooled WAPE"),
        ("mape_median", "median series MAPE"),
    ):
        fig.add_trace(go.Scatter(x=daily["day"], y=daily[column], name=name, mode="lines+markers"))
    fig.add_hline(y=warn, line={"color": "#d97706", "dash": "dash"}, annotation_text="warn")
    fig.add_hline(y=alert, line={"color": "#dc2626", "dash": "dash"}, annotation_text="alert")
    fig.update_layout(
        yaxis_tickformat=".0%",
        template="plotly_white",
        title="Accuracy per day",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h"},
    )
    return fig


def heatmap_figure(series: pd.DataFrame) -> go.Figure:
    """Per-series MAPE, series by day. `series` has `day`, `series`, `mape`."""
    table = series.pivot_table(index="series", columns="day", values="mape", aggfunc="mean")
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=[str(c)[:10] for c in table.columns],
            y=table.index,
            colorscale="YlOrRd",
            zmin=0,
            zmax=0.3,
            colorbar={"tickformat": ".0%"},
            hovertemplate="%{y} %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="MAPE per series and day",
        template="plotly_white",
        height=max(400, 14 * len(table.index)),
        margin={"l": 110, "r": 20, "t": 50, "b": 40},
    )
    return fig


def drift_figure(drift: pd.DataFrame) -> go.Figure:
    """Each column's drift distance as a multiple of its threshold, column by day: above 1 the
    column drifted. `drift` has `day`, `column`, `distance`, `threshold`."""
    ratio = drift.assign(ratio=drift["distance"] / drift["threshold"])
    table = ratio.pivot_table(index="column", columns="day", values="ratio", aggfunc="mean")
    distance = drift.pivot_table(index="column", columns="day", values="distance").reindex_like(
        table
    )
    threshold = drift.pivot_table(index="column", columns="day", values="threshold").reindex_like(
        table
    )
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=[str(c)[:10] for c in table.columns],
            y=list(table.index),
            customdata=np.dstack([distance.to_numpy(), threshold.to_numpy()]),
            # Green below the threshold, red from it on; the colour turns at 1.
            colorscale=[[0, "#15803d"], [0.45, "#fde68a"], [0.5, "#f97316"], [1, "#991b1b"]],
            zmin=0,
            zmax=2,
            colorbar={"title": {"text": "distance / threshold"}},
            hovertemplate="%{y} %{x}: distance %{customdata[0]:.3f}, threshold "
            "%{customdata[1]:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Drift distance against threshold, per feature and day",
        template="plotly_white",
        height=max(360, 22 * len(table.index)),
        margin={"l": 120, "r": 20, "t": 50, "b": 40},
    )
    return fig
