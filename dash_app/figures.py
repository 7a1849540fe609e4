"""Plotly figures of the dashboard, from plain frames. Pure: no storage, no Dash."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from energy_assets.domain.calendar import LOCAL_TZ

ACTUAL = "#1f2937"
FORECAST = "#2563eb"
BAND = "rgba(37, 99, 235, 0.18)"
PRICE = "#b45309"
KWH_HOVER = "%{x|%Y-%m-%d %H:%M}: %{y:,.0f} kWh"
# Room for y-axis labels of feature names in words, and a legend that wraps on a phone.
LEGEND = {"orientation": "h", "yanchor": "top", "y": -0.2}


def forecast_figure(
    actuals: pd.DataFrame,
    forecast: pd.DataFrame,
    title: str,
    prices: pd.DataFrame | None = None,
    subtitle: str = "",
) -> go.Figure:
    """The last days of actuals, the day's actuals if known, and the forecast with its band;
    under them, on the same time axis, the day-ahead prices of those days where given.

    Frames carry `datetime_utc` and, for actuals, `consumption_kwh`; for the forecast,
    `prediction_kwh`, `p10_kwh`, `p90_kwh`; for prices, `price_eur_mwh`. Times are shown in
    Danish local time."""
    with_prices = prices is not None and not prices.empty
    fig = (
        make_subplots(
            rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06
        )
        if with_prices
        else go.Figure()
    )
    if not forecast.empty:
        _add_forecast(fig, forecast)
    if not actuals.empty:
        fig.add_trace(
            go.Scatter(
                x=actuals["datetime_utc"].dt.tz_convert(LOCAL_TZ),
                y=actuals["consumption_kwh"],
                name="actual",
                line={"color": ACTUAL, "width": 1.5},
                hovertemplate="actual " + KWH_HOVER + "<extra></extra>",
            )
        )
    fig.update_layout(
        # The days on a line of their own: with the series they would not fit a phone.
        title={"text": title, "subtitle": {"text": subtitle}},
        yaxis={"title": {"text": "kWh per hour"}, "tickformat": ","},
        margin={"l": 60, "r": 20, "t": 70 if subtitle else 50, "b": 40},
        legend=LEGEND,
        template="plotly_white",
    )
    if prices is not None and with_prices:
        _add_prices(fig, prices)
    else:
        fig.update_layout(xaxis_title="Danish local time")
    return fig


def _add_forecast(fig: go.Figure, forecast: pd.DataFrame) -> None:
    """The P10-P90 band and the point forecast; its hover names each day's lead and issue
    where the frame has `lead_days` and `issued_at`."""
    t = forecast["datetime_utc"].dt.tz_convert(LOCAL_TZ)
    issued: dict[str, object] = {}
    if {"lead_days", "issued_at"} <= set(forecast.columns):
        at = pd.to_datetime(forecast["issued_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M UTC")
        issued = {
            "customdata": np.column_stack([forecast["lead_days"].to_numpy(), at.to_numpy()]),
            "hovertemplate": "forecast "
            + KWH_HOVER
            + "<br>lead %{customdata[0]} · issued %{customdata[1]}<extra></extra>",
        }
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
            hovertemplate="P10 " + KWH_HOVER + "<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=t,
            y=forecast["prediction_kwh"],
            name="forecast",
            line={"color": FORECAST, "width": 2},
            **({"hovertemplate": "forecast " + KWH_HOVER + "<extra></extra>"} | issued),
        )
    )


def _add_prices(fig: go.Figure, prices: pd.DataFrame) -> None:
    """The day-ahead prices in the lower panel, on the consumption chart's time axis."""
    fig.add_trace(
        go.Scatter(
            x=prices["datetime_utc"].dt.tz_convert(LOCAL_TZ),
            y=prices["price_eur_mwh"],
            name="day-ahead price",
            line={"color": PRICE, "width": 1.5, "shape": "hv"},
            hovertemplate="price %{x|%Y-%m-%d %H:%M}: %{y:,.2f} EUR/MWh<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="EUR/MWh", row=2, col=1)
    fig.update_xaxes(title_text="Danish local time", row=2, col=1)


def accuracy_figure(
    daily: pd.DataFrame, warn: float, alert: float, title: str = "Accuracy per day"
) -> go.Figure:
    """Pooled WAPE and median series MAPE per day, with the warn and alert thresholds of the
    pooled MAPE the alerts use. `daily` has `day`, `wape`, `mape`, `mape_median`."""
    fig = go.Figure()
    for column, name in (
        ("mape", "pooled MAPE"),
        ("wape", "pooled WAPE"),
        ("mape_median", "median series MAPE"),
    ):
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily[column],
                name=name,
                mode="lines+markers",
                hovertemplate=f"{name} %{{x|%Y-%m-%d}}: %{{y:.1%}}<extra></extra>",
            )
        )
    fig.add_hline(y=warn, line={"color": "#d97706", "dash": "dash"}, annotation_text="warn")
    fig.add_hline(y=alert, line={"color": "#dc2626", "dash": "dash"}, annotation_text="alert")
    fig.update_layout(
        yaxis_tickformat=".0%",
        # One tick a day while there are few (no half-day ticks), Plotly's choice beyond.
        xaxis={"tickformat": "%b %-d", "dtick": 86_400_000 if len(daily) <= 14 else None},
        template="plotly_white",
        title=title,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend=LEGEND,
    )
    return fig


def heatmap_figure(series: pd.DataFrame, title: str = "MAPE per series and day") -> go.Figure:
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
        title=title,
        xaxis={"type": "category"},
        template="plotly_white",
        height=max(400, 14 * len(table.index)),
        margin={"l": 110, "r": 20, "t": 50, "b": 40},
    )
    return fig


def wrap(text: str, width: int = 24) -> str:
    """A long axis label on lines of at most about `width` characters (Plotly's <br>)."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def drift_figure(drift: pd.DataFrame, label: Callable[[str], str] = str) -> go.Figure:
    """Each column's drift distance as a multiple of its threshold, column by day: above 1 the
    column drifted. `drift` has `day`, `column`, `distance`, `threshold`; `label` names a
    column in words (the axis shows the words, the hover both the words and the column)."""
    ratio = drift.assign(ratio=drift["distance"] / drift["threshold"])
    table = ratio.pivot_table(index="column", columns="day", values="ratio", aggfunc="mean")
    distance = drift.pivot_table(index="column", columns="day", values="distance").reindex_like(
        table
    )
    threshold = drift.pivot_table(index="column", columns="day", values="threshold").reindex_like(
        table
    )
    columns = [str(c) for c in table.index]
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=[str(c)[:10] for c in table.columns],
            y=[wrap(label(c)) for c in columns],
            text=[[f"{label(c)} ({c})"] * len(table.columns) for c in columns],
            customdata=np.dstack([distance.to_numpy(), threshold.to_numpy()]),
            # Green below the threshold, red from it on; the colour turns at 1.
            colorscale=[[0, "#15803d"], [0.45, "#fde68a"], [0.5, "#f97316"], [1, "#991b1b"]],
            zmin=0,
            zmax=2,
            # Below the chart, so that the feature names keep their room on a phone.
            colorbar={
                "title": {"text": "distance / threshold", "side": "top"},
                "orientation": "h",
                "thickness": 12,
                "y": -0.12,
                "yanchor": "top",
            },
            hovertemplate="%{text}<br>%{x}: distance %{customdata[0]:.3f}, threshold "
            "%{customdata[1]:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Drift against threshold, per feature and day",
        template="plotly_white",
        height=max(360, 44 * len(table.index)) + 120,
        margin={"l": 20, "r": 20, "t": 50, "b": 120},
        xaxis={"type": "category"},
        yaxis={"automargin": True, "tickfont": {"size": 11}},
    )
    return fig
